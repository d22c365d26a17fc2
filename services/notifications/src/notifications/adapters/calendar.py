"""Calendar invitations (RFC 5545 objects with RFC 5546 methods) for appointment e-mails.

The UID is stable per appointment (``<appointment_id>@ims-clinic``) and SEQUENCE is the appointment's
``sequence``, so a calendar application updates or removes the event it already has instead of adding a
new one. Times are written in the clinic's zone with its VTIMEZONE, so they read right wherever the
patient's device is.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import icalendar

from notifications.domain.composition import CalendarEntry, Notice
from notifications.service_layer.ports import CalendarAttachment

UID_DOMAIN = "ims-clinic"
PRODID = "-//IMS Clinic//Notifications//EN"
# The VTIMEZONE describes the zone's rules this long around the appointment (enough for any client).
_ZONE_MARGIN = timedelta(days=366)


def calendar_uid(appointment_id: uuid.UUID) -> str:
    return f"{appointment_id}@{UID_DOMAIN}"


def appointment_calendar(notice: Notice, *, summary: str, description: str) -> CalendarAttachment:
    """METHOD:REQUEST for a booking; METHOD:CANCEL with STATUS:CANCELLED for a cancellation.

    One VEVENT per appointment the notice speaks of: a plan's message carries every session, each under
    the UID its own messages use, so a later change to one session updates that one event.
    """
    entries = notice.calendar_entries
    if not entries:
        raise ValueError("this notice has no appointment to put in a calendar")
    method = "CANCEL" if notice.is_cancellation else "REQUEST"
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    for entry in entries:
        calendar.add_component(_event(notice, entry, summary=summary, description=description))
    calendar.add_missing_timezones(
        first_date=(min(e.starts_at for e in entries).astimezone(notice.zone) - _ZONE_MARGIN).date(),
        last_date=(max(e.ends_at for e in entries).astimezone(notice.zone) + _ZONE_MARGIN).date(),
    )
    return CalendarAttachment(method=method, content=calendar.to_ical())


def _event(notice: Notice, entry: CalendarEntry, *, summary: str, description: str) -> icalendar.Event:
    event = icalendar.Event()
    event.add("uid", calendar_uid(entry.appointment_id))
    event.add("sequence", entry.sequence)
    # DTSTAMP is when this version of the object was created: the delivery's creation, stable on resend.
    event.add("dtstamp", notice.created_at)
    event.add("dtstart", entry.starts_at.astimezone(notice.zone))
    event.add("dtend", entry.ends_at.astimezone(notice.zone))
    event.add("summary", summary)
    event.add("description", description)
    event.add("location", f"{notice.clinic_name}, {notice.clinic_address}")
    event.add("status", "CANCELLED" if notice.is_cancellation else "CONFIRMED")
    event.add("transp", "OPAQUE")
    event.add(
        "organizer",
        icalendar.vCalAddress(f"mailto:{notice.clinic_email}"),
        parameters={"CN": notice.clinic_name},
    )
    event.add(
        "attendee",
        icalendar.vCalAddress(f"mailto:{notice.recipient}"),
        parameters={
            "CN": notice.first_name,
            "ROLE": "REQ-PARTICIPANT",
            "PARTSTAT": "ACCEPTED",
            "RSVP": "FALSE",
        },
    )
    return event
