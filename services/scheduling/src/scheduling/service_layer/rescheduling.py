"""Placing and moving booked time (bookings, reschedules, waitlist claims); a lost race is a 409.

The service checks first, for a clear answer; the database has the last word (exclusion constraints on
PostgreSQL for practitioners, rooms and patients; serialized writers on SQLite). A write is flushed in a
savepoint so that after a refusal the transaction can still name the patient's other appointment, or try
the next free room.
"""

from __future__ import annotations

from datetime import UTC, datetime

from clinic_shared.tokens import Principal
from scheduling.domain.errors import PatientOverlap
from scheduling.domain.model import Appointment, Clinic, Practitioner, TreatmentType
from scheduling.service_layer.availability import check_free_time
from scheduling.service_layer.guarded_writes import LostRace, guarded_write
from scheduling.service_layer.ports import UnitOfWork

# Each refused attempt means another booking took a room at this time meanwhile, so a clinic's rooms bound
# the tries in practice (check_free_time answers 409 once none is left); this caps a pathological run.
MAX_PLACEMENT_ATTEMPTS = 10


def check_patient_free(
    uow: UnitOfWork, appointment: Appointment, starts_at: datetime, ends_at: datetime
) -> None:
    """Refuse [starts_at, ends_at) for ``appointment`` if it overlaps the patient's other live appointments
    (409 naming one), unless staff booked it as an allowed overlap. Call it before changing the
    appointment: the query flushes pending changes."""
    if appointment.allow_patient_overlap:
        return
    other = uow.repo.patient_overlap(appointment.patient_id, starts_at, ends_at, appointment.id)
    if other is not None:
        raise PatientOverlap(other.id)


def place_booking(
    uow: UnitOfWork,
    appointment: Appointment,
    *,
    clinic: Clinic,
    practitioner: Practitioner,
    treatment: TreatmentType,
    now: datetime,
    enforce_notice: bool,
) -> None:
    """Add a new appointment in the first free room, checked like any booking (the caller commits).

    Two bookings at one time for different practitioners may both pick the same free room: the database
    refuses the second, which then checks again and takes the next free room. Bookings for one patient
    take turns (``lock_patient_bookings``), so the second finds the first and is refused naming it.
    """
    if not appointment.allow_patient_overlap:
        uow.repo.lock_patient_bookings(appointment.patient_id)
    for attempt in range(1, MAX_PLACEMENT_ATTEMPTS + 1):
        appointment.room_id = check_free_time(
            uow,
            clinic,
            practitioner,
            treatment,
            appointment.starts_at,
            now=now,
            enforce_notice=enforce_notice,
        )
        check_patient_free(uow, appointment, appointment.starts_at, appointment.ends_at)
        try:
            with guarded_write(uow, appointment):
                uow.repo.add(appointment)
        except LostRace:
            if attempt == MAX_PLACEMENT_ATTEMPTS:
                raise
            continue
        return


def move_appointment(
    uow: UnitOfWork,
    actor: Principal,
    appointment: Appointment,
    *,
    clinic: Clinic,
    practitioner: Practitioner,
    treatment: TreatmentType,
    starts_at: datetime,
    now: datetime,
    enforce_notice: bool,
) -> None:
    """Move to a new time, checked like a new booking, and publish it (the caller commits).

    A room taken meanwhile by a simultaneous write is left for the next free one, as for a new booking
    (the refused attempt's savepoint is rolled back and the appointment read again as it was).
    """
    for attempt in range(1, MAX_PLACEMENT_ATTEMPTS + 1):
        try:
            _move_once(
                uow,
                actor,
                appointment,
                clinic=clinic,
                practitioner=practitioner,
                treatment=treatment,
                starts_at=starts_at,
                now=now,
                enforce_notice=enforce_notice,
            )
        except LostRace:
            if attempt == MAX_PLACEMENT_ATTEMPTS:
                raise
            continue
        return


def _move_once(
    uow: UnitOfWork,
    actor: Principal,
    appointment: Appointment,
    *,
    clinic: Clinic,
    practitioner: Practitioner,
    treatment: TreatmentType,
    starts_at: datetime,
    now: datetime,
    enforce_notice: bool,
) -> None:
    appointment.check_movable(by_staff=actor.is_staff, now=now)
    previous = (appointment.practitioner_id, appointment.starts_at, appointment.ends_at)
    room_id = check_free_time(
        uow,
        clinic,
        practitioner,
        treatment,
        starts_at,
        now=now,
        enforce_notice=enforce_notice,
        exclude=appointment.id,
    )
    new_start = starts_at.astimezone(UTC)
    check_patient_free(uow, appointment, new_start, new_start + treatment.duration)
    with guarded_write(uow, appointment):
        appointment.reschedule(
            clinic=clinic,
            practitioner=practitioner,
            treatment=treatment,
            starts_at=starts_at,
            now=now,
            by_staff=actor.is_staff,
            room_id=room_id,
        )
    uow.emit(
        "scheduling.appointment.rescheduled",
        appointment.facts()
        | {
            "previous_practitioner_id": previous[0],
            "previous_starts_at": previous[1],
            "previous_ends_at": previous[2],
        },
    )
