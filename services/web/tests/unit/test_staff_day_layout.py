"""The front desk's day laid out: rows from times (in the clinic's zone, DST days too), columns, lanes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from web.domain.day import (
    MAX_ROWS,
    ROWS_PER_HOUR,
    Booking,
    day_bounds,
    grid_css,
    lay_out_day,
    parse_day,
)

VANCOUVER = ZoneInfo("America/Vancouver")
DAY = date(2026, 3, 27)
IDA, JO = ("ida", "Ida Needham"), ("jo", "Jo Park")
STATIC = Path(__file__).resolve().parents[2] / "src" / "web" / "entrypoints" / "static"


def local(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=VANCOUVER).astimezone(UTC)


def booking(
    ident: str, start: datetime, minutes: int = 60, practitioner: str = "ida", status: str = "booked"
) -> Booking:
    return Booking(
        id=ident,
        practitioner_id=practitioner,
        starts_at=start,
        ends_at=start + timedelta(minutes=minutes),
        status=status,
        patient=f"Patient {ident}",
        treatment="IMS assessment",
        version=1,
    )


def test_a_local_day_is_its_utc_interval_and_23_or_25_hours_when_clocks_change() -> None:
    start, end = day_bounds(DAY, VANCOUVER)
    assert start == datetime(2026, 3, 27, 7, tzinfo=UTC)
    assert end - start == timedelta(hours=24)
    spring, fall = date(2026, 3, 8), date(2026, 11, 1)
    assert (lambda s, e: e - s)(*day_bounds(spring, VANCOUVER)) == timedelta(hours=23)
    assert (lambda s, e: e - s)(*day_bounds(fall, VANCOUVER)) == timedelta(hours=25)


def test_dates_are_read_as_yyyy_mm_dd_only() -> None:
    assert parse_day("2026-03-27") == DAY
    assert parse_day("2026-02-30") is None
    assert parse_day("27/03/2026") is None
    assert parse_day("") is None
    assert parse_day(None) is None


def test_blocks_sit_in_their_practitioners_column_at_rows_from_their_local_times() -> None:
    layout = lay_out_day(
        DAY,
        VANCOUVER,
        [IDA, JO],
        [booking("a", local(9, 30), 60), booking("b", local(13), 30, practitioner="jo")],
        now=local(12),
    )
    assert (layout.first_hour, layout.last_hour) == (8, 18)  # the default window
    assert layout.rows == 10 * ROWS_PER_HOUR
    ida, jo = layout.columns
    assert (ida.name, jo.name) == ("Ida Needham", "Jo Park")
    (a,) = ida.blocks
    assert (a.row, a.span, a.lane, a.lane_span) == (19, 12, 1, 1)  # 9:30 is 1.5 h after 8:00
    (b,) = jo.blocks
    assert (b.row, b.span) == (61, 6)
    assert [mark.row for mark in layout.hours][:3] == [1, 13, 25]
    assert layout.hours[0].at == local(8)
    assert layout.now_row == 49  # noon
    assert not layout.empty


def test_the_window_widens_to_fit_early_and_late_appointments() -> None:
    layout = lay_out_day(
        DAY, VANCOUVER, [IDA], [booking("a", local(6, 45), 30), booking("b", local(19, 30), 60)], local(12)
    )
    assert (layout.first_hour, layout.last_hour) == (6, 21)
    first, last = layout.columns[0].blocks
    assert first.row == 10  # 6:45 is 45 minutes after 6:00: the 10th 5-minute row
    assert layout.rows - (last.row + last.span - 1) == 6  # ends at 20:30, half an hour before the end


def test_no_now_line_on_another_day() -> None:
    assert lay_out_day(DAY, VANCOUVER, [IDA], [], now=local(12, day=date(2026, 3, 28))).now_row is None
    empty = lay_out_day(DAY, VANCOUVER, [IDA], [], now=local(12))
    assert empty.empty
    assert empty.columns[0].blocks == []


def test_overlapping_appointments_share_the_column_in_lanes() -> None:
    layout = lay_out_day(
        DAY,
        VANCOUVER,
        [IDA],
        [
            booking("a", local(9), 60),
            booking("b", local(9, 30), 60),
            booking("c", local(10, 15), 30),  # overlaps b only: the first lane is free again
            booking("d", local(14), 60),  # alone: the whole width
        ],
        now=local(8),
    )
    column = layout.columns[0]
    assert column.lanes == 2
    lanes = {p.booking.id: (p.lane, p.lane_span) for p in column.blocks}
    assert lanes == {"a": (1, 1), "b": (2, 1), "c": (1, 1), "d": (1, 2)}


def test_a_group_with_fewer_lanes_than_the_column_stretches_to_its_edge() -> None:
    layout = lay_out_day(
        DAY,
        VANCOUVER,
        [IDA],
        [
            booking("a", local(9), 60),
            booking("b", local(9), 60),
            booking("c", local(9), 60),
            booking("d", local(12), 60),
            booking("e", local(12, 30), 60),
        ],
        now=local(8),
    )
    lanes = {p.booking.id: (p.lane, p.lane_span) for p in layout.columns[0].blocks}
    assert layout.columns[0].lanes == 3
    assert lanes["d"] == (1, 1)
    assert lanes["e"] == (2, 2)


def test_actions_open_upward_near_the_bottom_of_the_grid() -> None:
    layout = lay_out_day(
        DAY,
        VANCOUVER,
        [IDA],
        [booking("a", local(8)), booking("b", local(17)), booking("c", local(12))],
        local(7),
    )
    opens = {p.booking.id: layout.opens_upward(p) for p in layout.columns[0].blocks}
    assert opens == {"a": False, "b": True, "c": False}


def test_cancelled_are_counted_and_hidden_unless_asked_for() -> None:
    bookings = [booking("a", local(9)), booking("x", local(9), status="cancelled")]
    hidden = lay_out_day(DAY, VANCOUVER, [IDA], bookings, now=local(8))
    assert [p.booking.id for p in hidden.columns[0].blocks] == ["a"]
    assert hidden.hidden_cancelled == 1
    shown = lay_out_day(DAY, VANCOUVER, [IDA], bookings, now=local(8), show_cancelled=True)
    assert sorted(p.booking.id for p in shown.columns[0].blocks) == ["a", "x"]
    assert shown.hidden_cancelled == 0


def test_only_the_practitioners_asked_for_get_columns() -> None:
    layout = lay_out_day(
        DAY, VANCOUVER, [JO], [booking("a", local(9)), booking("b", local(9), practitioner="jo")], local(8)
    )
    assert [c.practitioner_id for c in layout.columns] == ["jo"]
    assert [p.booking.id for p in layout.columns[0].blocks] == ["b"]


def test_on_the_day_clocks_go_back_the_repeated_hour_is_shown_twice() -> None:
    fall = date(2026, 11, 1)
    first = datetime(2026, 11, 1, 1, 30, tzinfo=VANCOUVER)  # PDT
    second = datetime(2026, 11, 1, 1, 30, tzinfo=VANCOUVER, fold=1)  # PST, an hour later
    layout = lay_out_day(
        fall,
        VANCOUVER,
        [IDA],
        [booking("a", first.astimezone(UTC), 30), booking("b", second.astimezone(UTC), 30)],
        now=local(12, day=date(2026, 10, 31)),
    )
    assert layout.first_hour == 1
    a, b = layout.columns[0].blocks
    assert b.row - a.row == ROWS_PER_HOUR  # not on top of each other
    assert [m.at.astimezone(VANCOUVER).hour for m in layout.hours[:3]] == [1, 1, 2]


@pytest.mark.parametrize(
    ("status", "confirmed", "key"),
    [
        ("booked", False, "booked"),
        ("booked", True, "confirmed"),
        ("arrived", False, "arrived"),
        ("fulfilled", False, "completed"),
        ("noshow", False, "no_show"),
        ("cancelled", False, "cancelled"),
        ("proposed", False, "held"),
    ],
)
def test_status_words(status: str, confirmed: bool, key: str) -> None:
    b = booking("a", local(9), status=status)
    assert Booking(**(b.__dict__ | {"confirmed": confirmed})).status_key == key


def test_the_desk_is_offered_only_what_scheduling_accepts() -> None:
    booked = booking("a", local(9))
    assert booked.actions(local(8), VANCOUVER) == ["arrive", "cancel"]  # same day, not started
    assert booked.actions(local(9, 5), VANCOUVER) == ["arrive", "complete", "no_show", "cancel"]
    assert booked.actions(local(23, day=date(2026, 3, 26)), VANCOUVER) == ["cancel"]  # the day before
    arrived = booking("a", local(9), status="arrived")
    assert arrived.actions(local(9, 5), VANCOUVER) == ["complete"]
    assert booking("a", local(9), status="fulfilled").actions(local(11), VANCOUVER) == []
    assert booking("a", local(9), status="cancelled").actions(local(11), VANCOUVER) == []


def test_the_stylesheet_holds_the_current_grid_rules() -> None:
    css = (STATIC / "staff.css").read_text(encoding="utf-8")
    assert css.endswith(grid_css())
    assert f".row-{MAX_ROWS}{{" in css
    assert f".span-{MAX_ROWS}{{" in css


def test_today_s_window_stretches_to_hold_now_early_or_late() -> None:
    late = lay_out_day(DAY, VANCOUVER, [IDA], [booking("a", local(23, 15), 30)], now=local(22, 50))
    assert (late.first_hour, late.last_hour) == (8, 24)
    assert late.now_row == (22 - 8) * ROWS_PER_HOUR + 11  # 22:50 is the 11th 5-minute row of 22:00
    early = lay_out_day(DAY, VANCOUVER, [IDA], [], now=local(6, 5))
    assert (early.first_hour, early.last_hour) == (6, 18)
    assert early.now_row == 2
