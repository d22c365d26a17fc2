"""iCalendar (RFC 5545) files for appointments: the one writer every service uses.

Times are written in the clinic's zone (``DTSTART;TZID=...``) with a VTIMEZONE in the form every calendar
parser tried reads alike: each observance is a yearly RRULE, bounded by COUNT when the rule stopped
(COUNT=1 for a single onset). No RDATE lists (vobject keeps only their first value, so daylight times read
an hour off), no DTSTART-only onsets (ical ignores them) and no UNTIL (ical rejects the UTC value RFC 5545
asks for; clients comparing it with local times drop the last onset). The zone is described from 2000 (or
earlier, for older events) to at least 2037, so a zone reads the same in every file: some clients keep
the first definition of a TZID they meet and reuse it for later files.
"""

from __future__ import annotations

import calendar
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import icalendar

UID_DOMAIN = "ims-clinic"
_FIRST_YEAR = 2000
_LAST_YEAR = 2037
# Zones change at most a few times a year; a change and its reversal within a week is unknown since 2000.
_SCAN_STEP = timedelta(days=7)
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def appointment_uid(appointment_id: uuid.UUID) -> str:
    """Stable across every change, so calendar apps update the event instead of adding another."""
    return f"{appointment_id}@{UID_DOMAIN}"


@dataclass(frozen=True)
class Participant:
    """An ORGANIZER or ATTENDEE: a mail address with its parameters."""

    email: str
    name: str
    role: str | None = None
    partstat: str | None = None
    rsvp: bool | None = None


@dataclass(frozen=True)
class CalendarEvent:
    """One VEVENT: an appointment as a calendar app shows it (aware datetimes; ``timezone`` an IANA key)."""

    uid: str
    sequence: int
    stamp: datetime
    starts_at: datetime
    ends_at: datetime
    timezone: str
    summary: str
    location: str
    status: str
    description: str | None = None
    transparency: str | None = None
    organizer: Participant | None = None
    attendees: tuple[Participant, ...] = ()


def calendar_file(
    events: Sequence[CalendarEvent], *, prodid: str, method: str | None = None, name: str | None = None
) -> bytes:
    """A VCALENDAR: a VTIMEZONE per zone used, a VEVENT per event; CRLF lines folded at 75 octets.

    The VTIMEZONEs come between the calendar's properties and the first VEVENT, each serialised once per
    (zone, years) and reused (``_vtimezone_ical``): building one with ``icalendar`` costs more than the rest
    of an invitation.
    """
    cal = icalendar.Calendar()
    cal.add("prodid", prodid)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if method:
        cal.add("method", method)
    if name:
        cal.add("x-wr-calname", name)
    for event in events:
        cal.add_component(_vevent(event))
    body = bytes(cal.to_ical())
    timezones = []
    for zone in sorted({e.timezone for e in events}):
        instants = [t for e in events if e.timezone == zone for t in (e.starts_at, e.ends_at)]
        first = min(_FIRST_YEAR, min(instants).year - 1)
        last = max(_LAST_YEAR, max(instants).year + 2)
        timezones.append(_vtimezone_ical(zone, first, last))
    if not timezones:
        return body
    at = body.index(_FIRST_VEVENT) + len(b"\r\n")
    return body[:at] + b"".join(timezones) + body[at:]


_FIRST_VEVENT = b"\r\nBEGIN:VEVENT\r\n"


@lru_cache(maxsize=64)
def _vtimezone_ical(zone: str, first_year: int, last_year: int) -> bytes:
    return bytes(_vtimezone(zone, first_year, last_year).to_ical())


def _vevent(event: CalendarEvent) -> icalendar.Event:
    vevent = icalendar.Event()
    vevent.add("uid", event.uid)
    vevent.add("sequence", event.sequence)
    vevent.add("dtstamp", event.stamp.astimezone(UTC))
    vevent.add("dtstart", _local(event.starts_at, event.timezone))
    vevent.add("dtend", _local(event.ends_at, event.timezone))
    vevent.add("summary", event.summary)
    if event.description is not None:
        vevent.add("description", event.description)
    vevent.add("location", event.location)
    vevent.add("status", event.status)
    if event.transparency is not None:
        vevent.add("transp", event.transparency)
    if event.organizer is not None:
        vevent.add("organizer", *_address(event.organizer))
    for attendee in event.attendees:
        vevent.add("attendee", *_address(attendee))
    return vevent


def _local(instant: datetime, zone: str) -> datetime:
    """The clinic's wall-clock time, or UTC in the repeated hour after a fall-back (TZID cannot say which)."""
    local = instant.astimezone(ZoneInfo(zone))
    return instant.astimezone(UTC) if local.fold else local


def _address(who: Participant) -> tuple[icalendar.vCalAddress, dict[str, str]]:
    parameters = {"CN": who.name}
    if who.role is not None:
        parameters["ROLE"] = who.role
    if who.partstat is not None:
        parameters["PARTSTAT"] = who.partstat
    if who.rsvp is not None:
        parameters["RSVP"] = "TRUE" if who.rsvp else "FALSE"
    return icalendar.vCalAddress(f"mailto:{who.email}"), parameters


@dataclass(frozen=True)
class _State:
    offset: timedelta
    dst: bool
    name: str


@dataclass(frozen=True)
class _Onset:
    """A change of offset or name: ``at`` in UTC, ``local`` the wall clock just before it (RFC 5545)."""

    at: datetime
    before: _State
    after: _State

    @property
    def local(self) -> datetime:
        return (self.at + self.before.offset).replace(tzinfo=None)

    def positions(self) -> frozenset[int]:
        """The BYDAY ordinals that name this day in its month: n-th from the start, -1 for the last."""
        local = self.local
        found = {(local.day - 1) // 7 + 1} if local.day <= 28 else set()
        if local.day > calendar.monthrange(local.year, local.month)[1] - 7:
            found.add(-1)
        return frozenset(found)

    def rule_key(self) -> tuple[object, ...]:
        local = self.local
        return (self.before, self.after, local.month, local.time(), local.weekday())


def _state(zone: ZoneInfo, at: datetime) -> _State:
    local = at.astimezone(zone)
    return _State(local.utcoffset() or timedelta(0), bool(local.dst()), local.tzname() or zone.key)


@lru_cache(maxsize=64)
def _onsets(key: str, first_year: int, last_year: int) -> tuple[_State, tuple[_Onset, ...]]:
    """The zone's state on 1 January of ``first_year`` and every change until the end of ``last_year``."""
    zone = ZoneInfo(key)
    at = datetime(first_year, 1, 1, tzinfo=UTC)
    end = datetime(last_year + 1, 1, 1, tzinfo=UTC)
    initial = state = _state(zone, at)
    onsets: list[_Onset] = []
    while at < end:
        step = min(at + _SCAN_STEP, end)
        if _state(zone, step) == state:
            at = step
            continue
        low, high = at, step
        while high - low > timedelta(seconds=1):
            middle = low + (high - low) // 2
            low, high = (middle, high) if _state(zone, middle) == state else (low, middle)
        after = _state(zone, high)
        onsets.append(_Onset(high.replace(microsecond=0), state, after))
        at, state = high, after
    return initial, tuple(onsets)


def _yearly_runs(onsets: Iterable[_Onset]) -> list[tuple[list[_Onset], frozenset[int]]]:
    """Onsets grouped into runs that one yearly rule describes (same month, weekday, ordinal and time)."""
    runs: list[tuple[list[_Onset], frozenset[int]]] = []
    open_runs: dict[tuple[object, ...], int] = {}
    for onset in onsets:
        key = onset.rule_key()
        index = open_runs.get(key)
        if index is not None:
            members, positions = runs[index]
            common = positions & onset.positions()
            if members[-1].local.year + 1 == onset.local.year and common:
                runs[index] = ([*members, onset], common)
                continue
        open_runs[key] = len(runs)
        runs.append(([onset], onset.positions()))
    return runs


def _vtimezone(key: str, first_year: int, last_year: int) -> icalendar.Timezone:
    initial, onsets = _onsets(key, first_year, last_year)
    vtimezone = icalendar.Timezone()
    vtimezone.add("tzid", key)
    start = datetime(first_year, 1, 1) + initial.offset
    vtimezone.add_component(_observance(initial, initial, start, {"freq": "yearly", "count": 1}))
    for members, positions in _yearly_runs(onsets):
        first, final = members[0], members[-1]
        rule: dict[str, object] = {"freq": "yearly", "count": 1}
        if len(members) > 1:
            rule = {
                "freq": "yearly",
                "bymonth": first.local.month,
                "byday": f"{min(positions)}{_WEEKDAYS[first.local.weekday()]}",
            }
            if final.local.year < last_year:
                rule["count"] = len(members)
        vtimezone.add_component(_observance(first.before, first.after, first.local, rule))
    return vtimezone


def _observance(
    before: _State, after: _State, local: datetime, rule: dict[str, object]
) -> icalendar.TimezoneStandard | icalendar.TimezoneDaylight:
    """One STANDARD or DAYLIGHT block; even a single onset has its RRULE (COUNT=1), as some parsers need."""
    observance = icalendar.TimezoneDaylight() if after.dst else icalendar.TimezoneStandard()
    observance.add("dtstart", local)
    observance.add("rrule", rule)
    observance.add("tzoffsetfrom", before.offset)
    observance.add("tzoffsetto", after.offset)
    observance.add("tzname", after.name)
    return observance
