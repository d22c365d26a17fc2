"""Placing and moving booked time (bookings, reschedules, waitlist claims), and turning lost races into 409s.

The service checks first, for a clear answer; the database has the last word (exclusion constraints on
PostgreSQL for practitioners, rooms and patients; serialized writers on SQLite). A write is flushed in a
savepoint so that after a refusal the transaction can still name the patient's other appointment, or try
the next free room.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import exc

from clinic_shared.db import constraint_name, is_conflict, is_retryable, sqlstate
from clinic_shared.tokens import Principal
from scheduling.domain.errors import Conflict, PatientOverlap
from scheduling.domain.model import Appointment, Clinic, Practitioner, TreatmentType
from scheduling.service_layer.availability import check_free_time
from scheduling.service_layer.ports import Guard, UnitOfWork

PRACTITIONER_TAKEN = "the practitioner is not free at this time"
# Each refused attempt means another booking took a room at this time meanwhile, so a clinic's rooms bound
# the tries in practice (check_free_time answers 409 once none is left); this caps a pathological run.
MAX_PLACEMENT_ATTEMPTS = 10


class LostRace(Conflict):
    """A concurrent write took the room (or deadlocked with this one): checking again may find another."""


@contextmanager
def conflict_on_violation(uow: UnitOfWork, message: str, field: str) -> Iterator[None]:
    """Write the block in a savepoint and flush it (``uow.conflicts_as``); a lost race caught by the database
    undoes the block alone and becomes a Conflict. The caller commits.

    Besides uniqueness/exclusion violations, PostgreSQL may abort one of two transactions writing
    overlapping times with a deadlock (each waits on the other's exclusion-constraint check): such a
    deadlock only arises between overlapping writers, so the aborted one has lost the time too.
    """
    try:
        with uow.conflicts_as(Conflict(message, field=field)):
            yield
    except exc.DBAPIError as error:
        if sqlstate(error) is not None and is_retryable(error):
            raise Conflict(message, field=field) from None
        raise


@contextmanager
def guarded_write(uow: UnitOfWork, appointment: Appointment) -> Iterator[None]:
    """Write ``appointment`` (inside the block) in a savepoint and flush it; a refusal by the database
    becomes PatientOverlap (naming the other appointment), LostRace (room, deadlock) or Conflict."""
    wanted: tuple[uuid.UUID, uuid.UUID, datetime, datetime] | None = None
    try:
        with uow.savepoint():
            yield
            # Read before the flush: a rolled-back savepoint expires what it changed.
            wanted = (appointment.id, appointment.patient_id, appointment.starts_at, appointment.ends_at)
            uow.flush()
    except exc.IntegrityError as error:
        if not is_conflict(error):
            raise
        guard = constraint_name(error)
        if guard == Guard.PATIENT and wanted is not None:
            appointment_id, patient_id, starts_at, ends_at = wanted
            other = uow.repo.patient_overlap(patient_id, starts_at, ends_at, appointment_id)
            raise PatientOverlap(other.id if other else None) from None
        if guard == Guard.ROOM:
            raise LostRace("no room is free at this time", field="starts_at") from None
        raise Conflict(PRACTITIONER_TAKEN, field="starts_at") from None
    except exc.DBAPIError as error:
        if sqlstate(error) is not None and is_retryable(error):
            raise LostRace(PRACTITIONER_TAKEN, field="starts_at") from None
        raise


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
