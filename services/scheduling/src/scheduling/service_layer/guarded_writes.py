"""Writes the database has the last word on: a refusal (unique key, exclusion constraint, deadlock between
overlapping writers) undoes the write alone, in a savepoint, and becomes a Conflict the API answers 409.

The service checks first, for a clear answer; two requests at once can both pass the check, and only the
database sees them both.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import exc

from clinic_shared.db import constraint_name, is_conflict, is_retryable, sqlstate
from scheduling.domain.errors import Conflict, PatientOverlap
from scheduling.domain.model import Appointment
from scheduling.service_layer.ports import Guard, UnitOfWork

PRACTITIONER_TAKEN = "the practitioner is not free at this time"


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
