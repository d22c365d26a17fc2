"""Repositories: how the service layer finds and stores domain objects in one session."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from billing.adapters.orm import charges, price_list_entries
from billing.domain.model import Charge, ChargeKind, ChargeStatus, PriceList, PriceListEntry

T = TypeVar("T")


class SqlAlchemyRepository:
    """Generic get/add plus the queries billing needs."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, entity: object) -> None:
        self.session.add(entity)

    def get(self, cls: type[T], entity_id: uuid.UUID) -> T | None:
        return self.session.get(cls, entity_id)

    # --- price lists ---

    def price_list(self, clinic_id: uuid.UUID, treatment_type_id: uuid.UUID) -> PriceList:
        query = select(PriceListEntry).where(
            price_list_entries.c.clinic_id == clinic_id,
            price_list_entries.c.treatment_type_id == treatment_type_id,
        )
        return PriceList(clinic_id, treatment_type_id, list(self.session.scalars(query).all()))

    def list_prices(
        self, clinic_id: uuid.UUID, *, offset: int, limit: int, treatment_type_id: uuid.UUID | None = None
    ) -> tuple[Sequence[PriceListEntry], int]:
        t = price_list_entries.c
        query = select(PriceListEntry).where(t.clinic_id == clinic_id)
        if treatment_type_id is not None:
            query = query.where(t.treatment_type_id == treatment_type_id)
        return self._page(query, [t.treatment_type_id, t.effective_from.desc(), t.id], offset, limit)

    # --- charges ---

    def charge_for(self, appointment_id: uuid.UUID, kind: ChargeKind) -> Charge | None:
        query = select(Charge).where(charges.c.appointment_id == appointment_id, charges.c.kind == kind)
        return self.session.scalars(query).first()

    def charges_awaiting_price(self, clinic_id: uuid.UUID, treatment_type_id: uuid.UUID) -> Sequence[Charge]:
        query = select(Charge).where(
            charges.c.clinic_id == clinic_id,
            charges.c.treatment_type_id == treatment_type_id,
            charges.c.amount_cents.is_(None),
        )
        return self.session.scalars(query).all()

    def list_charges(
        self,
        *,
        offset: int,
        limit: int,
        patient_id: uuid.UUID | None = None,
        appointment_id: uuid.UUID | None = None,
        clinic_id: uuid.UUID | None = None,
        status: ChargeStatus | None = None,
        needs_price: bool | None = None,
    ) -> tuple[Sequence[Charge], int]:
        c = charges.c
        query = select(Charge)
        for column, value in (
            (c.patient_id, patient_id),
            (c.appointment_id, appointment_id),
            (c.clinic_id, clinic_id),
            (c.status, status),
        ):
            if value is not None:
                query = query.where(column == value)
        if needs_price is not None:
            query = query.where(c.amount_cents.is_(None) if needs_price else c.amount_cents.is_not(None))
        return self._page(query, [c.starts_at, c.id], offset, limit)

    def _page(
        self, query: Select[Any], order_by: Sequence[Any], offset: int, limit: int
    ) -> tuple[Sequence[Any], int]:
        total = self.session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = self.session.scalars(query.order_by(*order_by).offset(offset).limit(limit)).all()
        return rows, total
