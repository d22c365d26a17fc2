"""An SmsSender speaking Twilio's REST shape over HTTP (httpx).

``SMS_PROVIDER_URL`` is ``https://ACCOUNT_SID:AUTH_TOKEN@api.twilio.com`` (or a compatible provider). A
message is ``POST {base}/2010-04-01/Accounts/{sid}/Messages.json``, form-encoded ``To``, ``From``, ``Body``
and ``StatusCallback``, with basic auth; 201 answers with the message ``sid``. 429 (its ``Retry-After``
honoured), 5xx and network errors are transient; any other 4xx (e.g. an invalid number) is permanent.
The callback URL carries a per-delivery token, so the public callback endpoint can verify its caller.
Each send is a CLIENT span (``clinic_shared.tracing``) in the trace the dispatcher resumes for the delivery.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import unquote, urlsplit

import httpx

from clinic_shared import tracing
from notifications.service_layer.ports import OutgoingSms, TransportError

API_VERSION = "2010-04-01"
DEFAULT_RETRY_AFTER = timedelta(seconds=60)


class CallbackSigner:
    """Per-delivery tokens for status callback URLs (HMAC-SHA256 of the delivery id under a secret)."""

    def __init__(self, secret: str, public_url: str | None) -> None:
        self._secret = secret.encode()
        self.public_url = public_url.rstrip("/") if public_url else None

    def token(self, delivery_id: uuid.UUID) -> str:
        return hmac.new(self._secret, str(delivery_id).encode(), hashlib.sha256).hexdigest()[:32]

    def verify(self, delivery_id: uuid.UUID, token: str) -> bool:
        # Bytes, not str: compare_digest refuses non-ASCII text with a TypeError (a stranger's token).
        return hmac.compare_digest(self.token(delivery_id).encode(), token.encode())

    def callback_url(self, delivery_id: uuid.UUID | None) -> str | None:
        if self.public_url is None or delivery_id is None:
            return None
        return f"{self.public_url}/sms/status/{delivery_id}?token={self.token(delivery_id)}"


class TwilioSignature:
    """Checks ``X-Twilio-Signature`` on the provider's webhooks: base64 HMAC-SHA1, under the auth token,
    of the full URL the provider called followed by each form parameter's name and value, sorted by name.
    """

    def __init__(self, auth_token: str) -> None:
        self._key = auth_token.encode()

    def sign(self, url: str, params: Mapping[str, str]) -> str:
        payload = url + "".join(f"{name}{params[name]}" for name in sorted(params))
        digest = hmac.new(self._key, payload.encode(), hashlib.sha1).digest()
        return base64.b64encode(digest).decode()

    def valid(self, url: str, params: Mapping[str, str], signature: str | None) -> bool:
        if signature is None:
            return False
        return hmac.compare_digest(self.sign(url, params).encode(), signature.encode())

    @classmethod
    def from_url(cls, provider_url: str) -> TwilioSignature:
        password = urlsplit(provider_url).password
        if not password:
            raise ValueError("SMS_PROVIDER_URL carries no auth token")
        return cls(unquote(password))


class TwilioSms:
    """The SmsSender for a Twilio-compatible REST API."""

    def __init__(
        self,
        base_url: str,
        account_sid: str,
        auth_token: str,
        sender: str,
        signer: CallbackSigner,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._url = f"{base_url.rstrip('/')}/{API_VERSION}/Accounts/{account_sid}/Messages.json"
        self._host = urlsplit(base_url).hostname or ""
        self._client = httpx.Client(auth=(account_sid, auth_token), timeout=timeout, transport=transport)
        self._sender = sender
        self._signer = signer

    @classmethod
    def from_url(cls, url: str, sender: str, signer: CallbackSigner, *, timeout: float = 10.0) -> TwilioSms:
        parts = urlsplit(url)
        if not parts.username or not parts.password or not parts.hostname:
            raise ValueError("SMS_PROVIDER_URL must look like https://ACCOUNT_SID:AUTH_TOKEN@host")
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        base = f"{parts.scheme}://{netloc}{parts.path}"
        return cls(base, unquote(parts.username), unquote(parts.password), sender, signer, timeout=timeout)

    def send(self, sms: OutgoingSms) -> str | None:
        attributes = {"server.address": self._host, "clinic.channel": "sms"}
        with tracing.span("send sms", kind=tracing.SpanKind.CLIENT, attributes=attributes) as span:
            try:
                return self._post(sms)
            except TransportError as exc:
                tracing.mark_failed(span, exc.reason)  # status codes only, never a number or a text
                raise

    def _post(self, sms: OutgoingSms) -> str | None:
        form = {"To": sms.to, "From": self._sender, "Body": sms.body}
        callback = self._signer.callback_url(sms.delivery_id)
        if callback:
            form["StatusCallback"] = callback
        try:
            # Twilio deduplicates requests carrying the same idempotency token for a while.
            response = self._client.post(
                self._url, data=form, headers={"I-Twilio-Idempotency-Token": sms.key}
            )
        except httpx.HTTPError as exc:
            raise TransportError(f"SMS provider unreachable ({type(exc).__name__})") from None
        if response.status_code in (200, 201):
            try:
                return str(response.json()["sid"])
            except (ValueError, KeyError, TypeError):
                raise TransportError("SMS provider answered without a message sid") from None
        if response.status_code == 429:
            raise TransportError(
                "SMS provider rate limit (429)", retry_after=_retry_after(response.headers.get("Retry-After"))
            )
        if response.status_code >= 500:
            raise TransportError(f"SMS provider error ({response.status_code})")
        raise TransportError(f"SMS provider refused the message ({response.status_code})", permanent=True)

    def close(self) -> None:
        self._client.close()


def _retry_after(value: str | None) -> timedelta:
    """Retry-After in seconds or as an HTTP date; a minute when absent or unreadable."""
    if not value:
        return DEFAULT_RETRY_AFTER
    if value.strip().isdigit():
        return timedelta(seconds=int(value.strip()))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER
    return max(timedelta(0), when - datetime.now(UTC))
