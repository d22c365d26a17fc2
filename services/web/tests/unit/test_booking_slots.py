"""Free times a week at a time in the clinic's zone: days, week bounds, the earliest time, clock changes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from web.domain.slots import (
    Slot,
    as_param,
    choose_monday,
    earliest,
    last_bookable_day,
    local_today,
    monday_of,
    one_per_time,
    parse_instant,
    search_range,
    week_of,
)

VANCOUVER = ZoneInfo("America/Vancouver")
IDA, SAM = "ida", "sam"


def at(year: int, month: int, day: int, hour: int, minute: int = 0, who: str = IDA) -> Slot:
    """A slot at a Vancouver wall-clock time."""
    return Slot(datetime(year, month, day, hour, minute, tzinfo=VANCOUVER).astimezone(UTC), who)


def test_a_week_has_seven_local_days_from_monday_and_empty_days_stay_as_rows() -> None:
    slots = [at(2026, 12, 8, 9, 30), at(2026, 12, 8, 9), at(2026, 12, 10, 14)]
    week = week_of(slots, date(2026, 12, 9), VANCOUVER, today=date(2026, 12, 1), last_day=date(2027, 5, 1))
    assert week.monday == date(2026, 12, 7)
    assert week.sunday == date(2026, 12, 13)
    assert [d.day for d in week.days] == [date(2026, 12, n) for n in range(7, 14)]
    assert [len(d.slots) for d in week.days] == [0, 2, 0, 1, 0, 0, 0]
    # In time order within a day.
    assert [s.local(VANCOUVER).strftime("%H:%M") for s in week.days[1].slots] == ["09:00", "09:30"]
    assert not week.empty


def test_a_late_evening_time_is_on_its_local_day_not_the_utc_one() -> None:
    # 11:30 p.m. Sunday in Vancouver is Monday 07:30 UTC.
    late = at(2026, 12, 13, 23, 30)
    assert late.starts_at.date() == date(2026, 12, 14)
    week = week_of([late], date(2026, 12, 7), VANCOUVER, today=date(2026, 12, 1), last_day=date(2027, 1, 1))
    assert [len(d.slots) for d in week.days] == [0, 0, 0, 0, 0, 0, 1]
    next_week = week_of(
        [late], date(2026, 12, 14), VANCOUVER, today=date(2026, 12, 1), last_day=date(2027, 1, 1)
    )
    assert next_week.empty


def test_the_week_the_clocks_go_back_keeps_each_time_on_its_day_and_wall_clock() -> None:
    # 1 November 2026: Vancouver falls back from PDT (UTC-7) to PST (UTC-8) at 2 a.m.
    saturday, sunday, monday = at(2026, 10, 31, 9, 30), at(2026, 11, 1, 9, 30), at(2026, 11, 2, 9, 30)
    assert (saturday.starts_at.hour, sunday.starts_at.hour) == (16, 17)
    week = week_of(
        [saturday, sunday, monday],
        date(2026, 10, 26),
        VANCOUVER,
        today=date(2026, 10, 1),
        last_day=date(2027, 1, 1),
    )
    assert week.monday == date(2026, 10, 26)
    assert [d.day.isoformat() for d in week.days if d.slots] == ["2026-10-31", "2026-11-01"]
    assert [s.local(VANCOUVER).strftime("%H:%M %Z") for d in week.days for s in d.slots] == [
        "09:30 PDT",
        "09:30 PST",
    ]
    # The ambiguous hour (1:00-2:00 a.m. happens twice) gives two slots on the same day, in order.
    first = Slot(datetime(2026, 11, 1, 8, 30, tzinfo=UTC), IDA)  # 1:30 a.m. PDT
    second = Slot(datetime(2026, 11, 1, 9, 30, tzinfo=UTC), IDA)  # 1:30 a.m. PST
    both = week_of(
        [second, first], date(2026, 10, 26), VANCOUVER, today=date(2026, 10, 1), last_day=date(2027, 1, 1)
    )
    assert both.days[6].slots == (first, second)


def test_the_week_the_clocks_go_forward() -> None:
    # 8 March 2026: 2 a.m. PST jumps to 3 a.m. PDT.
    week = week_of(
        [at(2026, 3, 7, 10), at(2026, 3, 8, 10), at(2026, 3, 9, 10)],
        date(2026, 3, 2),
        VANCOUVER,
        today=date(2026, 3, 1),
        last_day=date(2026, 9, 1),
    )
    assert [s.starts_at.hour for d in week.days for s in d.slots] == [18, 17]
    assert week.later == date(2026, 3, 9)


@pytest.mark.parametrize(
    ("monday", "earlier", "later"),
    [
        pytest.param(date(2026, 12, 7), None, date(2026, 12, 14), id="this-week"),
        pytest.param(date(2026, 12, 14), date(2026, 12, 7), date(2026, 12, 21), id="next-week"),
        pytest.param(date(2026, 12, 28), date(2026, 12, 21), None, id="horizon"),
    ],
)
def test_earlier_and_later_weeks_stop_at_this_week_and_the_horizon(
    monday: date, earlier: date | None, later: date | None
) -> None:
    week = week_of([], monday, VANCOUVER, today=date(2026, 12, 9), last_day=date(2027, 1, 3))
    assert (week.earlier, week.later) == (earlier, later)


def test_the_week_shown_is_the_one_asked_for_kept_in_range_else_the_earliest_times() -> None:
    today, last = date(2026, 12, 9), date(2027, 6, 1)
    assert choose_monday(None, today=today, last_day=last, fallback=None) == date(2026, 12, 7)
    # Nothing free this week: open on the week of the earliest free time.
    assert choose_monday(None, today=today, last_day=last, fallback=date(2026, 12, 23)) == date(2026, 12, 21)
    assert choose_monday(date(2026, 12, 31), today=today, last_day=last, fallback=None) == date(2026, 12, 28)
    assert choose_monday(date(2020, 1, 1), today=today, last_day=last, fallback=None) == date(2026, 12, 7)
    assert choose_monday(date(2030, 1, 1), today=today, last_day=last, fallback=None) == date(2027, 5, 31)


def test_a_week_is_searched_from_today_never_in_the_past() -> None:
    assert search_range(date(2026, 12, 7), date(2026, 12, 9)) == (date(2026, 12, 9), date(2026, 12, 13))
    assert search_range(date(2026, 12, 14), date(2026, 12, 9)) == (date(2026, 12, 14), date(2026, 12, 20))


def test_today_and_the_horizon_are_the_clinics_days() -> None:
    # 5 p.m. on 8 December in Vancouver is already 9 December in UTC.
    now = datetime(2026, 12, 9, 1, 0, tzinfo=UTC)
    assert local_today(now, VANCOUVER) == date(2026, 12, 8)
    assert last_bookable_day(now, VANCOUVER, 180) == date(2027, 6, 6)
    assert monday_of(date(2026, 12, 13)) == date(2026, 12, 7)


def test_any_practitioner_shows_each_time_once_preferring_the_listed_order() -> None:
    slots = [at(2026, 12, 8, 9, who=SAM), at(2026, 12, 8, 9, who=IDA), at(2026, 12, 8, 8, who=SAM)]
    shown = one_per_time(slots, preferred=[IDA, SAM])
    assert [(s.local(VANCOUVER).hour, s.practitioner_id) for s in shown] == [(8, SAM), (9, IDA)]
    assert one_per_time(slots)[1].practitioner_id == SAM  # no preference: the first one found


def test_the_earliest_time() -> None:
    assert earliest([at(2026, 12, 9, 10), at(2026, 12, 8, 16)]) == at(2026, 12, 8, 16)
    assert earliest([]) is None


def test_instants_travel_in_urls_as_utc_minutes_and_must_carry_an_offset() -> None:
    slot = at(2026, 12, 8, 9, 30)
    assert slot.at == "2026-12-08T17:30Z"
    assert parse_instant(slot.at) == slot.starts_at
    assert parse_instant("2026-12-08T09:30:00-08:00") == slot.starts_at
    assert as_param(parse_instant("2026-12-08T09:30:00-08:00")) == "2026-12-08T17:30Z"
    with pytest.raises(ValueError, match="offset"):
        parse_instant("2026-12-08T09:30:00")
    assert Slot.from_api({"starts_at": "2026-12-08T17:30:00+00:00", "practitioner_id": IDA}) == slot
