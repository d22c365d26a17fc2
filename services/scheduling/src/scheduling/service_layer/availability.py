"""Availability use cases: managing hours, closures, time off and rooms; searching and checking free time.

Each use case runs in its caller's unit of work, and the caller commits.
"""

from __future__ import annotations

import heapq
import uuid
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import islice, repeat
from typing import overload
from zoneinfo import ZoneInfo

from clinic_shared.tokens import Principal
from scheduling.domain.availability import (
    Closure,
    Interval,
    OpeningHours,
    Room,
    Schedule,
    SlotRequest,
    TimeOff,
    WorkingHours,
    fits,
    free_slots,
)
from scheduling.domain.errors import Conflict, NotFound, RuleViolation
from scheduling.domain.model import AppointmentKind, Clinic, Practitioner, TreatmentType, require_aware
from scheduling.service_layer import tenancy
from scheduling.service_layer.guarded_writes import conflict_on_violation
from scheduling.service_layer.ports import UnitOfWork

MAX_SEARCH_DAYS = 62


@dataclass(frozen=True)
class WeeklySpan:
    weekday: int
    starts: time
    ends: time


def _clinic(uow: UnitOfWork, actor: Principal, clinic_id: uuid.UUID, *, staff_only: bool = False) -> Clinic:
    """The clinic, if the caller may touch it (staff: their clinic's; ``staff_only``: staff alone)."""
    tenancy.check_clinic(actor, clinic_id, staff_only=staff_only)
    clinic = uow.repo.get(Clinic, clinic_id)
    if clinic is None:
        raise NotFound("clinic not found", field="clinic_id")
    return clinic


def _practitioner(
    uow: UnitOfWork,
    actor: Principal,
    clinic_id: uuid.UUID,
    practitioner_id: uuid.UUID,
    *,
    staff_only: bool = False,
) -> Practitioner:
    _clinic(uow, actor, clinic_id, staff_only=staff_only)
    practitioner = uow.repo.get(Practitioner, practitioner_id)
    if practitioner is None or practitioner.clinic_id != clinic_id:
        raise NotFound("practitioner not found", field="practitioner_id")
    return practitioner


# --- clinic hours, closures, booking policy ------------------------------------------------------------


def set_opening_hours(
    uow: UnitOfWork, actor: Principal, clinic_id: uuid.UUID, spans: Sequence[WeeklySpan]
) -> Sequence[OpeningHours]:
    """Replace the clinic's weekly opening hours (an empty list means open every day)."""
    _clinic(uow, actor, clinic_id, staff_only=True)
    rows = [OpeningHours(uow.new_id(), clinic_id, s.weekday, s.starts, s.ends) for s in spans]
    uow.repo.replace_weekly(OpeningHours, "clinic_id", clinic_id, rows)
    return rows


def get_opening_hours(uow: UnitOfWork, actor: Principal, clinic_id: uuid.UUID) -> Sequence[OpeningHours]:
    _clinic(uow, actor, clinic_id)
    return uow.repo.opening_hours(clinic_id)


def add_closure(
    uow: UnitOfWork, actor: Principal, clinic_id: uuid.UUID, starts_on: date, ends_on: date, reason: str
) -> Closure:
    _clinic(uow, actor, clinic_id, staff_only=True)
    closure = Closure(uow.new_id(), clinic_id, starts_on, ends_on, reason)
    uow.repo.add(closure)
    return closure


def list_closures(
    uow: UnitOfWork, actor: Principal, clinic_id: uuid.UUID, offset: int, limit: int
) -> tuple[Sequence[Closure], int]:
    _clinic(uow, actor, clinic_id)
    return uow.repo.list(Closure, offset=offset, limit=limit, clinic_id=clinic_id)


def remove_closure(uow: UnitOfWork, actor: Principal, clinic_id: uuid.UUID, closure_id: uuid.UUID) -> None:
    _clinic(uow, actor, clinic_id, staff_only=True)
    closure = uow.repo.get(Closure, closure_id)
    if closure is None or closure.clinic_id != clinic_id:
        raise NotFound("closure not found")
    uow.repo.delete(closure)


@dataclass(frozen=True)
class UpdateBookingPolicy:
    clinic_id: uuid.UUID
    min_notice_minutes: int | None = None
    horizon_days: int | None = None
    slot_step_minutes: int | None = None


def update_booking_policy(uow: UnitOfWork, actor: Principal, cmd: UpdateBookingPolicy) -> Clinic:
    clinic = _clinic(uow, actor, cmd.clinic_id, staff_only=True)
    for name in ("min_notice_minutes", "horizon_days", "slot_step_minutes"):
        value = getattr(cmd, name)
        if value is not None:
            setattr(clinic, name, value)
    return clinic


# --- practitioners' hours and time off -----------------------------------------------------------------


def set_working_hours(
    uow: UnitOfWork,
    actor: Principal,
    clinic_id: uuid.UUID,
    practitioner_id: uuid.UUID,
    spans: Sequence[WeeklySpan],
) -> Sequence[WorkingHours]:
    """Replace a practitioner's weekly hours (an empty list means whenever the clinic is open)."""
    _practitioner(uow, actor, clinic_id, practitioner_id, staff_only=True)
    rows = [WorkingHours(uow.new_id(), practitioner_id, s.weekday, s.starts, s.ends) for s in spans]
    uow.repo.replace_weekly(WorkingHours, "practitioner_id", practitioner_id, rows)
    return rows


def get_working_hours(
    uow: UnitOfWork, actor: Principal, clinic_id: uuid.UUID, practitioner_id: uuid.UUID
) -> Sequence[WorkingHours]:
    _practitioner(uow, actor, clinic_id, practitioner_id)
    return uow.repo.working_hours([practitioner_id])


def add_time_off(
    uow: UnitOfWork,
    actor: Principal,
    clinic_id: uuid.UUID,
    practitioner_id: uuid.UUID,
    starts_at: datetime,
    ends_at: datetime,
    reason: str,
) -> TimeOff:
    _practitioner(uow, actor, clinic_id, practitioner_id, staff_only=True)
    require_aware(starts_at, "starts_at")
    require_aware(ends_at, "ends_at")
    entry = TimeOff(uow.new_id(), practitioner_id, starts_at.astimezone(UTC), ends_at.astimezone(UTC), reason)
    uow.repo.add(entry)
    return entry


def list_time_off(
    uow: UnitOfWork,
    actor: Principal,
    clinic_id: uuid.UUID,
    practitioner_id: uuid.UUID,
    offset: int,
    limit: int,
) -> tuple[Sequence[TimeOff], int]:
    _practitioner(uow, actor, clinic_id, practitioner_id, staff_only=True)
    return uow.repo.list(TimeOff, offset=offset, limit=limit, practitioner_id=practitioner_id)


def clinic_time_off(
    uow: UnitOfWork,
    actor: Principal,
    clinic_id: uuid.UUID,
    window: tuple[datetime, datetime],
    offset: int,
    limit: int,
) -> tuple[Sequence[TimeOff], int]:
    """Every practitioner's time off overlapping ``window`` [from, to) (a calendar's shading in one read)."""
    _clinic(uow, actor, clinic_id, staff_only=True)
    start, end = window
    require_aware(start, "from")
    require_aware(end, "to")
    if not start < end:
        raise RuleViolation("'to' must be after 'from'", field="to")
    return uow.repo.time_off_page(
        clinic_id, end.astimezone(UTC), start.astimezone(UTC), offset=offset, limit=limit
    )


def remove_time_off(
    uow: UnitOfWork,
    actor: Principal,
    clinic_id: uuid.UUID,
    practitioner_id: uuid.UUID,
    time_off_id: uuid.UUID,
) -> None:
    _practitioner(uow, actor, clinic_id, practitioner_id, staff_only=True)
    entry = uow.repo.get(TimeOff, time_off_id)
    if entry is None or entry.practitioner_id != practitioner_id:
        raise NotFound("time off not found")
    uow.repo.delete(entry)


# --- rooms -----------------------------------------------------------------------------------------------


def add_room(uow: UnitOfWork, actor: Principal, clinic_id: uuid.UUID, name: str) -> Room:
    _clinic(uow, actor, clinic_id, staff_only=True)
    if any(r.name == name for r in uow.repo.rooms(clinic_id)):
        raise Conflict("a room with this name already exists", field="name")
    room = Room(uow.new_id(), clinic_id, name)
    # Two admins adding the same name at once both pass the check above; the unique key refuses the second.
    with conflict_on_violation(uow, "a room with this name already exists", "name"):
        uow.repo.add(room)
    return room


def list_rooms(
    uow: UnitOfWork, actor: Principal, clinic_id: uuid.UUID, offset: int, limit: int
) -> tuple[Sequence[Room], int]:
    _clinic(uow, actor, clinic_id)
    return uow.repo.list(Room, offset=offset, limit=limit, clinic_id=clinic_id)


# --- free time -----------------------------------------------------------------------------------------


def qualified(practitioner: Practitioner, treatment: TreatmentType) -> bool:
    """IMS treatment needs the IMS roster; any active physiotherapist may assess."""
    return practitioner.active and (
        treatment.kind is not AppointmentKind.TREATMENT or practitioner.ims_qualified
    )


class Availability:
    """The clinic's hours, closures, rooms and live appointments over one period, loaded in one query."""

    def __init__(
        self,
        uow: UnitOfWork,
        clinic: Clinic,
        practitioner_ids: Sequence[uuid.UUID],
        start: datetime,
        end: datetime,
        exclude: uuid.UUID | None = None,
    ) -> None:
        zone = clinic.zone
        self.start, self.end = start, end
        first = start.astimezone(zone).date() - timedelta(days=1)
        last = end.astimezone(zone).date() + timedelta(days=1)
        facts = uow.repo.availability_facts(clinic.id, practitioner_ids, start, end, first, last, exclude)
        hours: dict[uuid.UUID, list[WorkingHours]] = defaultdict(list)
        for row in facts.working_hours:
            hours[row.practitioner_id].append(row)
        away: dict[uuid.UUID, list[TimeOff]] = defaultdict(list)
        for entry in facts.time_off:
            away[entry.practitioner_id].append(entry)
        self.schedules = {
            pid: Schedule(zone, facts.opening_hours, facts.closures, hours.get(pid, []), away.get(pid, []))
            for pid in practitioner_ids
        }
        self.rooms = [room.id for room in facts.rooms]
        self.busy: dict[uuid.UUID, list[Interval]] = defaultdict(list, facts.busy)
        self.room_busy = {room: facts.room_busy.get(room, []) for room in self.rooms}

    def windows(self, practitioner_id: uuid.UUID) -> list[Interval]:
        return self.schedules[practitioner_id].windows(self.start, self.end)

    def free_rooms(self, need: Interval) -> list[uuid.UUID]:
        return [room for room in self.rooms if not any(b.overlaps(need) for b in self.room_busy[room])]


def check_free_time(
    uow: UnitOfWork,
    clinic: Clinic,
    practitioner: Practitioner,
    treatment: TreatmentType,
    starts_at: datetime,
    *,
    now: datetime,
    enforce_notice: bool,
    exclude: uuid.UUID | None = None,
) -> uuid.UUID | None:
    """Refuse a time outside availability (422) or already taken (409); return the room to use, if any.

    The database has the last word on overlaps (exclusion constraints on PostgreSQL, serialized writers on
    SQLite); this check gives the clear answer in the common case.
    """
    if enforce_notice:
        clinic.check_booking_window(starts_at, now)
    ends_at = starts_at + treatment.duration
    need = Interval(starts_at, ends_at + treatment.buffer)
    availability = Availability(
        uow, clinic, [practitioner.id], starts_at - timedelta(hours=1), need.end + timedelta(hours=1), exclude
    )
    if not fits(availability.windows(practitioner.id), Interval(starts_at, ends_at)):
        raise RuleViolation(
            "the practitioner is not available at this time (hours, closure or time off)", field="starts_at"
        )
    if any(b.overlaps(need) for b in availability.busy[practitioner.id]):
        raise Conflict("the practitioner is not free at this time", field="starts_at")
    if not availability.rooms:
        return None
    free = availability.free_rooms(need)
    if not free:
        raise Conflict("no room is free at this time", field="starts_at")
    return claim_room(uow, free, need.start.date())


def claim_room(uow: UnitOfWork, free: Sequence[uuid.UUID], day: date) -> uuid.UUID:
    """The first free room no concurrent booking is placing an appointment in on ``day``.

    Simultaneous bookings would otherwise all pick the first free room: the database admits one and
    refuses the others, which then crowd onto the next room, and the last of n waits out n-1 refusals.
    When every free room is claimed, the first is taken anyway and the database has the last word.
    """
    for room_id in free:
        if uow.repo.try_claim_room(room_id, day):
            return room_id
    return free[0]


@dataclass(frozen=True)
class SearchSlots:
    clinic_id: uuid.UUID
    treatment_type_id: uuid.UUID
    first_day: date
    last_day: date
    practitioner_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Slot:
    practitioner_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    zone: ZoneInfo

    @property
    def local_starts_at(self) -> datetime:
        return self.starts_at.astimezone(self.zone)

    @property
    def local_ends_at(self) -> datetime:
        return self.ends_at.astimezone(self.zone)


def search_slots(uow: UnitOfWork, actor: Principal, cmd: SearchSlots) -> Sequence[Slot]:
    """Free start times for a treatment over local days, for one practitioner or any qualified one."""
    clinic = _clinic(uow, actor, cmd.clinic_id)
    treatment = uow.repo.get(TreatmentType, cmd.treatment_type_id)
    if treatment is None or treatment.clinic_id != clinic.id or not treatment.active:
        raise NotFound("treatment type not found", field="treatment_type_id")
    if cmd.last_day < cmd.first_day:
        raise RuleViolation("the range ends before it starts", field="to")
    if (cmd.last_day - cmd.first_day).days >= MAX_SEARCH_DAYS:
        raise RuleViolation(f"search at most {MAX_SEARCH_DAYS} days at once", field="to")
    if cmd.practitioner_id is not None:
        practitioner = _practitioner(uow, actor, clinic.id, cmd.practitioner_id)
        if not qualified(practitioner, treatment):
            raise RuleViolation("this practitioner does not deliver this treatment", field="practitioner_id")
        practitioners = [practitioner]
    else:
        practitioners = [p for p in uow.repo.practitioners(clinic.id) if qualified(p, treatment)]
    zone = clinic.zone
    now = uow.clock.now()
    earliest = now + timedelta(minutes=clinic.min_notice_minutes)
    latest = now + timedelta(days=clinic.horizon_days)
    start = max(datetime.combine(cmd.first_day, time(0), tzinfo=zone).astimezone(UTC), earliest)
    end = min(
        datetime.combine(cmd.last_day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC), latest
    )
    if start >= end or not practitioners:
        return []
    availability = Availability(uow, clinic, [p.id for p in practitioners], start, end + treatment.duration)
    request = SlotRequest(
        duration=treatment.duration,
        buffer=treatment.buffer,
        step=timedelta(minutes=clinic.slot_step_minutes),
        earliest=start,
        latest=end,
        zone=zone,
    )
    rooms_busy = [availability.room_busy[r] for r in availability.rooms] if availability.rooms else None
    runs = []
    for practitioner_id in (p.id for p in practitioners):
        windows = availability.windows(practitioner_id)
        starts = free_slots(windows, availability.busy[practitioner_id], request, rooms_busy)
        runs.append((practitioner_id, starts[: bisect_left(starts, end)]))
    return FreeSlots(runs, treatment.duration, zone)


class FreeSlots(Sequence[Slot]):
    """A search's free slots in time order (among equal times, in the practitioners' order).

    A month-wide search for any practitioner finds thousands of start times and a page shows fifty, so
    Slot objects are made only for the items read: each practitioner's start times are already in order,
    and a heap merge walks them together.
    """

    def __init__(
        self, runs: Sequence[tuple[uuid.UUID, Sequence[datetime]]], duration: timedelta, zone: ZoneInfo
    ) -> None:
        self._runs = [run for run in runs if run[1]]
        self._duration = duration
        self._zone = zone
        self._len = sum(len(starts) for _, starts in self._runs)

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[Slot]:
        return self._slots(0, self._len)

    @overload
    def __getitem__(self, index: int) -> Slot: ...

    @overload
    def __getitem__(self, index: slice) -> list[Slot]: ...

    def __getitem__(self, index: int | slice) -> Slot | list[Slot]:
        if isinstance(index, slice):
            start, stop, step = index.indices(self._len)
            if step == 1:
                return list(self._slots(start, stop))
            return list(self)[index]
        position = index + self._len if index < 0 else index
        if not 0 <= position < self._len:
            raise IndexError("slot index out of range")
        return next(self._slots(position, position + 1))

    def _slots(self, start: int, stop: int) -> Iterator[Slot]:
        merged = heapq.merge(*(zip(starts, repeat(order)) for order, (_, starts) in enumerate(self._runs)))
        for at, order in islice(merged, start, stop):
            yield Slot(self._runs[order][0], at, at + self._duration, self._zone)
