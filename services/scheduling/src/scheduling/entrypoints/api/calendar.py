"""iCalendar views: one appointment as .ics, and subscription feeds that calendar apps poll.

Calendar apps cannot send a bearer token, so a feed URL carries an unguessable per-owner token instead;
the owner (or a manager) can revoke it, which kills the URL at once.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response, url_for
from marshmallow import Schema, fields

from clinic_shared.ical import calendar_file
from clinic_shared.web.auth import current_principal, public
from clinic_shared.web.request_limits import Blueprint
from scheduling.domain.calendar import CalendarFeed, FeedOwner
from scheduling.entrypoints.api.context import container
from scheduling.service_layer import calendar

blp = Blueprint("calendar", __name__, description="iCalendar exports and subscription feeds")

ICS = "text/calendar"
PRODID = "-//IMS Clinic//Scheduling//EN"
# A feed's token is a credential: it is kept out of the access log (clinic_shared RedactPathSecrets).
SECRET_PATH_PREFIXES = ("/feeds/",)


class FeedRequest(Schema):
    owner_kind = fields.Enum(FeedOwner, by_value=True, required=True)
    owner_id = fields.UUID(
        load_default=None, allow_none=True, metadata={"description": "Managers: the practitioner"}
    )


class FeedSchema(Schema):
    id = fields.UUID()
    owner_kind = fields.String()
    owner_id = fields.UUID()
    created_at = fields.AwareDateTime(format="iso")
    revoked_at = fields.AwareDateTime(format="iso", allow_none=True)


class NewFeedSchema(FeedSchema):
    token = fields.String(metadata={"description": "Shown once; only its hash is stored"})
    url = fields.String(metadata={"description": "Subscribe to this URL in a calendar app"})


def _ics(body: bytes, filename: str) -> Response:
    return Response(
        body,
        mimetype=ICS,
        headers={"Content-Disposition": f'inline; filename="{filename}"', "Cache-Control": "no-store"},
    )


@blp.route("/appointments/<uuid:appointment_id>/calendar.ics", methods=["GET"])
@blp.response(200, content_type=ICS, description="A VCALENDAR with one VEVENT (UID stable, SEQUENCE bumped)")
def appointment_ics(appointment_id: uuid.UUID) -> Response:
    with container().uow() as uow:
        entry = calendar.appointment_entry(uow, current_principal(), appointment_id)
    body = calendar_file([entry], prodid=PRODID, method="PUBLISH")
    return _ics(body, f"appointment-{appointment_id}.ics")


@blp.route("/calendar-feeds", methods=["POST"])
@blp.arguments(FeedRequest())
@blp.response(201, NewFeedSchema)
@blp.alt_response(403, description="Another patient's feed, or a practitioner's feed asked by someone else")
@blp.alt_response(404, description="No such practitioner (field `owner_id`)")
def create_feed(body: dict[str, Any]) -> dict[str, Any]:
    """Create a subscription URL for your appointments (a practitioner's, for managers)."""
    with container().uow() as uow:
        new = calendar.create_feed(uow, current_principal(), body["owner_kind"], body["owner_id"])
        uow.commit()
    feed = new.feed
    return {
        "id": feed.id,
        "owner_kind": str(feed.owner_kind),
        "owner_id": feed.owner_id,
        "created_at": feed.created_at,
        "revoked_at": None,
        "token": new.token,
        # From configuration: a forged Host header must not turn this into a link to another site.
        "url": container().settings.public_url + url_for("calendar.feed_ics", token=new.token),
    }


@blp.route("/calendar-feeds/<uuid:feed_id>/revoke", methods=["POST"])
@blp.response(200, FeedSchema)
def revoke_feed(feed_id: uuid.UUID) -> CalendarFeed:
    with container().uow() as uow:
        feed = calendar.revoke_feed(uow, current_principal(), feed_id)
        uow.commit()
        return feed


@blp.route("/feeds/<string:token>.ics", methods=["GET"])
@blp.doc(security=[])
@blp.response(200, content_type=ICS, description="The owner's appointments from a month ago on")
@public
def feed_ics(token: str) -> Response:
    with container().uow() as uow:
        entries = calendar.feed_entries(uow, token)
    body = calendar_file(entries, prodid=PRODID, method="PUBLISH", name="IMS clinic appointments")
    return _ics(body, "appointments.ics")
