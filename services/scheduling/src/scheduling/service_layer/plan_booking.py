"""Booking a plan's sessions all or nothing: each one tried as an appointment, or reported as a conflict.

A session that cannot be booked (its time taken, the practitioner unavailable, a local time the clock
skips) is reported with the nearest alternatives: the same day at another time with the same practitioner,
or with another qualified practitioner. Nothing here writes: the plan's use cases add what is booked.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from clinic_shared.tokens import Principal
from scheduling.domain.errors import Conflict, NotFound, PlanConflict, RuleViolation
from scheduling.domain.model import Appointment, Clinic, Practitioner, TreatmentType
from scheduling.domain.plans import PlannedSession
from scheduling.service_layer import clinic_setup
from scheduling.service_layer.availability import SearchSlots, check_free_time, search_slots
from scheduling.service_layer.ports import UnitOfWork
from scheduling.service_layer.rescheduling import check_patient_free

ALTERNATIVES_PER_KIND = 3


@dataclass(frozen=True)
class SessionOverride:
    index: int
    starts_at: datetime
    practitioner_id: uuid.UUID | None = None


@dataclass
class PlanContext:
    """What trying a plan's sessions needs: who books, where, what, for whom, and the plan they belong to."""

    uow: UnitOfWork
    actor: Principal
    clinic: Clinic
    treatment: TreatmentType
    patient_id: uuid.UUID
    plan_id: uuid.UUID
    now: datetime


def book_all(
    ctx: PlanContext,
    practitioner: Practitioner,
    planned: Sequence[PlannedSession],
    overrides: Sequence[SessionOverride],
) -> list[Appointment]:
    """Build every session's appointment, or raise PlanConflict listing each one that cannot be booked."""
    outcomes = try_all(ctx, practitioner, planned, overrides)
    conflicts = [o for o in outcomes if isinstance(o, dict)]
    if conflicts:
        raise PlanConflict(conflicts)
    return [o for o in outcomes if isinstance(o, Appointment)]


def try_all(
    ctx: PlanContext,
    practitioner: Practitioner,
    planned: Sequence[PlannedSession],
    overrides: Sequence[SessionOverride],
) -> list[Appointment | dict[str, Any]]:
    """Each session as the appointment it would be, or as a conflict with alternatives (nothing written)."""
    by_index = {o.index: o for o in overrides}
    known = {p.index for p in planned}
    unknown = sorted(set(by_index) - known)
    if unknown:
        raise RuleViolation(f"no session with index {unknown[0]} in this request", field="overrides")
    outcomes: list[Appointment | dict[str, Any]] = []
    appointments: list[Appointment] = []
    for session in planned:
        override = by_index.get(session.index)
        starts_at = override.starts_at if override else session.starts_at
        who = practitioner
        if override and override.practitioner_id:
            who = clinic_setup.practitioner_of(ctx.uow, override.practitioner_id)
        if starts_at is None:
            outcomes.append(
                _conflict(ctx, session, None, who, "nonexistent_local_time", session.problem or "")
            )
            continue
        try:
            appointment = Appointment.book(
                appointment_id=ctx.uow.new_id(),
                clinic=ctx.clinic,
                practitioner=who,
                treatment=ctx.treatment,
                patient_id=ctx.patient_id,
                starts_at=starts_at,
                now=ctx.now,
                plan_id=ctx.plan_id,
            )
            appointment.plan_index = session.index
            appointment.room_id = check_free_time(
                ctx.uow,
                ctx.clinic,
                who,
                ctx.treatment,
                starts_at,
                now=ctx.now,
                enforce_notice=not ctx.actor.is_staff,
            )
            check_patient_free(ctx.uow, appointment, appointment.starts_at, appointment.ends_at)
            if any(_same_time(appointment, other) for other in appointments):
                raise Conflict("overlaps another session of this plan")
        except Conflict as error:
            outcomes.append(_conflict(ctx, session, starts_at, who, "taken", str(error)))
            continue
        except RuleViolation as error:
            outcomes.append(_conflict(ctx, session, starts_at, who, "unavailable", str(error)))
            continue
        appointments.append(appointment)
        outcomes.append(appointment)
    return outcomes


def _same_time(a: Appointment, b: Appointment) -> bool:
    """Two sessions of one plan clash if their times overlap at all (they are one patient's, whoever treats
    them), or if one's buffer runs into the other with the same practitioner or room. The database would
    refuse the first only on PostgreSQL and only at commit: checked here, every database answers alike."""
    if a.starts_at < b.ends_at and b.starts_at < a.ends_at:
        return True
    return (
        a.starts_at < b.occupied_until
        and b.starts_at < a.occupied_until
        and (a.practitioner_id == b.practitioner_id or (a.room_id is not None and a.room_id == b.room_id))
    )


def _conflict(
    ctx: PlanContext,
    session: PlannedSession,
    starts_at: datetime | None,
    practitioner: Practitioner,
    reason: str,
    detail: str,
) -> dict[str, Any]:
    return {
        "index": session.index,
        "local_date": session.day.isoformat(),
        "starts_at": starts_at.isoformat() if starts_at else None,
        "practitioner_id": str(practitioner.id),
        "reason": reason,
        "detail": detail,
        # A skipped local time is sought near where the clock reads it after the change.
        "alternatives": _alternatives(ctx, session.day, starts_at or session.near, practitioner),
    }


def _alternatives(
    ctx: PlanContext, day: date, wanted: datetime | None, practitioner: Practitioner
) -> list[dict[str, str]]:
    """The nearest free times that day: with the same practitioner, and with other qualified ones."""
    try:
        free = search_slots(ctx.uow, ctx.actor, SearchSlots(ctx.clinic.id, ctx.treatment.id, day, day))
    except (RuleViolation, NotFound):
        return []
    target = wanted or datetime.combine(day, time(12), tzinfo=ctx.clinic.zone)

    def nearest(slots: list[Any]) -> list[Any]:
        return sorted(slots, key=lambda s: abs(s.starts_at - target))[:ALTERNATIVES_PER_KIND]

    same = nearest([s for s in free if s.practitioner_id == practitioner.id])
    others = nearest([s for s in free if s.practitioner_id != practitioner.id])
    return [
        {
            "kind": "same_practitioner" if s.practitioner_id == practitioner.id else "other_practitioner",
            "practitioner_id": str(s.practitioner_id),
            "starts_at": s.starts_at.isoformat(),
            "local_starts_at": s.local_starts_at.isoformat(),
        }
        for s in same + others
    ]
