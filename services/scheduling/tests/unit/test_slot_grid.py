"""Free slots sit on the clinic's grid: the slot step counted on the clinic's local clock (issue 10, item 6).

A free run that starts at an odd minute (after time off, at opening hours that start off the grid, at the
booking notice) starts at the next grid time, and the grid follows the wall clock through daylight-saving
changes, in the clinic's zone.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from scheduling.domain.availability import (
    Interval,
    OpeningHours,
    Schedule,
    SlotRequest,
    TimeOff,
    WorkingHours,
    free_slots,
)

VANCOUVER = ZoneInfo("America/Vancouver")
KOLKATA = ZoneInfo("Asia/Kolkata")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")  # daylight saving moves its clocks by 30 minutes
PRACTITIONER = uuid.uuid4()
CLINIC = uuid.uuid4()


def schedule(zone: ZoneInfo, *, hours: tuple[time, time] | None = None, away: list[TimeOff] = ()) -> Schedule:  # type: ignore[assignment]
    working = [WorkingHours(uuid.uuid4(), PRACTITIONER, d, *hours) for d in range(7)] if hours else []
    return Schedule(zone, [], [], working, list(away))


def time_off(day: date, starts: time, ends: time, zone: ZoneInfo, fold: int = 0) -> TimeOff:
    start = datetime.combine(day, starts, tzinfo=zone).replace(fold=fold)
    end = datetime.combine(day, ends, tzinfo=zone).replace(fold=fold)
    return TimeOff(uuid.uuid4(), PRACTITIONER, start.astimezone(UTC), end.astimezone(UTC), "away")


def day_slots(
    zone: ZoneInfo,
    day: date,
    *,
    step: int = 15,
    duration: int = 30,
    hours: tuple[time, time] | None = None,
    away: list[TimeOff] = (),  # type: ignore[assignment]
    earliest: datetime | None = None,
    busy: list[Interval] = (),  # type: ignore[assignment]
) -> list[datetime]:
    """The free starts on one local day, in the clinic's zone."""
    start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    windows = schedule(zone, hours=hours, away=away).windows(start, end)
    request = SlotRequest(
        duration=timedelta(minutes=duration),
        buffer=timedelta(0),
        step=timedelta(minutes=step),
        earliest=earliest or start,
        latest=end,
        zone=zone,
    )
    return [s.astimezone(zone) for s in free_slots(windows, busy, request)]


def wall(slots: list[datetime]) -> list[str]:
    return [s.strftime("%H:%M") for s in slots]


def test_after_time_off_ending_at_an_odd_minute_slots_return_to_the_quarter_hours() -> None:
    monday = date(2027, 3, 1)
    away = [time_off(monday, time(15, 7), time(15, 52), VANCOUVER)]
    offered = wall(day_slots(VANCOUVER, monday, hours=(time(9), time(17)), away=away))
    assert offered[offered.index("14:30") :] == ["14:30", "16:00", "16:15", "16:30"]
    assert {s[3:] for s in offered} == {"00", "15", "30", "45"}


def test_a_busy_time_ending_at_an_odd_minute_gives_way_to_the_next_grid_time() -> None:
    monday = date(2027, 3, 1)
    booked = Interval(
        datetime(2027, 3, 1, 10, 5, tzinfo=VANCOUVER).astimezone(UTC),
        datetime(2027, 3, 1, 10, 41, tzinfo=VANCOUVER).astimezone(UTC),
    )
    offered = wall(day_slots(VANCOUVER, monday, hours=(time(9), time(12)), busy=[booked]))
    assert offered == ["09:00", "09:15", "09:30", "10:45", "11:00", "11:15", "11:30"]


def test_hours_that_start_off_the_grid_are_offered_from_the_next_grid_time() -> None:
    monday = date(2027, 3, 1)
    offered = wall(day_slots(VANCOUVER, monday, step=20, hours=(time(8, 10), time(9, 30))))
    assert offered == ["08:20", "08:40", "09:00"]


def test_the_notice_is_rounded_up_to_the_local_clocks_grid() -> None:
    # Kolkata is UTC+05:30: hourly slots at local :00 are at UTC :30; hours start at half past.
    monday = date(2027, 3, 1)
    earliest = datetime(2027, 3, 1, 10, 10, tzinfo=KOLKATA).astimezone(UTC)
    offered = wall(
        day_slots(KOLKATA, monday, step=60, duration=60, hours=(time(9, 30), time(14)), earliest=earliest)
    )
    assert offered == ["11:00", "12:00", "13:00"]


def test_on_the_march_change_the_grid_continues_on_the_new_wall_clock() -> None:
    # 2027-03-14: 02:00 PST becomes 03:00 PDT in Vancouver; the clinic is open around the clock.
    sunday = date(2027, 3, 14)
    offered = wall(day_slots(VANCOUVER, sunday))
    assert offered[6:10] == ["01:30", "01:45", "03:00", "03:15"]  # 02:00-02:59 does not exist that day
    away = [time_off(sunday, time(3, 7), time(3, 52), VANCOUVER)]
    offered = wall(day_slots(VANCOUVER, sunday, away=away))
    # 01:45 PST would run to 03:15 PDT, into the time off.
    assert offered[6:9] == ["01:30", "04:00", "04:15"]
    assert {s[3:] for s in offered} == {"00", "15", "30", "45"}


def test_on_the_november_change_both_one_oclock_hours_are_on_the_grid() -> None:
    # 2027-11-07: 02:00 PDT becomes 01:00 PST; 01:00-01:59 happens twice.
    sunday = date(2027, 11, 7)
    away = [
        time_off(sunday, time(1, 7), time(1, 22), VANCOUVER, fold=0),
        time_off(sunday, time(1, 37), time(1, 52), VANCOUVER, fold=1),
    ]
    offered = day_slots(VANCOUVER, sunday, away=away)
    ones = [(s.strftime("%H:%M"), s.utcoffset()) for s in offered if s.hour == 1]
    pdt, pst = timedelta(hours=-7), timedelta(hours=-8)
    assert ones == [("01:30", pdt), ("01:45", pdt), ("01:00", pst)]
    assert {s.minute for s in offered} == {0, 15, 30, 45}


def test_a_half_hour_daylight_saving_change_keeps_the_grid_on_the_local_clock() -> None:
    # Lord Howe Island: 2027-10-03 02:00 (+10:30) becomes 02:30 (+11:00).
    sunday = date(2027, 10, 3)
    offered = day_slots(LORD_HOWE, sunday, step=20, duration=20)
    assert {s.minute for s in offered} == {0, 20, 40}
    assert wall(offered)[5:8] == ["01:40", "02:40", "03:00"]


@settings(max_examples=80, deadline=None)
@given(
    zone=st.sampled_from([VANCOUVER, KOLKATA, LORD_HOWE, ZoneInfo("America/St_Johns")]),
    day=st.dates(min_value=date(2027, 1, 1), max_value=date(2027, 12, 31)),
    step=st.sampled_from([5, 10, 15, 20, 30, 60]),
    away_start=st.integers(min_value=0, max_value=23 * 60),
    away_length=st.integers(min_value=1, max_value=180),
    earliest_minute=st.integers(min_value=0, max_value=24 * 60),
)
def test_every_slot_starts_on_the_local_grid(
    zone: ZoneInfo, day: date, step: int, away_start: int, away_length: int, earliest_minute: int
) -> None:
    midnight = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    gone = TimeOff(
        uuid.uuid4(),
        PRACTITIONER,
        midnight + timedelta(minutes=away_start, seconds=7),
        midnight + timedelta(minutes=away_start + away_length, seconds=7),
        "away",
    )
    offered = day_slots(
        zone, day, step=step, away=[gone], earliest=midnight + timedelta(minutes=earliest_minute, seconds=3)
    )
    for start in offered:
        assert start.second == 0
        assert (start.hour * 60 + start.minute) % step == 0
    # Distinct instants: where clocks go back, one wall time is offered twice (aware datetimes of one
    # zone compare by wall time, so the set is taken in UTC).
    assert len({s.astimezone(UTC) for s in offered}) == len(offered)


def test_opening_hours_starting_off_the_grid_bound_the_practitioner_too() -> None:
    opening = [OpeningHours(uuid.uuid4(), CLINIC, 0, time(9, 5), time(10))]
    start = datetime(2027, 3, 1, tzinfo=VANCOUVER).astimezone(UTC)
    windows = Schedule(VANCOUVER, opening, [], [], []).windows(start, start + timedelta(days=1))
    request = SlotRequest(
        timedelta(minutes=30),
        timedelta(0),
        timedelta(minutes=15),
        start,
        start + timedelta(days=1),
        VANCOUVER,
    )
    assert wall([s.astimezone(VANCOUVER) for s in free_slots(windows, [], request)]) == ["09:15", "09:30"]
