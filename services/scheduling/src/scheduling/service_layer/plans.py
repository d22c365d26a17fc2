"""Treatment plans: book a series of sessions all or nothing, extend it, cancel "this and following".

When some sessions cannot be booked, nothing is written: the answer lists each conflict with the nearest
alternatives (same day at another time with the same practitioner, or another qualified practitioner), and
the client re-submits with per-session overrides. The database has the last word on overlaps, so two
plans racing for one slot cannot both persist: the loser answers 409 and its transaction rolls back. Each
use case runs in its caller's unit of work, and the caller commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from clinic_shared.pagination import Page
from clinic_shared.tokens import Principal
from scheduling.domain.availability import shown_twice
from scheduling.domain.errors import NotFound
from scheduling.domain.model import Appointment, AppointmentStatus, Clinic, Patient
from scheduling.domain.plans import (
    Occurrence,
    PlannedSession,
    PlanStatus,
    TreatmentPlan,
    cut_series,
    places,
    progress,
    series,
)
from scheduling.service_layer import clinic_setup, tenancy
from scheduling.service_layer.appointments import cancelled_data, check_cleared_for, patient_for_booking
from scheduling.service_layer.booking_events import emit_booked
from scheduling.service_layer.guarded_writes import conflict_on_violation
from scheduling.service_layer.plan_booking import PlanContext, SessionOverride, book_all, try_all
from scheduling.service_layer.ports import UnitOfWork


@dataclass(frozen=True)
class CreatePlan:
    clinic_id: uuid.UUID
    practitioner_id: uuid.UUID
    treatment_type_id: uuid.UUID
    sessions: int
    every_weeks: int
    weekday: int
    local_time: time
    first_day: date
    patient_id: uuid.UUID | None = None
    overrides: Sequence[SessionOverride] = field(default_factory=tuple)
    occurrence: Occurrence = Occurrence.FIRST


@dataclass(frozen=True)
class PlanSession:
    """A session as a plan shows it: the appointment, and whether its local time happens twice that day
    (then its UTC start says which occurrence it is)."""

    appointment: Appointment
    ambiguous_local_time: bool

    def __getattr__(self, name: str) -> Any:
        # The appointment's fields read through, so a session renders (and is used) as an appointment.
        if name == "appointment":
            raise AttributeError(name)
        return getattr(self.appointment, name)


@dataclass(frozen=True)
class PlanView:
    plan: TreatmentPlan
    sessions: Sequence[PlanSession]
    completed_sessions: int
    remaining_sessions: int


def _patient_and_clinic(uow: UnitOfWork, actor: Principal, cmd: CreatePlan) -> uuid.UUID:
    """The plan's patient, checked like a booking's: staff plan at their clinic for a patient of theirs."""
    patient_id = patient_for_booking(actor, cmd.patient_id)
    tenancy.check_clinic(actor, cmd.clinic_id)
    tenancy.check_patient(uow, actor, patient_id)
    if uow.repo.get(Patient, patient_id) is None:
        raise NotFound("patient not found", field="patient_id")
    return patient_id


def create_plan(uow: UnitOfWork, actor: Principal, cmd: CreatePlan) -> PlanView:
    patient_id = _patient_and_clinic(uow, actor, cmd)
    clinic = clinic_setup.clinic_of(uow, cmd.clinic_id)
    practitioner = clinic_setup.practitioner_of(uow, cmd.practitioner_id)
    treatment = clinic_setup.treatment_of(uow, cmd.treatment_type_id)
    check_cleared_for(uow, clinic, treatment, patient_id)
    now = uow.clock.now()
    plan = TreatmentPlan(
        id=uow.new_id(),
        clinic_id=clinic.id,
        patient_id=patient_id,
        practitioner_id=practitioner.id,
        treatment_type_id=treatment.id,
        total_sessions=cmd.sessions,
        every_weeks=cmd.every_weeks,
        weekday=cmd.weekday,
        local_time=cmd.local_time,
        created_at=now,
    )
    planned = _planned(cmd, clinic)
    ctx = PlanContext(uow, actor, clinic, treatment, patient_id, plan.id, now)
    appointments = book_all(ctx, practitioner, planned, cmd.overrides)
    with conflict_on_violation(uow, "a session's time was taken meanwhile; nothing was booked", "sessions"):
        uow.repo.add(plan)
        uow.flush()  # the sessions reference the plan row
        for appointment in appointments:
            uow.repo.add(appointment)
            emit_booked(uow, actor, appointment)
        uow.emit("scheduling.plan.created", plan.facts() | {"sessions": _sessions_data(appointments)})
    return PlanView(plan, _shown(appointments, clinic), 0, len(appointments))


def _planned(cmd: CreatePlan, clinic: Clinic) -> list[PlannedSession]:
    return series(
        cmd.first_day,
        cmd.weekday,
        cmd.every_weeks,
        cmd.sessions,
        cmd.local_time,
        clinic.zone,
        occurrence=cmd.occurrence,
    )


@dataclass(frozen=True)
class PlanPreview:
    """What ``create_plan`` would do with the same request: every session, free or in conflict."""

    sessions: list[dict[str, Any]]

    @property
    def bookable(self) -> bool:
        return all(s["status"] == "free" for s in self.sessions)


def preview_plan(uow: UnitOfWork, actor: Principal, cmd: CreatePlan) -> PlanPreview:
    """Check a plan request without booking or holding anything.

    Each session is listed with its time, practitioner and room; a session that cannot be booked carries
    the same reason and nearest alternatives a refused ``create_plan`` reports, so a client can show the
    whole series, let the patient pick replacements, and then book it with ``overrides``.
    """
    patient_id = _patient_and_clinic(uow, actor, cmd)
    clinic = clinic_setup.clinic_of(uow, cmd.clinic_id)
    practitioner = clinic_setup.practitioner_of(uow, cmd.practitioner_id)
    treatment = clinic_setup.treatment_of(uow, cmd.treatment_type_id)
    check_cleared_for(uow, clinic, treatment, patient_id)
    planned = _planned(cmd, clinic)
    ctx = PlanContext(uow, actor, clinic, treatment, patient_id, uow.new_id(), uow.clock.now())
    zone = clinic.zone
    rows: list[dict[str, Any]] = []
    for session, outcome in zip(planned, try_all(ctx, practitioner, planned, cmd.overrides), strict=True):
        if isinstance(outcome, Appointment):
            rows.append(
                {
                    "index": session.index,
                    "local_date": outcome.starts_at.astimezone(zone).date(),
                    "status": "free",
                    "starts_at": outcome.starts_at,
                    "local_starts_at": outcome.starts_at.astimezone(zone),
                    "ends_at": outcome.ends_at,
                    "practitioner_id": outcome.practitioner_id,
                    "room_id": outcome.room_id,
                    "ambiguous_local_time": shown_twice(outcome.starts_at, zone),
                    "reason": None,
                    "detail": None,
                    "alternatives": [],
                }
            )
            continue
        starts_at = datetime.fromisoformat(outcome["starts_at"]) if outcome["starts_at"] else None
        rows.append(
            {
                "index": session.index,
                "local_date": session.day,
                "status": outcome["reason"],
                "starts_at": starts_at,
                "local_starts_at": starts_at.astimezone(zone) if starts_at else None,
                "ends_at": starts_at + treatment.duration if starts_at else None,
                "practitioner_id": outcome["practitioner_id"],
                "room_id": None,
                "ambiguous_local_time": shown_twice(starts_at, zone) if starts_at else False,
                "reason": outcome["reason"],
                "detail": outcome["detail"],
                "alternatives": [
                    alternative
                    | {
                        "starts_at": datetime.fromisoformat(alternative["starts_at"]),
                        "local_starts_at": datetime.fromisoformat(alternative["local_starts_at"]),
                    }
                    for alternative in outcome["alternatives"]
                ],
            }
        )
    return PlanPreview(rows)  # nothing was added: the unit of work ends without a commit


@dataclass(frozen=True)
class ExtendPlan:
    plan_id: uuid.UUID
    sessions: int
    overrides: Sequence[SessionOverride] = field(default_factory=tuple)
    occurrence: Occurrence = Occurrence.FIRST


def extend_plan(uow: UnitOfWork, actor: Principal, cmd: ExtendPlan) -> PlanView:
    """Add sessions after the last one of the series, at the same cadence and local time, all or nothing.

    Sessions cut off by shortening the plan are not part of the series any more: the added ones follow
    the last session kept.
    """
    plan = _visible_plan(uow, actor, cmd.plan_id, for_update=True)
    plan.require_active()
    existing = _sessions(uow, plan)
    clinic = clinic_setup.clinic_of(uow, plan.clinic_id)
    practitioner = clinic_setup.practitioner_of(uow, plan.practitioner_id)
    treatment = clinic_setup.treatment_of(uow, plan.treatment_type_id)
    place = places(existing)
    kept = [a for a in existing if place[a.id] < plan.total_sessions] or existing
    last_day = max(a.starts_at for a in kept).astimezone(clinic.zone).date()
    planned = series(
        last_day + timedelta(weeks=plan.every_weeks),
        plan.weekday,
        plan.every_weeks,
        cmd.sessions,
        plan.local_time,
        clinic.zone,
        first_index=plan.total_sessions,
        occurrence=cmd.occurrence,
    )
    ctx = PlanContext(uow, actor, clinic, treatment, plan.patient_id, plan.id, uow.clock.now())
    added = book_all(ctx, practitioner, planned, cmd.overrides)
    plan.total_sessions += len(added)
    with conflict_on_violation(uow, "a session's time was taken meanwhile; nothing was booked", "sessions"):
        for appointment in added:
            uow.repo.add(appointment)
            emit_booked(uow, actor, appointment)
        uow.emit("scheduling.plan.extended", plan.facts() | {"added_sessions": _sessions_data(added)})
    return _view(uow, plan)


def cancel_plan(
    uow: UnitOfWork, actor: Principal, plan_id: uuid.UUID, from_appointment_id: uuid.UUID | None
) -> PlanView:
    """Cancel the session ``from_appointment_id`` and every later one in the series (default: every future
    session).

    Cut after sessions that are kept, the plan is shortened to them and stays active (it can still be
    extended and completed; scheduling.plan.shortened); cut before any, the plan is cancelled
    (scheduling.plan.cancelled).
    """
    plan = _visible_plan(uow, actor, plan_id, for_update=True)
    plan.require_active()
    now = uow.clock.now()
    sessions = _locked_sessions(uow, plan)
    if from_appointment_id is None:
        cancelled = [s for s in sessions if s.status is AppointmentStatus.BOOKED and s.starts_at >= now]
        keeps = 0
    else:
        chosen = next((s for s in sessions if s.id == from_appointment_id), None)
        if chosen is None:
            raise NotFound("that appointment is not a session of this plan", field="from_appointment_id")
        cut = cut_series(sessions, chosen, plan.total_sessions, now)
        cancelled, keeps = cut.cancelled, cut.keeps
    shortened = keeps > 0
    for session in cancelled:
        session.cancel(
            by_staff=actor.is_staff, now=now, reason="plan shortened" if shortened else "plan cancelled"
        )
        # The plan's own event follows: consumers may speak of the plan once, not of each session.
        # A consumer that does not know scheduling.plan.shortened still tells of each session.
        flags = {"with_plan": not shortened, "plan_shortened": shortened}
        uow.emit("scheduling.appointment.cancelled", cancelled_data(session) | flags)
    cancelled_ids = [s.id for s in cancelled]
    if shortened:
        previous = plan.total_sessions
        plan.shorten(keeps)
        uow.emit(
            "scheduling.plan.shortened",
            plan.facts()
            | {
                "previous_total_sessions": previous,
                "cancelled_appointment_ids": cancelled_ids,
                "shortened_at": now,
            },
        )
    else:
        plan.cancel(now)
        uow.emit(
            "scheduling.plan.cancelled",
            plan.facts() | {"cancelled_appointment_ids": cancelled_ids, "cancelled_at": now},
        )
    return _view(uow, plan)


def get_plan(uow: UnitOfWork, actor: Principal, plan_id: uuid.UUID) -> PlanView:
    return _view(uow, _visible_plan(uow, actor, plan_id))


def list_plans(
    uow: UnitOfWork,
    actor: Principal,
    page: Page,
    patient_id: uuid.UUID | None = None,
    status: PlanStatus | None = None,
) -> tuple[list[PlanView], int]:
    """A patient sees only their own plans; staff may filter by patient. Oldest first."""
    if not actor.is_staff:
        patient_id = actor.patient_id
        if patient_id is None:
            return [], 0
    filters: dict[str, object] = {}
    if patient_id is not None:
        filters["patient_id"] = patient_id
    if status is not None:
        filters["status"] = status
    filters |= tenancy.clinic_filter(actor)
    found, total = uow.repo.list(TreatmentPlan, offset=page.offset, limit=page.limit, **filters)
    return [_view(uow, plan) for plan in found], total


# --- helpers -------------------------------------------------------------------------------------------


def _sessions(uow: UnitOfWork, plan: TreatmentPlan) -> Sequence[Appointment]:
    sessions, _ = uow.repo.list(Appointment, offset=0, limit=10_000, plan_id=plan.id)
    return sessions


def _locked_sessions(uow: UnitOfWork, plan: TreatmentPlan) -> list[Appointment]:
    """The plan's sessions in series order, locked after the plan row (as the completion path takes them),
    and before any of them is read: a lock refuses a copy read earlier at an older version."""
    return sorted(uow.repo.plan_sessions_for_update(plan.id), key=lambda s: (s.starts_at, s.id))


def _view(uow: UnitOfWork, plan: TreatmentPlan) -> PlanView:
    sessions = _sessions(uow, plan)
    done, ahead = progress([str(s.status) for s in sessions])
    return PlanView(plan, _shown(sessions, clinic_setup.clinic_of(uow, plan.clinic_id)), done, ahead)


def _shown(sessions: Sequence[Appointment], clinic: Clinic) -> list[PlanSession]:
    zone = clinic.zone
    return [PlanSession(s, shown_twice(s.starts_at, zone)) for s in sessions]


def _visible_plan(
    uow: UnitOfWork, actor: Principal, plan_id: uuid.UUID, *, for_update: bool = False
) -> TreatmentPlan:
    """The plan if the actor may see it; ``for_update``: its row locked (before any of its sessions')."""
    plan = (
        uow.repo.get_for_update(TreatmentPlan, plan_id)
        if for_update
        else uow.repo.get(TreatmentPlan, plan_id)
    )
    if plan is None:
        raise NotFound("plan not found")
    if actor.is_staff:
        tenancy.check_clinic(actor, plan.clinic_id, what="plan", field=None)
    elif actor.patient_id != plan.patient_id:
        raise NotFound("plan not found")
    return plan


def _sessions_data(appointments: Sequence[Appointment]) -> list[dict[str, object]]:
    return [
        {
            "appointment_id": a.id,
            "starts_at": a.starts_at,
            "ends_at": a.ends_at,
            "practitioner_id": a.practitioner_id,
        }
        for a in appointments
    ]
