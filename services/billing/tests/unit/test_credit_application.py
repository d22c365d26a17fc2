"""Applying patient credit to invoices as plain domain logic: oldest money first, never beyond the credit."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest

from billing.domain.errors import InvalidTransition, RuleViolation
from billing.domain.invoicing import Invoice, InvoiceStatus
from billing.domain.money import Money
from billing.domain.payments import CreditApplication, Payment, PaymentMethod

NOW = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
CLINIC, PATIENT, CLERK = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def cad(cents: int) -> Money:
    return Money(cents, "CAD")


def credit(cents: int, days_ago: int = 1, currency: str = "CAD") -> Payment:
    """A payment whose whole amount is the patient's credit."""
    return Payment(
        id=uuid.uuid4(),
        clinic_id=CLINIC,
        patient_id=PATIENT,
        method=PaymentMethod.CASH,
        amount=Money(cents, currency),
        received_at=NOW - timedelta(days=days_ago),
        recorded_by=CLERK,
        unallocated_cents=cents,
    )


def issued(cents: int, patient_id: uuid.UUID = PATIENT) -> Invoice:
    invoice = Invoice.draft(
        invoice_id=uuid.uuid4(), clinic_id=CLINIC, patient_id=patient_id, currency="CAD", now=NOW
    )
    invoice.add_line(
        line_id=uuid.uuid4(),
        charge_id=None,
        description="IMS",
        service_date=date(2026, 3, 1),
        practitioner_id=None,
        treatment_type_id=None,
        amount=cad(cents),
        tax_rate_bp=0,
        position=0,
    )
    invoice.issue(number="VAN-2026-000001", by=CLERK, now=NOW, due_date=date(2026, 4, 1))
    return invoice


def apply(sources: list[Payment], *requests: tuple[Invoice, Money]) -> CreditApplication:
    return CreditApplication.apply(
        application_id=uuid.uuid4(),
        clinic_id=CLINIC,
        patient_id=PATIENT,
        sources=sources,
        requests=list(requests),
        new_id=uuid.uuid4,
        now=NOW,
        by=CLERK,
    )


def test_credit_settles_invoices_from_the_oldest_payment_first() -> None:
    newer, older = credit(5000, days_ago=1), credit(3000, days_ago=10)
    first, second = issued(4000), issued(12000)

    application = apply([newer, older], (first, cad(4000)), (second, cad(2500)))

    assert application.amount == cad(6500)
    drawn = [(a.payment_id, a.invoice_id, a.amount.cents) for a in application.allocations]
    assert drawn == [(older.id, first.id, 3000), (newer.id, first.id, 1000), (newer.id, second.id, 2500)]
    assert (older.unallocated_cents, newer.unallocated_cents) == (0, 1500)
    assert (first.status, first.paid_cents) == (InvoiceStatus.BALANCED, 4000)
    assert (second.status, second.balance) == (InvoiceStatus.ISSUED, cad(9500))
    assert all(a.credit_application_id == application.id for a in application.allocations)
    assert older.allocations == application.allocations[:1]


def test_more_than_the_credit_is_refused_and_nothing_moves() -> None:
    source, invoice = credit(3000), issued(12000)

    with pytest.raises(RuleViolation, match=r"30\.00 CAD of credit") as error:
        apply([source], (invoice, cad(3001)))

    assert error.value.field == "allocations"
    assert (source.unallocated_cents, invoice.paid_cents) == (3000, 0)


def test_no_credit_at_all_is_refused() -> None:
    with pytest.raises(RuleViolation) as error:
        apply([], (issued(12000), cad(1)))
    assert error.value.field == "allocations"


def test_more_than_an_invoices_balance_is_refused() -> None:
    source, invoice = credit(20000), issued(12000)

    with pytest.raises(RuleViolation, match="balance") as error:
        apply([source], (invoice, cad(12001)))

    assert error.value.field == "allocations"
    assert source.unallocated_cents == 20000


@pytest.mark.parametrize(
    "requests",
    [
        pytest.param(lambda: [], id="no invoice"),
        pytest.param(lambda: [(issued(100, patient_id=uuid.uuid4()), cad(100))], id="another patient"),
        pytest.param(lambda: [(issued(100), Money(100, "USD"))], id="another currency"),
        pytest.param(lambda: [(issued(100), cad(0))], id="zero"),
    ],
)
def test_bad_requests_are_refused_naming_the_allocations(
    requests: Callable[[], list[tuple[Invoice, Money]]],
) -> None:
    with pytest.raises(RuleViolation) as error:
        apply([credit(5000)], *requests())
    assert error.value.field == "allocations"


def test_the_same_invoice_twice_is_refused() -> None:
    invoice = issued(12000)
    with pytest.raises(RuleViolation, match="once"):
        apply([credit(5000)], (invoice, cad(100)), (invoice, cad(100)))


def test_a_paid_invoice_takes_no_credit() -> None:
    invoice = issued(100)
    apply([credit(100)], (invoice, cad(100)))

    with pytest.raises(InvalidTransition):
        apply([credit(100)], (invoice, cad(100)))
