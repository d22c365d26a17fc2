"""Applying a patient's credit to later invoices, and purging old Idempotency-Keys, through the HTTP API.

Each test runs on SQLite and on PostgreSQL (the ``client`` fixture is parametrized over both).
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from billing.bootstrap import Container
from billing.service_layer import idempotency_keys
from clinic_shared.testing.tokens import TestIssuer

from .test_invoicing_api import PROBLEM, Setup, new_setup


@pytest.fixture
def setup(client: FlaskClient, container: Container, issuer: TestIssuer) -> Setup:
    return new_setup(client, container, issuer)


def pay(setup: Setup, amount: int, allocations: dict[str, int] | None = None, key: str | None = None) -> Any:
    """Record a card payment; what is not allocated becomes the patient's credit."""
    body = {
        "clinic_id": str(setup.clinic_id),
        "patient_id": str(setup.patient_id),
        "amount_cents": amount,
        "currency": "CAD",
        "method": "card",
        "allocations": [{"invoice_id": i, "amount_cents": c} for i, c in (allocations or {}).items()],
    }
    response = setup.post("/payments", body, key=key or str(uuid.uuid4()))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def application(setup: Setup, allocations: dict[str, int], currency: str = "CAD") -> dict[str, Any]:
    return {
        "clinic_id": str(setup.clinic_id),
        "currency": currency,
        "allocations": [{"invoice_id": i, "amount_cents": c} for i, c in allocations.items()],
    }


def apply_credit(setup: Setup, allocations: dict[str, int], key: str | None = None) -> Any:
    return setup.post(
        f"/patients/{setup.patient_id}/credit/applications",
        application(setup, allocations),
        key=key if key is not None else str(uuid.uuid4()),
    )


def credit_cents(setup: Setup) -> int:
    response = setup.client.get(
        f"/patients/{setup.patient_id}/credit?clinic_id={setup.clinic_id}", headers=setup.headers
    )
    return int(response.get_json()["credit_cents"])


def invoice(setup: Setup, invoice_id: str) -> dict[str, Any]:
    return dict(setup.client.get(f"/invoices/{invoice_id}", headers=setup.headers).get_json())


def test_an_overpayment_settles_a_later_invoice_without_counting_as_money_received(setup: Setup) -> None:
    first = setup.issued_invoice()
    overpaid = pay(setup, 15000, {first["id"]: 12000})
    setup.container.clock.advance(days=7)  # type: ignore[attr-defined]
    later = setup.issued_invoice()
    received_before = setup.outbox("billing.payment.received")

    response = apply_credit(setup, {later["id"]: 3000})

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["amount_cents"], body["currency"], body["patient_id"]) == (
        3000,
        "CAD",
        str(setup.patient_id),
    )
    assert body["allocations"] == [
        {"invoice_id": later["id"], "amount_cents": 3000, "payment_id": overpaid["id"]}
    ]
    assert (invoice(setup, later["id"])["paid_cents"], invoice(setup, later["id"])["status"]) == (
        3000,
        "issued",
    )
    assert credit_cents(setup) == 0
    # Nothing was received: no new payment, no receipt event, and the original payment is fully allocated.
    payments = setup.client.get(f"/payments?patient_id={setup.patient_id}", headers=setup.headers).get_json()
    assert [p["id"] for p in payments] == [overpaid["id"]]
    assert payments[0]["unallocated_cents"] == 0
    assert sorted(a["amount_cents"] for a in payments[0]["allocations"]) == [3000, 12000]
    assert setup.outbox("billing.payment.received") == received_before


def test_credit_settles_an_invoice_fully_and_the_rest_stays_credit(setup: Setup) -> None:
    invoice_id = setup.issued_invoice()["id"]
    pay(setup, 20000)

    response = apply_credit(setup, {invoice_id: 12000})

    assert response.status_code == 201
    after = invoice(setup, invoice_id)
    assert (after["status"], after["balance_cents"], after["paid_cents"]) == ("balanced", 0, 12000)
    assert credit_cents(setup) == 8000


def test_credit_from_several_payments_is_drawn_oldest_first_across_invoices(setup: Setup) -> None:
    older = pay(setup, 5000)
    setup.container.clock.advance(hours=1)  # type: ignore[attr-defined]
    newer = pay(setup, 10000)
    one, two = setup.issued_invoice()["id"], setup.issued_invoice()["id"]

    response = apply_credit(setup, {one: 7000, two: 6000})

    assert response.status_code == 201, response.get_json()
    drawn = {
        (a["payment_id"], a["invoice_id"], a["amount_cents"]) for a in response.get_json()["allocations"]
    }
    assert drawn == {(older["id"], one, 5000), (newer["id"], one, 2000), (newer["id"], two, 6000)}
    assert (invoice(setup, one)["balance_cents"], invoice(setup, two)["balance_cents"]) == (5000, 6000)
    assert credit_cents(setup) == 2000


def test_more_than_the_available_credit_is_refused_naming_the_field(setup: Setup) -> None:
    invoice_id = setup.issued_invoice()["id"]
    pay(setup, 3000)

    response = apply_credit(setup, {invoice_id: 3001})

    assert response.status_code == 422
    assert response.content_type == PROBLEM
    assert [p["name"] for p in response.get_json()["invalid-params"]] == ["allocations"]
    assert "30.00 CAD of credit" in response.get_json()["detail"]
    assert (credit_cents(setup), invoice(setup, invoice_id)["paid_cents"]) == (3000, 0)


def test_more_than_an_invoices_balance_is_refused_naming_the_field(setup: Setup) -> None:
    invoice_id = setup.issued_invoice()["id"]
    pay(setup, 20000)

    response = apply_credit(setup, {invoice_id: 12001})

    assert response.status_code == 422
    assert [p["name"] for p in response.get_json()["invalid-params"]] == ["allocations"]
    assert credit_cents(setup) == 20000


def test_credit_goes_only_to_this_patients_issued_invoices_in_its_currency(setup: Setup) -> None:
    pay(setup, 20000)
    other = dataclasses.replace(setup, patient_id=uuid.uuid4())
    others_invoice = other.issued_invoice()["id"]
    mine = setup.issued_invoice()["id"]
    path = f"/patients/{setup.patient_id}/credit/applications"

    foreign = apply_credit(setup, {others_invoice: 100})
    unknown = apply_credit(setup, {str(uuid.uuid4()): 100})
    in_usd = setup.post(path, application(setup, {mine: 100}, currency="USD"), key="usd")
    paid_off = apply_credit(setup, {mine: 12000})
    again = apply_credit(setup, {mine: 100})

    assert (foreign.status_code, unknown.status_code, in_usd.status_code) == (422, 404, 422)
    assert in_usd.get_json()["invalid-params"][0]["name"] == "allocations"
    assert (paid_off.status_code, again.status_code) == (201, 409)
    assert credit_cents(setup) == 8000


def test_an_empty_application_or_a_missing_key_is_refused_naming_the_field(setup: Setup) -> None:
    invoice_id = setup.issued_invoice()["id"]
    pay(setup, 5000)
    path = f"/patients/{setup.patient_id}/credit/applications"

    empty = setup.post(path, application(setup, {}), key="empty")
    keyless = setup.post(path, application(setup, {invoice_id: 100}))

    assert empty.status_code == 422
    assert {p["name"] for p in empty.get_json()["invalid-params"]} == {"allocations"}
    assert keyless.status_code == 422
    assert {p["name"] for p in keyless.get_json()["invalid-params"]} == {"Idempotency-Key"}
    assert credit_cents(setup) == 5000


def test_a_replayed_application_returns_the_first_response_and_applies_once(setup: Setup) -> None:
    invoice_id = setup.issued_invoice()["id"]
    pay(setup, 5000)

    first = apply_credit(setup, {invoice_id: 2000}, key="apply-1")
    second = apply_credit(setup, {invoice_id: 2000}, key="apply-1")
    other_body = apply_credit(setup, {invoice_id: 1000}, key="apply-1")

    assert (first.status_code, second.status_code) == (201, 201)
    assert first.data == second.data
    assert second.headers["Idempotent-Replayed"] == "true"
    assert other_body.status_code == 422
    assert other_body.get_json()["invalid-params"][0]["name"] == "Idempotency-Key"
    assert (credit_cents(setup), invoice(setup, invoice_id)["paid_cents"]) == (3000, 2000)


def test_applied_credit_can_no_longer_be_refunded(setup: Setup) -> None:
    invoice_id = setup.issued_invoice()["id"]
    payment = pay(setup, 5000)
    apply_credit(setup, {invoice_id: 4000})

    too_much = setup.post(
        f"/payments/{payment['id']}/refunds", {"amount_cents": 1001, "reason": "x"}, key="r1"
    )
    rest = setup.post(f"/payments/{payment['id']}/refunds", {"amount_cents": 1000, "reason": "x"}, key="r2")

    assert (too_much.status_code, rest.status_code) == (422, 201)
    assert credit_cents(setup) == 0


def test_the_application_is_audited_on_itself_and_on_the_payments_it_drew_from(setup: Setup) -> None:
    invoice_id = setup.issued_invoice()["id"]
    payment = pay(setup, 5000)
    setup.container.clock.advance(minutes=5)  # type: ignore[attr-defined]

    applied = apply_credit(setup, {invoice_id: 4000}).get_json()

    [entry] = setup.client.get(f"/audit?entity_id={applied['id']}", headers=setup.headers).get_json()
    assert (entry["entity_type"], entry["action"], entry["actor_id"]) == (
        "credit_application",
        "applied",
        applied["applied_by"],
    )
    assert entry["details"]["amount_cents"] == 4000
    drawn = {"payment_id": payment["id"], "invoice_id": invoice_id, "amount_cents": 4000}
    assert entry["details"]["allocations"] == [drawn]
    on_payment = setup.client.get(f"/audit?entity_id={payment['id']}", headers=setup.headers).get_json()
    assert [(e["action"], e["details"].get("credit_application_id")) for e in on_payment] == [
        ("received", None),
        ("credit_applied", applied["id"]),
    ]


def test_the_payments_report_counts_the_money_once_when_it_came_in(setup: Setup) -> None:
    pay(setup, 5000)
    setup.container.clock.advance(days=3)  # type: ignore[attr-defined]
    invoice_id = setup.issued_invoice()["id"]
    report = f"/reports/payments?clinic_id={setup.clinic_id}&from=2025-03-01&to=2025-03-31"
    before = setup.client.get(report, headers=setup.headers).get_json()

    assert apply_credit(setup, {invoice_id: 5000}).status_code == 201

    after = setup.client.get(report, headers=setup.headers).get_json()
    assert after == before
    assert [(d["day"], d["method"], d["net_cents"]) for d in after] == [("2025-03-03", "card", 5000)]


def test_patients_cannot_apply_credit(setup: Setup) -> None:
    invoice_id = setup.issued_invoice()["id"]
    pay(setup, 5000)
    headers = setup.issuer.headers("patient", patient_id=setup.patient_id) | {"Idempotency-Key": "p"}

    response = setup.client.post(
        f"/patients/{setup.patient_id}/credit/applications",
        json=application(setup, {invoice_id: 100}),
        headers=headers,
    )

    assert response.status_code == 403
    assert credit_cents(setup) == 5000


# --- idempotency key retention ---


def test_a_payment_repeated_after_its_key_was_purged_is_a_new_payment(setup: Setup) -> None:
    invoice_id = setup.issued_invoice()["id"]
    first = pay(setup, 1000, {invoice_id: 1000}, key="till-7")
    retention = timedelta(hours=setup.container.settings.idempotency_key_retention_hours)
    setup.container.clock.advance(seconds=retention.total_seconds() - 1)  # type: ignore[attr-defined]

    idempotency_keys.purge_idempotency_keys(setup.container.uow, retention)
    replayed = pay(setup, 1000, {invoice_id: 1000}, key="till-7")
    setup.container.clock.advance(seconds=2)  # type: ignore[attr-defined]
    purged = idempotency_keys.purge_idempotency_keys(setup.container.uow, retention)
    again = pay(setup, 1000, {invoice_id: 1000}, key="till-7")

    assert replayed == first
    assert purged >= 1
    assert again["id"] != first["id"]
    assert invoice(setup, invoice_id)["paid_cents"] == 2000
