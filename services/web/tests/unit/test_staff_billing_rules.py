"""The billing clerk's plain rules: typed amounts, the queue per patient, payments spread oldest first."""

from __future__ import annotations

from datetime import date

import pytest

from web.domain.billing_desk import (
    AmountProblem,
    BadAmount,
    ChargeRow,
    OpenInvoice,
    PatientCharges,
    amount_text,
    credit_left,
    parse_amount,
    prefill_allocations,
)


@pytest.mark.parametrize(
    ("typed", "cents"),
    [
        ("120", 12000),
        ("120.5", 12050),
        ("120.50", 12050),
        ("$1,200.00", 120000),
        (" 40,5 $", 4050),
        ("40,00", 4000),
        ("0.01", 1),
        (".5", 50),
        ("1 200,00", 120000),
    ],
)
def test_amounts_are_read_as_cents_without_floats(typed: str, cents: int) -> None:
    assert parse_amount(typed) == cents


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("", AmountProblem.FORMAT),
        ("abc", AmountProblem.FORMAT),
        ("-5", AmountProblem.FORMAT),
        ("1e3", AmountProblem.FORMAT),
        ("12.345", AmountProblem.PRECISION),
        ("0", AmountProblem.RANGE),
        ("1000001", AmountProblem.RANGE),
        ("nan", AmountProblem.FORMAT),
    ],
)
def test_bad_amounts_say_what_is_wrong(typed: str, problem: AmountProblem) -> None:
    with pytest.raises(BadAmount) as raised:
        parse_amount(typed)
    assert raised.value.problem is problem


def test_zero_is_allowed_where_asked_and_amounts_print_back() -> None:
    assert parse_amount("0", allow_zero=True) == 0
    assert amount_text(12050) == "120.50"
    assert amount_text(5) == "0.05"
    assert parse_amount(amount_text(987654)) == 987654


def charge(ident: str, patient: str, day: int, cents: int | None = 12000, tax_bp: int = 0) -> ChargeRow:
    return ChargeRow(ident, patient, "appointment", date(2026, 12, day), cents, "CAD", tax_bp)


def entry(patient: str, *charges: ChargeRow) -> dict[str, object]:
    """An entry of billing's queue as the API sends it."""
    return {
        "patient_id": patient,
        "charges": [
            {
                "id": c.id,
                "patient_id": c.patient_id,
                "kind": c.kind,
                "service_date": c.service_date.isoformat(),
                "amount_cents": c.amount_cents,
                "currency": c.currency if c.amount_cents is not None else None,
                "tax_rate_bp": c.tax_rate_bp,
            }
            for c in charges
        ],
    }


def test_a_queue_entry_lists_its_charges_oldest_first() -> None:
    group = PatientCharges.of(entry("bo", charge("c1", "bo", 5), charge("c3", "bo", 3)))
    assert [c.id for c in group.charges] == ["c3", "c1"]
    assert group.oldest == date(2026, 12, 3)
    assert group.totals == [(24000, "CAD")]


def test_a_group_totals_tax_and_flags_a_missing_price() -> None:
    group = PatientCharges.of(
        entry("bo", charge("c1", "bo", 5, 4000, tax_bp=500), charge("c2", "bo", 6, None))
    )
    assert group.totals == [(4200, "CAD")]
    assert group.needs_price


def invoice(ident: str, issued: str, balance: int) -> OpenInvoice:
    return OpenInvoice(ident, f"VAN-{ident}", issued, "patient", balance, "CAD")


def test_a_payment_is_spread_over_the_oldest_invoices_first() -> None:
    invoices = [
        invoice("b", "2026-12-02T10:00:00+00:00", 4000),
        invoice("a", "2026-12-01T10:00:00+00:00", 12000),
        invoice("c", "2026-12-03T10:00:00+00:00", 0),
    ]
    assert prefill_allocations(invoices, None) == {"a": 12000, "b": 4000}
    assert prefill_allocations(invoices, 13000) == {"a": 12000, "b": 1000}
    assert prefill_allocations(invoices, 5000) == {"a": 5000}


def test_what_is_not_put_on_invoices_is_credit() -> None:
    assert credit_left(20000, {"a": 12000, "b": 4000}) == 4000
    assert credit_left(1000, {"a": 2000}) == -1000
