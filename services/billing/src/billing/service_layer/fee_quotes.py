"""Telling a patient beforehand what a late cancellation (or a missed visit) would cost them."""

from __future__ import annotations

import uuid

from billing.domain.billing_policy import BillingPolicy, FeeQuote
from billing.domain.errors import NotFound
from billing.domain.model import ChargeKind
from billing.service_layer.tenancy import staff_outside
from billing.service_layer.unit_of_work import BillingUnitOfWork
from clinic_shared.tokens import Principal


def quote_fee(
    uow: BillingUnitOfWork, actor: Principal, appointment_id: uuid.UUID, kind: ChargeKind
) -> FeeQuote:
    """The clinic's current fee of ``kind`` for this appointment, priced from its visit's charge.

    Patients may ask about their own appointments only; until billing has heard of the booking there is
    no visit charge and the answer is 404 (ask again shortly).
    """
    visit = uow.repo.charge_for(appointment_id, ChargeKind.APPOINTMENT)
    if (
        visit is None
        or staff_outside(actor, visit.clinic_id)
        or (not actor.is_staff and actor.patient_id != visit.patient_id)
    ):
        raise NotFound("no charge for this appointment (yet)", field="appointment_id")
    policy = uow.repo.get(BillingPolicy, visit.clinic_id)
    if policy is None:
        currency = visit.amount.currency if visit.amount is not None else None
        return FeeQuote(kind=kind, charged=False, currency=currency)
    return policy.quote(kind, visit.amount)
