"""Payments, refunds and the patient's credit: a payment is allocated across open invoices, any overpayment
becomes credit, and credit may later be applied to an invoice.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from billing.domain.errors import NotFound, RuleViolation
from billing.domain.invoicing import Invoice
from billing.domain.model import Clinic
from billing.domain.money import Money
from billing.domain.payments import CreditApplication, Payment, PaymentMethod
from billing.service_layer.audit import audit
from billing.service_layer.tenancy import clinic_filter, ensure_acts_in, staff_outside
from billing.service_layer.unit_of_work import BillingUnitOfWork
from clinic_shared.pagination import Page
from clinic_shared.tokens import Principal


def patient_credit_for(
    uow: BillingUnitOfWork, actor: Principal, clinic_id: uuid.UUID, patient_id: uuid.UUID
) -> Money:
    """The patient's unapplied credit at a clinic: front desk and billing staff, or the patient themself."""
    if not actor.is_staff and actor.patient_id != patient_id:
        raise NotFound("patient not found")
    ensure_acts_in(actor, clinic_id, field="clinic_id")
    return patient_credit(uow, clinic_id, patient_id)


@dataclass(frozen=True)
class AllocationRequest:
    invoice_id: uuid.UUID
    amount_cents: int


@dataclass(frozen=True)
class RecordPayment:
    clinic_id: uuid.UUID
    patient_id: uuid.UUID
    amount_cents: int
    currency: str
    method: PaymentMethod
    allocations: Sequence[AllocationRequest] = ()
    received_at: datetime | None = None


def record_payment(uow: BillingUnitOfWork, actor: Principal, cmd: RecordPayment) -> Payment:
    """Record money received and allocate it across invoices; what is left over is the patient's credit."""
    ensure_acts_in(actor, cmd.clinic_id, field="clinic_id")
    amount = Money(cmd.amount_cents, cmd.currency)
    if amount.is_zero or amount.is_negative:
        raise RuleViolation("a payment is a positive amount", field="amount_cents")
    if len({a.invoice_id for a in cmd.allocations}) != len(cmd.allocations):
        raise RuleViolation("allocate to each invoice once", field="allocations")
    now = uow.clock.now()
    payment = Payment(
        id=uow.new_id(),
        clinic_id=cmd.clinic_id,
        patient_id=cmd.patient_id,
        method=cmd.method,
        amount=amount,
        received_at=cmd.received_at or now,
        recorded_by=actor.account_id,
        unallocated_cents=amount.cents,
    )
    # Locked in a fixed order so that two payments touching the same invoices cannot deadlock.
    for request in sorted(cmd.allocations, key=lambda a: a.invoice_id):
        invoice = uow.repo.get_for_update(Invoice, request.invoice_id)
        if invoice is None or not actor.acts_in(invoice.clinic_id):
            raise NotFound("invoice not found", field="allocations")
        if invoice.currency != amount.currency:
            raise RuleViolation(f"that invoice is in {invoice.currency}", field="allocations")
        payment.allocate(uow.new_id(), invoice, Money(request.amount_cents, amount.currency), now)
    uow.repo.add(payment)
    audit(
        uow,
        actor.account_id,
        "payment",
        payment.id,
        "received",
        method=str(cmd.method),
        amount_cents=amount.cents,
        allocations={str(a.invoice_id): a.amount.cents for a in payment.allocations},
    )
    uow.emit(
        "billing.payment.received",
        {
            "payment_id": payment.id,
            "clinic_id": payment.clinic_id,
            "patient_id": payment.patient_id,
            "amount_cents": amount.cents,
            "currency": amount.currency,
            "method": str(payment.method),
            "received_at": payment.received_at,
            "allocations": [
                {"invoice_id": a.invoice_id, "amount_cents": a.amount.cents} for a in payment.allocations
            ],
        },
    )
    uow.flush()
    return payment


@dataclass(frozen=True)
class RefundPayment:
    payment_id: uuid.UUID
    amount_cents: int
    reason: str


def refund_payment(uow: BillingUnitOfWork, actor: Principal, cmd: RefundPayment) -> Payment:
    """Pay back part of a payment's unallocated credit; the refund references the original payment."""
    original = uow.repo.get_for_update(Payment, cmd.payment_id)
    if original is None or not actor.acts_in(original.clinic_id):
        raise NotFound("payment not found")
    if not cmd.reason.strip():
        raise RuleViolation("a refund needs a reason", field="reason")
    amount = Money(cmd.amount_cents, original.amount.currency)
    original.take_refund(amount)
    refund = Payment(
        id=uow.new_id(),
        clinic_id=original.clinic_id,
        patient_id=original.patient_id,
        method=original.method,
        amount=amount,
        received_at=uow.clock.now(),
        recorded_by=actor.account_id,
        unallocated_cents=0,
        refund_of=original.id,
        reason=cmd.reason,
    )
    uow.repo.add(refund)
    audit(
        uow,
        actor.account_id,
        "payment",
        original.id,
        "refunded",
        refund_id=str(refund.id),
        amount_cents=amount.cents,
        reason=cmd.reason,
    )
    uow.flush()
    return refund


def get_payment(uow: BillingUnitOfWork, actor: Principal, payment_id: uuid.UUID) -> Payment:
    payment = uow.repo.get(Payment, payment_id)
    if (
        payment is None
        or staff_outside(actor, payment.clinic_id)
        or (not actor.is_staff and actor.patient_id != payment.patient_id)
    ):
        raise NotFound("payment not found")
    return payment


def list_payments(
    uow: BillingUnitOfWork,
    actor: Principal,
    page: Page,
    patient_id: uuid.UUID | None,
    clinic_id: uuid.UUID | None = None,
) -> tuple[Sequence[Payment], int]:
    """Staff see their clinic's payments (every clinic's when organisation-wide); a patient their own."""
    clinic_id = clinic_filter(actor, clinic_id)
    if not actor.is_staff:
        if actor.patient_id is None or patient_id not in (None, actor.patient_id):
            return [], 0
        patient_id = actor.patient_id
    return uow.repo.list_payments(
        offset=page.offset, limit=page.limit, patient_id=patient_id, clinic_id=clinic_id
    )


@dataclass(frozen=True)
class ApplyCredit:
    clinic_id: uuid.UUID
    patient_id: uuid.UUID
    currency: str
    allocations: Sequence[AllocationRequest]


def apply_patient_credit(uow: BillingUnitOfWork, actor: Principal, cmd: ApplyCredit) -> CreditApplication:
    """Put the patient's credit towards issued invoices (settling them like a payment would).

    No money is received: no payment is recorded, no ``billing.payment.received`` is emitted (it would
    send the patient a receipt for money they did not pay), and the payments report is unchanged.
    """
    ensure_acts_in(actor, cmd.clinic_id, field="clinic_id")
    # The credit's payments are locked before the invoices, each set in a fixed order: a concurrent
    # application waits here and then sees what is left. Payments lock invoices only and refunds one
    # payment, so no lock cycle with them either.
    sources = uow.repo.credit_sources(cmd.clinic_id, cmd.patient_id, cmd.currency)
    invoices: dict[uuid.UUID, Invoice] = {}
    for invoice_id in sorted({a.invoice_id for a in cmd.allocations}):
        invoice = uow.repo.get_for_update(Invoice, invoice_id)
        if invoice is None or not actor.acts_in(invoice.clinic_id):
            raise NotFound("invoice not found", field="allocations")
        invoices[invoice_id] = invoice
    now = uow.clock.now()
    application = CreditApplication.apply(
        application_id=uow.new_id(),
        clinic_id=cmd.clinic_id,
        patient_id=cmd.patient_id,
        sources=sources,
        requests=[(invoices[a.invoice_id], Money(a.amount_cents, cmd.currency)) for a in cmd.allocations],
        new_id=uow.new_id,
        now=now,
        by=actor.account_id,
    )
    uow.repo.add(application)
    drawn = [
        {"payment_id": str(a.payment_id), "invoice_id": str(a.invoice_id), "amount_cents": a.amount.cents}
        for a in application.allocations
    ]
    audit(
        uow,
        actor.account_id,
        "credit_application",
        application.id,
        "applied",
        amount_cents=application.amount.cents,
        currency=application.amount.currency,
        allocations=drawn,
    )
    for payment_id in sorted({a.payment_id for a in application.allocations}):
        audit(
            uow,
            actor.account_id,
            "payment",
            payment_id,
            "credit_applied",
            credit_application_id=str(application.id),
            allocations=[d for d in drawn if d["payment_id"] == str(payment_id)],
        )
    uow.flush()
    return application


def patient_credit(uow: BillingUnitOfWork, clinic_id: uuid.UUID, patient_id: uuid.UUID) -> Money:
    clinic = uow.repo.get(Clinic, clinic_id)
    return Money(uow.repo.patient_credit_cents(clinic_id, patient_id), clinic.currency if clinic else "CAD")
