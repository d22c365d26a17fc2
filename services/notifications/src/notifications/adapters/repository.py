"""Repositories: how the service layer finds and stores domain objects in one session."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from notifications.adapters.orm import deliveries
from notifications.domain.model import (
    ClinicInfo,
    Contact,
    Delivery,
    DeliveryStatus,
    PractitionerInfo,
    TreatmentInfo,
)

T = TypeVar("T")


class SqlAlchemyRepository:
    """Generic get/add plus the queries notifications needs."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, entity: object) -> None:
        self.session.add(entity)

    def get(self, cls: type[T], entity_id: uuid.UUID) -> T | None:
        return self.session.get(cls, entity_id)

    def contact(self, patient_id: uuid.UUID) -> Contact | None:
        return self.session.get(Contact, patient_id)

    def clinic(self, clinic_id: uuid.UUID) -> ClinicInfo | None:
        return self.session.get(ClinicInfo, clinic_id)

    def practitioner(self, practitioner_id: uuid.UUID) -> PractitionerInfo | None:
        return self.session.get(PractitionerInfo, practitioner_id)

    def treatment_type(self, treatment_type_id: uuid.UUID) -> TreatmentInfo | None:
        return self.session.get(TreatmentInfo, treatment_type_id)

    def deliveries_for_appointment(self, appointment_id: uuid.UUID) -> Sequence[Delivery]:
        t = deliveries
        query = (
            select(Delivery)
            .where(t.c.appointment_id == appointment_id)
            .order_by(t.c.sequence, t.c.created_at)
        )
        return self.session.scalars(query).all()

    def claimable_deliveries(self, now: datetime, stale_before: datetime, limit: int) -> Sequence[Delivery]:
        """Due pending rows and stale sending rows, oldest due first.

        On PostgreSQL the rows are locked ``FOR UPDATE SKIP LOCKED`` so concurrent dispatchers claim
        disjoint sets; SQLite has no row locks, but its BEGIN IMMEDIATE serializes the claims.
        """
        t = deliveries
        query = (
            select(Delivery)
            .where(
                or_(
                    and_(t.c.status == DeliveryStatus.PENDING, t.c.next_attempt_at <= now),
                    and_(t.c.status == DeliveryStatus.SENDING, t.c.claimed_at <= stale_before),
                )
            )
            .order_by(t.c.next_attempt_at, t.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return self.session.scalars(query).all()

    def delivery_for_update(self, delivery_id: uuid.UUID) -> Delivery | None:
        query = select(Delivery).where(deliveries.c.id == delivery_id).with_for_update()
        return self.session.scalars(query).first()

    def list_deliveries(self, *, offset: int, limit: int, **filters: Any) -> tuple[Sequence[Delivery], int]:
        """Newest first."""
        query = select(Delivery).filter_by(**filters)
        total = self.session.scalar(select(func.count()).select_from(query.subquery())) or 0
        ordered = query.order_by(deliveries.c.created_at.desc(), deliveries.c.id)
        return self.session.scalars(ordered.offset(offset).limit(limit)).all(), total
