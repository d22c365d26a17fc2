"""Revenue in the reports reconciles with the ledger: issued invoice lines less credit note lines, before tax.

Each test runs on SQLite and on PostgreSQL (the ``client`` fixture is parametrized over both).
"""

from __future__ import annotations

import csv
import io
import uuid
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from billing.adapters import orm
from billing.bootstrap import Container
from billing.domain.invoicing import InvoiceStatus
from billing.service_layer import charges, prices, reference_copies
from billing.service_layer.reference_copies import SyncPractitioner, SyncTreatmentType
from clinic_shared.testing.tokens import TestIssuer

from .test_invoicing_api import STARTS_AT, Setup, new_setup

MARCH = ("2025-03-01", "2025-03-31")
Key = tuple[uuid.UUID | None, uuid.UUID | None]


@pytest.fixture
def taxed(client: FlaskClient, container: Container, issuer: TestIssuer) -> Setup:
    """A clinic taxing treatments and its 30.00 no-show fee at 5%."""
    setup = new_setup(client, container, issuer)
    policy = {
        "currency": "CAD",
        "treatment_tax_rate_bp": 500,
        "fee_tax_rate_bp": 500,
        "no_show_fee_mode": "fixed",
        "no_show_fee_value": 3000,
    }
    response = client.put(f"/clinics/{setup.clinic_id}/billing-policy", json=policy, headers=setup.headers)
    assert response.status_code == 200, response.get_json()
    return setup


def for_patient(setup: Setup) -> Setup:
    return replace(setup, patient_id=uuid.uuid4())


def credit(setup: Setup, invoice: dict[str, Any], cents: int | None) -> dict[str, Any]:
    body = (
        {"void": True, "reason": "billed in error"}
        if cents is None
        else {"amount_cents": cents, "reason": "x"}
    )
    response = setup.post(f"/invoices/{invoice['id']}/credit-notes", body, key=str(uuid.uuid4()))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def pay(setup: Setup, invoice: dict[str, Any], amount: int, allocated: int) -> dict[str, Any]:
    body = {
        "clinic_id": str(setup.clinic_id),
        "patient_id": str(setup.patient_id),
        "amount_cents": amount,
        "currency": "CAD",
        "method": "card",
        "allocations": [{"invoice_id": invoice["id"], "amount_cents": allocated}],
    }
    response = setup.post("/payments", body, key=str(uuid.uuid4()))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def no_show(setup: Setup, practitioner_id: uuid.UUID) -> None:
    facts = {
        "appointment_id": uuid.uuid4(),
        "clinic_id": setup.clinic_id,
        "practitioner_id": practitioner_id,
        "patient_id": setup.patient_id,
        "treatment_type_id": setup.treatment_type_id,
        "starts_at": STARTS_AT + timedelta(days=1),
        "sequence": 0,
    }
    with setup.container.uow() as uow:
        charges.plan_charge(uow, charges.PlanCharge(**facts))
        uow.commit()
    with setup.container.uow() as uow:
        charges.record_no_show(
            uow, charges.RecordNoShow(**facts | {"sequence": 1, "marked_at": STARTS_AT + timedelta(days=1)})
        )
        uow.commit()


def revenue_report(setup: Setup, first: str, last: str) -> list[dict[str, Any]]:
    query = f"clinic_id={setup.clinic_id}&from={first}&to={last}&page_size=100"
    response = setup.client.get(f"/reports/revenue?{query}", headers=setup.headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def by_key(rows: list[dict[str, Any]], field: str = "amount_cents") -> dict[Key, int]:
    def uid(value: str | None) -> uuid.UUID | None:
        return uuid.UUID(value) if value else None

    return {(uid(r["practitioner_id"]), uid(r["treatment_type_id"])): int(r[field]) for r in rows}


def ledger_revenue(setup: Setup, first: str, last: str) -> dict[Key, int]:
    """Revenue summed straight from the ledger's rows: issued invoices' lines less credit notes' lines."""
    lines, invoices = orm.invoice_lines.c, orm.invoices.c
    notes, credited = orm.credit_notes.c, orm.credit_note_lines.c
    period = lines.service_date.between(
        datetime.fromisoformat(first).date(), datetime.fromisoformat(last).date()
    )
    totals: dict[Key, int] = defaultdict(int)
    with setup.container.engine.connect() as conn:
        billed = conn.execute(
            select(lines.practitioner_id, lines.treatment_type_id, lines.amount_cents)
            .select_from(orm.invoice_lines.join(orm.invoices, lines.invoice_id == invoices.id))
            .where(invoices.clinic_id == setup.clinic_id, invoices.status != InvoiceStatus.DRAFT, period)
        ).all()
        taken_back = conn.execute(
            select(lines.practitioner_id, lines.treatment_type_id, credited.amount_cents)
            .select_from(
                orm.credit_note_lines.join(orm.invoice_lines, credited.invoice_line_id == lines.id).join(
                    orm.credit_notes, credited.credit_note_id == notes.id
                )
            )
            .where(notes.clinic_id == setup.clinic_id, period)
        ).all()
    for practitioner_id, treatment_type_id, cents in billed:
        totals[(practitioner_id, treatment_type_id)] += cents
    for practitioner_id, treatment_type_id, cents in taken_back:
        totals[(practitioner_id, treatment_type_id)] -= cents
    return dict(totals)


def assert_credit_note_lines_add_up(setup: Setup) -> None:
    """Each credit note's lines come to its amount (tax included), and no invoice line is over-credited."""
    notes, credited, lines = orm.credit_notes.c, orm.credit_note_lines.c, orm.invoice_lines.c
    with setup.container.engine.connect() as conn:
        per_note = conn.execute(
            select(notes.amount_cents, func.sum(credited.amount_cents + credited.tax_cents))
            .select_from(orm.credit_notes.join(orm.credit_note_lines, credited.credit_note_id == notes.id))
            .where(notes.clinic_id == setup.clinic_id)
            .group_by(notes.id, notes.amount_cents)
        ).all()
        note_count = conn.execute(
            select(func.count()).select_from(orm.credit_notes).where(notes.clinic_id == setup.clinic_id)
        ).scalar_one()
        per_line = conn.execute(
            select(
                lines.amount_cents,
                lines.tax_cents,
                func.sum(credited.amount_cents),
                func.sum(credited.tax_cents),
            )
            .select_from(orm.credit_note_lines.join(orm.invoice_lines, credited.invoice_line_id == lines.id))
            .group_by(lines.id, lines.amount_cents, lines.tax_cents)
        ).all()
    assert len(per_note) == note_count
    assert all(amount == lines_total for amount, lines_total in per_note), per_note
    for amount, tax, credited_amount, credited_tax in per_line:
        assert 0 <= credited_amount <= amount
        assert 0 <= credited_tax <= tax


def test_partial_credit_notes_take_revenue_back_before_tax(taxed: Setup) -> None:
    invoice = taxed.issued_invoice()  # 120.00 and 6.00 tax
    for _ in range(3):
        credit(taxed, invoice, 2100)  # 20.00 and 1.00 tax each

    [row] = revenue_report(taxed, *MARCH)

    assert row["amount_cents"] == 12000 - 3 * 2000
    assert (row["invoiced_cents"], row["credited_cents"], row["lines"]) == (12000, 6000, 1)


def test_the_revenue_report_reconciles_with_the_ledger(taxed: Setup) -> None:
    ida, ben = uuid.uuid4(), uuid.uuid4()
    assessment = uuid.uuid4()
    as_of = datetime(2025, 1, 1, tzinfo=UTC)
    with taxed.container.uow() as uow:
        reference_copies.sync_treatment_type(
            uow,
            SyncTreatmentType(
                assessment, taxed.clinic_id, "ASSESS", "IMS assessment", "assessment", 60, True, as_of
            ),
        )
        for practitioner_id, name in ((ida, "Dr. Ida Needham"), (ben, "Ben Okafor")):
            reference_copies.sync_practitioner(
                uow, SyncPractitioner(practitioner_id, taxed.clinic_id, name, "PT-1", True, as_of)
            )
        uow.commit()
    with taxed.container.uow() as uow:
        prices.set_price(
            uow,
            prices.SetPrice(taxed.clinic_id, assessment, 15000, "CAD", STARTS_AT.date() - timedelta(30)),
        )
        uow.commit()

    # Three visits on one invoice, four partial credit notes and a payment between them.
    first = for_patient(taxed)
    first.completed_visit(practitioner_id=ida)
    first.completed_visit(practitioner_id=ben)
    replace(first, treatment_type_id=assessment).completed_visit(practitioner_id=ida)
    mixed = first.issued_invoice(visits=0)
    assert mixed["total_cents"] == 40950
    for cents in (1000, 2533, 777):
        credit(first, mixed, cents)
    pay(first, mixed, 20000, 20000)
    credit(first, mixed, 4321)

    # Partly credited, then voided.
    second = for_patient(taxed)
    second.completed_visit(practitioner_id=ben)
    second.completed_visit(practitioner_id=ben)
    voided = second.issued_invoice(visits=0)
    credit(second, voided, 500)
    credit(second, voided, None)

    # A visit and a no-show fee, partly credited, overpaid, and the overpayment partly refunded.
    third = for_patient(taxed)
    third.completed_visit(practitioner_id=ida)
    no_show(third, ben)
    with_fee = third.issued_invoice(visits=0)
    assert with_fee["total_cents"] == 12600 + 3150
    credit(third, with_fee, 1234)
    payment = pay(third, with_fee, 20000, 15750 - 1234)
    refund = third.post(
        f"/payments/{payment['id']}/refunds", {"amount_cents": 3000, "reason": "overpaid"}, key="refund"
    )
    assert refund.status_code == 201, refund.get_json()

    # Outside March: a visit in April, credited; and a draft that was never issued.
    fourth = for_patient(taxed)
    fourth.completed_visit(starts_at=STARTS_AT + timedelta(days=23), practitioner_id=ida)
    credit(fourth, fourth.issued_invoice(visits=0), 999)
    fifth = for_patient(taxed)
    fifth.completed_visit(practitioner_id=ben)
    draft = fifth.post("/invoices", {"clinic_id": str(taxed.clinic_id), "patient_id": str(fifth.patient_id)})
    assert draft.status_code == 201

    assert_credit_note_lines_add_up(taxed)
    for first_day, last_day in (MARCH, ("2025-04-01", "2025-04-30"), ("2025-01-01", "2025-12-31")):
        report = revenue_report(taxed, first_day, last_day)
        expected = ledger_revenue(taxed, first_day, last_day)
        assert by_key(report) == expected, (first_day, last_day)
        assert all(r["invoiced_cents"] - r["credited_cents"] == r["amount_cents"] for r in report), report
    march = revenue_report(taxed, *MARCH)
    # Ben's two visits on the voided invoice net to nothing; his visit on the first invoice remains.
    ben_ims = by_key(march)[(ben, taxed.treatment_type_id)]
    assert 0 < ben_ims < 12000 + 3000
    names = {(r["practitioner_name"], r["treatment_name"]) for r in march}
    assert ("Dr. Ida Needham", "IMS assessment") in names
    csv_response = taxed.client.get(
        f"/reports/revenue.csv?clinic_id={taxed.clinic_id}&from={MARCH[0]}&to={MARCH[1]}",
        headers=taxed.headers,
    )
    exported = list(csv.DictReader(io.StringIO(csv_response.get_data(as_text=True))))
    assert by_key(exported) == ledger_revenue(taxed, *MARCH)
