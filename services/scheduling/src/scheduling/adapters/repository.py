"""Repositories: how the service layer finds and stores domain objects in one session."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduling.domain.model import (
    RELEASED_STATUSES,
    Account,
    Appointment,
    Clinic,
    Patient,
    Practitioner,
    TreatmentType,
)

T = TypeVar("T")


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


__all__ = ["Patient", "Practitioner", "SqlAlchemyRepository", "TreatmentType"]
