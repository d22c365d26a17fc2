"""Credit notes as documents: their own PDF, a signed link to it, and their listing on the invoice's PDF.

Each test runs on SQLite and on PostgreSQL (the ``database_url`` fixture is parametrized over both).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient

from billing.bootstrap import Container
from billing.service_layer import reference_copies
from billing.service_layer.reference_copies import SyncPatient, SyncPractitioner
from clinic_shared.testing.tokens import TestIssuer

from .test_document_links_api import assert_problem, linked, path_of  # noqa: F401
from .test_invoicing_api import Setup, new_setup, pdf_text

TAXED = {"currency": "CAD", "treatment_tax_rate_bp": 500}


def taxed(setup: Setup) -> Setup:
    """Treatments taxed at 5%, and a named practitioner and patient."""
    response = setup.client.put(
        f"/clinics/{setup.clinic_id}/billing-policy", json=TAXED, headers=setup.headers
    )
    assert response.status_code == 200, response.get_json()
    as_of = datetime(2025, 1, 1, tzinfo=UTC)
    with setup.container.uow() as uow:
        reference_copies.sync_patient(
            uow,
            SyncPatient(setup.patient_id, "Zoë", "Łukasiewicz", "z@example.com", None, "fr", as_of),
        )
        uow.commit()
    return setup


@pytest.fixture
def setup(client: FlaskClient, container: Container, issuer: TestIssuer) -> Setup:
    return taxed(new_setup(client, container, issuer))


def credit(setup: Setup, invoice: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    response = setup.post(f"/invoices/{invoice['id']}/credit-notes", body, key=str(uuid.uuid4()))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def practitioner(setup: Setup, name: str, registration: str) -> uuid.UUID:
    practitioner_id = uuid.uuid4()
    with setup.container.uow() as uow:
        reference_copies.sync_practitioner(
            uow,
            SyncPractitioner(
                practitioner_id, setup.clinic_id, name, registration, True, datetime(2025, 1, 1, tzinfo=UTC)
            ),
        )
        uow.commit()
    return practitioner_id


def test_a_credit_note_has_a_pdf_naming_the_invoice_the_lines_credited_tax_and_total(setup: Setup) -> None:
    setup.completed_visit(practitioner_id=practitioner(setup, "Dr. Ida Needham", "PT-1001"))
    setup.completed_visit(practitioner_id=practitioner(setup, "Ben Okafor", "PT-2002"))
    invoice = setup.issued_invoice(visits=0)  # two lines of 120.00 and 6.00 tax
    setup.container.clock.advance(days=2)  # type: ignore[attr-defined]
    note = credit(setup, invoice, {"amount_cents": 6300, "reason": "Second visit shortened"})

    response = setup.client.get(f"/credit-notes/{note['id']}/pdf", headers=setup.headers)
    text = pdf_text(response)

    assert response.headers["Content-Disposition"] == 'inline; filename="VAN-CN-2025-000001.pdf"'
    for expected in (
        "Demo IMS Clinic",
        "100 Main St",
        "+16045550199  front@demo.clinic",
        "Credit note VAN-CN-2025-000001",
        "Date: 2025-03-05",
        "Credits invoice VAN-2025-000001 of 2025-03-03",
        "Patient: Zoë Łukasiewicz",
        "Reason: Second visit shortened",
        "Dr. Ida Needham (Reg. PT-1001)",
        "Ben Okafor (Reg. PT-2002)",
        "IMS session, 30 min",
        "30.00 CAD",  # each line's share before tax
        "1.50 CAD",  # and its tax
        "Subtotal",
        "60.00 CAD",
        "3.00 CAD",
        "Total credited",
        "63.00 CAD",
    ):
        assert expected in text, expected
    assert "Cancels that invoice" not in text
    assert (note["subtotal_cents"], note["tax_cents"], note["amount_cents"]) == (6000, 300, 6300)
    assert [(line["amount_cents"], line["tax_cents"]) for line in note["lines"]] == [(3000, 150)] * 2
    assert [line["invoice_line_id"] for line in note["lines"]] == [line["id"] for line in invoice["lines"]]


def test_a_voiding_credit_note_says_it_cancels_the_invoice(setup: Setup) -> None:
    invoice = setup.issued_invoice()
    note = credit(setup, invoice, {"void": True, "reason": "billed in error"})

    text = pdf_text(setup.client.get(f"/credit-notes/{note['id']}/pdf", headers=setup.headers))

    assert "Cancels that invoice" in text
    assert "126.00 CAD" in text


def test_the_invoice_pdf_lists_its_credit_notes_by_number_date_and_amount(setup: Setup) -> None:
    invoice = setup.issued_invoice(visits=2)
    credit(setup, invoice, {"amount_cents": 2100, "reason": "goodwill"})
    setup.container.clock.advance(days=1)  # type: ignore[attr-defined]
    credit(setup, invoice, {"amount_cents": 1050, "reason": "goodwill"})

    text = pdf_text(setup.client.get(f"/invoices/{invoice['id']}/pdf", headers=setup.headers))

    assert "Credit notes" in text
    assert "VAN-CN-2025-000001  2025-03-03  -21.00 CAD" in text
    assert "VAN-CN-2025-000002  2025-03-04  -10.50 CAD" in text
    assert "-31.50 CAD" in text  # the Credits total


def test_the_patient_opens_their_credit_note_and_nobody_else_does(setup: Setup) -> None:
    note = credit(setup, setup.issued_invoice(), {"amount_cents": 100, "reason": "x"})
    path = f"/credit-notes/{note['id']}/pdf"

    own = setup.client.get(path, headers=setup.issuer.headers("patient", patient_id=setup.patient_id))
    other = setup.client.get(path, headers=setup.issuer.headers("patient", patient_id=uuid.uuid4()))

    assert "Credit note VAN-CN-2025-000001" in pdf_text(own)
    assert_problem(other, 404)
    assert setup.client.get(path).status_code == 401
    assert_problem(setup.client.get(f"/credit-notes/{uuid.uuid4()}/pdf", headers=setup.headers), 404)


def test_a_signed_link_opens_the_credit_note_pdf_without_signing_in(linked: Setup) -> None:  # noqa: F811
    setup = taxed(linked)
    invoice = setup.issued_invoice()
    note = credit(setup, invoice, {"amount_cents": 2100, "reason": "goodwill"})
    url = f"/credit-notes/{note['id']}/document-link"

    made = setup.client.post(url, headers=setup.headers)
    own = setup.client.post(url, headers=setup.issuer.headers("patient", patient_id=setup.patient_id))
    other = setup.client.post(url, headers=setup.issuer.headers("patient", patient_id=uuid.uuid4()))

    assert made.status_code == 200, made.get_json()
    assert own.status_code == 200, own.get_json()
    assert_problem(other, 404)
    link = made.get_json()
    assert link["url"].startswith("https://billing.example/documents/credit_note.v1.")
    response = setup.client.get(path_of(link["url"]))
    assert "Credit note VAN-CN-2025-000001" in pdf_text(response)
    assert response.headers["Content-Disposition"] == 'inline; filename="VAN-CN-2025-000001.pdf"'
    assert response.headers["Cache-Control"] == "private, no-store"
    # An invoice link to the credit note's id, or a credit note link to the invoice's, opens nothing.
    now = setup.container.clock.now()
    for wrong in (
        setup.container.links.invoice_link(uuid.UUID(note["id"]), now),
        setup.container.links.credit_note_link(uuid.UUID(invoice["id"]), now),
    ):
        assert wrong is not None
        assert_problem(setup.client.get(path_of(wrong.url)), 404)
    setup.container.clock.set(datetime.fromisoformat(link["expires_at"]))  # type: ignore[attr-defined]
    assert_problem(setup.client.get(path_of(link["url"])), 410)
    audit = setup.client.get(f"/audit?entity_id={note['id']}", headers=setup.headers).get_json()
    assert [entry["action"] for entry in audit] == ["document_link_created"] * 2


def test_without_link_settings_no_credit_note_link_is_made(setup: Setup) -> None:
    note = credit(setup, setup.issued_invoice(), {"amount_cents": 100, "reason": "x"})

    body = assert_problem(setup.post(f"/credit-notes/{note['id']}/document-link"), 503)

    assert "not enabled" in body["detail"]


def test_the_openapi_document_describes_credit_note_documents(setup: Setup) -> None:
    spec = json.loads(setup.client.get("/openapi.json").data)

    pdf = spec["paths"]["/credit-notes/{credit_note_id}/pdf"]["get"]
    assert "application/pdf" in pdf["responses"]["200"]["content"]
    assert "404" in pdf["responses"]
    link = spec["paths"]["/credit-notes/{credit_note_id}/document-link"]["post"]
    assert {"200", "404", "503"} <= set(link["responses"])
    note = spec["components"]["schemas"]["CreditNote"]["properties"]
    assert {"lines", "subtotal_cents", "tax_cents"} <= set(note)
    assert "credit note" in spec["paths"]["/documents/{token}"]["get"]["summary"]


def test_credit_notes_are_dated_in_the_clinics_calendar(setup: Setup) -> None:
    # Dates print in the clinic's calendar: 23:30 in Vancouver is the next day in UTC.
    setup.container.clock.set(datetime(2025, 3, 4, 7, 30, tzinfo=UTC))  # type: ignore[attr-defined]
    invoice = setup.issued_invoice()
    credit(setup, invoice, {"amount_cents": 100, "reason": "x"})

    text = pdf_text(setup.client.get(f"/invoices/{invoice['id']}/pdf", headers=setup.headers))

    assert "VAN-CN-2025-000001  2025-03-03  -1.00 CAD" in text
