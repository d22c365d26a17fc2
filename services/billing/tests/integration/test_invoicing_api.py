"""Invoices, credit notes, payments, fee waivers, idempotency and audit through the HTTP API.

Each test runs on SQLite and on PostgreSQL (the ``client`` fixture is parametrized over both).
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import exc, select, text

from billing.adapters import orm
from billing.bootstrap import Container
from billing.domain.model import Charge, ChargeStatus
from billing.service_layer import charges, coverages, prices, reference_copies
from billing.service_layer.reference_copies import (
    SyncClinic,
    SyncPatient,
    SyncPractitioner,
    SyncTreatmentType,
)
from clinic_shared.events import load_event
from clinic_shared.pagination import Page
from clinic_shared.testing.tokens import TestIssuer
from clinic_shared.tokens import Principal

PROBLEM = "application/problem+json"
# Organisation-wide billing staff (no clinic_id), as the HTTP tests' issuer.headers("billing") are.
ORGANISATION_WIDE = Principal(account_id=uuid.uuid4(), roles=frozenset({"billing"}))
STARTS_AT = datetime(2025, 3, 10, 17, 0, tzinfo=UTC)


@dataclass
class Setup:
    client: FlaskClient
    container: Container
    issuer: TestIssuer
    clinic_id: uuid.UUID
    treatment_type_id: uuid.UUID
    patient_id: uuid.UUID
    headers: dict[str, str]

    def post(self, path: str, body: dict[str, Any] | None = None, key: str | None = None) -> Any:
        headers = dict(self.headers)
        if key is not None:
            headers["Idempotency-Key"] = key
        return self.client.post(path, json=body or {}, headers=headers)

    def completed_visit(
        self, starts_at: datetime = STARTS_AT, practitioner_id: uuid.UUID | None = None
    ) -> Charge:
        facts = {
            "appointment_id": uuid.uuid4(),
            "clinic_id": self.clinic_id,
            "practitioner_id": practitioner_id or uuid.uuid4(),
            "patient_id": self.patient_id,
            "treatment_type_id": self.treatment_type_id,
            "starts_at": starts_at,
            "sequence": 0,
        }
        with self.container.uow() as uow:
            charges.plan_charge(uow, charges.PlanCharge(**facts))
            uow.commit()
        with self.container.uow() as uow:
            charge = charges.complete_charge(uow, charges.CompleteCharge(**facts | {"sequence": 2}))
            uow.commit()
            return charge

    def issued_invoice(self, visits: int = 1) -> dict[str, Any]:
        for _ in range(visits):
            self.completed_visit()
        draft = self.post("/invoices", {"clinic_id": str(self.clinic_id), "patient_id": str(self.patient_id)})
        assert draft.status_code == 201, draft.get_json()
        self.container.clock.advance(seconds=1)  # type: ignore[attr-defined]
        issued = self.post(f"/invoices/{draft.get_json()['id']}/issue")
        assert issued.status_code == 200, issued.get_json()
        return issued.get_json()

    def outbox(self, event_type: str) -> list[dict[str, Any]]:
        with self.container.engine.connect() as conn:
            rows = conn.execute(select(orm.outbox.c.body).where(orm.outbox.c.routing_key == event_type)).all()
        return [load_event(row.body).data for row in rows]


@pytest.fixture
def setup(client: FlaskClient, container: Container, issuer: TestIssuer) -> Setup:
    return new_setup(client, container, issuer)


def new_setup(client: FlaskClient, container: Container, issuer: TestIssuer) -> Setup:
    """A clinic billing knows, a priced treatment type, a fresh patient and billing staff's headers."""
    clinic_id, treatment_type_id = uuid.uuid4(), uuid.uuid4()
    with container.uow() as uow:
        reference_copies.sync_clinic(
            uow,
            SyncClinic(
                clinic_id,
                "VAN",
                "Demo IMS Clinic",
                "America/Vancouver",
                "100 Main St",
                "+16045550199",
                "front@demo.clinic",
                "CAD",
                datetime(2025, 1, 1, tzinfo=UTC),
            ),
        )
        reference_copies.sync_treatment_type(
            uow,
            SyncTreatmentType(
                treatment_type_id,
                clinic_id,
                "IMS30",
                "IMS session, 30 min",
                "treatment",
                30,
                True,
                datetime(2025, 1, 1, tzinfo=UTC),
            ),
        )
        uow.commit()
    patient_id = uuid.uuid4()
    with container.uow() as uow:
        prices.set_price(
            uow,
            prices.SetPrice(clinic_id, treatment_type_id, 12000, "CAD", STARTS_AT.date() - timedelta(30)),
        )
        reference_copies.sync_patient(
            uow,
            SyncPatient(
                patient_id, "Ana", "Li", "ana@example.test", None, "en", datetime(2025, 1, 1, tzinfo=UTC)
            ),
        )
        uow.commit()
    return Setup(
        client, container, issuer, clinic_id, treatment_type_id, patient_id, issuer.headers("billing")
    )


# --- invoices ---


def test_a_draft_gathers_billable_charges_and_issuing_numbers_it(setup: Setup) -> None:
    invoice = setup.issued_invoice(visits=2)

    assert invoice["status"] == "issued"
    assert invoice["number"] == "VAN-2025-000001"
    assert [line["amount_cents"] for line in invoice["lines"]] == [12000, 12000]
    assert [line["description"] for line in invoice["lines"]] == ["IMS session, 30 min"] * 2
    assert (invoice["total_cents"], invoice["balance_cents"], invoice["tax_cents"]) == (24000, 24000, 0)
    assert invoice["due_date"] == "2025-04-02"
    assert setup.issued_invoice()["number"] == "VAN-2025-000002"
    [event] = [
        e for e in setup.outbox("billing.invoice.issued") if e["invoice_id"] == uuid.UUID(invoice["id"])
    ]
    assert event["number"] == "VAN-2025-000001"
    assert event["total_cents"] == 24000


def test_a_charge_is_invoiced_once_and_an_empty_draft_is_refused(setup: Setup) -> None:
    setup.issued_invoice()

    again = setup.post("/invoices", {"clinic_id": str(setup.clinic_id), "patient_id": str(setup.patient_id)})

    assert again.status_code == 422
    assert again.content_type == PROBLEM
    assert again.get_json()["invalid-params"][0]["name"] == "patient_id"


def test_an_issued_invoice_cannot_be_issued_again(setup: Setup) -> None:
    invoice = setup.issued_invoice()

    response = setup.post(f"/invoices/{invoice['id']}/issue")

    assert response.status_code == 409
    assert setup.client.get(f"/invoices/{invoice['id']}", headers=setup.headers).get_json() == invoice


def test_patients_and_front_desk_cannot_issue(setup: Setup) -> None:
    setup.completed_visit()
    body = {"clinic_id": str(setup.clinic_id), "patient_id": str(setup.patient_id)}
    for headers in (
        setup.issuer.headers("patient", patient_id=setup.patient_id),
        setup.issuer.headers("front_desk"),
    ):
        assert setup.client.post("/invoices", json=body, headers=headers).status_code == 403


def test_a_patient_sees_only_their_own_invoices(setup: Setup) -> None:
    invoice = setup.issued_invoice()
    own = setup.issuer.headers("patient", patient_id=setup.patient_id)
    other = setup.issuer.headers("patient", patient_id=uuid.uuid4())

    assert setup.client.get(f"/invoices/{invoice['id']}", headers=own).status_code == 200
    assert setup.client.get(f"/invoices/{invoice['id']}", headers=other).status_code == 404
    assert setup.client.get("/invoices", headers=other).get_json() == []


def test_unknown_fields_are_refused(setup: Setup) -> None:
    body = {"clinic_id": str(setup.clinic_id), "patient_id": str(setup.patient_id), "total_cents": 1}
    response = setup.post("/invoices", body)
    assert response.status_code == 422
    assert response.get_json()["invalid-params"][0]["name"] == "total_cents"


# --- credit notes ---


def test_a_partial_credit_note_reduces_the_total_and_a_void_cancels(setup: Setup) -> None:
    invoice = setup.issued_invoice()
    url = f"/invoices/{invoice['id']}/credit-notes"

    partial = setup.post(url, {"amount_cents": 2000, "reason": "goodwill"}, key="cn-1")
    void = setup.post(url, {"void": True, "reason": "billed in error"}, key="cn-2")

    assert partial.status_code == 201, partial.get_json()
    assert partial.get_json()["number"] == "VAN-CN-2025-000001"
    assert void.get_json()["amount_cents"] == 10000
    assert void.get_json()["voids_invoice"] is True
    after = setup.client.get(f"/invoices/{invoice['id']}", headers=setup.headers).get_json()
    assert (after["status"], after["total_cents"], after["credited_cents"]) == ("cancelled", 0, 12000)
    events = [
        e for e in setup.outbox("billing.credit_note.issued") if e["invoice_id"] == uuid.UUID(invoice["id"])
    ]
    assert sorted(e["amount_cents"] for e in events) == [2000, 10000]


def test_a_credit_beyond_the_balance_is_refused(setup: Setup) -> None:
    invoice = setup.issued_invoice()
    response = setup.post(
        f"/invoices/{invoice['id']}/credit-notes", {"amount_cents": 12001, "reason": "x"}, key="cn-big"
    )
    assert response.status_code == 422
    assert response.get_json()["invalid-params"][0]["name"] == "amount_cents"


# --- payments and idempotency ---


def payment_body(setup: Setup, invoice: dict[str, Any], amount: int, allocated: int) -> dict[str, Any]:
    return {
        "clinic_id": str(setup.clinic_id),
        "patient_id": str(setup.patient_id),
        "amount_cents": amount,
        "currency": "CAD",
        "method": "card",
        "allocations": [{"invoice_id": invoice["id"], "amount_cents": allocated}],
    }


def test_an_overpayment_balances_the_invoice_and_leaves_patient_credit(setup: Setup) -> None:
    invoice = setup.issued_invoice()

    response = setup.post("/payments", payment_body(setup, invoice, 15000, 12000), key=str(uuid.uuid4()))

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["unallocated_cents"] == 3000
    after = setup.client.get(f"/invoices/{invoice['id']}", headers=setup.headers).get_json()
    assert (after["status"], after["balance_cents"], after["paid_cents"]) == ("balanced", 0, 12000)
    credit = setup.client.get(
        f"/patients/{setup.patient_id}/credit?clinic_id={setup.clinic_id}", headers=setup.headers
    ).get_json()
    assert credit["credit_cents"] == 3000
    [event] = [
        e
        for e in setup.outbox("billing.payment.received")
        if e["payment_id"] == uuid.UUID(response.get_json()["id"])
    ]
    assert event["allocations"] == [{"invoice_id": uuid.UUID(invoice["id"]), "amount_cents": 12000}]


def test_a_refund_references_the_original_payment_and_uses_up_the_credit(setup: Setup) -> None:
    invoice = setup.issued_invoice()
    payment = setup.post("/payments", payment_body(setup, invoice, 15000, 12000), key="pay").get_json()

    refund = setup.post(
        f"/payments/{payment['id']}/refunds", {"amount_cents": 3000, "reason": "overpaid"}, key="r"
    )
    too_much = setup.post(
        f"/payments/{payment['id']}/refunds", {"amount_cents": 1, "reason": "again"}, key="r2"
    )

    assert refund.status_code == 201
    assert refund.get_json()["refund_of"] == payment["id"]
    assert too_much.status_code == 422
    credit = setup.client.get(
        f"/patients/{setup.patient_id}/credit?clinic_id={setup.clinic_id}", headers=setup.headers
    ).get_json()
    assert credit["credit_cents"] == 0


def test_a_replayed_payment_returns_the_same_response_and_records_one_payment(setup: Setup) -> None:
    invoice = setup.issued_invoice()
    body = payment_body(setup, invoice, 5000, 5000)

    first = setup.post("/payments", body, key="same-key")
    second = setup.post("/payments", body, key="same-key")

    assert (first.status_code, second.status_code) == (201, 201)
    assert first.data == second.data
    assert (first.headers["Idempotent-Replayed"], second.headers["Idempotent-Replayed"]) == ("false", "true")
    payments = setup.client.get(f"/payments?patient_id={setup.patient_id}", headers=setup.headers).get_json()
    assert len(payments) == 1
    assert (
        setup.client.get(f"/invoices/{invoice['id']}", headers=setup.headers).get_json()["paid_cents"] == 5000
    )


def test_the_same_key_with_another_body_is_refused_naming_the_header(setup: Setup) -> None:
    invoice = setup.issued_invoice()
    setup.post("/payments", payment_body(setup, invoice, 5000, 5000), key="k")

    response = setup.post("/payments", payment_body(setup, invoice, 6000, 6000), key="k")

    assert response.status_code == 422
    assert response.content_type == PROBLEM
    assert response.get_json()["invalid-params"][0]["name"] == "Idempotency-Key"


def test_a_payment_without_an_idempotency_key_is_refused_naming_the_header(setup: Setup) -> None:
    invoice = setup.issued_invoice()

    response = setup.post("/payments", payment_body(setup, invoice, 5000, 5000))

    assert response.status_code == 422
    assert {p["name"] for p in response.get_json()["invalid-params"]} == {"Idempotency-Key"}


def test_a_failed_payment_leaves_its_key_free_for_a_corrected_retry(setup: Setup) -> None:
    invoice = setup.issued_invoice()

    failed = setup.post("/payments", payment_body(setup, invoice, 20000, 20000), key="retry")
    fixed = setup.post("/payments", payment_body(setup, invoice, 12000, 12000), key="retry")

    assert failed.status_code == 422
    assert fixed.status_code == 201


# --- fees, policy, audit ---


def test_staff_waive_a_fee_with_a_reason_and_the_waiver_is_audited(setup: Setup) -> None:
    policy = {"currency": "CAD", "no_show_fee_mode": "fixed", "no_show_fee_value": 5000}
    assert (
        setup.client.put(
            f"/clinics/{setup.clinic_id}/billing-policy", json=policy, headers=setup.headers
        ).status_code
        == 200
    )
    facts = {
        "appointment_id": uuid.uuid4(),
        "clinic_id": setup.clinic_id,
        "practitioner_id": uuid.uuid4(),
        "patient_id": setup.patient_id,
        "treatment_type_id": setup.treatment_type_id,
        "starts_at": STARTS_AT,
        "sequence": 1,
    }
    with setup.container.uow() as uow:
        charges.record_no_show(uow, charges.RecordNoShow(**facts, marked_at=STARTS_AT))
        uow.commit()
    fees = setup.client.get(
        f"/charges?appointment_id={facts['appointment_id']}&status=billable", headers=setup.headers
    ).get_json()
    [fee] = fees
    assert (fee["kind"], fee["amount_cents"]) == ("no_show_fee", 5000)

    setup.container.clock.advance(minutes=5)  # type: ignore[attr-defined]
    no_reason = setup.post(f"/charges/{fee['id']}/waive", {"reason": ""})
    waived = setup.post(f"/charges/{fee['id']}/waive", {"reason": "hospitalised"})

    assert no_reason.status_code == 422
    assert waived.status_code == 200
    assert (waived.get_json()["status"], waived.get_json()["waived_reason"]) == ("waived", "hospitalised")
    audit = setup.client.get(f"/audit?entity_id={fee['id']}", headers=setup.headers).get_json()
    assert [entry["action"] for entry in audit] == ["no_show_fee_charged", "waived"]
    assert audit[1]["actor_id"] is not None
    assert audit[0]["actor_id"] is None


def test_every_invoice_and_payment_change_is_audited_with_its_actor(setup: Setup) -> None:
    invoice = setup.issued_invoice()
    setup.post("/payments", payment_body(setup, invoice, 12000, 12000), key="audit-pay")

    entries = setup.client.get(f"/audit?entity_id={invoice['id']}", headers=setup.headers).get_json()

    assert [entry["action"] for entry in entries] == ["drafted", "issued"]
    assert all(entry["actor_id"] for entry in entries)
    assert entries[1]["details"] == {"number": "VAN-2025-000001"}


def test_the_openapi_document_lists_the_money_endpoints_and_the_idempotency_header(setup: Setup) -> None:
    spec = json.loads(setup.client.get("/openapi.json").data)
    post = spec["paths"]["/payments"]["post"]
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in post["parameters"])
    for path in (
        "/invoices",
        "/invoices/{invoice_id}/issue",
        "/invoices/{invoice_id}/credit-notes",
        "/audit",
    ):
        assert path in spec["paths"]


# --- third-party payers ---


def add_coverage(setup: Setup, **facts: Any) -> Any:
    return setup.client.post(
        f"/patients/{setup.patient_id}/coverages",
        json={"clinic_id": str(setup.clinic_id)} | facts,
        headers=setup.headers,
    )


def test_a_coverage_needs_a_patient_and_a_clinic_billing_knows(setup: Setup) -> None:
    stranger = setup.client.post(
        f"/patients/{uuid.uuid4()}/coverages",
        json={"clinic_id": str(setup.clinic_id), "payer_kind": "extended_health", "coverage_bp": 8000},
        headers=setup.headers,
    )
    assert stranger.status_code == 404
    assert stranger.get_json()["invalid-params"][0]["name"] == "patient_id"
    nowhere = add_coverage(setup, clinic_id=str(uuid.uuid4()), payer_kind="extended_health", coverage_bp=8000)
    assert nowhere.status_code == 404
    assert nowhere.get_json()["invalid-params"][0]["name"] == "clinic_id"
    with setup.container.uow() as uow:
        assert (
            coverages.list_coverages(uow, ORGANISATION_WIDE, setup.patient_id, Page(0, 10))[1] == 0
        )  # nothing kept


def test_an_icbc_claim_splits_each_visit_into_an_insurer_invoice_and_the_patients_excess(
    setup: Setup,
) -> None:
    claim = add_coverage(
        setup, payer_kind="icbc", claim_number="CL-778", date_of_injury="2025-02-01", insurer_fee_cents=9000
    )
    assert claim.status_code == 201, claim.get_json()
    setup.completed_visit()
    setup.completed_visit(STARTS_AT + timedelta(days=7))

    response = setup.post(
        "/invoices/split",
        {
            "clinic_id": str(setup.clinic_id),
            "patient_id": str(setup.patient_id),
            "coverage_id": claim.get_json()["id"],
        },
    )

    assert response.status_code == 201, response.get_json()
    insurer, patient = response.get_json()
    assert (insurer["payer_kind"], insurer["subtotal_cents"]) == ("icbc", 18000)
    assert (patient["payer_kind"], patient["subtotal_cents"]) == ("patient", 6000)
    assert [line["amount_cents"] for line in patient["lines"]] == [3000, 3000]
    issued = setup.post(f"/invoices/{insurer['id']}/issue").get_json()
    assert issued["number"] == "VAN-2025-000001"


def test_an_extended_health_plan_stops_paying_at_its_annual_maximum(setup: Setup) -> None:
    plan = add_coverage(
        setup, payer_kind="extended_health", policy_number="GRP-1", coverage_bp=8000, annual_max_cents=15000
    ).get_json()
    setup.completed_visit()
    setup.completed_visit(STARTS_AT + timedelta(days=7))
    body = {"clinic_id": str(setup.clinic_id), "patient_id": str(setup.patient_id), "coverage_id": plan["id"]}

    insurer, patient = setup.post("/invoices/split", body).get_json()

    assert [line["amount_cents"] for line in insurer["lines"]] == [9600, 5400]
    assert [line["amount_cents"] for line in patient["lines"]] == [2400, 6600]
    setup.completed_visit(STARTS_AT + timedelta(days=14))
    [patient_only] = setup.post("/invoices/split", body).get_json()
    assert (patient_only["payer_kind"], patient_only["subtotal_cents"]) == ("patient", 12000)


def test_a_worksafebc_claim_without_the_fields_it_requires_is_refused(setup: Setup) -> None:
    response = add_coverage(setup, payer_kind="worksafebc", claim_number="W-1", date_of_injury="2025-02-01")

    assert response.status_code == 422
    assert response.get_json()["invalid-params"][0]["name"] == "employer_name"


# --- documents ---


def pdf_text(response: Any) -> str:
    assert response.status_code == 200, response.data[:300]
    assert response.mimetype == "application/pdf"
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)


def test_the_invoice_and_receipt_pdfs_carry_what_insurers_ask_for(setup: Setup) -> None:
    practitioner_id = uuid.uuid4()
    as_of = datetime(2025, 1, 1, tzinfo=UTC)
    with setup.container.uow() as uow:
        reference_copies.sync_practitioner(
            uow,
            SyncPractitioner(practitioner_id, setup.clinic_id, "Dr. Ida Needham", "PT-1001", True, as_of),
        )
        reference_copies.sync_patient(
            uow,
            SyncPatient(setup.patient_id, "Zoë", "Łukasiewicz", "z@example.com", None, "fr", as_of),
        )
        uow.commit()
    setup.completed_visit(practitioner_id=practitioner_id)
    invoice = setup.issued_invoice(visits=0)
    setup.post("/payments", payment_body(setup, invoice, 5000, 5000), key="pdf-pay")

    text = pdf_text(setup.client.get(f"/invoices/{invoice['id']}/pdf", headers=setup.headers))
    receipt = pdf_text(setup.client.get(f"/invoices/{invoice['id']}/receipt", headers=setup.headers))

    for expected in (
        "Demo IMS Clinic",
        "100 Main St",
        "Invoice VAN-2025-000001",
        "Zoë Łukasiewicz",
        "Dr. Ida Needham",
        "PT-1001",
        "2025-03-10",
        "IMS session, 30 min",
        "120.00 CAD",
        "50.00 CAD",
        "70.00 CAD",
        "card",
    ):
        assert expected in text, expected
    assert "Official receipt VAN-2025-000001" in receipt
    assert "50.00 CAD" in receipt


def test_a_draft_has_no_pdf_and_an_unpaid_invoice_no_receipt(setup: Setup) -> None:
    setup.completed_visit()
    draft = setup.post("/invoices", {"clinic_id": str(setup.clinic_id), "patient_id": str(setup.patient_id)})
    assert (
        setup.client.get(f"/invoices/{draft.get_json()['id']}/pdf", headers=setup.headers).status_code == 404
    )
    setup.post(f"/invoices/{draft.get_json()['id']}/issue")
    assert (
        setup.client.get(f"/invoices/{draft.get_json()['id']}/receipt", headers=setup.headers).status_code
        == 422
    )


# --- reports ---


def test_reports_age_balances_total_payments_and_revenue_with_csv_exports(setup: Setup) -> None:
    old = setup.issued_invoice()
    setup.container.clock.advance(days=40)  # type: ignore[attr-defined]
    recent = setup.issued_invoice()
    setup.post("/payments", payment_body(setup, recent, 2000, 2000), key="report-pay")
    clinic = f"clinic_id={setup.clinic_id}"

    aging = setup.client.get(f"/reports/outstanding?{clinic}&as_of=2025-06-12", headers=setup.headers)
    payments = setup.client.get(
        f"/reports/payments?{clinic}&from=2025-04-01&to=2025-04-30", headers=setup.headers
    )
    revenue = setup.client.get(
        f"/reports/revenue?{clinic}&from=2025-03-01&to=2025-03-31", headers=setup.headers
    )
    aging_csv = setup.client.get(f"/reports/outstanding.csv?{clinic}&as_of=2025-06-12", headers=setup.headers)

    assert old["issued_at"][:10] == "2025-03-03"
    [row] = aging.get_json()
    assert (row["days_61_90_cents"], row["days_over_90_cents"], row["total_cents"]) == (10000, 12000, 22000)
    assert json.loads(aging.headers["X-Pagination"])["total"] == 1
    [day] = payments.get_json()
    assert (day["day"], day["method"], day["count"], day["net_cents"]) == ("2025-04-12", "card", 1, 2000)
    # Each visit had its own practitioner: one row each.
    rows = [(r["treatment_name"], r["lines"], r["amount_cents"]) for r in revenue.get_json()]
    assert rows == [("IMS session, 30 min", 1, 12000)] * 2
    assert aging_csv.mimetype == "text/csv"
    header, values = list(csv.reader(io.StringIO(aging_csv.get_data(as_text=True))))
    assert header[:3] == ["patient_id", "payer_kind", "days_0_30_cents"]
    assert values[-1] == "22000"
    assert (
        setup.client.get(
            f"/reports/revenue?{clinic}&from=2025-03-01&to=2025-03-31",
            headers=setup.issuer.headers("front_desk"),
        ).status_code
        == 403
    )


# --- history cannot be rewritten ---


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_entries SET action = 'nothing happened'",
        "DELETE FROM audit_entries",
        "UPDATE invoice_lines SET amount_cents = 1",
        "DELETE FROM invoice_lines",
        "UPDATE invoices SET number = 'VAN-2025-999999'",
        "DELETE FROM invoices",
    ],
)
def test_the_database_refuses_to_rewrite_audit_entries_or_issued_invoices(
    setup: Setup, statement: str
) -> None:
    invoice = setup.issued_invoice()
    table = statement.split()[2] if statement.startswith("DELETE") else statement.split()[1]
    column = "invoice_id" if table == "invoice_lines" else "id" if table == "invoices" else "entity_id"

    with pytest.raises(exc.DBAPIError), setup.container.engine.begin() as conn:
        conn.execute(text(f"{statement} WHERE {column} = :id"), {"id": _db_id(setup, invoice["id"])})


def _db_id(setup: Setup, value: str) -> Any:
    # SQLAlchemy stores UUIDs as 32 hex digits on SQLite and as native uuid on PostgreSQL.
    return uuid.UUID(value).hex if setup.container.engine.dialect.name == "sqlite" else uuid.UUID(value)


# --- packages ---


def test_selling_a_package_drafts_its_invoice_and_sessions_draw_it_down(setup: Setup) -> None:
    body = {
        "clinic_id": str(setup.clinic_id),
        "patient_id": str(setup.patient_id),
        "treatment_type_id": str(setup.treatment_type_id),
        "sessions": 6,
        "amount_cents": 60000,
        "currency": "CAD",
    }

    sold = setup.post("/packages", body)

    assert sold.status_code == 201, sold.get_json()
    draft = setup.client.get(f"/invoices/{sold.get_json()['invoice_id']}", headers=setup.headers).get_json()
    assert (draft["status"], draft["total_cents"]) == ("draft", 60000)
    assert draft["lines"][0]["description"] == "IMS session, 30 min package, 6 sessions"
    charge = setup.completed_visit()
    assert (charge.status, charge.package_id) == (ChargeStatus.PREPAID, uuid.UUID(sold.get_json()["id"]))
    [listed] = setup.client.get(f"/patients/{setup.patient_id}/packages", headers=setup.headers).get_json()
    assert listed["sessions_left"] == 5
    assert (listed["name"], listed["expires_on"]) == ("IMS session, 30 min package, 6 sessions", None)


def test_a_named_package_is_used_until_its_last_day_and_not_after(setup: Setup) -> None:
    """Sold with a name and a last day: its invoice line takes the name; a visit on its last day (the
    clinic's calendar) draws it down, a visit the day after is billed as usual."""
    last_day = STARTS_AT.date()
    body = {
        "clinic_id": str(setup.clinic_id),
        "patient_id": str(setup.patient_id),
        "treatment_type_id": str(setup.treatment_type_id),
        "sessions": 6,
        "amount_cents": 60000,
        "currency": "CAD",
        "name": "  IMS 6-pack ",
        "expires_on": last_day.isoformat(),
    }
    setup.container.clock.set(STARTS_AT - timedelta(days=30))  # type: ignore[attr-defined]

    sold = setup.post("/packages", body)

    assert sold.status_code == 201, sold.get_json()
    assert (sold.get_json()["name"], sold.get_json()["expires_on"]) == ("IMS 6-pack", last_day.isoformat())
    draft = setup.client.get(f"/invoices/{sold.get_json()['invoice_id']}", headers=setup.headers).get_json()
    assert draft["lines"][0]["description"] == "IMS 6-pack"
    on_last_day = setup.completed_visit(STARTS_AT)
    day_after = setup.completed_visit(STARTS_AT + timedelta(days=1))
    assert (on_last_day.status, on_last_day.package_id) == (
        ChargeStatus.PREPAID,
        uuid.UUID(sold.get_json()["id"]),
    )
    assert (day_after.status, day_after.package_id) == (ChargeStatus.BILLABLE, None)


@pytest.mark.parametrize(
    ("change", "field"),
    [({"name": "   "}, "name"), ({"name": "x" * 121}, "name"), ({"expires_on": "2025-02-08"}, "expires_on")],
)
def test_a_package_without_a_name_or_already_expired_is_refused_naming_the_field(
    setup: Setup, change: dict[str, Any], field: str
) -> None:
    setup.container.clock.set(datetime(2025, 2, 10, 17, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    body = {
        "clinic_id": str(setup.clinic_id),
        "patient_id": str(setup.patient_id),
        "treatment_type_id": str(setup.treatment_type_id),
        "sessions": 6,
        "amount_cents": 60000,
        "currency": "CAD",
    }

    refused = setup.post("/packages", body | change)

    assert refused.status_code == 422, refused.get_json()
    assert field in json.dumps(refused.get_json())
    listed = setup.client.get(f"/patients/{setup.patient_id}/packages", headers=setup.headers)
    assert listed.status_code == 404 or listed.get_json() == [], "nothing was sold"


def test_a_discarded_draft_releases_its_charges_and_an_issued_invoice_cannot_be_discarded(
    setup: Setup,
) -> None:
    setup.completed_visit()
    body = {"clinic_id": str(setup.clinic_id), "patient_id": str(setup.patient_id)}
    draft = setup.post("/invoices", body).get_json()

    discarded = setup.client.delete(f"/invoices/{draft['id']}", headers=setup.headers)
    again = setup.post("/invoices", body)

    assert discarded.status_code == 204
    assert setup.client.get(f"/invoices/{draft['id']}", headers=setup.headers).status_code == 404
    assert again.status_code == 201
    assert again.get_json()["lines"][0]["charge_id"] == draft["lines"][0]["charge_id"]
    setup.post(f"/invoices/{again.get_json()['id']}/issue")
    assert (
        setup.client.delete(f"/invoices/{again.get_json()['id']}", headers=setup.headers).status_code == 409
    )
