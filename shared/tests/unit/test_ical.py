"""The one iCalendar writer: every parser tried reads its times as the same instants, in any zone and year."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import vobject

from clinic_shared import ical
from clinic_shared.ical import CalendarEvent, Participant, appointment_uid, calendar_file
from clinic_shared.testing.calendars import READERS, Instants, read_with_vobject, with_unknown_tzids

ZONES = ["America/Vancouver", "America/Toronto", "Europe/Paris", "Australia/Sydney", "Asia/Kolkata"]


def event(starts_at: datetime, zone: str, **extra: object) -> CalendarEvent:
    fields: dict[str, object] = {
        "uid": appointment_uid(uuid.uuid4()),
        "sequence": 0,
        "stamp": datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
        "starts_at": starts_at,
        "ends_at": starts_at + timedelta(minutes=45),
        "timezone": zone,
        "summary": "IMS session",
        "location": "1 Main St",
        "status": "CONFIRMED",
    }
    return CalendarEvent(**(fields | extra))  # type: ignore[arg-type]


def expected(events: list[CalendarEvent]) -> Instants:
    return {e.uid: (e.starts_at, e.ends_at) for e in events}


def misread(read: Instants, events: list[CalendarEvent]) -> Instants:
    want = expected(events)
    assert set(read) == set(want)
    return {uid: got for uid, got in read.items() if got != want[uid]}


def mornings(zone: ZoneInfo, first: date, last: date, step: timedelta) -> list[datetime]:
    days = []
    day = first
    while day <= last:
        days.append(datetime.combine(day, time(9, 30), tzinfo=zone).astimezone(UTC))
        day += step
    return days


def around_changes(zone: ZoneInfo, year: int) -> list[datetime]:
    """9:30 local the day before, of and after each offset change in ``year``, and the change itself."""
    found = []
    instant = datetime(year, 1, 1, tzinfo=UTC)
    while instant.year == year:
        later = instant + timedelta(hours=1)
        if instant.astimezone(zone).utcoffset() != later.astimezone(zone).utcoffset():
            day = later.astimezone(zone).date()
            found += [later - timedelta(minutes=30), later, later + timedelta(minutes=30)]
            found += mornings(zone, day - timedelta(days=1), day + timedelta(days=1), timedelta(days=1))
        instant = later
    return found


@pytest.mark.parametrize("reader", list(READERS))
@pytest.mark.parametrize("zone_name", ZONES)
def test_each_parser_reads_single_events_across_both_changes_and_in_winter_and_summer(
    zone_name: str, reader: str
) -> None:
    zone = ZoneInfo(zone_name)
    starts = around_changes(zone, 2026) + mornings(zone, date(2026, 1, 15), date(2026, 12, 15), timedelta(91))
    for start in starts:
        events = [event(start, zone_name)]
        assert not misread(READERS[reader](calendar_file(events, prodid="-//t//EN")), events), start


@pytest.mark.parametrize("reader", list(READERS))
def test_each_parser_reads_a_feed_of_many_events_in_every_zone_from_2000_to_2040(reader: str) -> None:
    events = [
        event(start, name)
        for name in ZONES
        for start in mornings(ZoneInfo(name), date(2000, 1, 3), date(2040, 12, 31), timedelta(days=211))
    ]
    events += [event(start, name) for name in ZONES for start in around_changes(ZoneInfo(name), 2027)]
    content = calendar_file(events, prodid="-//t//EN", method="PUBLISH", name="Feed")
    assert content.count(b"BEGIN:VTIMEZONE") == len(ZONES)
    assert not misread(READERS[reader](content), events)


def test_the_repeated_hour_after_a_fall_back_is_written_in_utc_and_read_as_itself() -> None:
    first, second = datetime(2026, 11, 1, 8, 30, tzinfo=UTC), datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
    events = [event(first, "America/Vancouver"), event(second, "America/Vancouver")]
    content = calendar_file(events, prodid="-//t//EN")
    assert b"DTSTART;TZID=America/Vancouver:20261101T013000" in content
    assert b"DTSTART:20261101T093000Z" in content
    for reader in READERS.values():
        assert not misread(reader(content), events)


def test_a_zone_is_described_alike_in_every_file_so_clients_that_keep_the_first_one_read_later_files() -> (
    None
):
    early = [event(datetime(2025, 7, 1, 16, tzinfo=UTC), "America/Toronto")]
    late = [event(datetime(2033, 1, 10, 15, tzinfo=UTC), "America/Toronto")]
    early_file, late_file = (calendar_file(e, prodid="-//t//EN") for e in (early, late))

    def vtimezone(content: bytes) -> bytes:
        return content[content.index(b"BEGIN:VTIMEZONE") : content.index(b"END:VTIMEZONE")]

    assert vtimezone(early_file) == vtimezone(late_file)
    read_with_vobject(early_file)  # vobject now keeps this file's Toronto for the rest of the process
    later = vobject.readOne(late_file.decode()).vevent
    assert later.dtstart.value.astimezone(UTC) == late[0].starts_at


def test_text_is_escaped_and_lines_are_folded_at_75_octets_with_crlf() -> None:
    summary = "Évaluation IMS; suivi, 2e séance\nApportez vos radiographies " * 3
    attendee = Participant(
        "ana@example.test", "Li, Ana", role="REQ-PARTICIPANT", partstat="ACCEPTED", rsvp=False
    )
    one = event(
        datetime(2026, 7, 1, 16, tzinfo=UTC),
        "America/Vancouver",
        summary=summary,
        description="Line one\nLine two",
        organizer=Participant("front@clinic.test", "Clinic: Main St"),
        attendees=(attendee,),
        transparency="OPAQUE",
        sequence=3,
    )
    content = calendar_file([one], prodid="-//t//EN", method="REQUEST")
    lines = content.split(b"\r\n")
    assert content.endswith(b"END:VCALENDAR\r\n")
    assert b"\n" not in content.replace(b"\r\n", b"")
    assert max(len(line) for line in lines) <= 75
    assert b"SUMMARY:\xc3\x89valuation IMS\\; suivi\\, 2e s\xc3\xa9ance\\nApportez" in b"".join(
        line.removeprefix(b" ") for line in lines
    )
    for text in (content.decode(), with_unknown_tzids(content)):
        parsed = vobject.readOne(text)
        assert parsed.method.value == "REQUEST"
        vevent = parsed.vevent
        assert vevent.summary.value == summary
        assert vevent.description.value == "Line one\nLine two"
        assert vevent.uid.value == one.uid
        assert vevent.sequence.value == "3"
        assert vevent.transp.value == "OPAQUE"
        assert vevent.dtstamp.value == datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
        assert vevent.organizer.value == "mailto:front@clinic.test"
        assert vevent.organizer.params["CN"] == ["Clinic: Main St"]
        assert vevent.attendee.params["CN"] == ["Li, Ana"]
        assert vevent.attendee.params["RSVP"] == ["FALSE"]


def test_a_feed_names_itself_and_a_cancellation_says_so() -> None:
    cancelled = event(datetime(2026, 3, 2, 17, tzinfo=UTC), "Europe/Paris", status="CANCELLED", sequence=2)
    calendar = icalendar.Calendar.from_ical(
        calendar_file([cancelled], prodid="-//IMS//T//EN", method="CANCEL", name="My appointments")
    )
    assert (str(calendar["METHOD"]), str(calendar["X-WR-CALNAME"])) == ("CANCEL", "My appointments")
    [vevent] = calendar.events
    assert (str(vevent["STATUS"]), vevent["SEQUENCE"]) == ("CANCELLED", 2)
    assert str(vevent["DTSTART"].params["TZID"]) == "Europe/Paris"


def built_whole(events: list[CalendarEvent], **props: str) -> bytes:
    """The calendar as icalendar writes it with every component added before serialising (no cache)."""
    cal = icalendar.Calendar()
    for key in ("prodid", "version", "calscale", "method", "x-wr-calname"):
        if key in props:
            cal.add(key, props[key])
    for zone in sorted({e.timezone for e in events}):
        instants = [t for e in events if e.timezone == zone for t in (e.starts_at, e.ends_at)]
        first = min(ical._FIRST_YEAR, min(instants).year - 1)
        last = max(ical._LAST_YEAR, max(instants).year + 2)
        cal.add_component(ical._vtimezone(zone, first, last))
    for e in events:
        cal.add_component(ical._vevent(e))
    return bytes(cal.to_ical())


@pytest.mark.parametrize(
    "starts",
    [
        [datetime(2025, 3, 10, 16, 0, tzinfo=UTC)],
        [datetime(1999, 6, 1, 9, 0, tzinfo=UTC), datetime(2039, 1, 5, tzinfo=UTC)],
    ],
)
def test_a_file_with_cached_zones_is_the_file_built_whole_byte_for_byte(starts: list[datetime]) -> None:
    events = [event(at, zone) for at in starts for zone in ZONES]
    props = {"version": "2.0", "calscale": "GREGORIAN"}
    for _ in range(2):  # the second time every zone comes from the cache
        assert calendar_file(events, prodid="-//T//EN", method="REQUEST") == built_whole(
            events, prodid="-//T//EN", method="REQUEST", **props
        )
    assert calendar_file(events, prodid="-//T//EN", name="Feed") == built_whole(
        events, prodid="-//T//EN", **{"x-wr-calname": "Feed"} | props
    )
    assert calendar_file([], prodid="-//T//EN") == built_whole([], prodid="-//T//EN", **props)


def test_each_zone_and_range_of_years_is_serialised_once_and_kept_apart() -> None:
    ical._vtimezone_ical.cache_clear()
    at = datetime(2025, 3, 10, 16, 0, tzinfo=UTC)
    for _ in range(3):
        calendar_file([event(at, "America/Vancouver"), event(at, "America/Toronto")], prodid="-//T//EN")
    calendar_file([event(datetime(2039, 1, 5, tzinfo=UTC), "America/Vancouver")], prodid="-//T//EN")
    info = ical._vtimezone_ical.cache_info()
    assert (info.currsize, info.misses, info.hits) == (3, 3, 4)
    toronto = ical._vtimezone_ical("America/Toronto", 2000, 2037)
    assert b"TZID:America/Toronto" in toronto
    assert b"Vancouver" not in toronto
