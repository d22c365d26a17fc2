"""Fee policies, invoices, credit notes, payments and the audit trail: plain Python.

An invoice is a draft until issued; issuing gives it a gapless number and freezes its lines. After that
only credit notes (which reduce what is owed) and payment allocations (which settle it) touch it. Amounts
are Money throughout; tax is computed per line, rounded half up to the cent, and never on a float.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from billing.domain.errors import InvalidTransition, RuleViolation
from billing.domain.model import Charge, ChargeKind
from billing.domain.money import Money

BASIS_POINTS = 10_000


def percent_of(amount: Money, basis_points: int) -> Money:
    """``basis_points``/100 percent of ``amount``, rounded half up to a whole minor unit."""
    if basis_points < 0:
        raise ValueError("a rate cannot be negative")
    return Money((amount.cents * basis_points + BASIS_POINTS // 2) // BASIS_POINTS, amount.currency)


# --- fee and tax policy --------------------------------------------------------------------------------


class FeeMode(enum.StrEnum):
    """A fee is a fixed amount or a percentage (basis points) of the visit's price."""

    FIXED = "fixed"
    PERCENT = "percent"


@dataclass
class BillingPolicy:
    """A clinic's fees and taxes. No mode means no fee of that kind; treatments are tax-exempt by default."""

    clinic_id: uuid.UUID
    currency: str
    updated_at: datetime
    late_cancel_fee_mode: FeeMode | None = None
    late_cancel_fee_value: int = 0
    no_show_fee_mode: FeeMode | None = None
    no_show_fee_value: int = 0
    fee_tax_rate_bp: int = 0
    treatment_tax_rate_bp: int = 0
    payment_terms_days: int = 30

    def __post_init__(self) -> None:
        for name in ("late_cancel_fee", "no_show_fee"):
            mode, value = getattr(self, f"{name}_mode"), getattr(self, f"{name}_value")
            if value < 0 or (mode is FeeMode.PERCENT and value > BASIS_POINTS):
                raise RuleViolation("a fee is between 0 and the visit's price", field=f"{name}_value")
        for name in ("fee_tax_rate_bp", "treatment_tax_rate_bp"):
            if not 0 <= getattr(self, name) <= BASIS_POINTS:
                raise RuleViolation("a tax rate is between 0 and 10000 basis points", field=name)

    def fee(self, kind: ChargeKind, visit_price: Money | None) -> tuple[bool, Money | None]:
        """Whether ``kind`` is charged at all, and its amount (None when a percentage has no price yet)."""
        mode, value = (
            (self.late_cancel_fee_mode, self.late_cancel_fee_value)
            if kind is ChargeKind.LATE_CANCEL_FEE
            else (self.no_show_fee_mode, self.no_show_fee_value)
        )
        if mode is None:
            return False, None
        if mode is FeeMode.FIXED:
            return True, Money(value, self.currency)
        return True, percent_of(visit_price, value) if visit_price is not None else None

    def quote(self, kind: ChargeKind, visit_price: Money | None) -> FeeQuote:
        """What a fee of ``kind`` would come to for a visit priced ``visit_price``, its tax included."""
        charged, amount = self.fee(kind, visit_price)
        tax = percent_of(amount, self.fee_tax_rate_bp) if amount is not None else None
        return FeeQuote(kind=kind, charged=charged, currency=self.currency, amount=amount, tax=tax)


@dataclass(frozen=True)
class FeeQuote:
    """A fee told beforehand: whether the policy charges it, and how much (None: a percentage of a visit
    with no price yet). Nothing is charged by quoting."""

    kind: ChargeKind
    charged: bool
    currency: str | None
    amount: Money | None = None
    tax: Money | None = None

    @property
    def total(self) -> Money | None:
        return self.amount + self.tax if self.amount is not None and self.tax is not None else None


# --- third-party payers --------------------------------------------------------------------------------


class PayerKind(enum.StrEnum):
    """Who an invoice is addressed to."""

    PATIENT = "patient"
    WORKSAFEBC = "worksafebc"
    ICBC = "icbc"
    EXTENDED_HEALTH = "extended_health"


# --- invoices ------------------------------------------------------------------------------------------


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


def credit_note_number(clinic_code: str, year: int, value: int) -> str:
    return f"{clinic_code}-CN-{year}-{value:06d}"


@dataclass
class CreditNoteLine:
    """What a credit note takes back of one invoice line: ``amount`` before tax, and its ``tax``."""

    id: uuid.UUID
    credit_note_id: uuid.UUID
    invoice_line_id: uuid.UUID
    amount: Money
    tax: Money
    position: int

    @property
    def total(self) -> Money:
        return self.amount + self.tax


@dataclass
class CreditNote:
    """A correction to an issued invoice: takes ``amount`` (tax included) off what is owed.

    Its lines say which invoice lines the credit falls on, before tax and in tax; they add up to ``amount``.
    """

    id: uuid.UUID
    invoice_id: uuid.UUID
    clinic_id: uuid.UUID
    patient_id: uuid.UUID
    number: str
    amount: Money
    reason: str
    voids_invoice: bool
    issued_at: datetime
    issued_by: uuid.UUID
    lines: list[CreditNoteLine] = field(default_factory=list)

    @classmethod
    def issue(
        cls,
        *,
        note_id: uuid.UUID,
        number: str,
        invoice: Invoice,
        earlier: Sequence[CreditNote],
        amount: Money,
        reason: str,
        void: bool,
        now: datetime,
        by: uuid.UUID,
        new_id: Callable[[], uuid.UUID],
    ) -> CreditNote:
        """Credit ``amount`` of ``invoice`` (already credited by the ``earlier`` notes), and take it off."""
        invoice.apply_credit(amount, now, void=void)
        shares = credit_shares(invoice, earlier, amount)
        note = cls(
            id=note_id,
            invoice_id=invoice.id,
            clinic_id=invoice.clinic_id,
            patient_id=invoice.patient_id,
            number=number,
            amount=amount,
            reason=reason,
            voids_invoice=void,
            issued_at=now,
            issued_by=by,
        )
        for position, (line, net, tax) in enumerate(shares):
            note.lines.append(CreditNoteLine(new_id(), note_id, line.id, net, tax, position))
        return note

    @property
    def subtotal(self) -> Money:
        return sum((line.amount for line in self.lines), Money.zero(self.amount.currency))

    @property
    def tax(self) -> Money:
        return sum((line.tax for line in self.lines), Money.zero(self.amount.currency))


def credit_shares(
    invoice: Invoice, earlier: Sequence[CreditNote], amount: Money
) -> list[tuple[InvoiceLine, Money, Money]]:
    """How a credit of ``amount`` (tax included) falls on the invoice's lines: (line, amount, tax).

    Each line takes a share in proportion to what is left of it after the ``earlier`` credit notes (tax
    included; leftover cents to the first lines), split into amount and tax at the line's rate, rounded
    half up, and never beyond what is left of either. Crediting everything left (a void) takes back
    exactly each line's remaining amount and tax.
    """
    left = {line.id: (line.amount, line.tax) for line in invoice.lines}
    for note in earlier:
        if note.invoice_id != invoice.id:
            raise ValueError(f"credit note {note.number} credits another invoice")
        for taken in note.lines:
            line_amount, line_tax = left[taken.invoice_line_id]
            left[taken.invoice_line_id] = (line_amount - taken.amount, line_tax - taken.tax)
    weights = [sum(left[line.id], Money.zero(invoice.currency)).cents for line in invoice.lines]
    if amount.is_zero or amount.is_negative or amount.cents > sum(weights):
        raise RuleViolation(
            f"a credit is between 0.01 and what the invoice still bills ({sum(weights)} cents)",
            field="amount_cents",
        )
    shares = []
    for line, share in zip(invoice.lines, amount.allocate(weights), strict=True):
        if share.is_zero:
            continue
        line_amount, line_tax = left[line.id]
        rate = BASIS_POINTS + line.tax_rate_bp
        before_tax = Money((2 * share.cents * BASIS_POINTS + rate) // (2 * rate), share.currency)
        before_tax = max(share - line_tax, min(before_tax, line_amount))
        shares.append((line, before_tax, share - before_tax))
    return shares


# --- payments ------------------------------------------------------------------------------------------


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


# --- audit ---------------------------------------------------------------------------------------------


@dataclass
class AuditEntry:
    """An append-only record of one state change: who (an account id, or None for an event), when, what."""

    id: uuid.UUID
    occurred_at: datetime
    actor_id: uuid.UUID | None
    entity_type: str
    entity_id: uuid.UUID
    action: str
    details: dict[str, Any]
