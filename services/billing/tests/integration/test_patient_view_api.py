"""What a signed-in patient reads of their own billing: issued invoices (never drafts), the credit notes
correcting them, and their credit. The web portal's invoices page is built on these.

Each test runs on SQLite and on PostgreSQL (the ``client`` fixture is parametrized over both).
"""

from __future__ import annotations

import json
import uuid

import pytest
from flask.testing import FlaskClient

from billing.bootstrap import Container
from clinic_shared.testing.tokens import TestIssuer

from .test_invoicing_api import Setup, new_setup


@pytest.fixture
def setup(client: FlaskClient, container: Container, issuer: TestIssuer) -> Setup:
    return new_setup(client, container, issuer)


def as_patient(setup: Setup, patient_id: uuid.UUID | None = None) -> dict[str, str]:
    return setup.issuer.headers("patient", patient_id=patient_id or setup.patient_id)


def test_a_patient_never_sees_a_draft_in_the_list_or_by_id(setup: Setup) -> None:
    issued = setup.issued_invoice()
    setup.completed_visit()
    draft = setup.post("/invoices", {"clinic_id": str(setup.clinic_id), "patient_id": str(setup.patient_id)})
    assert draft.status_code == 201
    draft_id = draft.get_json()["id"]
    patient = as_patient(setup)

    listed = setup.client.get("/invoices", headers=patient)
    assert [i["id"] for i in listed.get_json()] == [issued["id"]]
    assert json.loads(listed.headers["X-Pagination"])["total"] == 1
    assert setup.client.get(f"/invoices/{draft_id}", headers=patient).status_code == 404
    assert setup.client.get("/invoices?status=draft", headers=patient).get_json() == []
    # Staff still see both.
    assert (
        len(setup.client.get(f"/invoices?patient_id={setup.patient_id}", headers=setup.headers).get_json())
        == 2
    )
    assert setup.client.get(f"/invoices/{draft_id}", headers=setup.headers).status_code == 200


def test_a_patient_reads_the_credit_notes_on_their_invoice_but_not_anothers(setup: Setup) -> None:
    invoice = setup.issued_invoice()
    url = f"/invoices/{invoice['id']}/credit-notes"
    note = setup.post(url, {"amount_cents": 2000, "reason": "goodwill"}, key=str(uuid.uuid4())).get_json()
    setup.container.clock.advance(seconds=1)  # type: ignore[attr-defined]
    second = setup.post(url, {"amount_cents": 500, "reason": "late start"}, key=str(uuid.uuid4())).get_json()

    own = setup.client.get(url, headers=as_patient(setup))
    assert own.status_code == 200
    assert [(n["id"], n["number"], n["amount_cents"], n["currency"]) for n in own.get_json()] == [
        (note["id"], "VAN-CN-2025-000001", 2000, "CAD"),
        (second["id"], "VAN-CN-2025-000002", 500, "CAD"),
    ]
    assert setup.client.get(url, headers=setup.headers).get_json() == own.get_json()
    other = setup.client.get(url, headers=as_patient(setup, uuid.uuid4()))
    assert other.status_code == 404
    assert (
        setup.client.get(f"/invoices/{uuid.uuid4()}/credit-notes", headers=setup.headers).status_code == 404
    )


def test_an_invoice_without_credit_notes_lists_none(setup: Setup) -> None:
    invoice = setup.issued_invoice()
    response = setup.client.get(f"/invoices/{invoice['id']}/credit-notes", headers=as_patient(setup))
    assert (response.status_code, response.get_json()) == (200, [])


def test_a_patient_reads_their_own_credit_only(setup: Setup) -> None:
    invoice = setup.issued_invoice()
    body = {
        "clinic_id": str(setup.clinic_id),
        "patient_id": str(setup.patient_id),
        "amount_cents": 14000,
        "currency": "CAD",
        "method": "card",
        "allocations": [{"invoice_id": invoice["id"], "amount_cents": 12000}],
    }
    assert setup.post("/payments", body, key=str(uuid.uuid4())).status_code == 201
    path = f"/patients/{setup.patient_id}/credit?clinic_id={setup.clinic_id}"

    own = setup.client.get(path, headers=as_patient(setup))
    assert own.status_code == 200
    assert (own.get_json()["credit_cents"], own.get_json()["currency"]) == (2000, "CAD")
    assert setup.client.get(path, headers=as_patient(setup, uuid.uuid4())).status_code == 404
    assert setup.client.get(path, headers=setup.issuer.headers("practitioner")).status_code == 403
    assert setup.client.get(path, headers=setup.issuer.headers("front_desk")).status_code == 200


def test_the_openapi_document_lists_the_credit_notes_of_an_invoice(setup: Setup) -> None:
    spec = json.loads(setup.client.get("/openapi.json").data)
    assert {"get", "post"} <= set(spec["paths"]["/invoices/{invoice_id}/credit-notes"])
    assert "404" in spec["paths"]["/patients/{patient_id}/credit"]["get"]["responses"]
