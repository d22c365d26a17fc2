"""The front desk's day: a clinic's appointments of one local day laid out in columns, one per practitioner.

Plain rules, no Flask: which UTC interval a local day is (23 or 25 hours on the days clocks change), where
each appointment sits in the grid (rows of ``SLOT_MINUTES`` from the first hour shown), how overlapping
appointments of one practitioner share the column (lanes), where the "now" line is, and which desk actions
an appointment still admits (the page offers only what scheduling would accept).

Rows count elapsed time from the local midnight, not wall-clock time: on the day clocks go back, the hour
that happens twice is shown twice, and nothing lands on top of something an hour away.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

SLOT_MINUTES = 5
ROWS_PER_HOUR = 60 // SLOT_MINUTES
MAX_ROWS = 25 * ROWS_PER_HOUR  # the longest local day (clocks going back)
MAX_LANES = 4  # more overlapping appointments than this share the last lane
DEFAULT_HOURS = (8, 18)  # shown even on an empty day; widened to fit every appointment
PANEL_ROWS = 36  # about the height of a block's opened actions, in rows

# Scheduling's (FHIR) appointment statuses.
PROPOSED = "proposed"  # a waitlist offer's hold
BOOKED = "booked"
ARRIVED = "arrived"
FULFILLED = "fulfilled"
CANCELLED = "cancelled"
NOSHOW = "noshow"


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The local day as a UTC interval [start, end)."""
    start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return start, end


def parse_day(value: str | None) -> date | None:
    """A date as YYYY-MM-DD (what a date input sends); None when absent or not a real date."""
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None


@dataclass(frozen=True)
class Booking:
    """One appointment as the day page shows it, with the names a person reads."""

    id: str
    practitioner_id: str
    starts_at: datetime  # aware (UTC from the API)
    ends_at: datetime
    status: str
    patient: str
    treatment: str
    version: int | None = None
    confirmed: bool = False
    late_cancellation: bool = False
    fee_waived: bool = False
    patient_id: str | None = None  # set when the patient is known by name (the page links to them)
    kind: str = ""  # scheduling's kind: "assessment" or "treatment"
    practitioner: str = ""  # the practitioner's name, where the column does not say it (week, rooms)
    room_id: str | None = None

    @property
    def completed_assessment(self) -> bool:
        """An assessment seen to the end: its practitioner may record IMS suitability on it."""
        return self.kind == "assessment" and self.status == FULFILLED

    @property
    def status_key(self) -> str:
        """Which word the page prints: booked, confirmed, arrived, completed, no_show, cancelled, held."""
        if self.status == BOOKED:
            return "confirmed" if self.confirmed else "booked"
        return {
            ARRIVED: "arrived",
            FULFILLED: "completed",
            NOSHOW: "no_show",
            CANCELLED: "cancelled",
            PROPOSED: "held",
        }.get(self.status, self.status)

    @property
    def cancelled(self) -> bool:
        return self.status == CANCELLED

    # What scheduling accepts (Appointment.mark_arrived, mark_completed, mark_no_show, cancel).
    def can_arrive(self, now: datetime, zone: ZoneInfo) -> bool:
        return self.status == BOOKED and now.astimezone(zone).date() >= self.starts_at.astimezone(zone).date()

    def can_complete(self, now: datetime) -> bool:
        return self.status in (BOOKED, ARRIVED) and now >= self.starts_at

    def can_no_show(self, now: datetime) -> bool:
        return self.status == BOOKED and now >= self.starts_at

    def can_cancel(self) -> bool:
        return self.status == BOOKED

    @property
    def can_reschedule(self) -> bool:
        """Staff may move a booked appointment, even one that has started (Appointment.check_movable)."""
        return self.status == BOOKED

    def actions(self, now: datetime, zone: ZoneInfo) -> list[str]:
        """The desk actions this appointment admits now, in the order the page offers them."""
        offered = [
            ("arrive", self.can_arrive(now, zone)),
            ("complete", self.can_complete(now)),
            ("no_show", self.can_no_show(now)),
            ("cancel", self.can_cancel()),
        ]
        return [name for name, ok in offered if ok]


@dataclass(frozen=True)
class Placed:
    """A booking's place in its practitioner's column: grid rows (1-based) and lanes (1-based)."""

    booking: Booking
    row: int
    span: int
    lane: int = 1
    lane_span: int = 1
    starts_earlier: bool = False  # began before the first row shown (never, as the window widens to fit)
    ends_later: bool = False


@dataclass(frozen=True)
class Column:
    practitioner_id: str
    name: str
    blocks: list[Placed] = field(default_factory=list)
    lanes: int = 1


@dataclass(frozen=True)
class HourMark:
    at: datetime  # the UTC instant of the hour (the page prints it in the clinic's zone)
    row: int


@dataclass(frozen=True)
class DayLayout:
    day: date
    first_hour: int  # elapsed hours since the local midnight
    last_hour: int  # exclusive
    columns: list[Column]
    hours: list[HourMark]
    now_row: int | None = None  # where the "now" line is, when the day shown is today
    hidden_cancelled: int = 0

    @property
    def rows(self) -> int:
        return (self.last_hour - self.first_hour) * ROWS_PER_HOUR

    @property
    def empty(self) -> bool:
        return not any(column.blocks for column in self.columns)

    def opens_upward(self, placed: Placed) -> bool:
        """Whether a block's actions open above it: near the bottom of the grid, with room above."""
        return placed.row + placed.span - 1 > self.rows - PANEL_ROWS and placed.row > PANEL_ROWS


def _minutes(moment: datetime, midnight: datetime) -> float:
    return (moment - midnight).total_seconds() / 60


def lay_out_day(
    day: date,
    zone: ZoneInfo,
    practitioners: Sequence[tuple[str, str]],
    bookings: Iterable[Booking],
    now: datetime,
    *,
    show_cancelled: bool = False,
    default_hours: tuple[int, int] = DEFAULT_HOURS,
    column_of: Callable[[Booking], str] | None = None,
) -> DayLayout:
    """Place ``bookings`` of ``day`` in one column per practitioner (in the order given).

    A booking of a practitioner not in ``practitioners`` (left the clinic, or filtered out) is not shown.
    Cancelled bookings are counted but left out unless ``show_cancelled``. ``column_of`` keys a booking to
    its column (default: its practitioner; the week keys by day).
    """
    key = column_of or (lambda b: b.practitioner_id)
    midnight, next_midnight = day_bounds(day, zone)
    day_hours = round((next_midnight - midnight).total_seconds() / 3600)
    known = {pid for pid, _ in practitioners}
    shown: list[Booking] = []
    hidden = 0
    for booking in bookings:
        if key(booking) not in known:
            continue
        if booking.cancelled and not show_cancelled:
            hidden += 1
            continue
        shown.append(booking)

    first_hour, last_hour = default_hours
    for booking in shown:
        start = max(0.0, _minutes(booking.starts_at, midnight))
        end = min(day_hours * 60.0, _minutes(booking.ends_at, midnight))
        first_hour = min(first_hour, int(start // 60))
        last_hour = max(last_hour, math.ceil(end / 60))
    if midnight <= now < next_midnight:  # today: the window always holds "now", early or late
        now_minutes = _minutes(now, midnight)
        first_hour = min(first_hour, int(now_minutes // 60))
        last_hour = max(last_hour, int(now_minutes // 60) + 1)
    first_hour, last_hour = max(0, first_hour), min(day_hours, max(last_hour, first_hour + 1))
    window_start, rows = first_hour * 60, (last_hour - first_hour) * ROWS_PER_HOUR

    def place(booking: Booking) -> Placed:
        start = _minutes(booking.starts_at, midnight) - window_start
        end = _minutes(booking.ends_at, midnight) - window_start
        row = min(rows, max(0, int(start // SLOT_MINUTES))) + 1
        last = min(rows, max(row, math.ceil(end / SLOT_MINUTES)))
        return Placed(
            booking=booking,
            row=row,
            span=max(1, last - row + 1),
            starts_earlier=start < 0,
            ends_later=end > rows * SLOT_MINUTES,
        )

    columns = []
    for practitioner_id, name in practitioners:
        mine = sorted(
            (place(b) for b in shown if key(b) == practitioner_id),
            key=lambda p: (p.row, -p.span, p.booking.cancelled, p.booking.starts_at, p.booking.id),
        )
        blocks, lanes = share_lanes(mine)
        columns.append(Column(practitioner_id=practitioner_id, name=name, blocks=blocks, lanes=lanes))

    hours = [
        HourMark(at=midnight + timedelta(hours=hour), row=(hour - first_hour) * ROWS_PER_HOUR + 1)
        for hour in range(first_hour, last_hour)
    ]
    now_row = None
    if midnight <= now < next_midnight:
        elapsed = _minutes(now, midnight) - window_start
        if 0 <= elapsed < rows * SLOT_MINUTES:
            now_row = int(elapsed // SLOT_MINUTES) + 1
    return DayLayout(
        day=day,
        first_hour=first_hour,
        last_hour=last_hour,
        columns=columns,
        hours=hours,
        now_row=now_row,
        hidden_cancelled=hidden,
    )


def _overlap(a: Placed, b: Placed) -> bool:
    return a.row < b.row + b.span and b.row < a.row + a.span


def share_lanes(blocks: Sequence[Placed]) -> tuple[list[Placed], int]:
    """Side by side where they overlap: each group of overlapping blocks splits the column into lanes.

    ``blocks`` are sorted by row. A block takes the first free lane of its group and widens to the right
    over the lanes no overlapping block uses (a group with fewer lanes than the column widens to the
    column's edge). Returns the blocks and the column's lane count.
    """
    groups: list[list[Placed]] = []
    group_end = 0
    for block in blocks:
        if not groups or block.row >= group_end:
            groups.append([])
        groups[-1].append(block)
        group_end = max(group_end, block.row + block.span)

    laid: list[tuple[Placed, int, int, int]] = []  # block, lane, lane span, lanes of its group
    for members in groups:
        lane_ends: list[int] = []  # the row after the last block in each lane
        assigned: list[tuple[Placed, int]] = []
        for block in members:
            index = next((i for i, free_from in enumerate(lane_ends) if free_from <= block.row), None)
            if index is None:
                lane_ends.append(0)
                index = len(lane_ends) - 1
            lane_ends[index] = block.row + block.span
            assigned.append((block, min(index + 1, MAX_LANES)))
        group_lanes = min(len(lane_ends), MAX_LANES)
        for block, lane in assigned:
            width = 1
            for right in range(lane + 1, group_lanes + 1):
                if any(o is not block and n == right and _overlap(o, block) for o, n in assigned):
                    break
                width += 1
            laid.append((block, lane, width, group_lanes))

    lanes = max((group_lanes for *_, group_lanes in laid), default=1)
    placed = [
        replace(
            block,
            lane=lane,
            lane_span=width + (lanes - group_lanes if lane + width - 1 == group_lanes else 0),
        )
        for block, lane, width, group_lanes in laid
    ]
    return placed, lanes


def grid_css() -> str:
    """The stylesheet rules placing blocks in the grid (no inline styles: the CSP forbids them).

    ``row-N`` starts an item at row N, ``span-N`` makes it N rows tall, ``lanes-N`` splits a column in N
    lanes, ``lane-N`` and ``lane-span-N`` place a block in them. Kept in ``static/staff.css`` (a unit test
    checks it is current).
    """
    rules = [f".row-{n}{{grid-row-start:{n}}}" for n in range(1, MAX_ROWS + 1)]
    rules += [f".span-{n}{{grid-row-end:span {n}}}" for n in range(1, MAX_ROWS + 1)]
    rules += [
        f".lanes-{n}{{grid-template-columns:repeat({n},minmax(0,1fr))}}" for n in range(1, MAX_LANES + 1)
    ]
    rules += [f".lane-{n}{{grid-column-start:{n}}}" for n in range(1, MAX_LANES + 1)]
    rules += [f".lane-span-{n}{{grid-column-end:span {n}}}" for n in range(1, MAX_LANES + 1)]
    return "\n".join(rules) + "\n"
