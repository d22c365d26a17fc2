"""Calendar invitations (RFC 5545 objects with RFC 5546 methods) for appointment e-mails.

The UID is stable per appointment (``<appointment_id>@ims-clinic``, as in scheduling's calendar feeds) and
SEQUENCE is the appointment's ``sequence``, so a calendar application updates or removes the event it
already has instead of adding a new one. Times are written in the clinic's zone with its VTIMEZONE
(``clinic_shared.ical``), so they read right wherever the patient's device is.
"""

from __future__ import annotations

from clinic_shared.ical import CalendarEvent, Participant, appointment_uid, calendar_file
from notifications.domain.composition import CalendarEntry, Notice
from notifications.service_layer.ports import CalendarAttachment

PRODID = "-//IMS Clinic//Notifications//EN"


def appointment_calendar(notice: Notice, *, summary: str, description: str) -> CalendarAttachment:
    """METHOD:REQUEST for a booking; METHOD:CANCEL with STATUS:CANCELLED for a cancellation.

    One VEVENT per appointment the notice speaks of: a plan's message carries every session, each under
    the UID its own messages use, so a later change to one session updates that one event.
    """
    entries = notice.calendar_entries
    if not entries:
        raise ValueError("this notice has no appointment to put in a calendar")
    method = "CANCEL" if notice.is_cancellation else "REQUEST"
    events = [_event(notice, entry, summary=summary, description=description) for entry in entries]
    return CalendarAttachment(method=method, content=calendar_file(events, prodid=PRODID, method=method))


def _event(notice: Notice, entry: CalendarEntry, *, summary: str, description: str) -> CalendarEvent:
    return CalendarEvent(
        uid=appointment_uid(entry.appointment_id),
        sequence=entry.sequence,
        # DTSTAMP is when this version of the object was created: the delivery's creation, stable on resend.
        stamp=notice.created_at,
        starts_at=entry.starts_at,
        ends_at=entry.ends_at,
        timezone=notice.timezone,
        summary=summary,
        description=description,
        location=f"{notice.clinic_name}, {notice.clinic_address}",
        status="CANCELLED" if notice.is_cancellation else "CONFIRMED",
        transparency="OPAQUE",
        organizer=Participant(notice.clinic_email, notice.clinic_name),
        attendees=(
            Participant(
                notice.recipient, notice.first_name, role="REQ-PARTICIPANT", partstat="ACCEPTED", rsvp=False
            ),
        ),
    )
