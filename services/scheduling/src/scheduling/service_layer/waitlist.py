"""Waitlist use cases: ask for an earlier time, get offered a freed slot, claim it while it is held.

Each use case runs in its caller's unit of work, and the caller (a view, the worker's sweep) commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from clinic_shared.tokens import Principal
from scheduling.domain.errors import Forbidden, NotFound, RuleViolation, SchedulingError
from scheduling.domain.model import (
    Appointment,
    AppointmentKind,
    Clinic,
    Patient,
    Practitioner,
    TreatmentType,
    require_aware,
)
from scheduling.domain.waitlist import WaitlistEntry, WaitlistStatus, holds_lapsed_by
from scheduling.service_layer import tenancy
from scheduling.service_layer.availability import check_free_time
from scheduling.service_layer.booking_events import emit_booked
from scheduling.service_layer.guarded_writes import conflict_on_violation, guarded_write
from scheduling.service_layer.ports import UnitOfWork
from scheduling.service_layer.rescheduling import check_patient_free, move_appointment


@dataclass(frozen=True)
class JoinWaitlist:
    clinic_id: uuid.UUID
    treatment_type_id: uuid.UUID
    not_before: datetime
    not_after: datetime
    practitioner_id: uuid.UUID | None = None
    patient_id: uuid.UUID | None = None
    appointment_id: uuid.UUID | None = None


def join_waitlist(uow: UnitOfWork, actor: Principal, cmd: JoinWaitlist) -> WaitlistEntry:
    patient_id = cmd.patient_id if actor.is_staff else actor.patient_id
    if patient_id is None:
        raise Forbidden("only patients and staff can join the waitlist")
    tenancy.check_clinic(actor, cmd.clinic_id)
    tenancy.check_patient(uow, actor, patient_id)
    if uow.repo.get(Patient, patient_id) is None:
        raise NotFound("patient not found", field="patient_id")
    if uow.repo.get(Clinic, cmd.clinic_id) is None:
        raise NotFound("clinic not found", field="clinic_id")
    treatment = uow.repo.get(TreatmentType, cmd.treatment_type_id)
    if treatment is None or treatment.clinic_id != cmd.clinic_id:
        raise NotFound("treatment type not found", field="treatment_type_id")
    if cmd.practitioner_id is not None:
        practitioner = uow.repo.get(Practitioner, cmd.practitioner_id)
        if practitioner is None or practitioner.clinic_id != cmd.clinic_id:
            raise NotFound("practitioner not found", field="practitioner_id")
    if treatment.kind is AppointmentKind.TREATMENT:
        finding = uow.repo.suitability(cmd.clinic_id, patient_id)
        if finding is None or not finding.clears_for_ims:
            raise RuleViolation(
                "IMS treatment needs a completed assessment at this clinic that found the patient suitable",
                field="treatment_type_id",
            )
    entry = WaitlistEntry(
        id=uow.new_id(),
        clinic_id=cmd.clinic_id,
        patient_id=patient_id,
        treatment_type_id=treatment.id,
        practitioner_id=cmd.practitioner_id,
        not_before=require_aware(cmd.not_before, "not_before"),
        not_after=require_aware(cmd.not_after, "not_after"),
        created_at=uow.clock.now(),
        appointment_id=cmd.appointment_id,
    )
    if cmd.appointment_id is not None:
        later = uow.repo.get(Appointment, cmd.appointment_id)
        if later is None or later.patient_id != patient_id:
            raise NotFound("appointment not found", field="appointment_id")
        entry.check_replaceable(later)
    uow.repo.add(entry)
    return entry


def list_waitlist(
    uow: UnitOfWork, actor: Principal, offset: int, limit: int
) -> tuple[Sequence[WaitlistEntry], int]:
    if actor.is_staff:
        return uow.repo.list(WaitlistEntry, offset=offset, limit=limit, **tenancy.clinic_filter(actor))
    if actor.patient_id is None:
        return [], 0
    return uow.repo.list(WaitlistEntry, offset=offset, limit=limit, patient_id=actor.patient_id)


def get_offer(uow: UnitOfWork, actor: Principal, offer_id: uuid.UUID) -> WaitlistEntry:
    """The entry a time was offered to, found by the offer's id (the held time's, as the offer's link has it).

    It stays findable once the offer was taken, lapsed or withdrawn, so a late click can be told which.
    """
    filters: dict[str, object] = {"offer_appointment_id": offer_id} | tenancy.clinic_filter(actor)
    if not actor.is_staff:
        if actor.patient_id is None:
            raise NotFound("offer not found")
        filters["patient_id"] = actor.patient_id
    entries, _ = uow.repo.list(WaitlistEntry, offset=0, limit=1, **filters)
    if not entries:
        raise NotFound("offer not found")
    return entries[0]


def withdraw(uow: UnitOfWork, actor: Principal, entry_id: uuid.UUID) -> WaitlistEntry:
    entry = _locked_entry(uow, actor, entry_id)
    held = _held(uow, entry)
    entry.withdraw()
    if held is not None:
        now = uow.clock.now()
        held.release_hold(now)
        offer_freed_time(uow, held, now)
    return entry


def claim_offer(uow: UnitOfWork, actor: Principal, entry_id: uuid.UUID) -> Appointment:
    """Take the held time (the hold already occupies it, so nobody else can take it).

    Without a named appointment the hold becomes the booking; with one, that appointment moves to the held
    time (a reschedule) and its old time is offered to the next patient waiting.
    """
    entry = _locked_entry(uow, actor, entry_id)
    now = uow.clock.now()
    hold = uow.repo.get_for_update(Appointment, entry.claim(now))
    if hold is None:
        raise NotFound("the held appointment is gone")
    if entry.appointment_id is None:
        hold.accept_hold(now)
        emit_booked(uow, actor, hold)
        return hold
    return _move_into_hold(uow, actor, entry, hold, now)


def _move_into_hold(
    uow: UnitOfWork, actor: Principal, entry: WaitlistEntry, hold: Appointment, now: datetime
) -> Appointment:
    # Locked: the patient may be cancelling or rescheduling it right now; this claim takes its turn.
    later = uow.repo.get_for_update(Appointment, entry.appointment_id) if entry.appointment_id else None
    if later is None:
        raise NotFound("the appointment to move is gone", field="appointment_id")
    hold.require_held()
    entry.check_replaceable(later)
    clinic = uow.repo.get(Clinic, hold.clinic_id)
    practitioner = uow.repo.get(Practitioner, hold.practitioner_id)
    treatment = uow.repo.get(TreatmentType, later.treatment_type_id)
    if clinic is None or practitioner is None or treatment is None:
        raise NotFound("the held time is no longer offered")
    freed = _Freed(later.clinic_id, later.practitioner_id, later.starts_at)
    with conflict_on_violation(uow, "the held time is no longer free", "starts_at"):
        hold.release_hold(now)
        # PostgreSQL checks the exclusion constraints row by row: the hold must be gone before the move.
        uow.flush()
        move_appointment(
            uow,
            actor,
            later,
            clinic=clinic,
            practitioner=practitioner,
            treatment=treatment,
            starts_at=hold.starts_at,
            now=now,
            enforce_notice=False,
        )
        uow.flush()
        _offer_time(uow, freed, now)
    return later


def expire_offers(uow: UnitOfWork) -> int:
    """Release every hold whose offer ran out and offer the time to the next patient waiting.

    Holds no entry points at any more (two cancellations once raced to offer one entry two times) are
    released too once their window has passed: a hold never blocks the time longer than an offer lasts.
    Returns how many offers expired.
    """
    now = uow.clock.now()
    expired = uow.repo.offers_expired_by(now)
    for entry in expired:
        held = _held(uow, entry)
        entry.expire()
        if held is not None:
            held.release_hold(now)
            offer_freed_time(uow, held, now)
    for hold in uow.repo.holds_booked_by(holds_lapsed_by(now)):
        hold.release_hold(now)
        offer_freed_time(uow, hold, now)
    return len(expired)


def release_hold(uow: UnitOfWork, actor: Principal, offer_id: uuid.UUID) -> Appointment:
    """Staff free a held time by hand (the hold is cancelled, the time offered to nobody).

    The entry the time was offered to, if it still is, waits again with its place kept.
    """
    if not actor.is_staff:
        raise Forbidden("only staff can release a held time")
    entries, _ = uow.repo.list(
        WaitlistEntry, offset=0, limit=1, offer_appointment_id=offer_id, **tenancy.clinic_filter(actor)
    )
    # Entry before hold, as a claim takes them: a claim and a release of one offer wait for each other.
    entry = uow.repo.waitlist_entry_for_update(entries[0].id) if entries else None
    hold = uow.repo.get_for_update(Appointment, offer_id)
    if hold is None or not actor.acts_in(hold.clinic_id):
        raise NotFound("offer not found")
    hold.require_held()
    hold.release_hold(uow.clock.now())
    if entry is not None:
        entry.reopen(hold.id)
    return hold


@dataclass(frozen=True)
class _Freed:
    clinic_id: uuid.UUID
    practitioner_id: uuid.UUID
    starts_at: datetime


def offer_freed_time(uow: UnitOfWork, freed: Appointment, now: datetime) -> WaitlistEntry | None:
    """Hold the freed time for the first waiting patient it suits, and tell them (waitlist.offered)."""
    return _offer_time(uow, _Freed(freed.clinic_id, freed.practitioner_id, freed.starts_at), now)


def _offer_time(uow: UnitOfWork, freed: _Freed, now: datetime) -> WaitlistEntry | None:
    if freed.starts_at <= now:
        return None
    clinic = uow.repo.get(Clinic, freed.clinic_id)
    practitioner = uow.repo.get(Practitioner, freed.practitioner_id)
    if clinic is None or practitioner is None:
        return None
    for entry in uow.repo.waiting_entries(clinic.id):
        if not entry.matches(practitioner.id, freed.starts_at) or not _still_wanted(uow, entry):
            continue
        # Another transaction may be offering this entry a time too: wait for it, then look again.
        locked = uow.repo.waitlist_entry_for_update(entry.id)
        if locked is None or not locked.matches(practitioner.id, freed.starts_at):
            continue
        treatment = uow.repo.get(TreatmentType, entry.treatment_type_id)
        if treatment is None:
            continue
        try:
            hold = Appointment.book(
                appointment_id=uow.new_id(),
                clinic=clinic,
                practitioner=practitioner,
                treatment=treatment,
                patient_id=entry.patient_id,
                starts_at=freed.starts_at,
                now=now,
            )
            hold.room_id = check_free_time(
                uow, clinic, practitioner, treatment, freed.starts_at, now=now, enforce_notice=False
            )
            check_patient_free(uow, hold, hold.starts_at, hold.ends_at)  # busy then: offer the next one
        except SchedulingError:
            continue
        hold.hold_for(entry.id)
        try:
            with guarded_write(uow, hold):
                uow.repo.add(hold)
        except SchedulingError:
            continue  # a booking committed since the check took the time or the patient: offer the next one
        entry.offer(hold.id, now)
        uow.emit(
            "scheduling.waitlist.offered",
            {
                "offer_id": hold.id,
                "waitlist_entry_id": entry.id,
                "clinic_id": clinic.id,
                "patient_id": entry.patient_id,
                "practitioner_id": practitioner.id,
                "treatment_type_id": treatment.id,
                "starts_at": hold.starts_at,
                "ends_at": hold.ends_at,
                "expires_at": entry.offer_expires_at,
            },
        )
        return entry
    return None


def _still_wanted(uow: UnitOfWork, entry: WaitlistEntry) -> bool:
    """An entry that names an appointment to move is moot once that appointment is cancelled or past."""
    if entry.appointment_id is None:
        return True
    later = uow.repo.get(Appointment, entry.appointment_id)
    if later is None:
        return False
    try:
        entry.check_replaceable(later)
    except RuleViolation:
        return False
    return True


def _held(uow: UnitOfWork, entry: WaitlistEntry) -> Appointment | None:
    if entry.status is not WaitlistStatus.OFFERED or entry.offer_appointment_id is None:
        return None
    return uow.repo.get_for_update(Appointment, entry.offer_appointment_id)


def _locked_entry(uow: UnitOfWork, actor: Principal, entry_id: uuid.UUID) -> WaitlistEntry:
    """The actor's entry, locked: a claim, a withdrawal, an offer and the sweep take their turns."""
    entry = uow.repo.waitlist_entry_for_update(entry_id)
    if entry is None:
        raise NotFound("waitlist entry not found")
    mine = actor.acts_in(entry.clinic_id) if actor.is_staff else actor.patient_id == entry.patient_id
    if not mine:
        raise NotFound("waitlist entry not found")
    return entry
