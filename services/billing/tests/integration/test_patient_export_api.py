"""A patient downloads everything billing holds about them (PIPA BC / PIPEDA): ``GET /patients/{id}/export``.

The patient themselves, or an admin who may see the patient (organisation-wide: every clinic's records; a
clinic's admin: only that clinic's, and only of a patient with a charge or an invoice there). Anyone else is
answered 404 "patient not found".

Each test runs on SQLite and on PostgreSQL (the ``client`` fixture is parametrized over both).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient

from billing.bootstrap import Container
from clinic_shared.testing.tokens import TestIssuer

from .test_invoicing_api import PROBLEM, Setup, new_setup

TOP_LEVEL = {
    "patient_id",
    "patient",
    "charges",
    "invoices",
    "credit_notes",
    "payments",
    "credit_applications",
    "credit_balances",
    "coverages",
    "packages",
}


@dataclass
class Records:
    """Clinic 1's patient with a visit, an issued invoice, a payment (part credit), a refund, a credit
    note, a coverage and a package; another patient of clinic 1 with an invoice and payment of their own;
    and the same patient invoiced at clinic 2 too."""

    one: Setup
    two: Setup
    other_patient: uuid.UUID
    ids: dict[str, Any]

    def export(self, headers: dict[str, str], patient_id: uuid.UUID | None = None) -> Any:
        return self.one.client.get(f"/patients/{patient_id or self.one.patient_id}/export", headers=headers)


def _pay(setup: Setup, patient_id: uuid.UUID, invoice_id: str, cents: int, allocated: int) -> dict[str, Any]:
    paid = setup.post(
        "/payments",
        {
            "clinic_id": str(setup.clinic_id),
            "patient_id": str(patient_id),
            "amount_cents": cents,
            "currency": "CAD",
            "method": "card",
            "allocations": [{"invoice_id": invoice_id, "amount_cents": allocated}],
        },
        key=str(uuid.uuid4()),
    )
    assert paid.status_code == 201, paid.get_json()
    return paid.get_json()


@pytest.fixture
def records(client: FlaskClient, container: Container, issuer: TestIssuer) -> Records:
    one = new_setup(client, container, issuer)
    invoice = one.issued_invoice()
    payment = _pay(one, one.patient_id, invoice["id"], 8000, 5000)  # 30.00 left over as credit
    refund = one.post(
        f"/payments/{payment['id']}/refunds",
        {"amount_cents": 1000, "reason": "overpaid"},
        key=str(uuid.uuid4()),
    )
    assert refund.status_code == 201, refund.get_json()
    note = one.post(
        f"/invoices/{invoice['id']}/credit-notes",
        {"amount_cents": 1000, "reason": "goodwill"},
        key=str(uuid.uuid4()),
    )
    assert note.status_code == 201, note.get_json()
    coverage = one.post(
        f"/patients/{one.patient_id}/coverages",
        {
            "clinic_id": str(one.clinic_id),
            "payer_kind": "extended_health",
            "policy_number": "GRP-1",
            "coverage_bp": 8000,
        },
    )
    assert coverage.status_code == 201, coverage.get_json()
    package = one.post(
        "/packages",
        {
            "clinic_id": str(one.clinic_id),
            "patient_id": str(one.patient_id),
            "treatment_type_id": str(one.treatment_type_id),
            "sessions": 5,
            "amount_cents": 50000,
            "currency": "CAD",
        },
    )
    assert package.status_code == 201, package.get_json()

    # Another patient of clinic 1, with records of their own.
    other = Setup(client, container, issuer, one.clinic_id, one.treatment_type_id, uuid.uuid4(), one.headers)
    other_invoice = other.issued_invoice()
    other_payment = _pay(other, other.patient_id, other_invoice["id"], 3000, 3000)

    # The same patient is invoiced at clinic 2 as well.
    two = new_setup(client, container, issuer)
    two.patient_id = one.patient_id
    two_invoice = two.issued_invoice()

    ids = {
        "invoice": invoice["id"],
        "payment": payment["id"],
        "refund": refund.get_json()["id"],
        "note": note.get_json()["id"],
        "coverage": coverage.get_json()["id"],
        "package": package.get_json()["id"],
        "other_invoice": other_invoice["id"],
        "other_payment": other_payment["id"],
        "two_invoice": two_invoice["id"],
    }
    return Records(one, two, other.patient_id, ids)


def not_found(response: Any) -> None:
    assert response.status_code == 404, (response.status_code, response.get_data(as_text=True)[:300])
    assert response.content_type == PROBLEM
    assert response.get_json()["detail"] == "patient not found"


def test_a_patient_downloads_everything_billing_holds_about_them(records: Records) -> None:
    one, ids = records.one, records.ids
    patient = one.issuer.headers("patient", patient_id=one.patient_id)

    response = records.export(patient)

    assert response.status_code == 200, response.get_json()
    export = response.get_json()
    assert set(export) == TOP_LEVEL
    assert export["patient_id"] == str(one.patient_id)
    assert export["patient"]["id"] == str(one.patient_id)
    assert (export["patient"]["first_name"], export["patient"]["email"]) == ("Ana", "ana@example.test")
    # Every record is the patient's; clinic 2's invoice is theirs too.
    for key in ("charges", "invoices", "credit_notes", "payments", "coverages", "packages"):
        assert {item["patient_id"] for item in export[key]} == {str(one.patient_id)}, key
    assert {i["id"] for i in export["invoices"]} == {ids["invoice"], ids["two_invoice"]}
    assert {i["clinic_id"] for i in export["invoices"]} == {str(one.clinic_id), str(records.two.clinic_id)}
    invoice = next(i for i in export["invoices"] if i["id"] == ids["invoice"])
    assert invoice["status"] == "issued"
    assert (invoice["currency"], invoice["subtotal_cents"], invoice["paid_cents"]) == ("CAD", 12000, 5000)
    assert invoice["credited_cents"] == 1000
    assert invoice["total_cents"] == 11000
    assert [line["amount_cents"] for line in invoice["lines"]] == [12000]
    assert len(export["charges"]) == 2
    assert {c["invoice_id"] for c in export["charges"]} == {ids["invoice"], ids["two_invoice"]}
    assert [n["id"] for n in export["credit_notes"]] == [ids["note"]]
    payments = {p["id"]: p for p in export["payments"]}
    assert set(payments) == {ids["payment"], ids["refund"]}
    assert payments[ids["payment"]]["allocations"] == [{"invoice_id": ids["invoice"], "amount_cents": 5000}]
    assert payments[ids["refund"]]["refund_of"] == ids["payment"]
    assert export["credit_balances"] == [
        {
            "patient_id": str(one.patient_id),
            "clinic_id": str(one.clinic_id),
            "credit_cents": 2000,
            "currency": "CAD",
        }
    ]
    assert [c["id"] for c in export["coverages"]] == [ids["coverage"]]
    assert [p["id"] for p in export["packages"]] == [ids["package"]]
    # None of another patient's records.
    dumped = response.get_data(as_text=True)
    for foreign in (str(records.other_patient), ids["other_invoice"], ids["other_payment"]):
        assert foreign not in dumped


def test_another_patient_and_staff_who_are_not_admins_get_not_found(records: Records) -> None:
    issuer, one = records.one.issuer, records.one

    not_found(records.export(issuer.headers("patient", patient_id=records.other_patient)))
    not_found(records.export(issuer.headers("patient", patient_id=records.other_patient), uuid.uuid4()))
    not_found(records.export(issuer.headers("front_desk", clinic_id=one.clinic_id)))
    not_found(records.export(issuer.headers("billing", clinic_id=one.clinic_id)))
    not_found(records.export(issuer.headers("billing")))  # organisation-wide, but not an admin
    not_found(records.export(issuer.headers("practitioner", clinic_id=one.clinic_id)))


def test_another_clinics_admin_gets_not_found(records: Records) -> None:
    issuer = records.one.issuer
    third = new_setup(records.one.client, records.one.container, issuer)

    not_found(records.export(issuer.headers("admin", clinic_id=third.clinic_id)))
    # Clinic 2's admin reaches the patient (invoiced there) but not a patient only clinic 1 knows.
    not_found(records.export(issuer.headers("admin", clinic_id=records.two.clinic_id), records.other_patient))


def test_an_organisation_wide_admin_exports_every_clinics_records(records: Records) -> None:
    admin = records.one.issuer.headers("admin")

    response = records.export(admin)

    assert response.status_code == 200, response.get_json()
    export = response.get_json()
    assert {i["id"] for i in export["invoices"]} == {records.ids["invoice"], records.ids["two_invoice"]}
    assert {p["id"] for p in export["payments"]} == {records.ids["payment"], records.ids["refund"]}
    assert str(records.other_patient) not in response.get_data(as_text=True)
    # A patient billing holds nothing about is not found, even to them.
    not_found(records.export(admin, uuid.uuid4()))


def test_a_clinics_admin_exports_only_their_clinics_records(records: Records) -> None:
    admin = records.one.issuer.headers("admin", clinic_id=records.two.clinic_id)

    response = records.export(admin)

    assert response.status_code == 200, response.get_json()
    export = response.get_json()
    assert [i["id"] for i in export["invoices"]] == [records.ids["two_invoice"]]
    assert {c["clinic_id"] for c in export["charges"]} == {str(records.two.clinic_id)}
    for key in ("credit_notes", "payments", "credit_balances", "coverages", "packages"):
        assert export[key] == [], key
    assert export["patient"]["id"] == str(records.one.patient_id)


def test_a_patient_export_leaves_drafts_out(records: Records) -> None:
    one = records.one
    packages = one.client.get(f"/patients/{one.patient_id}/packages", headers=one.headers).get_json()
    draft_id = packages[0]["invoice_id"]  # selling the package drafted an invoice for its price
    assert one.client.get(f"/invoices/{draft_id}", headers=one.headers).get_json()["status"] == "draft"

    export = records.export(one.issuer.headers("patient", patient_id=one.patient_id)).get_json()

    assert draft_id not in {i["id"] for i in export["invoices"]}
    assert all(i["status"] != "draft" for i in export["invoices"])
    assert [p["invoice_id"] for p in export["packages"]] == [draft_id]
