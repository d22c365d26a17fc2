"""Reports for billing staff, computed from plain records: aging of balances, payments, revenue.

Revenue is defined here once (``revenue_facts``): issued invoice lines less credit note lines, before tax.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from billing.domain.credit_notes import CreditNote
from billing.domain.invoicing import Invoice, InvoiceLine, InvoiceStatus

AGING_BUCKETS = ("days_0_30", "days_31_60", "days_61_90", "days_over_90")


def aging_bucket(days: int) -> str:
    """The bucket of a balance ``days`` old: 0-30, 31-60, 61-90 or over 90 days."""
    if days <= 30:
        return "days_0_30"
    if days <= 60:
        return "days_31_60"
    if days <= 90:
        return "days_61_90"
    return "days_over_90"


@dataclass(frozen=True)
class OpenBalance:
    patient_id: uuid.UUID
    payer_kind: str
    issued_on: date
    balance_cents: int


@dataclass
class AgingRow:
    patient_id: uuid.UUID
    payer_kind: str
    days_0_30: int = 0
    days_31_60: int = 0
    days_61_90: int = 0
    days_over_90: int = 0

    @property
    def total(self) -> int:
        return self.days_0_30 + self.days_31_60 + self.days_61_90 + self.days_over_90


def aging(balances: Iterable[OpenBalance], today: date) -> list[AgingRow]:
    """Outstanding balances per (patient, payer), in cents, by how long ago their invoice was issued."""
    rows: dict[tuple[uuid.UUID, str], AgingRow] = {}
    for item in balances:
        if item.balance_cents <= 0:
            continue
        row = rows.setdefault((item.patient_id, item.payer_kind), AgingRow(item.patient_id, item.payer_kind))
        bucket = aging_bucket((today - item.issued_on).days)
        setattr(row, bucket, getattr(row, bucket) + item.balance_cents)
    return sorted(rows.values(), key=lambda r: (-r.total, str(r.patient_id), r.payer_kind))


@dataclass(frozen=True)
class PaymentFact:
    received_on: date
    method: str
    amount_cents: int
    is_refund: bool


@dataclass(frozen=True)
class DailyPayments:
    day: date
    method: str
    count: int
    received_cents: int
    refunded_cents: int

    @property
    def net_cents(self) -> int:
        return self.received_cents - self.refunded_cents


def daily_payments(facts: Iterable[PaymentFact]) -> list[DailyPayments]:
    totals: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for fact in facts:
        entry = totals[(fact.received_on, fact.method)]
        entry[0] += 0 if fact.is_refund else 1
        entry[2 if fact.is_refund else 1] += fact.amount_cents
    return [
        DailyPayments(day, method, count, received, refunded)
        for (day, method), (count, received, refunded) in sorted(totals.items())
    ]


@dataclass(frozen=True)
class RevenueFact:
    """One ledger line as revenue counts it, before tax: an issued invoice's line, or (``credit``) what a
    credit note took back of one."""

    practitioner_id: uuid.UUID | None
    treatment_type_id: uuid.UUID | None
    amount_cents: int
    credit: bool = False


@dataclass(frozen=True)
class RevenueRow:
    practitioner_id: uuid.UUID | None
    treatment_type_id: uuid.UUID | None
    lines: int
    invoiced_cents: int
    credited_cents: int

    @property
    def amount_cents(self) -> int:
        """The revenue: what was invoiced less what credit notes took back, before tax."""
        return self.invoiced_cents - self.credited_cents


def revenue_facts(
    invoices: Iterable[Invoice], credit_notes: Iterable[CreditNote], first_day: date, last_day: date
) -> list[RevenueFact]:
    """Revenue, defined once: the lines of issued invoices less what credit notes took back of them.

    Before tax, and each on the date of service of its invoice line (a credit counts where the line it
    takes back counts). A voided invoice nets to nothing, since its credit note takes back every line in
    full. Payments, refunds and applied patient credit move money, not revenue. ``invoices`` must hold the
    invoice of every credit note given.
    """
    lines = {
        line.id: line
        for invoice in invoices
        if invoice.status is not InvoiceStatus.DRAFT
        for line in invoice.lines
    }

    def counted(line: InvoiceLine) -> bool:
        return first_day <= line.service_date <= last_day

    facts = [
        RevenueFact(line.practitioner_id, line.treatment_type_id, line.amount.cents)
        for line in lines.values()
        if counted(line)
    ]
    for note in credit_notes:
        for taken in note.lines:
            line = lines.get(taken.invoice_line_id)
            if line is None:
                raise ValueError(f"credit note {note.number} takes back a line of an invoice not given")
            if counted(line):
                facts.append(
                    RevenueFact(line.practitioner_id, line.treatment_type_id, taken.amount.cents, credit=True)
                )
    return facts


def revenue(facts: Iterable[RevenueFact]) -> list[RevenueRow]:
    """Revenue per practitioner and treatment type: invoice lines billed, invoiced, credited (cents)."""
    totals: dict[tuple[uuid.UUID | None, uuid.UUID | None], list[int]] = defaultdict(lambda: [0, 0, 0])
    for fact in facts:
        entry = totals[(fact.practitioner_id, fact.treatment_type_id)]
        if fact.credit:
            entry[2] += fact.amount_cents
        else:
            entry[0] += 1
            entry[1] += fact.amount_cents
    rows = [RevenueRow(p, t, *entry) for (p, t), entry in totals.items()]
    return sorted(rows, key=lambda r: (-r.amount_cents, str(r.practitioner_id), str(r.treatment_type_id)))
