"""The clinic's GST/HST registration number: kept by billing staff, printed on invoices, receipts and
credit notes.

Each test runs on SQLite and on PostgreSQL (the ``client`` fixture is parametrized over both).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient

from billing.bootstrap import Container
from clinic_shared.testing.tokens import TestIssuer

from .test_invoicing_api import PROBLEM, Setup, new_setup, payment_body, pdf_text

NUMBER = "123456789RT0001"


@pytest.fixture
def setup(client: FlaskClient, container: Container, issuer: TestIssuer) -> Setup:
    return new_setup(client, container, issuer)


def register(setup: Setup, number: Any, role: str = "billing") -> Any:
    return setup.client.put(
        f"/clinics/{setup.clinic_id}/tax-registration",
        json={"gst_hst_number": number},
        headers=setup.issuer.headers(role),
    )


def documents(setup: Setup) -> list[str]:
    """The texts of an invoice's PDF, its receipt and a credit note on it."""
    invoice = setup.issued_invoice()
    setup.post("/payments", payment_body(setup, invoice, 2000, 2000), key=str(uuid.uuid4()))
    note = setup.post(
        f"/invoices/{invoice['id']}/credit-notes",
        {"amount_cents": 1000, "reason": "x"},
        key=str(uuid.uuid4()),
    ).get_json()
    return [
        pdf_text(setup.client.get(path, headers=setup.headers))
        for path in (
            f"/invoices/{invoice['id']}/pdf",
            f"/invoices/{invoice['id']}/receipt",
            f"/credit-notes/{note['id']}/pdf",
        )
    ]


def test_invoices_receipts_and_credit_notes_carry_the_clinics_gst_hst_number(setup: Setup) -> None:
    response = register(setup, NUMBER)

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["gst_hst_number"] == NUMBER
    for text in documents(setup):
        assert f"GST/HST Reg. No. {NUMBER}" in text


def test_without_a_registration_no_number_is_printed(setup: Setup) -> None:
    listed = setup.client.get(f"/clinics/{setup.clinic_id}/tax-registration", headers=setup.headers)

    assert listed.status_code == 200
    assert listed.get_json() == {
        "clinic_id": str(setup.clinic_id),
        "gst_hst_number": None,
        "updated_at": None,
    }
    for text in documents(setup):
        assert "GST/HST" not in text


def test_a_malformed_number_is_refused_naming_the_field(setup: Setup) -> None:
    for number in ("12345678RT0001", "123456789RP0001", "123456789RT001", "123456789", "ABCDEFGHIRT0001", ""):
        response = register(setup, number)

        assert response.status_code == 422, number
        assert response.content_type == PROBLEM
        body = response.get_json()
        assert [param["name"] for param in body["invalid-params"]] == ["gst_hst_number"], number
        assert "123456789RT0001" in body["invalid-params"][0]["reason"]
    missing = setup.client.put(
        f"/clinics/{setup.clinic_id}/tax-registration", json={}, headers=setup.headers
    ).get_json()
    assert [param["name"] for param in missing["invalid-params"]] == ["gst_hst_number"]
    stored = setup.client.get(f"/clinics/{setup.clinic_id}/tax-registration", headers=setup.headers)
    assert stored.get_json()["gst_hst_number"] is None


def test_spaces_and_hyphens_are_dropped_and_null_removes_the_number(setup: Setup) -> None:
    typed = register(setup, " 12345 6789-rt-0001 ")
    setup.container.clock.advance(seconds=1)  # type: ignore[attr-defined]
    removed = register(setup, None, role="admin")

    assert typed.get_json()["gst_hst_number"] == NUMBER
    assert removed.status_code == 200, removed.get_json()
    assert removed.get_json()["gst_hst_number"] is None
    audit = setup.client.get(f"/audit?entity_id={setup.clinic_id}", headers=setup.headers).get_json()
    assert [(e["action"], e["details"]["gst_hst_number"]) for e in audit] == [("set", NUMBER), ("set", None)]


def test_billing_staff_set_the_number_and_other_staff_read_it(setup: Setup) -> None:
    assert register(setup, NUMBER, role="front_desk").status_code == 403
    assert register(setup, NUMBER, role="practitioner").status_code == 403
    path = f"/clinics/{setup.clinic_id}/tax-registration"
    assert setup.client.get(path, headers=setup.issuer.headers("front_desk")).status_code == 200
    patient = setup.issuer.headers("patient", patient_id=setup.patient_id)
    assert setup.client.get(path, headers=patient).status_code == 403
    assert setup.client.get(path).status_code == 401


def test_the_openapi_document_describes_the_registration(setup: Setup) -> None:
    spec = json.loads(setup.client.get("/openapi.json").data)

    path = spec["paths"]["/clinics/{clinic_id}/tax-registration"]
    assert {"get", "put"} <= set(path)
    assert "422" in path["put"]["responses"]
    assert "gst_hst_number" in spec["components"]["schemas"]["TaxRegistration"]["properties"]
