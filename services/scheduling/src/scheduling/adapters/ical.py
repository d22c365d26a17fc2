"""iCalendar (RFC 5545) rendering of calendar entries, with the clinic's VTIMEZONE."""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

import icalendar

from scheduling.service_layer.calendar import CalendarEntry

PRODID = "-//IMS Clinic//Scheduling//EN"


def render(entries: Sequence[CalendarEntry], name: str | None = None) -> bytes:
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    if name:
        calendar.add("x-wr-calname", name)
    for entry in entries:
        zone = ZoneInfo(entry.timezone)
        event = icalendar.Event()
        event.add("uid", entry.uid)
        event.add("sequence", entry.sequence)
        event.add("dtstamp", entry.stamp)
        event.add("dtstart", entry.starts_at.astimezone(zone))
        event.add("dtend", entry.ends_at.astimezone(zone))
        event.add("summary", entry.summary)
        event.add("location", entry.location)
        event.add("status", entry.status)
        calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical()
