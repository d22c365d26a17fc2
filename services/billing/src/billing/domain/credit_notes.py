"""Credit notes: corrections to an issued invoice that take part of what is owed off, line by line.

A credit note has its own gapless number; its lines say how the credit falls on the invoice's lines,
before tax and in tax, in proportion to what is left of each.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from billing.domain.errors import RuleViolation
from billing.domain.invoicing import Invoice, InvoiceLine
from billing.domain.money import BASIS_POINTS, Money


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
