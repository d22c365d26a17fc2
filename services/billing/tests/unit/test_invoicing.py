"""Fees, taxes, invoice totals and the invoice/payment lifecycle as plain domain logic."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.domain.billing_policy import BillingPolicy, FeeMode
from billing.domain.coverages import Coverage
from billing.domain.errors import InvalidTransition, RuleViolation
from billing.domain.invoicing import Invoice, InvoiceStatus, PayerKind, invoice_number
from billing.domain.model import Charge, ChargeKind, ChargeStatus
from billing.domain.money import Money, percent_of
from billing.domain.packages import Package
from billing.domain.payments import Payment, PaymentMethod

NOW = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)


def cad(cents: int) -> Money:
    return Money(cents, "CAD")


def visit(amount: Money | None = None, status: ChargeStatus = ChargeStatus.BILLABLE) -> Charge:
    charge = Charge.plan(
        charge_id=uuid.uuid4(),
        appointment_id=uuid.uuid4(),
        clinic_id=uuid.uuid4(),
        patient_id=uuid.uuid4(),
        practitioner_id=uuid.uuid4(),
        treatment_type_id=uuid.uuid4(),
        starts_at=NOW,
        service_date=NOW.date(),
        amount=amount,
        sequence=0,
        now=NOW,
    )
    charge.status = status
    return charge


def draft(*lines: tuple[int, int]) -> Invoice:
    invoice = Invoice(
        id=uuid.uuid4(),
        clinic_id=uuid.uuid4(),
        patient_id=uuid.uuid4(),
        payer_kind="patient",
        currency="CAD",
        status=InvoiceStatus.DRAFT,
        created_at=NOW,
        updated_at=NOW,
    )
    for position, (cents, rate) in enumerate(lines):
        invoice.add_line(
            line_id=uuid.uuid4(),
            charge_id=None,
            description="IMS",
            service_date=date(2026, 3, 2),
            practitioner_id=None,
            treatment_type_id=None,
            amount=cad(cents),
            tax_rate_bp=rate,
            position=position,
        )
    return invoice


def issued(*lines: tuple[int, int]) -> Invoice:
    invoice = draft(*lines)
    invoice.issue(number="VAN-2026-000001", by=uuid.uuid4(), now=NOW, due_date=date(2026, 4, 1))
    return invoice


def policy(**overrides: object) -> BillingPolicy:
    return BillingPolicy(clinic_id=uuid.uuid4(), currency="CAD", updated_at=NOW, **overrides)  # type: ignore[arg-type]


# --- fees and tax ---


@pytest.mark.parametrize(
    ("cents", "bp", "expected"), [(1000, 500, 50), (999, 500, 50), (989, 500, 49), (1, 5000, 1)]
)
def test_percentages_round_half_up_to_the_cent(cents: int, bp: int, expected: int) -> None:
    assert percent_of(cad(cents), bp) == cad(expected)


def test_a_fixed_late_cancellation_fee_ignores_the_visit_price() -> None:
    rules = policy(late_cancel_fee_mode=FeeMode.FIXED, late_cancel_fee_value=4000)
    assert rules.fee(ChargeKind.LATE_CANCEL_FEE, cad(12000)) == (True, cad(4000))


def test_a_percentage_no_show_fee_is_a_share_of_the_visit_price() -> None:
    rules = policy(no_show_fee_mode=FeeMode.PERCENT, no_show_fee_value=5000)
    assert rules.fee(ChargeKind.NO_SHOW_FEE, cad(12001)) == (True, cad(6001))
    assert rules.fee(ChargeKind.NO_SHOW_FEE, None) == (True, None)


def test_a_clinic_without_a_fee_rule_charges_no_fee() -> None:
    assert policy().fee(ChargeKind.LATE_CANCEL_FEE, cad(12000)) == (False, None)


def test_a_percentage_fee_above_the_visit_price_is_refused() -> None:
    with pytest.raises(RuleViolation) as error:
        policy(no_show_fee_mode=FeeMode.PERCENT, no_show_fee_value=10_001)
    assert error.value.field == "no_show_fee_value"


# --- charges ---


def test_only_fees_can_be_waived_and_only_with_a_reason() -> None:
    with pytest.raises(RuleViolation):
        visit(cad(100)).waive(reason="kind", by=uuid.uuid4(), now=NOW)
    fee = Charge.fee(
        charge_id=uuid.uuid4(),
        kind=ChargeKind.NO_SHOW_FEE,
        visit=visit(cad(100)),
        amount=cad(50),
        tax_rate_bp=0,
        sequence=1,
        now=NOW,
    )
    with pytest.raises(RuleViolation):
        fee.waive(reason="  ", by=uuid.uuid4(), now=NOW)
    fee.waive(reason="family emergency", by=uuid.uuid4(), now=NOW)
    assert fee.status is ChargeStatus.WAIVED
    with pytest.raises(InvalidTransition):
        fee.put_on_invoice(uuid.uuid4(), NOW)


def test_a_rescheduled_planned_charge_moves_and_is_repriced_but_a_billable_one_is_not() -> None:
    planned = visit(cad(10000), ChargeStatus.PLANNED)
    later = datetime(2026, 4, 2, 18, 0, tzinfo=UTC)
    facts = {
        "starts_at": later,
        "service_date": later.date(),
        "practitioner_id": uuid.uuid4(),
        "treatment_type_id": planned.treatment_type_id,
        "amount": cad(11000),
        "now": NOW,
    }
    assert planned.apply_reschedule(sequence=1, **facts)
    assert (planned.service_date, planned.amount) == (later.date(), cad(11000))
    assert not planned.apply_reschedule(sequence=1, **facts)  # the same event again

    billable = visit(cad(10000))
    assert not billable.apply_reschedule(sequence=1, **facts)
    assert billable.amount == cad(10000)


def test_a_completion_seen_twice_changes_nothing_the_second_time() -> None:
    charge = visit(cad(100), ChargeStatus.PLANNED)
    assert charge.apply_completion(sequence=2, now=NOW)
    assert not charge.apply_completion(sequence=2, now=NOW)
    assert charge.status is ChargeStatus.BILLABLE


# --- invoices ---

lines_strategy = st.lists(
    st.tuples(st.integers(min_value=0, max_value=1_000_000), st.sampled_from([0, 500, 700, 1200, 1300])),
    min_size=1,
    max_size=8,
)


@given(lines=lines_strategy, credit_shares=st.lists(st.integers(min_value=1, max_value=100), max_size=4))
def test_every_invoice_total_is_its_lines_plus_tax_minus_credits(
    lines: list[tuple[int, int]], credit_shares: list[int]
) -> None:
    invoice = issued(*lines)
    credits = []
    for share in credit_shares:
        amount = invoice.creditable.cents * share // 100
        if amount <= 0 or invoice.status is not InvoiceStatus.ISSUED:
            continue
        invoice.apply_credit(cad(amount), NOW, void=False)
        credits.append(amount)

    expected_tax = sum((cents * rate + 5000) // 10000 for cents, rate in lines)
    assert invoice.tax == cad(expected_tax)
    assert invoice.total == cad(sum(cents for cents, _ in lines) + expected_tax - sum(credits))
    assert invoice.balance == invoice.total - invoice.paid
    assert (invoice.status is InvoiceStatus.BALANCED) == invoice.balance.is_zero
    assert not invoice.balance.is_negative


def test_an_issued_invoice_refuses_new_lines_and_a_second_issue() -> None:
    invoice = issued((12000, 0))
    with pytest.raises(InvalidTransition):
        invoice.add_line(
            line_id=uuid.uuid4(),
            charge_id=None,
            description="tape",
            service_date=date(2026, 3, 2),
            practitioner_id=None,
            treatment_type_id=None,
            amount=cad(500),
            tax_rate_bp=500,
            position=1,
        )
    with pytest.raises(InvalidTransition):
        invoice.issue(number="VAN-2026-000002", by=uuid.uuid4(), now=NOW, due_date=date(2026, 4, 1))


def test_voiding_credits_the_whole_unpaid_total_and_cancels() -> None:
    invoice = issued((12000, 0), (1000, 500))
    invoice.apply_credit(invoice.creditable, NOW, void=True)
    assert invoice.status is InvoiceStatus.CANCELLED
    assert invoice.total.is_zero


def test_a_paid_invoice_cannot_be_voided_or_credited_beyond_its_balance() -> None:
    invoice = issued((12000, 0))
    invoice.apply_payment(cad(2000), NOW)
    with pytest.raises(RuleViolation):
        invoice.apply_credit(cad(10000), NOW, void=True)
    with pytest.raises(RuleViolation):
        invoice.apply_credit(cad(10001), NOW, void=False)


def test_overpayment_stays_on_the_payment_as_patient_credit() -> None:
    invoice = issued((12000, 0))
    payment = Payment(
        id=uuid.uuid4(),
        clinic_id=invoice.clinic_id,
        patient_id=invoice.patient_id,
        method=PaymentMethod.CARD,
        amount=cad(15000),
        received_at=NOW,
        recorded_by=uuid.uuid4(),
        unallocated_cents=15000,
    )
    payment.allocate(uuid.uuid4(), invoice, cad(12000), NOW)
    assert invoice.status is InvoiceStatus.BALANCED
    assert payment.credit == cad(3000)
    with pytest.raises(RuleViolation):
        payment.take_refund(cad(3001))
    payment.take_refund(cad(3000))
    assert payment.credit.is_zero


def test_invoice_numbers_carry_the_clinic_year_and_six_digits() -> None:
    assert invoice_number("VAN", 2026, 123) == "VAN-2026-000123"


# --- third-party payers ---


def coverage(kind: PayerKind, **facts: object) -> Coverage:
    return Coverage(
        id=uuid.uuid4(),
        clinic_id=uuid.uuid4(),
        patient_id=uuid.uuid4(),
        payer_kind=kind,
        currency="CAD",
        created_at=NOW,
        **facts,  # type: ignore[arg-type]
    )


def test_worksafebc_pays_the_whole_visit_and_requires_its_claim_fields() -> None:
    claim = coverage(
        PayerKind.WORKSAFEBC, claim_number="W123", date_of_injury=date(2026, 1, 5), employer_name="Acme"
    )
    assert claim.payer_share(cad(12000), cad(0)) == cad(12000)
    with pytest.raises(RuleViolation) as error:
        coverage(PayerKind.WORKSAFEBC, claim_number="W123", date_of_injury=date(2026, 1, 5))
    assert error.value.field == "employer_name"


def test_a_coverage_covers_the_days_from_its_first_to_its_last_inclusive() -> None:
    claim = coverage(
        PayerKind.WORKSAFEBC,
        claim_number="W123",
        date_of_injury=date(2026, 1, 5),
        employer_name="Acme",
        valid_from=date(2026, 1, 7),
        valid_to=date(2026, 2, 28),
    )
    assert [claim.covers(date(2026, 1, d)) for d in (6, 7)] == [False, True]
    assert [claim.covers(date(2026, m, d)) for m, d in ((2, 28), (3, 1))] == [True, False]
    claim.valid_to = None  # not ended: open to the future
    assert claim.covers(date(2030, 1, 1))
    claim.valid_from = None  # recorded before coverages had a first day: from the date of injury
    assert (claim.first_day, claim.covers(date(2026, 1, 5)), claim.covers(date(2026, 1, 4))) == (
        date(2026, 1, 5),
        True,
        False,
    )
    plan = coverage(PayerKind.EXTENDED_HEALTH, policy_number="P1", coverage_bp=8000)
    assert plan.first_day == NOW.date()  # neither: the day it was recorded


def test_icbc_pays_its_fee_and_the_patient_pays_the_excess() -> None:
    claim = coverage(
        PayerKind.ICBC, claim_number="C1", date_of_injury=date(2026, 1, 5), insurer_fee_cents=9000
    )
    assert claim.payer_share(cad(12000), cad(0)) == cad(9000)
    assert claim.payer_share(cad(8000), cad(0)) == cad(8000)


def test_extended_health_pays_its_percentage_within_per_visit_and_annual_maximums() -> None:
    plan = coverage(
        PayerKind.EXTENDED_HEALTH,
        policy_number="P1",
        coverage_bp=8000,
        per_visit_max_cents=9000,
        annual_max_cents=20000,
    )
    assert plan.payer_share(cad(10000), cad(0)) == cad(8000)
    assert plan.payer_share(cad(12000), cad(0)) == cad(9000)
    assert plan.payer_share(cad(12000), cad(15000)) == cad(5000)
    assert plan.payer_share(cad(12000), cad(20000)) == cad(0)


# --- packages ---


DAY = NOW.date()


def package(plan_id: uuid.UUID | None = None, sessions: int = 2, expires_on: date | None = None) -> Package:
    return Package.sell(
        package_id=uuid.uuid4(),
        clinic_id=uuid.uuid4(),
        patient_id=uuid.uuid4(),
        treatment_type_id=uuid.uuid4(),
        name="IMS 6-pack",
        sessions=sessions,
        price=cad(50000),
        today=NOW.date(),
        now=NOW,
        expires_on=expires_on,
        plan_id=plan_id,
    )


def test_completed_sessions_draw_down_a_package_until_it_is_used_up() -> None:
    prepaid = package(sessions=1)
    first, second = visit(cad(12000), ChargeStatus.PLANNED), visit(cad(12000), ChargeStatus.PLANNED)

    assert first.apply_completion(sequence=1, now=NOW, package=prepaid)
    assert second.apply_completion(sequence=1, now=NOW, package=prepaid)

    assert (first.status, first.package_id) == (ChargeStatus.PREPAID, prepaid.id)
    assert (second.status, second.package_id) == (ChargeStatus.BILLABLE, None)
    assert prepaid.sessions_left == 0


def test_a_plan_package_covers_only_that_plans_sessions_of_its_treatment() -> None:
    plan_id = uuid.uuid4()
    prepaid = package(plan_id)
    assert prepaid.covers(prepaid.treatment_type_id, plan_id, DAY)
    assert not prepaid.covers(prepaid.treatment_type_id, None, DAY)
    assert not prepaid.covers(uuid.uuid4(), plan_id, DAY)
    open_package = package()
    assert open_package.covers(open_package.treatment_type_id, None, DAY)


def test_a_package_covers_visits_up_to_its_last_day_only() -> None:
    last_day = NOW.date() + timedelta(days=90)
    prepaid = package(expires_on=last_day)
    assert prepaid.covers(prepaid.treatment_type_id, None, last_day)
    assert not prepaid.covers(prepaid.treatment_type_id, None, last_day + timedelta(days=1))


def test_a_package_needs_a_name_and_a_last_day_not_yet_past() -> None:
    with pytest.raises(RuleViolation) as blank:
        Package.sell(
            package_id=uuid.uuid4(),
            clinic_id=uuid.uuid4(),
            patient_id=uuid.uuid4(),
            treatment_type_id=uuid.uuid4(),
            name="  ",
            sessions=6,
            price=cad(50000),
            today=NOW.date(),
            now=NOW,
        )
    assert blank.value.field == "name"
    with pytest.raises(RuleViolation) as past:
        package(expires_on=NOW.date() - timedelta(days=1))
    assert past.value.field == "expires_on"
    assert package(expires_on=NOW.date()).expires_on == NOW.date()  # its last day may be today
