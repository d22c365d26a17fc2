"""The calendar beyond one day: a week of the clinic laid out in day columns, and the time nobody can be
booked (clinic closures, a practitioner's time off) shaded on the day and week grids.

Plain rules, no Flask. The grid is the day's (``domain.day``): rows of ``SLOT_MINUTES`` from the first hour
shown; a week shares one window of hours so its days line up side by side.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from web.domain.day import DEFAULT_HOURS, SLOT_MINUTES, Booking, DayLayout, day_bounds, lay_out_day

CLOSED = "closed"
TIME_OFF = "time_off"


@dataclass(frozen=True)
class Closure:
    """The clinic closed on local dates ``starts_on`` to ``ends_on`` (inclusive)."""

    starts_on: date
    ends_on: date
    reason: str

    def covers(self, day: date) -> bool:
        return self.starts_on <= day <= self.ends_on


@dataclass(frozen=True)
class TimeOff:
    practitioner_id: str
    starts_at: datetime  # aware
    ends_at: datetime
    reason: str


@dataclass(frozen=True)
class Shade:
    """Unbookable time on a grid column: rows (1-based) like a block's, and what it is (the page says it
    in words: never by shade alone)."""

    row: int
    span: int
    kind: str  # CLOSED or TIME_OFF
    reason: str
    starts_at: datetime
    ends_at: datetime


def shade(
    layout: DayLayout, zone: ZoneInfo, start: datetime, end: datetime, kind: str, reason: str
) -> Shade | None:
    """The part of [start, end) inside the day's window as grid rows; None when it misses the window."""
    midnight, _ = day_bounds(layout.day, zone)
    window_start = midnight + timedelta(hours=layout.first_hour)
    window_end = window_start + timedelta(minutes=layout.rows * SLOT_MINUTES)
    start, end = max(start, window_start), min(end, window_end)
    if end <= start:
        return None
    first = int((start - window_start).total_seconds() // 60 // SLOT_MINUTES) + 1
    last = math.ceil((end - window_start).total_seconds() / 60 / SLOT_MINUTES)
    return Shade(
        row=first, span=max(1, last - first + 1), kind=kind, reason=reason, starts_at=start, ends_at=end
    )


def closure_on(day: date, closures: Iterable[Closure]) -> Closure | None:
    return next((c for c in closures if c.covers(day)), None)


def shades_by_column(
    layout: DayLayout, zone: ZoneInfo, closures: Sequence[Closure], time_off: Sequence[TimeOff]
) -> dict[str, list[Shade]]:
    """Each column's shaded time on the day: the whole window when the clinic is closed, else the time off
    of the column's practitioner."""
    closed = closure_on(layout.day, closures)
    midnight, next_midnight = day_bounds(layout.day, zone)
    shades: dict[str, list[Shade]] = {}
    for column in layout.columns:
        found: list[Shade | None]
        if closed is not None:
            found = [shade(layout, zone, midnight, next_midnight, CLOSED, closed.reason)]
        else:
            found = [
                shade(layout, zone, t.starts_at, t.ends_at, TIME_OFF, t.reason)
                for t in time_off
                if t.practitioner_id == column.practitioner_id
            ]
        shades[column.practitioner_id] = [s for s in found if s is not None]
    return shades


def week_of(day: date) -> date:
    """The Monday of ``day``'s week."""
    return day - timedelta(days=day.weekday())


@dataclass(frozen=True)
class WeekLayout:
    monday: date
    days: list[DayLayout]  # seven, each with one column (the day's, keyed by its ISO date)
    hidden_cancelled: int

    @property
    def rows(self) -> int:
        return self.days[0].rows

    @property
    def empty(self) -> bool:
        return all(d.empty for d in self.days)

    def opens_upward(self, placed: object) -> bool:
        return self.days[0].opens_upward(placed)  # type: ignore[arg-type]


def lay_out_week(
    monday: date,
    zone: ZoneInfo,
    bookings: Sequence[Booking],
    now: datetime,
    *,
    show_cancelled: bool = False,
) -> WeekLayout:
    """Seven day columns sharing one window of hours (each day's own window widened to all of them), every
    practitioner's appointments of a day in that day's column (overlaps share lanes)."""
    days = [monday + timedelta(days=n) for n in range(7)]

    def day_key(booking: Booking) -> str:
        return booking.starts_at.astimezone(zone).date().isoformat()

    def lay_out(day: date, hours: tuple[int, int]) -> DayLayout:
        return lay_out_day(
            day,
            zone,
            [(day.isoformat(), "")],
            bookings,
            now,
            show_cancelled=show_cancelled,
            default_hours=hours,
            column_of=day_key,
        )

    first = [lay_out(day, DEFAULT_HOURS) for day in days]
    window = (min(d.first_hour for d in first), max(d.last_hour for d in first))
    laid = [lay_out(day, window) for day in days]
    return WeekLayout(monday=monday, days=laid, hidden_cancelled=sum(d.hidden_cancelled for d in laid))
