"""Single appointments: book, reschedule, cancel, confirm, and the desk's check-in, completion and no-show;
suitability recorded after an assessment, and the IMS clearance a treatment booking needs.

Each use case runs in its caller's unit of work: state and events commit together or not at all, when the
caller (a view, the event consumer, the demo seed) commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from clinic_shared.events import Envelope
from clinic_shared.pagination import Page
from clinic_shared.tokens import Principal
from scheduling.domain.errors import Conflict, Forbidden, NotFound, RuleViolation
from scheduling.domain.model import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    Clinic,
    Patient,
    Suitability,
    TreatmentType,
)
from scheduling.domain.plans import PlanStatus, TreatmentPlan, progress
from scheduling.service_layer import tenancy, waitlist
from scheduling.service_layer.booking_events import emit_booked
from scheduling.service_layer.clinic_setup import clinic_of, practitioner_of, treatment_of
from scheduling.service_layer.guarded_writes import conflict_on_violation
from scheduling.service_layer.ports import UnitOfWork
from scheduling.service_layer.rescheduling import move_appointment, place_booking


@dataclass(frozen=True)
class BookAppointment:
    clinic_id: uuid.UUID
    practitioner_id: uuid.UUID
    treatment_type_id: uuid.UUID
    starts_at: datetime
    patient_id: uuid.UUID | None = None
    allow_patient_overlap: bool = False  # staff only


def book_appointment(uow: UnitOfWork, actor: Principal, cmd: BookAppointment) -> Appointment:
    """Book one appointment inside availability; the database has the last word on overlaps."""
    patient_id = patient_for_booking(actor, cmd.patient_id)
    tenancy.check_clinic(actor, cmd.clinic_id)
    tenancy.check_patient(uow, actor, patient_id)
    parties = uow.repo.booking_parties(cmd.clinic_id, cmd.practitioner_id, cmd.treatment_type_id, patient_id)
    if not parties.patient_exists:
        raise NotFound("patient not found", field="patient_id")
    if parties.clinic is None:
        raise NotFound("clinic not found", field="clinic_id")
    if parties.practitioner is None:
        raise NotFound("practitioner not found", field="practitioner_id")
    if parties.treatment is None:
        raise NotFound("treatment type not found", field="treatment_type_id")
    clinic, practitioner, treatment = parties.clinic, parties.practitioner, parties.treatment
    now = uow.clock.now()
    appointment = Appointment.book(
        appointment_id=uow.new_id(),
        clinic=clinic,
        practitioner=practitioner,
        treatment=treatment,
        patient_id=patient_id,
        starts_at=cmd.starts_at,
        now=now,
    )
    if cmd.allow_patient_overlap:
        appointment.allow_overlap_for_patient(by_staff=actor.is_staff)
    check_cleared_for(uow, clinic, treatment, patient_id)
    place_booking(
        uow,
        appointment,
        clinic=clinic,
        practitioner=practitioner,
        treatment=treatment,
        now=now,
        enforce_notice=not actor.is_staff,
    )
    emit_booked(uow, actor, appointment)
    return appointment


@dataclass(frozen=True)
class RescheduleAppointment:
    appointment_id: uuid.UUID
    starts_at: datetime
    practitioner_id: uuid.UUID | None = None
    if_match: Collection[int] | None = None  # the versions the client accepts changing (If-Match)


def reschedule_appointment(uow: UnitOfWork, actor: Principal, cmd: RescheduleAppointment) -> Appointment:
    """Move an appointment; the new time is checked like a new booking, and the old one is released."""
    appointment = _appointment_for_change(uow, actor, cmd.appointment_id, cmd.if_match)
    clinic = clinic_of(uow, appointment.clinic_id)
    practitioner = practitioner_of(uow, cmd.practitioner_id or appointment.practitioner_id)
    treatment = treatment_of(uow, appointment.treatment_type_id)
    move_appointment(
        uow,
        actor,
        appointment,
        clinic=clinic,
        practitioner=practitioner,
        treatment=treatment,
        starts_at=cmd.starts_at,
        now=uow.clock.now(),
        enforce_notice=not actor.is_staff,
    )
    return appointment


def cancel_appointment(
    uow: UnitOfWork,
    actor: Principal,
    appointment_id: uuid.UUID,
    reason: str | None,
    waive_fee: bool = False,
    *,
    if_match: Collection[int] | None = None,
) -> Appointment:
    appointment = _appointment_for_change(uow, actor, appointment_id, if_match)
    now = uow.clock.now()
    appointment.cancel(by_staff=actor.is_staff, now=now, reason=reason, waive_fee=waive_fee)
    uow.emit("scheduling.appointment.cancelled", cancelled_data(appointment))
    waitlist.offer_freed_time(uow, appointment, now)
    return appointment


def cancelled_data(appointment: Appointment) -> dict[str, object]:
    return appointment.facts() | {
        "cancelled_at": appointment.cancelled_at,
        "cancelled_by": appointment.cancelled_by,
        "late": appointment.late_cancellation,
        "fee_waived": appointment.fee_waived,
    }


def mark_arrived(
    uow: UnitOfWork, actor: Principal, appointment_id: uuid.UUID, *, if_match: Collection[int] | None = None
) -> Appointment:
    appointment = _appointment_for_change(uow, actor, appointment_id, if_match, staff_only=True)
    appointment.mark_arrived(uow.clock.now(), clinic_of(uow, appointment.clinic_id).zone)
    uow.emit("scheduling.appointment.arrived", appointment.facts() | {"arrived_at": appointment.arrived_at})
    return appointment


def mark_completed(
    uow: UnitOfWork, actor: Principal, appointment_id: uuid.UUID, *, if_match: Collection[int] | None = None
) -> Appointment:
    _staff_appointment(uow, actor, appointment_id)  # before the plan's row is locked
    plan = _plan_locked_for(uow, appointment_id)
    appointment = _appointment_for_change(uow, actor, appointment_id, if_match, staff_only=True)
    appointment.mark_completed(uow.clock.now())
    uow.emit(
        "scheduling.appointment.completed", appointment.facts() | {"completed_at": appointment.completed_at}
    )
    if plan is not None:
        _complete_plan_if_done(uow, plan)
    return appointment


def _plan_locked_for(uow: UnitOfWork, appointment_id: uuid.UUID) -> TreatmentPlan | None:
    """The plan of a session about to change, its row locked before the session's (as cancel_plan takes
    them): two sessions completed at once take turns, so the later one sees the earlier one done."""
    plan_id = uow.repo.plan_id_of(appointment_id)
    return uow.repo.get_for_update(TreatmentPlan, plan_id) if plan_id is not None else None


def _complete_plan_if_done(uow: UnitOfWork, plan: TreatmentPlan) -> None:
    """After a session is completed: when none is left ahead, the (locked) plan is completed and published."""
    if plan.status is not PlanStatus.ACTIVE:
        return
    sessions, _ = uow.repo.list(Appointment, offset=0, limit=10_000, plan_id=plan.id)
    done, ahead = progress([str(s.status) for s in sessions])
    if ahead:
        return
    plan.status = PlanStatus.COMPLETED
    plan.completed_at = uow.clock.now()
    uow.emit(
        "scheduling.plan.completed",
        plan.facts() | {"completed_sessions": done, "completed_at": plan.completed_at},
    )


def mark_no_show(
    uow: UnitOfWork,
    actor: Principal,
    appointment_id: uuid.UUID,
    waive_fee: bool,
    *,
    if_match: Collection[int] | None = None,
) -> Appointment:
    appointment = _appointment_for_change(uow, actor, appointment_id, if_match, staff_only=True)
    appointment.mark_no_show(uow.clock.now(), waive_fee=waive_fee)
    uow.emit(
        "scheduling.appointment.no_show",
        appointment.facts() | {"marked_at": appointment.no_show_at, "fee_waived": appointment.fee_waived},
    )
    return appointment


@dataclass(frozen=True)
class RecordSuitability:
    assessment_id: uuid.UUID
    suitable: bool
    consent_recorded: bool


def record_suitability(uow: UnitOfWork, actor: Principal, cmd: RecordSuitability) -> Suitability:
    """The assessing practitioner records whether IMS suits the patient (and that consent was given)."""
    assessment = _appointment(uow, cmd.assessment_id)
    tenancy.check_clinic(actor, assessment.clinic_id, staff_only=True, what="appointment", field=None)
    if assessment.kind is not AppointmentKind.ASSESSMENT:
        raise RuleViolation("suitability is recorded on an assessment", field="assessment_id")
    if assessment.status is not AppointmentStatus.FULFILLED:
        raise RuleViolation("the assessment has not been completed", field="assessment_id")
    if actor.practitioner_id is not None and actor.practitioner_id != assessment.practitioner_id:
        raise Forbidden("only the assessing practitioner can record suitability")
    if cmd.suitable and not cmd.consent_recorded:
        raise RuleViolation(
            "record the patient's consent before clearing them for IMS", field="consent_recorded"
        )
    if uow.repo.suitability_for(assessment.id) is not None:
        raise Conflict("suitability is already recorded for this assessment", field="assessment_id")
    finding = Suitability(
        id=uow.new_id(),
        clinic_id=assessment.clinic_id,
        patient_id=assessment.patient_id,
        assessment_id=assessment.id,
        practitioner_id=assessment.practitioner_id,
        suitable=cmd.suitable,
        consent_recorded=cmd.consent_recorded,
        recorded_at=uow.clock.now(),
    )
    with conflict_on_violation(uow, "suitability is already recorded for this assessment", "assessment_id"):
        uow.repo.add(finding)
    return finding


def confirm_appointment(
    uow: UnitOfWork, appointment_id: uuid.UUID, patient_id: uuid.UUID, causation: Envelope | None = None
) -> None:
    """The patient confirmed attendance (e.g. by SMS); a repeat or a stale confirmation changes nothing."""
    appointment = uow.repo.get_for_update(Appointment, appointment_id)
    if appointment is None or appointment.patient_id != patient_id:
        return
    if not appointment.confirm(uow.clock.now()):
        return
    uow.emit(
        "scheduling.appointment.confirmed",
        appointment.facts() | {"confirmed_at": appointment.confirmed_at},
        causation=causation,
    )


def get_appointment(uow: UnitOfWork, actor: Principal, appointment_id: uuid.UUID) -> Appointment:
    return _visible_appointment(uow, actor, appointment_id)


@dataclass(frozen=True)
class AppointmentFilter:
    patient_id: uuid.UUID | None = None
    clinic_id: uuid.UUID | None = None
    practitioner_id: uuid.UUID | None = None
    starts_from: datetime | None = None
    starts_before: datetime | None = None


def list_appointments(
    uow: UnitOfWork, actor: Principal, page: Page, query: AppointmentFilter = AppointmentFilter()
) -> tuple[Sequence[Appointment], int]:
    """A patient sees only their own appointments; staff those of their clinic (every clinic when
    organisation-wide), filtered by patient, clinic, practitioner and start time; ordered by start."""
    patient_id = query.patient_id
    if not actor.is_staff:
        patient_id = actor.patient_id
        if patient_id is None:
            return [], 0
    filters: dict[str, object] = {"patient_id": patient_id} if patient_id else {}
    if query.clinic_id is not None:
        tenancy.check_clinic(actor, query.clinic_id)
        filters["clinic_id"] = query.clinic_id
    if query.practitioner_id is not None:
        filters["practitioner_id"] = query.practitioner_id
    filters |= tenancy.clinic_filter(actor)  # the same clinic as asked, if any (checked above)
    return uow.repo.appointments_page(
        offset=page.offset,
        limit=page.limit,
        starts_from=query.starts_from,
        starts_before=query.starts_before,
        **filters,
    )


def _appointment(uow: UnitOfWork, appointment_id: uuid.UUID) -> Appointment:
    appointment = uow.repo.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound("appointment not found")
    return appointment


def check_cleared_for(
    uow: UnitOfWork, clinic: Clinic, treatment: TreatmentType, patient_id: uuid.UUID
) -> None:
    """IMS treatment needs a completed assessment here that found the patient suitable, with consent."""
    if treatment.kind is not AppointmentKind.TREATMENT:
        return
    finding = uow.repo.suitability(clinic.id, patient_id)
    if finding is None or not finding.clears_for_ims:
        raise RuleViolation(
            "IMS treatment needs a completed assessment at this clinic that found the patient suitable, "
            "with consent recorded",
            field="treatment_type_id",
        )


@dataclass(frozen=True)
class ImsClearance:
    """Whether a patient may book IMS treatment at a clinic, and the finding that says so (if any)."""

    clinic_id: uuid.UUID
    patient_id: uuid.UUID
    finding: Suitability | None

    @property
    def cleared(self) -> bool:
        return self.finding is not None and self.finding.clears_for_ims


def ims_clearance(
    uow: UnitOfWork, actor: Principal, clinic_id: uuid.UUID, patient_id: uuid.UUID | None
) -> ImsClearance:
    """A patient reads their own; staff name the patient. The latest finding at this clinic decides."""
    patient_id = patient_for_booking(actor, patient_id)
    clinic = clinic_of(uow, clinic_id, actor)
    tenancy.check_patient(uow, actor, patient_id)
    if uow.repo.get(Patient, patient_id) is None:
        raise NotFound("patient not found", field="patient_id")
    return ImsClearance(clinic.id, patient_id, uow.repo.suitability(clinic.id, patient_id))


def patient_for_booking(actor: Principal, requested: uuid.UUID | None) -> uuid.UUID:
    if actor.is_staff:
        if requested is None:
            raise RuleViolation("staff must say which patient the booking is for", field="patient_id")
        return requested
    if actor.patient_id is None:
        raise Forbidden("only patients and staff can book")
    if requested is not None and requested != actor.patient_id:
        raise NotFound("patient not found", field="patient_id")
    return actor.patient_id


def may_see_appointment(actor: Principal, appointment: Appointment, *, staff_only: bool = False) -> bool:
    """Staff of the appointment's clinic (or organisation-wide staff), or its own patient."""
    if actor.is_staff:
        return actor.acts_in(appointment.clinic_id)
    return not staff_only and actor.patient_id is not None and actor.patient_id == appointment.patient_id


def _visible_appointment(uow: UnitOfWork, actor: Principal, appointment_id: uuid.UUID) -> Appointment:
    appointment = uow.repo.get(Appointment, appointment_id)
    if appointment is None or not may_see_appointment(actor, appointment):
        raise NotFound("appointment not found")
    return appointment


def _staff_appointment(uow: UnitOfWork, actor: Principal, appointment_id: uuid.UUID) -> None:
    """Raise NotFound unless the appointment is one of the caller's clinic, reading only its clinic (nothing
    is loaded or locked)."""
    clinic_id = uow.repo.clinic_id_of(appointment_id)
    if clinic_id is None or not actor.acts_in(clinic_id):
        raise NotFound("appointment not found")


def _appointment_for_change(
    uow: UnitOfWork,
    actor: Principal,
    appointment_id: uuid.UUID,
    if_match: Collection[int] | None,
    *,
    staff_only: bool = False,
) -> Appointment:
    """The appointment to change, its row locked: a concurrent change of it waits for this one to commit
    and then starts from its result (so each change bumps the sequence once). ``staff_only``: a change only
    the clinic's staff make (arrival, completion, no-show)."""
    appointment = uow.repo.get_for_update(Appointment, appointment_id)
    if appointment is None or not may_see_appointment(actor, appointment, staff_only=staff_only):
        raise NotFound("appointment not found")
    appointment.require_version(if_match)
    return appointment
