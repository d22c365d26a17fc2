"""The SMS provider's webhooks, public but verified: delivery status callbacks (a per-delivery token in
the URL) and patients' texts (Twilio's X-Twilio-Signature), answered with TwiML."""

from __future__ import annotations

import uuid
from typing import Any
from xml.sax.saxutils import escape

from flask import Response, request

from clinic_shared.web.auth import public
from clinic_shared.web.problems import Problem
from clinic_shared.web.request_limits import Blueprint, checked_before_parsing
from notifications.domain.errors import NotFound
from notifications.entrypoints.api import schemas
from notifications.entrypoints.api.context import container
from notifications.service_layer import dispatch, inbound_sms

SIGNATURE = "X-Twilio-Signature"
# The provider's callbacks are a few hundred bytes; nothing larger is read from a public endpoint.
WEBHOOK_MAX_BYTES = 64 * 1024

blp = Blueprint("sms", __name__, url_prefix="/sms", description="SMS provider webhooks (Twilio shape)")


def _callback_token_valid(delivery_id: uuid.UUID) -> None:
    if not container().signer.verify(delivery_id, request.args.get("token", "")):
        raise NotFound("delivery not found")


def _signed_by_provider() -> None:
    c = container()
    url = f"{c.settings.public_url.rstrip('/')}/sms/inbound" if c.settings.public_url else None
    signature = c.inbound_signature
    params = dict(request.form.items())  # bounded by WEBHOOK_MAX_BYTES
    if signature is None or url is None or not signature.valid(url, params, request.headers.get(SIGNATURE)):
        raise Problem(403, "Forbidden", "The request is not signed by the SMS provider.")


@blp.route("/status/<uuid:delivery_id>", methods=["POST"])
@checked_before_parsing(_callback_token_valid, max_bytes=WEBHOOK_MAX_BYTES)
@blp.arguments(schemas.CallbackToken(), location="query")
@blp.arguments(schemas.StatusCallback(), location="form")
@blp.response(204)
@blp.alt_response(404, description="Unknown delivery or wrong token (not told apart)")
@public
def status_callback(token: dict[str, Any], form: dict[str, Any], delivery_id: uuid.UUID) -> Response:
    with container().uow() as uow:
        dispatch.record_provider_status(
            uow,
            dispatch.RecordProviderStatus(
                delivery_id=delivery_id,
                provider_message_id=form["message_sid"],
                status=form["message_status"],
            ),
        )
        uow.commit()
    return Response(status=204)


@blp.route("/inbound", methods=["POST"])
@checked_before_parsing(_signed_by_provider, max_bytes=WEBHOOK_MAX_BYTES)
@blp.arguments(schemas.InboundSms(), location="form")
@blp.response(200, content_type="application/xml", description="TwiML: the answer to text back, if any")
@blp.alt_response(403, description="Missing or wrong X-Twilio-Signature")
@public
def inbound(form: dict[str, Any]) -> Response:
    with container().uow() as uow:
        reply = inbound_sms.receive_sms(
            uow,
            inbound_sms.ReceiveSms(
                message_sid=form["message_sid"], from_phone=form["from_"], body=form["body"]
            ),
        )
        uow.commit()
    return Response(twiml(reply), status=200, content_type="application/xml")


def twiml(reply: str | None) -> str:
    """A TwiML document texting ``reply`` back, or an empty one (no answer)."""
    if reply is None:
        return '<?xml version="1.0" encoding="UTF-8"?><Response/>'
    return f'<?xml version="1.0" encoding="UTF-8"?><Response><Message>{escape(reply)}</Message></Response>'
