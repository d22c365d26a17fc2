"""The billing queue: patients whose charges wait to be invoiced, longest waiting first, a page of patients
at a time, each with every billable charge (what a draft invoice takes) and the coverages a split can use
(those whose days include at least one of the charges).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from billing.domain.coverages import Coverage
from billing.domain.errors import RuleViolation
from billing.domain.invoicing import PayerKind
from billing.domain.model import Charge
from billing.service_layer.tenancy import clinic_filter
from billing.service_layer.unit_of_work import BillingUnitOfWork
from clinic_shared.pagination import Page
from clinic_shared.tokens import Principal


@dataclass(frozen=True)
class QueueFilter:
    clinic_id: uuid.UUID | None = None
    first_day: date | None = None  # patients with a billable charge on or after this service date
    last_day: date | None = None
    payer: PayerKind | None = None  # patients with a coverage of this kind; PATIENT: with none


@dataclass(frozen=True)
class QueueEntry:
    clinic_id: uuid.UUID
    patient_id: uuid.UUID
    charges: Sequence[Charge]
    coverages: Sequence[Coverage]

    @property
    def oldest_service_date(self) -> date:
        return min(charge.service_date for charge in self.charges)


def billing_queue(
    uow: BillingUnitOfWork, actor: Principal, page: Page, query: QueueFilter
) -> tuple[list[QueueEntry], int]:
    """A page of the queue (billing staff; clinic-scoped staff see their own clinic's) and its size in
    patients. The date window picks patients, not charges: an invoice takes all of a patient's charges."""
    if query.first_day and query.last_day and query.last_day < query.first_day:
        raise RuleViolation("the last service date is before the first", field="last_day")
    keys, total = uow.repo.queue_groups(
        clinic_id=clinic_filter(actor, query.clinic_id),
        first_day=query.first_day,
        last_day=query.last_day,
        payer=query.payer,
        offset=page.offset,
        limit=page.limit,
    )
    charges: dict[tuple[uuid.UUID, uuid.UUID], list[Charge]] = {key: [] for key in keys}
    for charge in uow.repo.queue_charges(keys):
        charges[(charge.clinic_id, charge.patient_id)].append(charge)
    coverages: dict[tuple[uuid.UUID, uuid.UUID], list[Coverage]] = {key: [] for key in keys}
    for coverage in uow.repo.queue_coverages(keys):
        coverages[(coverage.clinic_id, coverage.patient_id)].append(coverage)
    entries = [
        QueueEntry(key[0], key[1], charges[key], _covering(coverages[key], charges[key]))
        for key in keys
        if charges[key]
    ]
    return entries, total


def _covering(coverages: Sequence[Coverage], charges: Sequence[Charge]) -> list[Coverage]:
    """The coverages a split can use: those covering at least one of the visits (not one ended before)."""
    return [c for c in coverages if any(c.covers(charge.service_date) for charge in charges)]
