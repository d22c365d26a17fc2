"""Invoices: what one payer owes for some charges, its lines, statuses and gapless numbers.

An invoice is a draft until issued; issuing gives it a gapless number and freezes its lines. After that
only credit notes (which reduce what is owed) and payment allocations (which settle it) touch it. Amounts
are Money throughout; tax is computed per line, rounded half up to the cent, and never on a float.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime

from billing.domain.errors import InvalidTransition, RuleViolation
from billing.domain.model import Charge
from billing.domain.money import Money, percent_of


class PayerKind(enum.StrEnum):
    """Who an invoice is addressed to."""

    PATIENT = "patient"
    WORKSAFEBC = "worksafebc"
    ICBC = "icbc"
    EXTENDED_HEALTH = "extended_health"


class InvoiceStatus(enum.StrEnum):
    """FHIR Invoice.status: draft, issued (money owed), balanced (nothing owed), cancelled (voided)."""

    DRAFT = "draft"
    ISSUED = "issued"
    BALANCED = "balanced"
    CANCELLED = "cancelled"


@dataclass
class InvoiceLine:
    """One billed item; ``tax`` is fixed when the line is made (rounded half up)."""

    id: uuid.UUID
    invoice_id: uuid.UUID
    charge_id: uuid.UUID | None
    payer_kind: PayerKind
    description: str
    service_date: date
    practitioner_id: uuid.UUID | None
    treatment_type_id: uuid.UUID | None
    amount: Money
    tax_rate_bp: int
    tax: Money
    position: int


@dataclass
class Invoice:
    """What one payer owes for some charges; once issued only credits and payments change it."""

    id: uuid.UUID
    clinic_id: uuid.UUID
    patient_id: uuid.UUID
    payer_kind: PayerKind
    currency: str
    status: InvoiceStatus
    created_at: datetime
    updated_at: datetime
    coverage_id: uuid.UUID | None = None
    number: str | None = None
    issued_at: datetime | None = None
    issued_by: uuid.UUID | None = None
    due_date: date | None = None
    credited_cents: int = 0
    paid_cents: int = 0
    lines: list[InvoiceLine] = field(default_factory=list)

    @classmethod
    def draft(
        cls,
        *,
        invoice_id: uuid.UUID,
        clinic_id: uuid.UUID,
        patient_id: uuid.UUID,
        currency: str,
        now: datetime,
        payer_kind: PayerKind = PayerKind.PATIENT,
        coverage_id: uuid.UUID | None = None,
    ) -> Invoice:
        return cls(
            id=invoice_id,
            clinic_id=clinic_id,
            patient_id=patient_id,
            payer_kind=payer_kind,
            currency=currency,
            status=InvoiceStatus.DRAFT,
            created_at=now,
            updated_at=now,
            coverage_id=coverage_id,
        )

    def bill_charge(
        self, *, line_id: uuid.UUID, charge: Charge, amount: Money, description: str
    ) -> InvoiceLine:
        """A line for ``amount`` of ``charge`` (all of it or a payer's share), taxed at its rate."""
        return self.add_line(
            line_id=line_id,
            charge_id=charge.id,
            description=description,
            service_date=charge.service_date,
            practitioner_id=charge.practitioner_id,
            treatment_type_id=charge.treatment_type_id,
            amount=amount,
            tax_rate_bp=charge.tax_rate_bp,
            position=len(self.lines),
        )

    def add_line(
        self,
        *,
        line_id: uuid.UUID,
        charge_id: uuid.UUID | None,
        description: str,
        service_date: date,
        practitioner_id: uuid.UUID | None,
        treatment_type_id: uuid.UUID | None,
        amount: Money,
        tax_rate_bp: int,
        position: int,
    ) -> InvoiceLine:
        self._require(InvoiceStatus.DRAFT, "only a draft invoice can change")
        if amount.currency != self.currency:
            raise RuleViolation(f"this invoice is in {self.currency}", field="currency")
        if amount.is_negative:
            raise RuleViolation("a line cannot be negative; use a credit note", field="amount_cents")
        line = InvoiceLine(
            id=line_id,
            invoice_id=self.id,
            charge_id=charge_id,
            payer_kind=self.payer_kind,
            description=description,
            service_date=service_date,
            practitioner_id=practitioner_id,
            treatment_type_id=treatment_type_id,
            amount=amount,
            tax_rate_bp=tax_rate_bp,
            tax=percent_of(amount, tax_rate_bp),
            position=position,
        )
        self.lines.append(line)
        return line

    # --- totals (all Money in the invoice's currency) ---

    @property
    def subtotal(self) -> Money:
        return sum((line.amount for line in self.lines), Money.zero(self.currency))

    @property
    def tax(self) -> Money:
        return sum((line.tax for line in self.lines), Money.zero(self.currency))

    @property
    def credited(self) -> Money:
        return Money(self.credited_cents, self.currency)

    @property
    def paid(self) -> Money:
        return Money(self.paid_cents, self.currency)

    @property
    def total(self) -> Money:
        """Lines plus tax minus credits: what the payer owes in all."""
        return self.subtotal + self.tax - self.credited

    @property
    def balance(self) -> Money:
        """What is still to be paid."""
        return self.total - self.paid

    @property
    def creditable(self) -> Money:
        """The most a credit note may take off: the unpaid part (paid money is refunded, not credited)."""
        return self.balance

    # --- lifecycle ---

    def issue(self, *, number: str, by: uuid.UUID, now: datetime, due_date: date) -> None:
        self._require(InvoiceStatus.DRAFT, "only a draft invoice can be issued")
        if not self.lines:
            raise RuleViolation("an invoice needs at least one line", field="lines")
        self.number = number
        self.issued_at = now
        self.issued_by = by
        self.due_date = due_date
        self.status = InvoiceStatus.ISSUED
        self.updated_at = now
        self._settle()

    def apply_credit(self, amount: Money, now: datetime, *, void: bool) -> None:
        """Reduce what is owed; a void credits the whole unpaid total and cancels the invoice."""
        self._require(InvoiceStatus.ISSUED, "only an issued invoice with a balance can be credited")
        if void and not self.paid.is_zero:
            raise RuleViolation("a paid invoice cannot be voided; refund the payment first", field="void")
        if amount.is_zero or amount.is_negative or amount > self.creditable:
            raise RuleViolation(
                f"a credit is between 0.01 and the unpaid balance ({self.creditable})", field="amount_cents"
            )
        self.credited_cents += amount.cents
        self.updated_at = now
        if void:
            self.status = InvoiceStatus.CANCELLED
        else:
            self._settle()

    def apply_payment(self, amount: Money, now: datetime) -> None:
        self._require(InvoiceStatus.ISSUED, "payments go to issued invoices with a balance")
        if amount.is_zero or amount.is_negative or amount > self.balance:
            raise RuleViolation(
                f"an allocation is between 0.01 and the balance ({self.balance})", field="allocations"
            )
        self.paid_cents += amount.cents
        self.updated_at = now
        self._settle()

    def _settle(self) -> None:
        if self.status is InvoiceStatus.ISSUED and self.balance.is_zero:
            self.status = InvoiceStatus.BALANCED

    def _require(self, status: InvoiceStatus, message: str) -> None:
        if self.status is not status:
            raise InvalidTransition(f"{message} (this one is {self.status})", field="status")


def invoice_number(clinic_code: str, year: int, value: int) -> str:
    """``VAN-2026-000123``: the clinic's code, the year of issue, and the gapless counter."""
    return f"{clinic_code}-{year}-{value:06d}"
