"""Credit notes take back parts of invoice lines, before tax and in tax; revenue deducts exactly those."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.domain.credit_notes import CreditNote
from billing.domain.errors import RuleViolation
from billing.domain.invoicing import Invoice, InvoiceStatus
from billing.domain.reports import revenue, revenue_facts

from .test_invoicing import NOW, cad, draft, issued, lines_strategy


def credit(invoice: Invoice, earlier: list[CreditNote], cents: int | None) -> CreditNote:
    """A credit note of ``cents`` (None: void), appended to ``earlier``."""
    note = CreditNote.issue(
        note_id=uuid.uuid4(),
        number=f"VAN-CN-2026-{len(earlier) + 1:06d}",
        invoice=invoice,
        earlier=earlier,
        amount=invoice.creditable if cents is None else cad(cents),
        reason="test",
        void=cents is None,
        now=NOW,
        by=uuid.uuid4(),
        new_id=uuid.uuid4,
    )
    earlier.append(note)
    return note


def taken_back(invoice: Invoice, notes: list[CreditNote]) -> dict[uuid.UUID, tuple[int, int]]:
    totals = {line.id: (0, 0) for line in invoice.lines}
    for note in notes:
        for line in note.lines:
            amount, tax = totals[line.invoice_line_id]
            totals[line.invoice_line_id] = (amount + line.amount.cents, tax + line.tax.cents)
    return totals


def test_a_partial_credit_falls_on_each_line_in_proportion_and_splits_out_its_tax() -> None:
    invoice = issued((12000, 500), (6000, 500))  # 126.00 and 63.00 with tax

    note = credit(invoice, [], 3150)

    assert [(line.amount.cents, line.tax.cents) for line in note.lines] == [(2000, 100), (1000, 50)]
    assert (note.subtotal, note.tax, note.amount) == (cad(3000), cad(150), cad(3150))
    assert [line.invoice_line_id for line in note.lines] == [line.id for line in invoice.lines]


def test_a_void_after_partial_credits_takes_back_exactly_what_is_left_of_each_line() -> None:
    invoice = issued((12000, 500), (999, 1300), (0, 0))
    notes: list[CreditNote] = []
    credit(invoice, notes, 1001)
    credit(invoice, notes, 7)

    void = credit(invoice, notes, None)

    assert invoice.status is InvoiceStatus.CANCELLED
    assert taken_back(invoice, notes) == {
        line.id: (line.amount.cents, line.tax.cents) for line in invoice.lines
    }
    assert void.voids_invoice
    assert sum(note.amount.cents for note in notes) == invoice.credited_cents


def test_a_credit_beyond_the_balance_makes_no_credit_note() -> None:
    invoice = issued((12000, 0))
    with pytest.raises(RuleViolation) as refused:
        credit(invoice, [], 12001)
    assert refused.value.field == "amount_cents"
    assert invoice.credited_cents == 0


@given(lines=lines_strategy, percents=st.lists(st.integers(min_value=1, max_value=100), max_size=5))
def test_credit_note_lines_add_up_to_the_credit_and_never_exceed_a_line(
    lines: list[tuple[int, int]], percents: list[int]
) -> None:
    invoice = issued(*lines)
    notes: list[CreditNote] = []
    for percent in percents:
        cents = invoice.creditable.cents * percent // 100
        if cents > 0:
            note = credit(invoice, notes, cents)
            assert note.subtotal + note.tax == note.amount
            assert all(not line.amount.is_negative and not line.tax.is_negative for line in note.lines)
    for line in invoice.lines:
        amount, tax = taken_back(invoice, notes)[line.id]
        assert 0 <= amount <= line.amount.cents
        assert 0 <= tax <= line.tax.cents
    if not invoice.creditable.is_zero:
        credit(invoice, notes, None)
        assert taken_back(invoice, notes) == {x.id: (x.amount.cents, x.tax.cents) for x in invoice.lines}


# --- revenue ---


def test_revenue_is_issued_lines_less_credited_lines_before_tax_by_date_of_service() -> None:
    ida, tx = uuid.uuid4(), uuid.uuid4()
    kept = issued((12000, 500))
    credited = issued((12000, 500))
    voided = issued((12000, 500), (3000, 500))
    not_issued = draft((12000, 500))
    for invoice in (kept, credited, voided, not_issued):
        for line in invoice.lines:
            line.practitioner_id, line.treatment_type_id = ida, tx
    on_credited: list[CreditNote] = []
    on_voided: list[CreditNote] = []
    credit(credited, on_credited, 2100)
    credit(credited, on_credited, 2100)
    credit(voided, on_voided, 1050)
    credit(voided, on_voided, None)
    notes = on_credited + on_voided

    [row] = revenue(
        revenue_facts([kept, credited, voided, not_issued], notes, date(2026, 3, 1), date(2026, 3, 31))
    )
    elsewhere = revenue(revenue_facts([kept, credited, voided], notes, date(2026, 4, 1), date(2026, 4, 30)))

    assert (row.lines, row.invoiced_cents, row.credited_cents) == (4, 12000 * 3 + 3000, 4000 + 15000)
    assert row.amount_cents == 12000 + 8000
    assert elsewhere == []


def test_revenue_refuses_a_credit_note_without_its_invoice() -> None:
    invoice = issued((12000, 0))
    notes: list[CreditNote] = []
    credit(invoice, notes, 100)

    with pytest.raises(ValueError, match="VAN-CN-2026-000001"):
        revenue_facts([], notes, date(2026, 3, 1), date(2026, 3, 31))
