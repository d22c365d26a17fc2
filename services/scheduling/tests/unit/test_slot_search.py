"""Free-slot computation and availability windows: pure domain, no database."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduling.domain.availability import (
    Closure,
    Interval,
    NonexistentLocalTime,
    OpeningHours,
    Schedule,
    SlotRequest,
    TimeOff,
    WorkingHours,
    fits,
    free_slots,
    local_datetime,
    merge,
)
from scheduling.domain.errors import RuleViolation
from scheduling.service_layer.availability import FreeSlots, Slot

VANCOUVER = ZoneInfo("America/Vancouver")
BASE = datetime(2027, 3, 1, tzinfo=UTC)
CLINIC = uuid.uuid4()
PRACTITIONER = uuid.uuid4()


def at(minutes: int) -> datetime:
    return BASE + timedelta(minutes=minutes)


def weekdays_nine_to_five() -> list[WorkingHours]:
    return [WorkingHours(uuid.uuid4(), PRACTITIONER, day, time(9), time(17)) for day in range(5)]


def schedule(**parts: object) -> Schedule:
    values: dict[str, object] = {
        "zone": VANCOUVER,
        "opening_hours": [],
        "closures": [],
        "working_hours": weekdays_nine_to_five(),
        "time_off": [],
    }
    return Schedule(**(values | parts))  # type: ignore[arg-type]


intervals = st.builds(
    lambda start, length: Interval(at(start), at(start + length)),
    st.integers(min_value=0, max_value=7 * 24 * 60),
    st.integers(min_value=5, max_value=8 * 60),
)


@settings(max_examples=150, deadline=None)
@given(
    windows=st.lists(intervals, max_size=6),
    busy=st.lists(intervals, max_size=15),
    duration=st.integers(min_value=5, max_value=120),
    buffer=st.integers(min_value=0, max_value=30),
    step=st.sampled_from([5, 10, 15, 30]),
)
def test_no_slot_overlaps_a_busy_interval_or_leaves_the_windows(
    windows: list[Interval], busy: list[Interval], duration: int, buffer: int, step: int
) -> None:
    merged_windows = merge(windows)
    request = SlotRequest(
        duration=timedelta(minutes=duration),
        buffer=timedelta(minutes=buffer),
        step=timedelta(minutes=step),
        earliest=BASE,
        latest=at(8 * 24 * 60),
    )
    for start in free_slots(merged_windows, busy, request):
        appointment = Interval(start, start + request.duration)
        held = Interval(start, appointment.end + request.buffer)
        assert fits(merged_windows, appointment)
        assert not any(held.overlaps(b) for b in busy)


@settings(max_examples=100, deadline=None)
@given(
    busy=st.lists(intervals, max_size=10),
    room_busy=st.lists(st.lists(intervals, max_size=6), min_size=1, max_size=3),
)
def test_with_rooms_every_slot_leaves_one_room_free(
    busy: list[Interval], room_busy: list[list[Interval]]
) -> None:
    window = [Interval(BASE, at(7 * 24 * 60))]
    request = SlotRequest(
        timedelta(minutes=30), timedelta(minutes=10), timedelta(minutes=15), BASE, at(10_000)
    )
    for start in free_slots(window, busy, request, room_busy):
        held = Interval(start, start + timedelta(minutes=40))
        assert any(not any(held.overlaps(b) for b in room) for room in room_busy)


@settings(max_examples=100, deadline=None)
@given(
    busy=st.lists(intervals, max_size=10),
    room_busy=st.lists(st.lists(intervals, max_size=6), min_size=1, max_size=3),
)
def test_with_rooms_every_grid_time_with_the_practitioner_and_a_room_free_is_offered(
    busy: list[Interval], room_busy: list[list[Interval]]
) -> None:
    """The completeness counterpart of the test above (which an empty answer would pass)."""
    window = [Interval(BASE, at(3 * 24 * 60))]
    request = SlotRequest(timedelta(minutes=30), timedelta(0), timedelta(minutes=30), BASE, at(10_000))
    offered = set(free_slots(window, busy, request, room_busy))
    for k in range(3 * 48):
        start = at(30 * k)
        held = Interval(start, start + timedelta(minutes=30))
        practitioner_free = not any(held.overlaps(b) for b in busy)
        a_room_free = any(not any(held.overlaps(b) for b in room) for room in room_busy)
        assert (start in offered) == (practitioner_free and a_room_free)


@settings(max_examples=100, deadline=None)
@given(busy=st.lists(intervals, max_size=10))
def test_every_free_grid_time_is_offered(busy: list[Interval]) -> None:
    window = [Interval(BASE, at(3 * 24 * 60))]
    request = SlotRequest(timedelta(minutes=30), timedelta(0), timedelta(minutes=30), BASE, at(10_000))
    offered = set(free_slots(window, busy, request))
    for k in range(3 * 48):
        start = at(30 * k)
        free = not any(Interval(start, start + timedelta(minutes=30)).overlaps(b) for b in busy)
        assert (start in offered) == free


def test_working_hours_keep_their_local_time_across_the_march_change() -> None:
    # 2027-03-14: clocks go forward in Vancouver; 09:00 is 17:00 UTC before and 16:00 UTC after.
    windows = schedule().windows(datetime(2027, 3, 12, 12, tzinfo=UTC), datetime(2027, 3, 17, tzinfo=UTC))
    local = [(w.start.astimezone(VANCOUVER).time(), w.end.astimezone(VANCOUVER).time()) for w in windows]
    assert set(local) == {(time(9), time(17))}
    assert [w.start.hour for w in windows] == [17, 16, 16]


def test_working_hours_keep_their_local_time_across_the_november_change() -> None:
    windows = schedule().windows(datetime(2027, 11, 5, 12, tzinfo=UTC), datetime(2027, 11, 10, tzinfo=UTC))
    assert {w.start.astimezone(VANCOUVER).time() for w in windows} == {time(9)}
    assert [w.start.hour for w in windows] == [16, 17, 17]


def test_a_closure_removes_the_whole_local_day() -> None:
    holiday = Closure(uuid.uuid4(), CLINIC, date(2027, 3, 2), date(2027, 3, 2), "holiday")
    windows = schedule(closures=[holiday]).windows(
        datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 3, 4, tzinfo=UTC)
    )
    assert {w.start.astimezone(VANCOUVER).date() for w in windows} == {date(2027, 3, 1), date(2027, 3, 3)}


def test_time_off_cuts_a_hole_in_the_day() -> None:
    monday_noon = datetime(2027, 3, 1, 12, tzinfo=VANCOUVER)
    away = TimeOff(uuid.uuid4(), PRACTITIONER, monday_noon, monday_noon + timedelta(hours=2), "dentist")
    windows = schedule(time_off=[away]).windows(
        datetime(2027, 3, 1, 8, tzinfo=UTC), monday_noon + timedelta(hours=8)
    )
    local = [(w.start.astimezone(VANCOUVER).hour, w.end.astimezone(VANCOUVER).hour) for w in windows]
    assert local == [(9, 12), (14, 17)]


def test_a_practitioner_works_only_while_the_clinic_is_open() -> None:
    mornings = [OpeningHours(uuid.uuid4(), CLINIC, day, time(8), time(13)) for day in range(7)]
    windows = schedule(opening_hours=mornings).windows(
        datetime(2027, 3, 1, 8, tzinfo=UTC), datetime(2027, 3, 2, 8, tzinfo=UTC)
    )
    assert [(w.start.astimezone(VANCOUVER).hour, w.end.astimezone(VANCOUVER).hour) for w in windows] == [
        (9, 13)
    ]


def test_without_any_hours_the_clinic_is_open_around_the_clock() -> None:
    windows = schedule(working_hours=[]).windows(BASE, BASE + timedelta(days=2))
    assert windows == [Interval(BASE, BASE + timedelta(days=2))]


def test_a_local_time_skipped_by_the_march_change_is_reported() -> None:
    with pytest.raises(NonexistentLocalTime, match="02:30 does not exist on 2027-03-14"):
        local_datetime(date(2027, 3, 14), time(2, 30), VANCOUVER)
    assert local_datetime(date(2027, 3, 21), time(2, 30), VANCOUVER) == datetime(
        2027, 3, 21, 9, 30, tzinfo=UTC
    )


def test_weekly_hours_must_end_after_they_start() -> None:
    with pytest.raises(RuleViolation, match="end must be after"):
        WorkingHours(uuid.uuid4(), PRACTITIONER, 0, time(17), time(9))


def test_slots_respect_the_earliest_start() -> None:
    window = [Interval(BASE, at(240))]
    request = SlotRequest(timedelta(minutes=30), timedelta(0), timedelta(minutes=30), at(61), at(1000))
    assert free_slots(window, [], request)[0] == at(90)


def test_free_slots_read_in_time_order_with_ties_in_the_practitioners_order() -> None:
    first, second = uuid.UUID(int=2), uuid.UUID(int=1)
    runs = [(first, [at(0), at(30), at(90)]), (second, [at(15), at(30), at(60)]), (uuid.uuid4(), [])]
    found = FreeSlots(runs, timedelta(minutes=30), VANCOUVER)
    expected = sorted(
        (
            Slot(pid, start, start + timedelta(minutes=30), VANCOUVER)
            for pid, starts in runs
            for start in starts
        ),
        key=lambda slot: slot.starts_at,
    )
    assert len(found) == 6
    assert list(found) == expected
    assert [s.practitioner_id for s in found[2:4]] == [first, second]
    assert found[1:5] == expected[1:5]
    assert found[::2] == expected[::2]
    assert found[-1] == expected[-1]
    with pytest.raises(IndexError):
        found[6]
