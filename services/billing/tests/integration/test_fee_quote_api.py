"""A patient is told beforehand what a late cancellation would cost (GET /charges/fee-quote).

Each test runs on SQLite and on PostgreSQL (the ``client`` fixture is parametrized over both).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from flask.testing import FlaskClient

from billing.bootstrap import Container
from billing.service_layer import charges
from clinic_shared.testing.tokens import TestIssuer

from .test_invoicing_api import STARTS_AT, Setup, new_setup


def planned_visit(setup: Setup) -> uuid.UUID:
    """A booked (not yet held) IMS session at the clinic's 120.00 price; returns its appointment id."""
    appointment_id = uuid.uuid4()
    with setup.container.uow() as uow:
        charges.plan_charge(
            uow,
            charges.PlanCharge(
                appointment_id=appointment_id,
                clinic_id=setup.clinic_id,
                practitioner_id=uuid.uuid4(),
                patient_id=setup.patient_id,
                treatment_type_id=setup.treatment_type_id,
                starts_at=STARTS_AT,
                sequence=0,
            ),
        )
        uow.commit()
    return appointment_id


def set_policy(setup: Setup, **policy: Any) -> None:
    response = setup.client.put(
        f"/clinics/{setup.clinic_id}/billing-policy", json={"currency": "CAD"} | policy, headers=setup.headers
    )
    assert response.status_code == 200, response.get_json()


def quote(setup: Setup, appointment_id: uuid.UUID, headers: dict[str, str], **params: str) -> Any:
    query = {"appointment_id": str(appointment_id)} | params
    return setup.client.get("/charges/fee-quote", query_string=query, headers=headers)


def test_a_patient_is_told_the_fixed_late_cancellation_fee_with_its_tax_and_nothing_is_charged(
    client: FlaskClient, container: Container, issuer: TestIssuer
) -> None:
    setup = new_setup(client, container, issuer)
    set_policy(setup, late_cancel_fee_mode="fixed", late_cancel_fee_value=4000, fee_tax_rate_bp=500)
    appointment_id = planned_visit(setup)
    patient = issuer.headers("patient", patient_id=setup.patient_id)

    response = quote(setup, appointment_id, patient)

    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {
        "kind": "late_cancel_fee",
        "charged": True,
        "currency": "CAD",
        "amount_cents": 4000,
        "tax_cents": 200,
        "total_cents": 4200,
    }
    charges = client.get("/charges", query_string={"appointment_id": str(appointment_id)}, headers=patient)
    assert [c["kind"] for c in charges.get_json()] == ["appointment"]


def test_a_percentage_fee_is_quoted_from_the_visit_price_and_no_policy_means_no_fee(
    client: FlaskClient, container: Container, issuer: TestIssuer
) -> None:
    setup = new_setup(client, container, issuer)
    appointment_id = planned_visit(setup)
    patient = issuer.headers("patient", patient_id=setup.patient_id)
    none = quote(setup, appointment_id, patient).get_json()
    assert none["charged"] is False
    assert none["total_cents"] is None

    set_policy(setup, late_cancel_fee_mode="percent", late_cancel_fee_value=5000)
    half = quote(setup, appointment_id, patient).get_json()
    assert (half["charged"], half["amount_cents"], half["total_cents"]) == (True, 6000, 6000)
    missed = quote(setup, appointment_id, patient, kind="no_show_fee").get_json()
    assert (missed["kind"], missed["charged"]) == ("no_show_fee", False)


def test_only_the_appointments_patient_or_staff_may_ask_and_only_about_fees(
    client: FlaskClient, container: Container, issuer: TestIssuer
) -> None:
    setup = new_setup(client, container, issuer)
    set_policy(setup, late_cancel_fee_mode="fixed", late_cancel_fee_value=4000)
    appointment_id = planned_visit(setup)

    stranger = issuer.headers("patient", patient_id=uuid.uuid4())
    assert quote(setup, appointment_id, stranger).status_code == 404
    assert quote(setup, uuid.uuid4(), issuer.headers("front_desk")).status_code == 404
    assert quote(setup, appointment_id, issuer.headers("front_desk")).status_code == 200
    not_a_fee = quote(setup, appointment_id, setup.headers, kind="appointment")
    assert not_a_fee.status_code == 422
    assert (
        client.get("/charges/fee-quote", query_string={"appointment_id": str(appointment_id)}).status_code
        == 401
    )


def test_the_openapi_document_describes_the_fee_quote(client: FlaskClient) -> None:
    spec = json.loads(client.get("/openapi.json").data)
    operation = spec["paths"]["/charges/fee-quote"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"appointment_id", "kind"}
    assert set(operation["responses"]) >= {"200", "404"}
