"""Availability: opening hours, closures, working hours, time off, rooms, and the free-slot computation.

Weekly hours are local wall-clock times in the clinic's zone; they are turned into UTC intervals day by day,
so a practitioner who works 09:00-17:00 does so in winter and in summer. Everything else is UTC.

A clinic that defines no opening hours is open every day (closures still apply); a practitioner with no
working hours works whenever the clinic is open. A clinic that defines rooms needs a free room for every
appointment.
"""

from __future__ import annotations

import bisect
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from itertools import accumulate, repeat
from operator import add
from typing import NamedTuple
from zoneinfo import ZoneInfo

from scheduling.domain.errors import RuleViolation


class Interval(NamedTuple):
    """A half-open UTC interval [start, end); a tuple, so thousands of them are cheap to build and sort."""

    start: datetime
    end: datetime

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end

    def contains(self, other: Interval) -> bool:
        return self.start <= other.start and other.end <= self.end


def _check_weekly(weekday: int, starts: time, ends: time) -> None:
    if not 0 <= weekday <= 6:
        raise RuleViolation("weekday must be 0 (Monday) to 6 (Sunday)", field="weekday")
    if not starts < ends:
        raise RuleViolation("the end must be after the start on the same day", field="ends")


@dataclass
class OpeningHours:
    """The clinic is open on ``weekday`` (0 = Monday) from ``starts`` to ``ends``, local wall-clock time."""

    id: uuid.UUID
    clinic_id: uuid.UUID
    weekday: int
    starts: time
    ends: time

    def __post_init__(self) -> None:
        _check_weekly(self.weekday, self.starts, self.ends)


@dataclass
class WorkingHours:
    """A practitioner works on ``weekday`` from ``starts`` to ``ends``, local wall-clock time."""

    id: uuid.UUID
    practitioner_id: uuid.UUID
    weekday: int
    starts: time
    ends: time

    def __post_init__(self) -> None:
        _check_weekly(self.weekday, self.starts, self.ends)


@dataclass
class Closure:
    """The clinic is closed from ``starts_on`` to ``ends_on`` inclusive (local dates), e.g. a holiday."""

    id: uuid.UUID
    clinic_id: uuid.UUID
    starts_on: date
    ends_on: date
    reason: str

    def __post_init__(self) -> None:
        if self.ends_on < self.starts_on:
            raise RuleViolation("a closure cannot end before it starts", field="ends_on")

    def covers(self, day: date) -> bool:
        return self.starts_on <= day <= self.ends_on


@dataclass
class TimeOff:
    """A practitioner is away from ``starts_at`` to ``ends_at`` (UTC)."""

    id: uuid.UUID
    practitioner_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    reason: str

    def __post_init__(self) -> None:
        if not self.starts_at < self.ends_at:
            raise RuleViolation("time off must end after it starts", field="ends_at")

    @property
    def interval(self) -> Interval:
        return Interval(self.starts_at, self.ends_at)


@dataclass
class Room:
    """A treatment room or bed; when a clinic has rooms, every appointment takes one."""

    id: uuid.UUID
    clinic_id: uuid.UUID
    name: str
    active: bool = True


def local_datetime(day: date, at: time, zone: ZoneInfo, fold: int = 0) -> datetime:
    """The UTC instant of a local wall-clock time; refuses a time that does not exist that day (DST gap).

    A time that happens twice (clocks going back) is its first occurrence, or its second with ``fold=1``.
    """
    local = datetime.combine(day, at, tzinfo=zone).replace(fold=fold)
    if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise NonexistentLocalTime(day, at, zone.key)
    return local.astimezone(UTC)


def repeated_local_time(day: date, at: time, zone: ZoneInfo) -> bool:
    """Whether a local wall-clock time happens twice that day (the hour repeated when clocks go back)."""
    first = datetime.combine(day, at, tzinfo=zone).replace(fold=0)
    if first.utcoffset() == first.replace(fold=1).utcoffset():
        return False
    try:
        local_datetime(day, at, zone)
    except NonexistentLocalTime:
        return False  # the two readings of a skipped time differ too
    return True


def shown_twice(instant: datetime, zone: ZoneInfo) -> bool:
    """Whether the local time the clinic's clock shows at ``instant`` happens twice that day."""
    local = instant.astimezone(zone)
    return repeated_local_time(local.date(), local.time(), zone)


def forward_shifted(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The instant a local time names; one skipped by clocks going forward is read as the time the clock
    shows that long after the change (02:30 on a 02:00 -> 03:00 day is 03:30)."""
    return datetime.combine(day, at, tzinfo=zone).replace(fold=0).astimezone(UTC)


class NonexistentLocalTime(RuleViolation):
    """A local wall-clock time skipped by a daylight-saving change."""

    def __init__(self, day: date, at: time, zone: str) -> None:
        super().__init__(f"{at.isoformat('minutes')} does not exist on {day.isoformat()} in {zone}")
        self.day = day
        self.at = at


def _wall_clock_window(day: date, starts: time, ends: time, zone: ZoneInfo) -> Interval:
    # Windows that touch a DST gap are clamped to the instants that exist rather than refused.
    start = datetime.combine(day, starts, tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day, ends, tzinfo=zone).astimezone(UTC)
    return Interval(start, max(start, end))


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


WeeklySpans = tuple[tuple[int, time, time], ...]
ClosedDays = tuple[tuple[date, date], ...]


@lru_cache(maxsize=512)
def _weekly_windows(
    zone: ZoneInfo, spans: WeeklySpans | None, closed: ClosedDays, first: date, last: date
) -> tuple[Interval, ...]:
    """Merged UTC windows of weekly local hours over local days [first, last], skipping closed days;
    ``spans`` None means whole days. A pure function of its arguments, so it is memoized: practitioners
    sharing hours (and the clinic's own hours) are converted once per range, not once per practitioner."""
    windows: list[Interval] = []
    for day in _days(first, last):
        if any(starts_on <= day <= ends_on for starts_on, ends_on in closed):
            continue
        if spans is None:
            midnight = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
            next_midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
            windows.append(Interval(midnight, next_midnight.astimezone(UTC)))
            continue
        weekday = day.weekday()
        windows += [_wall_clock_window(day, starts, ends, zone) for w, starts, ends in spans if w == weekday]
    return tuple(merge(windows))


def _spans(hours: Iterable[OpeningHours | WorkingHours]) -> WeeklySpans:
    return tuple((h.weekday, h.starts, h.ends) for h in hours)


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, non-overlapping union (touching intervals are joined)."""
    merged: list[Interval] = []
    for interval in sorted(intervals):
        if interval.end <= interval.start:
            continue
        if merged and interval.start <= merged[-1].end:
            if interval.end > merged[-1].end:
                merged[-1] = Interval(merged[-1].start, interval.end)
        else:
            merged.append(interval)
    return merged


def intersect(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    """Intersection of two merged (sorted, disjoint) interval lists."""
    result: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        start = max(a[i].start, b[j].start)
        end = min(a[i].end, b[j].end)
        if start < end:
            result.append(Interval(start, end))
        if a[i].end < b[j].end:
            i += 1
        else:
            j += 1
    return result


def subtract(windows: Sequence[Interval], holes: Sequence[Interval]) -> list[Interval]:
    """``windows`` minus ``holes``; both merged."""
    result: list[Interval] = []
    j = 0
    for window in windows:
        start = window.start
        while j < len(holes) and holes[j].end <= start:
            j += 1
        k = j
        while k < len(holes) and holes[k].start < window.end:
            if holes[k].start > start:
                result.append(Interval(start, holes[k].start))
            start = max(start, holes[k].end)
            k += 1
        if start < window.end:
            result.append(Interval(start, window.end))
    return result


@dataclass(frozen=True)
class Schedule:
    """Everything that decides when one practitioner can see patients, in the clinic's zone."""

    zone: ZoneInfo
    opening_hours: Sequence[OpeningHours]
    closures: Sequence[Closure]
    working_hours: Sequence[WorkingHours]
    time_off: Sequence[TimeOff]

    def windows(self, start: datetime, end: datetime) -> list[Interval]:
        """UTC intervals inside [start, end) when the clinic is open and the practitioner works."""
        first = start.astimezone(self.zone).date() - timedelta(days=1)
        last = end.astimezone(self.zone).date()
        closed = tuple((c.starts_on, c.ends_on) for c in self.closures)
        opening = _spans(self.opening_hours) if self.opening_hours else None
        available: Sequence[Interval] = _weekly_windows(self.zone, opening, closed, first, last)
        if self.working_hours:
            own = _weekly_windows(self.zone, _spans(self.working_hours), closed, first, last)
            available = intersect(available, own)
        if self.time_off:
            available = subtract(available, merge(t.interval for t in self.time_off))
        return intersect(available, [Interval(start, end)])


@dataclass(frozen=True)
class SlotRequest:
    """What a slot must hold: the appointment's length, the cleanup after it, and when it may start.

    Starts lie on the clinic's grid: every ``step`` from local midnight on the clinic's wall clock in
    ``zone`` (e.g. :00, :15, :30, :45), whatever odd minute a free run begins at.
    """

    duration: timedelta
    buffer: timedelta
    step: timedelta
    earliest: datetime
    latest: datetime
    zone: tzinfo = UTC


# Starts must fall before a grid piece's end: the last allowed start is this much earlier.
_BEFORE = timedelta(microseconds=1)


def _grid_pieces(window: Interval, zone: tzinfo) -> Iterator[tuple[datetime, datetime, datetime]]:
    """Split a window where the local day or the UTC offset changes: (start, end, anchor) with the grid
    times of each piece at anchor + k * step (anchor: that local day's midnight on the piece's offset)."""
    start = window.start
    while start < window.end:
        local = start.astimezone(zone)
        offset = local.utcoffset() or timedelta(0)
        anchor = datetime.combine(local.date(), time(0), tzinfo=UTC) - offset
        next_day = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=zone)
        end = min(window.end, next_day.astimezone(UTC))
        if (end - _BEFORE).astimezone(zone).utcoffset() != offset:
            end = _offset_change(start, end, zone, offset)
        yield start, end, anchor
        start = end


def _offset_change(start: datetime, end: datetime, zone: tzinfo, offset: timedelta) -> datetime:
    """The first instant in (start, end) whose UTC offset is not ``offset`` (to the second)."""
    low, high = start, end  # low has the offset, high does not
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == offset:
            low = middle
        else:
            high = middle
    return high.replace(microsecond=0) if high.microsecond else high


def _free_at(busy: Sequence[Interval], starts: Sequence[datetime], need: Interval) -> bool:
    """Whether ``need`` misses every interval in ``busy`` (merged; ``starts`` are their start times)."""
    i = bisect.bisect_left(starts, need.end)
    return i == 0 or busy[i - 1].end <= need.start


def free_slots(
    windows: Sequence[Interval],
    busy: Iterable[Interval],
    request: SlotRequest,
    rooms_busy: Sequence[Iterable[Interval]] | None = None,
) -> list[datetime]:
    """Start times on the clinic's grid (see SlotRequest) where the whole appointment fits inside a window
    and its time plus buffer misses every busy interval (and, when rooms are given, one room is free for
    that time).

    A busy interval b rules out exactly the starts s with b.start - held < s < b.end, so the free starts
    are runs of grid times between those exclusions: each run is produced by arithmetic, not by testing
    every grid time against the busy list.
    """
    merged = merge(busy)
    ends = [b.end for b in merged]
    rooms = [merge(r) for r in rooms_busy] if rooms_busy is not None else None
    room_starts = [[b.start for b in r] for r in rooms] if rooms is not None else None
    slots: list[datetime] = []
    duration, held, step = request.duration, request.duration + request.buffer, request.step
    for window in windows:
        fitting = min(window.end - duration, request.latest)
        for piece_start, piece_end, anchor in _grid_pieces(window, request.zone):
            start = max(piece_start, request.earliest)
            start += (anchor - start) % step  # up to the next grid time
            last = min(fitting, piece_end - _BEFORE)
            _add_runs(slots, start, last, merged, ends, rooms, room_starts, step, held)
    return slots


def _add_runs(
    slots: list[datetime],
    start: datetime,
    last: datetime,
    merged: Sequence[Interval],
    ends: Sequence[datetime],
    rooms: Sequence[Sequence[Interval]] | None,
    room_starts: Sequence[Sequence[datetime]] | None,
    step: timedelta,
    held: timedelta,
) -> None:
    """Append the grid times from ``start`` (one) to ``last`` whose ``held`` time misses ``merged``."""
    if start <= last:
        k = bisect.bisect_right(ends, start)  # the first busy interval ending after ``start``
        while start <= last:
            while k < len(merged) and merged[k].end <= start:
                k += 1
            if k < len(merged) and merged[k].start - held < start:
                # Inside an exclusion: jump to the first grid time at or after the busy interval's end.
                start += step * -(-(merged[k].end - start) // step)
                continue
            run_end = last if k == len(merged) else min(last, merged[k].start - held)
            count = (run_end - start) // step + 1
            # start, start + step, ... added up in C rather than one Python expression per slot
            run: Iterable[datetime] = accumulate(repeat(step, count - 1), add, initial=start)
            if rooms is not None and room_starts is not None:
                run = [
                    s
                    for s in run
                    if any(
                        _free_at(r, rs, Interval(s, s + held))
                        for r, rs in zip(rooms, room_starts, strict=True)
                    )
                ]
            slots.extend(run)
            start += step * count


def fits(windows: Sequence[Interval], appointment: Interval) -> bool:
    """Whether the appointment lies wholly inside one availability window."""
    return any(w.contains(appointment) for w in windows)
