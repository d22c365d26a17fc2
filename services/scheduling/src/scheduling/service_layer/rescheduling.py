"""Moving booked time, shared by rescheduling and waitlist claims, and turning lost races into 409s."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import exc

from clinic_shared.db import is_conflict, is_retryable, sqlstate
from clinic_shared.tokens import Principal
from scheduling.domain.errors import Conflict
from scheduling.domain.model import Appointment, Clinic, Practitioner, TreatmentType
from scheduling.service_layer.availability import check_free_time
from scheduling.service_layer.ports import UnitOfWork


@contextmanager
def conflict_on_violation(message: str, field: str) -> Iterator[None]:
    """Turn a lost race caught by the database into a Conflict.

    Besides uniqueness/exclusion violations, PostgreSQL may abort one of two transactions writing
    overlapping times with a deadlock (each waits on the other's exclusion-constraint check): such a
    deadlock only arises between overlapping writers, so the aborted one has lost the time too.
    """
    try:
        yield
    except exc.IntegrityError as error:
        if is_conflict(error):
            raise Conflict(message, field=field) from None
        raise
    except exc.DBAPIError as error:
        if sqlstate(error) is not None and is_retryable(error):
            raise Conflict(message, field=field) from None
        raise


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
    """Move to a new time, checked like a new booking, and publish it (the caller commits)."""
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
