"""Repositories: how the service layer finds and stores domain objects in one session."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduling.adapters import orm
from scheduling.domain.availability import Closure, Interval, OpeningHours, Room, TimeOff, WorkingHours
from scheduling.domain.calendar import CalendarFeed
from scheduling.domain.model import (
    RELEASED_STATUSES,
    Account,
    Appointment,
    AppointmentStatus,
    Clinic,
    Patient,
    Practitioner,
    Suitability,
    TreatmentType,
)
from scheduling.domain.plans import TreatmentPlan
from scheduling.domain.waitlist import WaitlistEntry, WaitlistStatus

T = TypeVar("T")

# No appointment is longer than this (duration + buffer), so a time-range query can use the start index.
LONGEST_HOLD = timedelta(hours=10)


class SqlAlchemyRepository:
    """Generic get/add plus the queries scheduling needs."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, entity: object) -> None:
        self.session.add(entity)

    def get(self, cls: type[T], entity_id: uuid.UUID) -> T | None:
        return self.session.get(cls, entity_id)

    def list(self, cls: type[T], *, offset: int, limit: int, **filters: object) -> tuple[Sequence[T], int]:
        query = select(cls).filter_by(**filters)
        total = self.session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = self.session.scalars(query.order_by(*self._order(cls)).offset(offset).limit(limit)).all()
        return rows, total

    @staticmethod
    def _order(cls: type) -> list[object]:
        if cls is Appointment:
            return [Appointment.starts_at, Appointment.id]  # type: ignore[list-item]
        if cls is TreatmentPlan:
            return [TreatmentPlan.created_at, TreatmentPlan.id]  # type: ignore[list-item]
        return [cls.id]  # type: ignore[attr-defined]

    def account_by_email(self, email: str) -> Account | None:
        return self.session.scalars(select(Account).where(Account.email == email.lower())).first()  # type: ignore[arg-type]

    def clinic_by_code(self, code: str) -> Clinic | None:
        return self.session.scalars(select(Clinic).where(Clinic.code == code.upper())).first()  # type: ignore[arg-type]

    def overlapping(
        self,
        practitioner_id: uuid.UUID,
        starts_at: datetime,
        occupied_until: datetime,
        exclude: uuid.UUID | None,
    ) -> Sequence[Appointment]:
        """Appointments holding the practitioner's time in [starts_at, occupied_until)."""
        query = select(Appointment).where(
            Appointment.practitioner_id == practitioner_id,  # type: ignore[arg-type]
            Appointment.starts_at < occupied_until,  # type: ignore[arg-type,operator]
            Appointment.occupied_until > starts_at,  # type: ignore[arg-type,operator]
            Appointment.status.not_in([s.value for s in RELEASED_STATUSES]),  # type: ignore[attr-defined]
        )
        if exclude is not None:
            query = query.where(Appointment.id != exclude)  # type: ignore[arg-type]
        return self.session.scalars(query).all()

    def opening_hours(self, clinic_id: uuid.UUID) -> Sequence[OpeningHours]:
        query = select(OpeningHours).where(OpeningHours.clinic_id == clinic_id)  # type: ignore[arg-type]
        return self.session.scalars(query.order_by(OpeningHours.weekday, OpeningHours.starts)).all()  # type: ignore[arg-type]

    def closures(self, clinic_id: uuid.UUID, first: date, last: date) -> Sequence[Closure]:
        query = select(Closure).where(
            Closure.clinic_id == clinic_id,  # type: ignore[arg-type]
            Closure.starts_on <= last,  # type: ignore[arg-type,operator]
            Closure.ends_on >= first,  # type: ignore[arg-type,operator]
        )
        return self.session.scalars(query.order_by(Closure.starts_on)).all()  # type: ignore[arg-type]

    def working_hours(self, practitioner_ids: Sequence[uuid.UUID]) -> Sequence[WorkingHours]:
        query = select(WorkingHours).where(WorkingHours.practitioner_id.in_(practitioner_ids))  # type: ignore[attr-defined]
        return self.session.scalars(query.order_by(WorkingHours.weekday, WorkingHours.starts)).all()  # type: ignore[arg-type]

    def time_off(
        self, practitioner_ids: Sequence[uuid.UUID], start: datetime, end: datetime
    ) -> Sequence[TimeOff]:
        query = select(TimeOff).where(
            TimeOff.practitioner_id.in_(practitioner_ids),  # type: ignore[attr-defined]
            TimeOff.starts_at < end,  # type: ignore[arg-type,operator]
            TimeOff.ends_at > start,  # type: ignore[arg-type,operator]
        )
        return self.session.scalars(query.order_by(TimeOff.starts_at)).all()  # type: ignore[arg-type]

    def rooms(self, clinic_id: uuid.UUID) -> Sequence[Room]:
        query = select(Room).where(Room.clinic_id == clinic_id, Room.active.is_(True))  # type: ignore[arg-type,attr-defined]
        return self.session.scalars(query.order_by(Room.name)).all()  # type: ignore[arg-type]

    def busy(
        self,
        clinic_id: uuid.UUID,
        start: datetime,
        end: datetime,
        exclude: uuid.UUID | None = None,
        practitioner_ids: Sequence[uuid.UUID] | None = None,
    ) -> list[tuple[uuid.UUID, uuid.UUID | None, Interval]]:
        """(practitioner, room, held interval) of each live appointment here touching [start, end)."""
        a = orm.appointments.c
        query = select(a.practitioner_id, a.room_id, a.starts_at, a.occupied_until).where(
            a.clinic_id == clinic_id,
            a.starts_at < end,
            a.starts_at > start - LONGEST_HOLD,
            a.occupied_until > start,
            a.status.not_in([s.value for s in RELEASED_STATUSES]),
        )
        if exclude is not None:
            query = query.where(a.id != exclude)
        if practitioner_ids is not None:
            query = query.where(a.practitioner_id.in_(practitioner_ids))
        return [
            (row.practitioner_id, row.room_id, Interval(row.starts_at, row.occupied_until))
            for row in self.session.execute(query)
        ]

    def suitability(self, clinic_id: uuid.UUID, patient_id: uuid.UUID) -> Suitability | None:
        """The latest finding for this patient at this clinic."""
        query = select(Suitability).where(
            Suitability.clinic_id == clinic_id,  # type: ignore[arg-type]
            Suitability.patient_id == patient_id,  # type: ignore[arg-type]
        )
        return self.session.scalars(query.order_by(Suitability.recorded_at.desc())).first()  # type: ignore[attr-defined]

    def suitability_for(self, assessment_id: uuid.UUID) -> Suitability | None:
        query = select(Suitability).where(Suitability.assessment_id == assessment_id)  # type: ignore[arg-type]
        return self.session.scalars(query).first()

    def replace_weekly(
        self, entity: type, owner_column: str, owner_id: uuid.UUID, rows: Sequence[object]
    ) -> None:
        """Replace an owner's weekly hours with ``rows``."""
        for old in self.session.scalars(select(entity).filter_by(**{owner_column: owner_id})).all():
            self.session.delete(old)
        self.session.flush()
        self.session.add_all(rows)

    def waiting_entries(self, clinic_id: uuid.UUID) -> Sequence[WaitlistEntry]:
        """Entries still waiting at a clinic, first come first served."""
        query = select(WaitlistEntry).where(
            WaitlistEntry.clinic_id == clinic_id,  # type: ignore[arg-type]
            WaitlistEntry.status == WaitlistStatus.WAITING,  # type: ignore[arg-type]
        )
        return self.session.scalars(query.order_by(WaitlistEntry.created_at, WaitlistEntry.id)).all()  # type: ignore[arg-type]

    def offers_expired_by(self, now: datetime) -> Sequence[WaitlistEntry]:
        query = select(WaitlistEntry).where(
            WaitlistEntry.status == WaitlistStatus.OFFERED,  # type: ignore[arg-type]
            WaitlistEntry.offer_expires_at <= now,  # type: ignore[arg-type,operator]
        )
        return self.session.scalars(query.order_by(WaitlistEntry.offer_expires_at)).all()  # type: ignore[arg-type]

    def feed_by_token_hash(self, token_hash: str) -> CalendarFeed | None:
        query = select(CalendarFeed).where(CalendarFeed.token_hash == token_hash)  # type: ignore[arg-type]
        return self.session.scalars(query).first()

    def appointments_of(
        self, owner_kind: str, owner_id: uuid.UUID, start: datetime, end: datetime
    ) -> Sequence[Appointment]:
        """A patient's or practitioner's appointments starting in [start, end), holds left out."""
        owner = Appointment.patient_id if owner_kind == "patient" else Appointment.practitioner_id
        query = select(Appointment).where(
            owner == owner_id,  # type: ignore[arg-type,comparison-overlap]
            Appointment.starts_at >= start,  # type: ignore[arg-type,operator]
            Appointment.starts_at < end,  # type: ignore[arg-type,operator]
            Appointment.status != AppointmentStatus.PROPOSED,  # type: ignore[arg-type]
        )
        return self.session.scalars(query.order_by(Appointment.starts_at)).all()  # type: ignore[arg-type]

    def delete(self, entity: object) -> None:
        self.session.delete(entity)


__all__ = ["Patient", "Practitioner", "SqlAlchemyRepository", "TreatmentType"]
