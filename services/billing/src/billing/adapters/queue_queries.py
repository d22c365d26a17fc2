"""The billing queue's reads: patients with charges waiting to be invoiced, a page at a time.

Three statements per page whatever the queue's size: the page of (clinic, patient) groups with the total
number of groups, their billable charges, and their coverages.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from sqlalchemy import ColumnElement, exists, func, not_, select, tuple_
from sqlalchemy.orm import Session

from billing.adapters.orm import charges, coverages
from billing.domain.coverages import Coverage
from billing.domain.invoicing import PayerKind
from billing.domain.model import Charge, ChargeStatus
from clinic_shared.db import counted_page

QueueKey = tuple[uuid.UUID, uuid.UUID]  # (clinic, patient)


class QueueQueries:
    """Part of ``SqlAlchemyRepository``: the queue reads of the repository protocol."""

    session: Session

    def queue_groups(
        self,
        *,
        clinic_id: uuid.UUID | None,
        first_day: date | None,
        last_day: date | None,
        payer: PayerKind | None,
        offset: int,
        limit: int,
    ) -> tuple[Sequence[QueueKey], int]:
        """The (clinic, patient) pairs with a billable charge (one in the service-date window, when given),
        longest waiting first; and how many pairs in all. ``payer`` keeps the patients with a coverage of
        that kind at the clinic (``PayerKind.PATIENT``: those with none)."""
        c = charges.c
        conditions: list[ColumnElement[bool]] = [c.status == ChargeStatus.BILLABLE]
        if clinic_id is not None:
            conditions.append(c.clinic_id == clinic_id)
        if first_day is not None:
            conditions.append(c.service_date >= first_day)
        if last_day is not None:
            conditions.append(c.service_date <= last_day)
        if payer is not None:
            covered = exists().where(
                coverages.c.clinic_id == c.clinic_id,
                coverages.c.patient_id == c.patient_id,
                *([] if payer is PayerKind.PATIENT else [coverages.c.payer_kind == payer]),
            )
            conditions.append(not_(covered) if payer is PayerKind.PATIENT else covered)
        oldest = func.min(c.service_date).label("oldest")
        groups = (
            select(c.clinic_id, c.patient_id, oldest).where(*conditions).group_by(c.clinic_id, c.patient_id)
        )
        order = (oldest, c.patient_id, c.clinic_id)
        rows, total = counted_page(self.session, groups, order, offset, limit, entities=False)
        return [(row.clinic_id, row.patient_id) for row in rows], total

    def queue_charges(self, keys: Sequence[QueueKey]) -> Sequence[Charge]:
        """Every billable charge of these (clinic, patient) pairs, oldest first: what a draft would take."""
        if not keys:
            return []
        c = charges.c
        query = (
            select(Charge)
            .where(c.status == ChargeStatus.BILLABLE, tuple_(c.clinic_id, c.patient_id).in_(keys))
            .order_by(c.starts_at, c.id)
        )
        return self.session.scalars(query).all()

    def queue_coverages(self, keys: Sequence[QueueKey]) -> Sequence[Coverage]:
        """The coverages these patients hold at these clinics, oldest first."""
        if not keys:
            return []
        v = coverages.c
        query = (
            select(Coverage).where(tuple_(v.clinic_id, v.patient_id).in_(keys)).order_by(v.created_at, v.id)
        )
        return self.session.scalars(query).all()
