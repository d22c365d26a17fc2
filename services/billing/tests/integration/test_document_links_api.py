"""Signed download links to invoice PDFs: in the issued event, opened without a token, refreshed by staff.

Each test runs on SQLite and on PostgreSQL (the ``database_url`` fixture is parametrized over both).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import EnvironBuilder

from billing.adapters import orm
from billing.adapters.document_links import SignedDocumentLinks
from billing.bootstrap import Container, bootstrap
from billing.entrypoints.api import create_app
from clinic_shared.testing.tokens import TestIssuer

from ..conftest import ManualClock, billing_settings
from .test_invoicing_api import PROBLEM, Setup, new_setup, pdf_text

PUBLIC_URL = "https://billing.example"
LINK_ENV = {
    "BILLING_PUBLIC_URL": PUBLIC_URL,
    "DOCUMENT_LINK_SECRET": "test-only-document-link-secret-0123456789",
    "DOCUMENT_LINK_TTL_DAYS": "30",
}


@pytest.fixture
def linked(database_url: str, clock: ManualClock, issuer: TestIssuer) -> Iterator[Setup]:
    """Billing with BILLING_PUBLIC_URL and DOCUMENT_LINK_SECRET set."""
    container = bootstrap(
        billing_settings(database_url, extra=LINK_ENV), clock=clock, verifier=issuer.verifier()
    )
    app = create_app(container=container)
    app.testing = True
    yield new_setup(app.test_client(), container, issuer)
    container.engine.dispose()


@pytest.fixture
def unlinked(client: FlaskClient, container: Container, issuer: TestIssuer) -> Setup:
    """Billing as configured by default: no public URL, no link secret."""
    return new_setup(client, container, issuer)


def issued_event(setup: Setup, invoice: dict[str, Any]) -> dict[str, Any]:
    [event] = [
        e for e in setup.outbox("billing.invoice.issued") if e["invoice_id"] == uuid.UUID(invoice["id"])
    ]
    return event


def outbox_size(setup: Setup) -> int:
    with setup.container.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(orm.outbox)).scalar_one()


def path_of(url: str) -> str:
    assert url.startswith(f"{PUBLIC_URL}/documents/"), url
    return urlsplit(url).path


def alter(token: str, index: int) -> str:
    return token[:index] + ("A" if token[index] != "A" else "B") + token[index + 1 :]


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.data[:300]
    assert response.content_type == PROBLEM
    if response.request.path.startswith("/documents/"):
        assert response.headers["Cache-Control"] == "private, no-store"
        assert response.headers["Referrer-Policy"] == "no-referrer"
    return response.get_json()


def test_the_issued_event_carries_a_link_that_opens_the_pdf_without_signing_in(linked: Setup) -> None:
    invoice = linked.issued_invoice()
    event = issued_event(linked, invoice)

    assert event["document_expires_at"] == datetime.fromisoformat(invoice["issued_at"]) + timedelta(days=30)
    response = linked.client.get(path_of(event["document_url"]))

    assert "Invoice VAN-2025-000001" in pdf_text(response)
    assert response.headers["Content-Disposition"] == 'inline; filename="VAN-2025-000001.pdf"'
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_an_altered_or_made_up_link_is_not_found(linked: Setup) -> None:
    first = issued_event(linked, linked.issued_invoice())["document_url"]
    second = issued_event(linked, linked.issued_invoice())["document_url"]
    token = path_of(first).removeprefix("/documents/")
    kind, version, payload, signature = token.split(".")

    for path in (
        f"/documents/{alter(token, len(token) - 1)}",  # signature
        f"/documents/{alter(token, len(kind) + len(version) + 5)}",  # payload
        # The second invoice's payload under the first's signature.
        f"/documents/{'.'.join(path_of(second).removeprefix('/documents/').split('.')[:3])}.{signature}",
        f"/documents/{kind}.{version}.{payload}",
        "/documents/nonsense",
        f"/documents/{'A' * 300}",
    ):
        body = assert_problem(linked.client.get(path), 404)
        assert "VAN-" not in json.dumps(body)
    assert linked.client.get(path_of(first)).status_code == 200


def test_an_expired_link_is_gone_and_says_to_ask_the_clinic(linked: Setup) -> None:
    event = issued_event(linked, linked.issued_invoice())
    path = path_of(event["document_url"])

    linked.container.clock.set(event["document_expires_at"] - timedelta(seconds=1))  # type: ignore[attr-defined]
    assert linked.client.get(path).status_code == 200
    linked.container.clock.set(event["document_expires_at"])  # type: ignore[attr-defined]
    body = assert_problem(linked.client.get(path), 410)

    assert body["title"] == "Gone"
    assert "expired" in body["detail"]
    assert "ask the clinic for a new one" in body["detail"]


def test_a_voided_invoice_still_opens_and_shows_as_cancelled(linked: Setup) -> None:
    invoice = linked.issued_invoice()
    voided = linked.post(
        f"/invoices/{invoice['id']}/credit-notes", {"void": True, "reason": "billed in error"}, key="void-1"
    )
    assert voided.status_code == 201, voided.get_json()

    text = pdf_text(linked.client.get(path_of(issued_event(linked, invoice)["document_url"])))

    assert "Invoice VAN-2025-000001" in text
    assert "Status: cancelled" in text


def test_a_link_to_an_invoice_that_no_longer_exists_is_not_found(linked: Setup) -> None:
    linked.completed_visit()
    draft = linked.post(
        "/invoices", {"clinic_id": str(linked.clinic_id), "patient_id": str(linked.patient_id)}
    )
    draft_id = uuid.UUID(draft.get_json()["id"])
    link = linked.container.links.invoice_link(draft_id, linked.container.clock.now())
    assert link is not None
    assert_problem(linked.client.get(path_of(link.url)), 404)  # a draft has no document

    assert linked.client.delete(f"/invoices/{draft_id}", headers=linked.headers).status_code == 204

    assert_problem(linked.client.get(path_of(link.url)), 404)


def test_staff_and_the_patient_get_a_fresh_link_and_other_patients_do_not(linked: Setup) -> None:
    invoice = linked.issued_invoice()
    url = f"/invoices/{invoice['id']}/document-link"
    linked.container.clock.advance(days=40)  # type: ignore[attr-defined]
    events_before = outbox_size(linked)

    for role in ("billing", "admin", "front_desk", "practitioner"):
        response = linked.client.post(url, headers=linked.issuer.headers(role))
        assert response.status_code == 200, (role, response.get_json())
    own = linked.client.post(url, headers=linked.issuer.headers("patient", patient_id=linked.patient_id))
    other = linked.client.post(url, headers=linked.issuer.headers("patient", patient_id=uuid.uuid4()))

    assert own.status_code == 200, own.get_json()
    fresh = own.get_json()
    assert set(fresh) == {"url", "expires_at"}
    assert datetime.fromisoformat(fresh["expires_at"]) == linked.container.clock.now() + timedelta(days=30)
    assert "VAN-2025-000001" in pdf_text(linked.client.get(path_of(fresh["url"])))
    assert_problem(other, 404)
    assert linked.client.post(url).status_code == 401
    assert outbox_size(linked) == events_before
    audit = linked.client.get(f"/audit?entity_id={invoice['id']}", headers=linked.headers).get_json()
    assert [entry["action"] for entry in audit].count("document_link_created") == 5


def test_a_draft_gets_no_link(linked: Setup) -> None:
    linked.completed_visit()
    draft = linked.post(
        "/invoices", {"clinic_id": str(linked.clinic_id), "patient_id": str(linked.patient_id)}
    )

    assert_problem(linked.post(f"/invoices/{draft.get_json()['id']}/document-link"), 404)


def test_without_link_settings_the_event_carries_nulls_and_no_link_is_made(unlinked: Setup) -> None:
    invoice = unlinked.issued_invoice()
    event = issued_event(unlinked, invoice)

    assert (event["document_url"], event["document_expires_at"]) == (None, None)
    body = assert_problem(unlinked.post(f"/invoices/{invoice['id']}/document-link"), 503)
    assert "not enabled" in body["detail"]
    assert unlinked.client.get(f"/invoices/{invoice['id']}/pdf", headers=unlinked.headers).status_code == 200


def test_a_link_signed_with_another_secret_does_not_open(linked: Setup) -> None:
    invoice = linked.issued_invoice()
    other = SignedDocumentLinks("another-billing-secret-0123456789-abcdef", PUBLIC_URL, timedelta(days=30))
    link = other.invoice_link(uuid.UUID(invoice["id"]), linked.container.clock.now())

    assert_problem(linked.client.get(path_of(link.url)), 404)


def test_the_token_is_taken_out_of_the_path_before_the_access_log_sees_it(linked: Setup) -> None:
    path = path_of(issued_event(linked, linked.issued_invoice())["document_url"])
    token = path.removeprefix("/documents/")
    # Gunicorn logs from the very environ it handed the app, once the response is sent.
    environ = EnvironBuilder(path=path, method="GET").get_environ()
    environ["RAW_URI"] = environ["REQUEST_URI"] = path
    statuses: list[str] = []

    body = b"".join(linked.client.application(environ, lambda status, headers: statuses.append(status)))

    assert statuses == ["200 OK"]
    assert body.startswith(b"%PDF")
    assert (environ["PATH_INFO"], environ["RAW_URI"], environ["REQUEST_URI"]) == ("/documents/redacted",) * 3
    assert token not in repr(environ)


def test_the_openapi_document_shows_the_download_as_public(linked: Setup) -> None:
    spec = json.loads(linked.client.get("/openapi.json").data)
    download = spec["paths"]["/documents/{token}"]["get"]

    assert download["security"] == []
    assert set(download["responses"]) >= {"200", "404", "410"}
    assert "application/pdf" in download["responses"]["200"]["content"]
    assert "/invoices/{invoice_id}/document-link" in spec["paths"]
    assert "security" not in spec["paths"]["/invoices/{invoice_id}/document-link"]["post"]
