"""Clinic tenancy (ADR 0006): staff of one clinic neither read nor change another clinic's billing.

Clinic-scoped staff tokens carry ``clinic_id``; organisation-wide ones carry none. Another clinic's object is
answered 404 (problem+json, as if it did not exist), never 403 and never 2xx. The sweep calls every route of
the app as clinic 2's staff with clinic 1's ids, so a route added without the check fails here.

Each test runs on SQLite and on PostgreSQL (the ``client`` fixture is parametrized over both).
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from marshmallow import Schema, fields

from billing.bootstrap import Container
from clinic_shared.testing.reporting import say
from clinic_shared.testing.tokens import TestIssuer

from .test_invoicing_api import PROBLEM, STARTS_AT, Setup, new_setup

# Endpoints the sweep does not call as another clinic's staff, each with the reason it needs no clinic check.
ALLOWED_ENDPOINTS = {
    "static": "Flask's static files; no data",
    "api-docs.openapi_json": "the public OpenAPI document",
    "docs.static": "the API docs' assets",
    "docs.swagger_ui": "the API docs page",
    "docs.swagger_start": "the API docs' script",
    "health.healthz": "liveness probe, public",
    "health.readyz": "readiness probe, public",
    "metrics": "request counts per route and the outbox backlog; no ids, no patient data",
    # Public: the signed, expiring link itself is the credential (no token, so no clinic to check); a
    # staff member gets a link only through POST .../document-link, which checks the clinic.
    "documents.document_by_link": "a signed document link, public by design",
}
# What another clinic's staff may be answered: refusals, never a success nor a server error.
REFUSALS = {400, 401, 403, 404, 405, 409, 410, 412, 413, 415, 422, 428}


@dataclass
class Tenancy:
    """Clinic 1 with a price, policy, tax number, charge, issued invoice, payment, credit note, coverage
    and package; clinic 2 with a patient invoiced there; the tokens of staff at each and organisation-wide."""

    client: FlaskClient
    one: Setup
    two: Setup
    ids: dict[str, uuid.UUID]
    issuer: TestIssuer

    def staff(self, role: str, clinic: Setup | None) -> dict[str, str]:
        """A staff token for ``clinic``, or an organisation-wide one (no clinic_id) for None."""
        return self.issuer.headers(role, clinic_id=clinic.clinic_id if clinic else None)


@pytest.fixture
def tenancy(client: FlaskClient, container: Container, issuer: TestIssuer) -> Tenancy:
    one = new_setup(client, container, issuer)  # headers: organisation-wide billing staff
    two = new_setup(client, container, issuer)
    charge = one.completed_visit()
    invoice = one.issued_invoice()
    payment = one.post(
        "/payments",
        {
            "clinic_id": str(one.clinic_id),
            "patient_id": str(one.patient_id),
            "amount_cents": 5000,
            "currency": "CAD",
            "method": "card",
            "allocations": [{"invoice_id": invoice["id"], "amount_cents": 5000}],
        },
        key=str(uuid.uuid4()),
    )
    assert payment.status_code == 201, payment.get_json()
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
    policy = client.put(
        f"/clinics/{one.clinic_id}/billing-policy",
        json={"currency": "CAD", "late_cancel_fee_mode": "fixed", "late_cancel_fee_value": 2500},
        headers=one.headers,
    )
    assert policy.status_code == 200, policy.get_json()
    tax = client.put(
        f"/clinics/{one.clinic_id}/tax-registration",
        json={"gst_hst_number": "123456789RT0001"},
        headers=one.headers,
    )
    assert tax.status_code == 200, tax.get_json()
    two.issued_invoice()  # clinic 2 has business of its own
    ids = {
        "clinic_id": one.clinic_id,
        "treatment_type_id": one.treatment_type_id,
        "patient_id": one.patient_id,
        "charge_id": charge.id,
        "appointment_id": charge.appointment_id,
        "invoice_id": uuid.UUID(invoice["id"]),
        "payment_id": uuid.UUID(payment.get_json()["id"]),
        "credit_note_id": uuid.UUID(note.get_json()["id"]),
        "coverage_id": uuid.UUID(coverage.get_json()["id"]),
        "package_id": uuid.UUID(package.get_json()["id"]),
    }
    return Tenancy(client, one, two, ids, issuer)


def not_found(response: Any, field: str | None = None) -> None:
    assert response.status_code == 404, (response.status_code, response.get_data(as_text=True)[:300])
    assert response.content_type == PROBLEM
    if field is not None:
        assert [p["name"] for p in response.get_json()["invalid-params"]] == [field]


# --- the generated sweep -----------------------------------------------------------------------------


def _value(name: str, field: fields.Field, ids: dict[str, uuid.UUID]) -> Any:
    """A plausible value for one field of a request schema, naming clinic 1's things where it can."""
    if name in ids:
        return str(ids[name])
    if isinstance(field, fields.Nested):
        nested = field.schema
        return _fill(nested, ids, everything=True)
    if isinstance(field, fields.List):
        return [_value(name, field.inner, ids)]
    if isinstance(field, fields.UUID):
        return str(uuid.uuid4())
    if isinstance(field, fields.Enum):
        member = next(iter(field.enum))
        return member.value if isinstance(member, enum.Enum) else member
    if isinstance(field, fields.Boolean):
        return False
    if isinstance(field, fields.Integer):
        return 100
    if isinstance(field, fields.AwareDateTime | fields.DateTime):
        return STARTS_AT.isoformat()
    if isinstance(field, fields.Date):
        return (STARTS_AT.date() + dt.timedelta(days=30 if name == "last_day" else 0)).isoformat()
    if isinstance(field, fields.Dict):
        return {}
    special = {"currency": "CAD", "gst_hst_number": "123456789RT0001"}
    return special.get(name, "tenancy sweep")


def _fill(schema: Schema, ids: dict[str, uuid.UUID], *, everything: bool) -> dict[str, Any]:
    """Values for a schema's input fields: all of them (a body), or the required and id ones (a query)."""
    filled = {}
    for name, field in schema.fields.items():
        if field.dump_only or not (everything or field.required or name in ids):
            continue
        filled[field.data_key or name] = _value(name, field, ids)
    return filled


def _request_for(app: Flask, endpoint: str, ids: dict[str, uuid.UUID]) -> tuple[dict[str, Any], Any]:
    """The query string and JSON body to send to ``endpoint``, from its argument schemas: every field of
    the body filled in (the ids naming clinic 1's things), so that it gets past validation to the clinic
    check; ``clinic_id`` of clinic 1 in the query always, and in the body unless its schema refuses one."""
    query: dict[str, Any] = {"clinic_id": str(ids["clinic_id"])}
    body: dict[str, Any] = {"clinic_id": str(ids["clinic_id"])}
    view = app.view_functions[endpoint]
    for argument in getattr(view, "_apidoc", {}).get("arguments", {}).get("parameters", []):
        if argument["in"] == "query":
            query |= _fill(argument["schema"], ids, everything=False)
        elif argument["in"] == "json":
            body = _fill(argument["schema"], ids, everything=True)
    return query, body


def test_no_route_lets_another_clinics_staff_touch_clinic_1(tenancy: Tenancy) -> None:
    app = tenancy.client.application
    callers = {
        "clinic 2 billing": tenancy.staff("billing", tenancy.two),
        "clinic 2 admin": tenancy.staff("admin", tenancy.two),
        "clinic 2 front desk": tenancy.staff("front_desk", tenancy.two),
    }
    answered: list[str] = []
    routes = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ALLOWED_ENDPOINTS:
            continue
        routes += 1
        path_values = {name: tenancy.ids.get(name, uuid.uuid4()) for name in rule.arguments}
        path = rule.build(path_values, append_unknown=False)[1]  # type: ignore[index]
        query, body = _request_for(app, rule.endpoint, tenancy.ids)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            for caller, headers in callers.items():
                response = tenancy.client.open(
                    path,
                    method=method,
                    query_string=query,
                    json=None if method == "GET" else body,
                    headers=headers | {"Idempotency-Key": str(uuid.uuid4())},
                )
                answered.append(f"{caller} {method} {rule.rule}: {response.status_code}")
                assert response.status_code in REFUSALS, (
                    f"{caller} {method} {path}?{query} {body} answered {response.status_code}: "
                    f"{response.get_data(as_text=True)[:300]}"
                )
    say(f"billing tenancy sweep: {len(answered)} requests over {routes} routes")
    say("billing tenancy sweep answers:", dict(Counter(line.rsplit(" ", 1)[1] for line in answered)))
    assert len(answered) > 0
    # Clinic 1's things exist, so most of the answers are the tenancy check's 404, not a shape refusal.
    assert sum(line.endswith(": 404") for line in answered) > len(answered) / 2, "\n".join(answered)


def test_the_sweep_reaches_every_route_but_the_public_ones(tenancy: Tenancy) -> None:
    endpoints = {rule.endpoint for rule in tenancy.client.application.url_map.iter_rules()}
    assert set(ALLOWED_ENDPOINTS) <= endpoints, "an allow-listed endpoint is gone: drop it from the list"
    assert len(endpoints - set(ALLOWED_ENDPOINTS)) >= 40


# --- targeted ------------------------------------------------------------------------------------------


def test_another_clinics_invoice_is_not_found_to_its_billing_staff(tenancy: Tenancy) -> None:
    client, invoice_id = tenancy.client, tenancy.ids["invoice_id"]
    clerk = tenancy.staff("billing", tenancy.two)

    not_found(client.get(f"/invoices/{invoice_id}", headers=clerk))
    not_found(client.get(f"/invoices/{invoice_id}/pdf", headers=clerk))
    not_found(client.get(f"/invoices/{invoice_id}/receipt", headers=clerk))
    not_found(client.get(f"/invoices/{invoice_id}/credit-notes", headers=clerk))
    not_found(client.post(f"/invoices/{invoice_id}/document-link", headers=clerk))
    not_found(client.get(f"/credit-notes/{tenancy.ids['credit_note_id']}/pdf", headers=clerk))
    void = client.post(
        f"/invoices/{invoice_id}/credit-notes",
        json={"void": True, "reason": "not ours"},
        headers=clerk | {"Idempotency-Key": str(uuid.uuid4())},
    )
    not_found(void)
    not_found(client.get(f"/charges/{tenancy.ids['charge_id']}", headers=clerk))
    not_found(client.get(f"/payments/{tenancy.ids['payment_id']}", headers=clerk))
    refund = client.post(
        f"/payments/{tenancy.ids['payment_id']}/refunds",
        json={"amount_cents": 100, "reason": "not ours"},
        headers=clerk | {"Idempotency-Key": str(uuid.uuid4())},
    )
    not_found(refund)

    still = client.get(f"/invoices/{invoice_id}", headers=tenancy.one.headers).get_json()
    assert still["status"] == "issued"
    assert still["credited_cents"] == 1000


def test_a_payment_against_another_clinics_invoice_is_not_found(tenancy: Tenancy) -> None:
    clerk = tenancy.staff("billing", tenancy.two)

    def pay(clinic_id: uuid.UUID) -> Any:
        return tenancy.client.post(
            "/payments",
            json={
                "clinic_id": str(clinic_id),
                "patient_id": str(tenancy.ids["patient_id"]),
                "amount_cents": 1000,
                "currency": "CAD",
                "method": "cash",
                "allocations": [{"invoice_id": str(tenancy.ids["invoice_id"]), "amount_cents": 1000}],
            },
            headers=clerk | {"Idempotency-Key": str(uuid.uuid4())},
        )

    not_found(pay(tenancy.one.clinic_id), "clinic_id")
    not_found(pay(tenancy.two.clinic_id), "allocations")
    invoice = tenancy.client.get(f"/invoices/{tenancy.ids['invoice_id']}", headers=tenancy.one.headers)
    assert invoice.get_json()["paid_cents"] == 5000


def test_another_clinics_prices_policy_and_reports_are_not_found(tenancy: Tenancy) -> None:
    client, clinic_id = tenancy.client, tenancy.one.clinic_id
    clerk = tenancy.staff("billing", tenancy.two)
    price_url = f"/clinics/{clinic_id}/prices/{tenancy.one.treatment_type_id}"

    not_found(
        client.put(
            price_url,
            json={"amount_cents": 1, "currency": "CAD", "effective_from": "2025-04-01"},
            headers=clerk,
        ),
        "clinic_id",
    )
    not_found(client.get(f"/clinics/{clinic_id}/prices", headers=clerk), "clinic_id")
    not_found(client.get(f"/clinics/{clinic_id}/prices-in-force", headers=clerk), "clinic_id")
    policy = {"currency": "USD", "late_cancel_fee_mode": "fixed", "late_cancel_fee_value": 1}
    not_found(client.put(f"/clinics/{clinic_id}/billing-policy", json=policy, headers=clerk), "clinic_id")
    not_found(client.get(f"/clinics/{clinic_id}/billing-policy", headers=clerk), "clinic_id")
    tax = {"gst_hst_number": None}
    not_found(client.put(f"/clinics/{clinic_id}/tax-registration", json=tax, headers=clerk), "clinic_id")
    not_found(client.get(f"/clinics/{clinic_id}/tax-registration", headers=clerk), "clinic_id")
    period = f"clinic_id={clinic_id}&from=2025-03-01&to=2025-03-31"
    for report in ("revenue", "revenue.csv", "payments", "payments.csv"):
        not_found(client.get(f"/reports/{report}?{period}", headers=clerk), "clinic_id")
    for report in ("outstanding", "outstanding.csv"):
        not_found(client.get(f"/reports/{report}?clinic_id={clinic_id}", headers=clerk), "clinic_id")

    # Nothing changed: clinic 1 still bills in CAD at its price, with its policy and number.
    owner = tenancy.one.headers
    prices = client.get(f"/clinics/{clinic_id}/prices", headers=owner).get_json()
    assert [(p["amount_cents"], p["currency"]) for p in prices] == [(12000, "CAD")]
    kept = client.get(f"/clinics/{clinic_id}/billing-policy", headers=owner).get_json()
    assert (kept["currency"], kept["late_cancel_fee_value"]) == ("CAD", 2500)
    number = client.get(f"/clinics/{clinic_id}/tax-registration", headers=owner).get_json()
    assert number["gst_hst_number"] == "123456789RT0001"


def test_lists_of_clinic_scoped_staff_hold_only_their_clinic(tenancy: Tenancy) -> None:
    client = tenancy.client
    clerk = tenancy.staff("billing", tenancy.two)

    for listing in ("/invoices", "/charges", "/payments", "/audit"):
        seen = client.get(f"{listing}?page_size=100", headers=clerk)
        assert seen.status_code == 200, (listing, seen.get_json())
        assert all(
            item.get("clinic_id", str(tenancy.two.clinic_id)) == str(tenancy.two.clinic_id)
            for item in seen.get_json()
        ), listing
        not_found(client.get(f"{listing}?clinic_id={tenancy.one.clinic_id}", headers=clerk), "clinic_id")
    invoices = client.get("/invoices?page_size=100", headers=clerk).get_json()
    charges = client.get("/charges?page_size=100", headers=clerk).get_json()
    assert invoices  # clinic 2's own
    assert charges
    assert str(tenancy.ids["invoice_id"]) not in {i["id"] for i in invoices}
    assert str(tenancy.ids["charge_id"]) not in {c["id"] for c in charges}
    audited = {e["entity_id"] for e in client.get("/audit?page_size=100", headers=clerk).get_json()}
    assert audited
    assert not audited & {str(v) for v in tenancy.ids.values()}
    by_patient = client.get(f"/invoices?patient_id={tenancy.ids['patient_id']}", headers=clerk)
    assert by_patient.status_code == 200
    assert by_patient.get_json() == []


def test_a_patient_seen_only_at_another_clinic_is_not_found(tenancy: Tenancy) -> None:
    client, patient_id = tenancy.client, tenancy.ids["patient_id"]
    clerk = tenancy.staff("billing", tenancy.two)

    not_found(client.get(f"/patients/{patient_id}/coverages", headers=clerk), "patient_id")
    not_found(client.get(f"/patients/{patient_id}/packages", headers=clerk), "patient_id")
    not_found(client.get(f"/patients/{patient_id}/credit?clinic_id={tenancy.one.clinic_id}", headers=clerk))
    added = client.post(
        f"/patients/{patient_id}/coverages",
        json={"clinic_id": str(tenancy.one.clinic_id), "payer_kind": "extended_health", "coverage_bp": 1},
        headers=clerk,
    )
    not_found(added, "clinic_id")

    own = tenancy.staff("billing", tenancy.one)
    coverages = client.get(f"/patients/{patient_id}/coverages", headers=own)
    assert [c["id"] for c in coverages.get_json()] == [str(tenancy.ids["coverage_id"])]
    packages = client.get(f"/patients/{patient_id}/packages", headers=own)
    assert [p["id"] for p in packages.get_json()] == [str(tenancy.ids["package_id"])]


def test_clinic_scoped_staff_work_in_their_own_clinic(tenancy: Tenancy) -> None:
    client, clinic_id = tenancy.client, tenancy.one.clinic_id
    clerk = tenancy.staff("billing", tenancy.one)

    assert client.get(f"/invoices/{tenancy.ids['invoice_id']}", headers=clerk).status_code == 200
    assert client.get(f"/invoices/{tenancy.ids['invoice_id']}/pdf", headers=clerk).status_code == 200
    assert client.get(f"/reports/outstanding?clinic_id={clinic_id}", headers=clerk).status_code == 200
    listed = client.get("/invoices?page_size=100", headers=clerk).get_json()
    assert {i["clinic_id"] for i in listed} == {str(clinic_id)}
    # (Clinic 1's patient has a package there, so clinic 2's visit is the one to invoice.)
    tenancy.two.completed_visit()
    drafted = client.post(
        "/invoices",
        json={"clinic_id": str(tenancy.two.clinic_id), "patient_id": str(tenancy.two.patient_id)},
        headers=tenancy.staff("billing", tenancy.two),
    )
    assert drafted.status_code == 201, drafted.get_json()


def test_organisation_wide_billing_staff_do_it_all(tenancy: Tenancy) -> None:
    client, clinic_id, invoice_id = tenancy.client, tenancy.one.clinic_id, tenancy.ids["invoice_id"]
    everywhere = tenancy.staff("billing", None)

    assert client.get(f"/invoices/{invoice_id}", headers=everywhere).status_code == 200
    assert client.get(f"/invoices/{invoice_id}/pdf", headers=everywhere).status_code == 200
    assert client.get(f"/clinics/{clinic_id}/billing-policy", headers=everywhere).status_code == 200
    period = f"clinic_id={clinic_id}&from=2025-03-01&to=2025-03-31"
    assert client.get(f"/reports/revenue?{period}", headers=everywhere).status_code == 200
    assert client.get(f"/reports/outstanding?clinic_id={clinic_id}", headers=everywhere).status_code == 200
    coverages = client.get(f"/patients/{tenancy.ids['patient_id']}/coverages", headers=everywhere)
    assert [c["id"] for c in coverages.get_json()] == [str(tenancy.ids["coverage_id"])]
    listed = client.get("/invoices?page_size=100", headers=everywhere).get_json()
    assert {str(clinic_id), str(tenancy.two.clinic_id)} <= {i["clinic_id"] for i in listed}
    price = client.put(
        f"/clinics/{clinic_id}/prices/{tenancy.one.treatment_type_id}",
        json={"amount_cents": 13000, "currency": "CAD", "effective_from": "2025-04-01"},
        headers=everywhere,
    )
    assert price.status_code == 201, price.get_json()
    policy = client.put(
        f"/clinics/{clinic_id}/billing-policy",
        json={"currency": "CAD", "late_cancel_fee_mode": "fixed", "late_cancel_fee_value": 3000},
        headers=everywhere,
    )
    assert policy.status_code == 200, policy.get_json()
    paid = client.post(
        "/payments",
        json={
            "clinic_id": str(clinic_id),
            "patient_id": str(tenancy.ids["patient_id"]),
            "amount_cents": 1000,
            "currency": "CAD",
            "method": "cash",
            "allocations": [{"invoice_id": str(invoice_id), "amount_cents": 1000}],
        },
        headers=everywhere | {"Idempotency-Key": str(uuid.uuid4())},
    )
    assert paid.status_code == 201, paid.get_json()
    voided = client.post(
        f"/invoices/{invoice_id}/credit-notes",
        json={"amount_cents": 500, "reason": "goodwill"},
        headers=everywhere | {"Idempotency-Key": str(uuid.uuid4())},
    )
    assert voided.status_code == 201, voided.get_json()


def test_a_patient_still_reads_their_own_invoice(tenancy: Tenancy) -> None:
    patient = tenancy.issuer.headers("patient", patient_id=tenancy.ids["patient_id"])
    invoice_id = tenancy.ids["invoice_id"]

    assert tenancy.client.get(f"/invoices/{invoice_id}", headers=patient).status_code == 200
    assert tenancy.client.get(f"/invoices/{invoice_id}/pdf", headers=patient).status_code == 200
    listed = tenancy.client.get("/invoices", headers=patient).get_json()
    assert [i["id"] for i in listed] == [str(invoice_id)]
