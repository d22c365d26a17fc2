"""Calendar files read back by parsers other than icalendar (the library the project writes with).

Each reader returns every VEVENT's UID with its start and end as UTC instants. ``vobject`` (dateutil's
VTIMEZONE reader) and ``ical``, given TZIDs no zone database knows, read times through the file's
VTIMEZONE alone, as a client without the IANA names does; ``ical`` and ``ics`` as served resolve the
IANA TZID themselves. Test-only: these parsers are in requirements-dev.txt, not the services' deps.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

Instants = dict[str, tuple[datetime, datetime]]

_TZID = re.compile(r"(TZID[=:])([^;:\r\n]+)")


def with_unknown_tzids(content: bytes) -> str:
    """The file with every TZID renamed to one no zone database has (lines unfolded first)."""
    text = re.sub(r"\r\n[ \t]", "", content.decode())
    return _TZID.sub(lambda m: m.group(1) + "Clinic zone " + m.group(2).replace("/", " "), text)


def _utc(value: datetime) -> datetime:
    assert value.tzinfo is not None, f"{value} was read without a zone"
    return value.astimezone(UTC)


def read_with_vobject(content: bytes) -> Instants:
    import vobject
    import vobject.icalendar

    # vobject keeps the first VTIMEZONE it meets for a TZID for the life of the process: start afresh so
    # each file is read by its own definition.
    registry = vars(vobject.icalendar)["__tzidMap"]
    registry.clear()
    registry["UTC"] = vobject.icalendar.utc
    calendar = vobject.readOne(content.decode())
    return {
        str(e.uid.value): (_utc(e.dtstart.value), _utc(e.dtend.value))
        for e in calendar.contents.get("vevent", [])
    }


def _read_with_ical(text: str) -> Instants:
    from ical.calendar_stream import IcsCalendarStream

    calendar = IcsCalendarStream.calendar_from_ics(text)
    instants: Instants = {}
    for event in calendar.events:
        assert isinstance(event.dtstart, datetime)
        assert isinstance(event.dtend, datetime)
        assert event.uid is not None
        instants[event.uid] = (_utc(event.dtstart), _utc(event.dtend))
    return instants


def read_with_ical_from_vtimezone(content: bytes) -> Instants:
    return _read_with_ical(with_unknown_tzids(content))


def read_with_ical(content: bytes) -> Instants:
    return _read_with_ical(content.decode())


def read_with_ics(content: bytes) -> Instants:
    import ics

    calendar = ics.Calendar(content.decode())
    return {e.uid: (_utc(e.begin.datetime), _utc(e.end.datetime)) for e in calendar.events}


READERS: dict[str, Callable[[bytes], Instants]] = {
    "vobject": read_with_vobject,
    "ical-vtimezone": read_with_ical_from_vtimezone,
    "ical": read_with_ical,
    "ics": read_with_ics,
}
