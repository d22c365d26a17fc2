"""Payments and what settles invoices: money received (or refunded), its allocations, and patient credit.

What a payment does not allocate is the patient's credit; a credit application puts that credit towards
issued invoices, drawing from the payments that brought it in.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from billing.domain.errors import RuleViolation
from billing.domain.invoicing import Invoice, InvoiceStatus
from billing.domain.money import Money


class PaymentMethod(enum.StrEnum):
    CASH = "cash"
    CARD = "card"
    E_TRANSFER = "e_transfer"
    INSURER = "insurer"


@dataclass
class Allocation:
    """Part of a payment settling an invoice; ``credit_application_id`` is set when it was applied credit."""

    id: uuid.UUID
    payment_id: uuid.UUID
    invoice_id: uuid.UUID
    amount: Money
    credit_application_id: uuid.UUID | None = None


@dataclass
class Payment:
    """Money received (or, with ``refund_of``, paid back); what is not allocated is the patient's credit."""

    id: uuid.UUID
    clinic_id: uuid.UUID
    patient_id: uuid.UUID
    method: PaymentMethod
    amount: Money
    received_at: datetime
    recorded_by: uuid.UUID
    unallocated_cents: int
    refund_of: uuid.UUID | None = None
    reason: str | None = None
    allocations: list[Allocation] = field(default_factory=list)

    @property
    def credit(self) -> Money:
        return Money(self.unallocated_cents, self.amount.currency)

    def allocate(
        self,
        allocation_id: uuid.UUID,
        invoice: Invoice,
        amount: Money,
        now: datetime,
        *,
        credit_application_id: uuid.UUID | None = None,
    ) -> Allocation:
        if invoice.patient_id != self.patient_id or invoice.clinic_id != self.clinic_id:
            raise RuleViolation("the invoice belongs to another patient or clinic", field="allocations")
        if amount > self.credit:
            raise RuleViolation("allocations exceed the payment", field="allocations")
        invoice.apply_payment(amount, now)
        self.unallocated_cents -= amount.cents
        allocation = Allocation(allocation_id, self.id, invoice.id, amount, credit_application_id)
        self.allocations.append(allocation)
        return allocation

    def take_refund(self, amount: Money) -> None:
        """Pay back part of the unallocated credit of this payment."""
        if self.refund_of is not None:
            raise RuleViolation("a refund cannot itself be refunded", field="payment_id")
        if amount.is_zero or amount.is_negative or amount > self.credit:
            raise RuleViolation(
                f"a refund is between 0.01 and the payment's unallocated credit ({self.credit})",
                field="amount_cents",
            )
        self.unallocated_cents -= amount.cents


@dataclass
class CreditApplication:
    """Patient credit put towards issued invoices: earlier payments' unallocated money, not new money.

    Nothing is received, so no payment is made: each cent is allocated from the payment that brought it
    in (oldest first), and every payment still reads amount = allocated + unallocated + refunded.
    """

    id: uuid.UUID
    clinic_id: uuid.UUID
    patient_id: uuid.UUID
    amount: Money
    applied_at: datetime
    applied_by: uuid.UUID
    allocations: list[Allocation] = field(default_factory=list)

    @classmethod
    def apply(
        cls,
        *,
        application_id: uuid.UUID,
        clinic_id: uuid.UUID,
        patient_id: uuid.UUID,
        sources: Sequence[Payment],
        requests: Sequence[tuple[Invoice, Money]],
        new_id: Callable[[], uuid.UUID],
        now: datetime,
        by: uuid.UUID,
    ) -> CreditApplication:
        """Draw ``requests`` (invoice, amount) from the credit of ``sources``, oldest payment first."""
        if not requests:
            raise RuleViolation("apply credit to at least one invoice", field="allocations")
        currency = requests[0][1].currency
        if len({invoice.id for invoice, _ in requests}) != len(requests):
            raise RuleViolation("apply credit to each invoice once", field="allocations")
        for invoice, amount in requests:
            if (invoice.clinic_id, invoice.patient_id) != (clinic_id, patient_id):
                raise RuleViolation("the invoice belongs to another patient or clinic", field="allocations")
            if invoice.currency != currency:
                raise RuleViolation(f"that invoice is in {invoice.currency}", field="allocations")
            if amount.is_zero or amount.is_negative:
                raise RuleViolation("an application is a positive amount", field="allocations")
            if invoice.status is InvoiceStatus.ISSUED and amount > invoice.balance:
                raise RuleViolation(
                    f"that invoice's balance is {invoice.balance}; apply at most that", field="allocations"
                )
        if any(
            p.refund_of is not None
            or (p.clinic_id, p.patient_id) != (clinic_id, patient_id)
            or p.amount.currency != currency
            for p in sources
        ):
            raise ValueError("credit comes from the patient's payments (not refunds) in one currency")
        wanted = sum((amount for _, amount in requests), Money.zero(currency))
        available = sum((p.credit for p in sources), Money.zero(currency))
        if wanted > available:
            raise RuleViolation(
                f"the patient has {available} of credit; {wanted} was asked for", field="allocations"
            )
        application = cls(application_id, clinic_id, patient_id, wanted, now, by)
        queue = [p for p in sorted(sources, key=lambda p: (p.received_at, str(p.id))) if not p.credit.is_zero]
        for invoice, amount in requests:
            left = amount
            while not left.is_zero:
                source = queue[0]
                take = min(left, source.credit)
                application.allocations.append(
                    source.allocate(new_id(), invoice, take, now, credit_application_id=application_id)
                )
                left -= take
                if source.credit.is_zero:
                    queue.pop(0)
        return application
