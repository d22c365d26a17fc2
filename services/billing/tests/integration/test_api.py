"""Billing's HTTP API: bearer tokens, roles, problem documents, pagination and patient isolation."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient

from billing.bootstrap import Container
from billing.domain.model import Charge
from billing.service_layer import charges
from clinic_shared.testing.tokens import TestIssuer

PROBLEM = "application/problem+json"
# Fixed, so that test ids are the same in every pytest-xdist worker.
SOME_ID = uuid.UUID("0b6f3c55-4f1e-4d8a-9f43-1f3c1d2e7a10")


def price_body(**overrides: Any) -> dict[str, Any]:
    return {"amount_cents": 12000, "currency": "CAD", "effective_from": "2025-04-01"} | overrides


def prices_url(clinic_id: uuid.UUID, treatment_type_id: uuid.UUID | None = None) -> str:
    base = f"/clinics/{clinic_id}/prices"
    return f"{base}/{treatment_type_id}" if treatment_type_id else base


def plan_charge(container: Container, patient_id: uuid.UUID, clinic_id: uuid.UUID | None = None) -> Charge:
    with container.uow() as uow:
        charge = charges.plan_charge(
            uow,
            charges.PlanCharge(
                appointment_id=uuid.uuid4(),
                clinic_id=clinic_id or uuid.uuid4(),
                practitioner_id=uuid.uuid4(),
                patient_id=patient_id,
                treatment_type_id=uuid.uuid4(),
                starts_at=datetime(2025, 3, 10, 17, 0, tzinfo=UTC),
                sequence=0,
            ),
        )
        uow.commit()
        return charge


def invalid_names(response: Any) -> set[str]:
    return {param["name"] for param in response.get_json()["invalid-params"]}


# --- authentication and roles --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/charges"), ("get", f"/charges/{SOME_ID}"), ("get", prices_url(SOME_ID))],
)
def test_requests_without_a_token_are_refused(client: FlaskClient, method: str, path: str) -> None:
    response = getattr(client, method)(path)
    assert response.status_code == 401
    assert response.mimetype == PROBLEM
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_setting_a_price_without_a_token_is_refused(client: FlaskClient) -> None:
    response = client.put(prices_url(uuid.uuid4(), uuid.uuid4()), json=price_body())
    assert response.status_code == 401


def test_a_forged_token_is_refused(client: FlaskClient) -> None:
    stranger = TestIssuer()
    response = client.get("/charges", headers=stranger.headers("admin"))
    assert response.status_code == 401
    assert response.mimetype == PROBLEM


@pytest.mark.parametrize("role", ["patient", "practitioner", "front_desk"])
def test_only_billing_clerks_and_admins_set_prices(
    client: FlaskClient, issuer: TestIssuer, role: str
) -> None:
    response = client.put(
        prices_url(uuid.uuid4(), uuid.uuid4()),
        json=price_body(),
        headers=issuer.headers(role, patient_id=uuid.uuid4() if role == "patient" else None),
    )
    assert response.status_code == 403
    assert response.mimetype == PROBLEM


def test_patients_cannot_read_price_lists(client: FlaskClient, issuer: TestIssuer) -> None:
    response = client.get(
        prices_url(uuid.uuid4()), headers=issuer.headers("patient", patient_id=uuid.uuid4())
    )
    assert response.status_code == 403


# --- prices --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["billing", "admin"])
def test_setting_a_price_creates_an_entry_and_the_same_date_replaces_it(
    client: FlaskClient, issuer: TestIssuer, role: str
) -> None:
    clinic_id, treatment_id = uuid.uuid4(), uuid.uuid4()
    url = prices_url(clinic_id, treatment_id)

    created = client.put(url, json=price_body(), headers=issuer.headers(role))
    replaced = client.put(url, json=price_body(amount_cents=12500), headers=issuer.headers(role))

    assert created.status_code == 201
    assert replaced.status_code == 200
    body = replaced.get_json()
    assert body["id"] == created.get_json()["id"]
    assert body == body | {
        "clinic_id": str(clinic_id),
        "treatment_type_id": str(treatment_id),
        "amount_cents": 12500,
        "currency": "CAD",
        "effective_from": "2025-04-01",
    }


def test_bad_price_input_is_a_problem_naming_each_field(client: FlaskClient, issuer: TestIssuer) -> None:
    response = client.put(
        prices_url(uuid.uuid4(), uuid.uuid4()),
        json={"amount_cents": -1, "currency": "cad"},
        headers=issuer.headers("billing"),
    )
    assert response.status_code == 422
    assert response.mimetype == PROBLEM
    assert invalid_names(response) == {"amount_cents", "currency", "effective_from"}


@pytest.mark.parametrize("amount", [120.5, "12000", True])
def test_amounts_must_be_whole_cents(client: FlaskClient, issuer: TestIssuer, amount: object) -> None:
    response = client.put(
        prices_url(uuid.uuid4(), uuid.uuid4()),
        json=price_body(amount_cents=amount),
        headers=issuer.headers("billing"),
    )
    assert response.status_code == 422
    assert invalid_names(response) == {"amount_cents"}


def test_unknown_fields_are_rejected(client: FlaskClient, issuer: TestIssuer) -> None:
    response = client.put(
        prices_url(uuid.uuid4(), uuid.uuid4()),
        json=price_body(discount_cents=500),
        headers=issuer.headers("billing"),
    )
    assert response.status_code == 422
    assert response.mimetype == PROBLEM
    assert invalid_names(response) == {"discount_cents"}


def test_back_dating_a_price_change_is_a_problem_on_effective_from(
    client: FlaskClient, issuer: TestIssuer
) -> None:
    url = prices_url(uuid.uuid4(), uuid.uuid4())
    assert (
        client.put(
            url, json=price_body(effective_from="2024-01-01"), headers=issuer.headers("billing")
        ).status_code
        == 201
    )

    response = client.put(
        url, json=price_body(effective_from="2025-03-01"), headers=issuer.headers("billing")
    )

    assert response.status_code == 422
    assert response.mimetype == PROBLEM
    assert invalid_names(response) == {"effective_from"}


def test_price_lists_are_paginated(client: FlaskClient, issuer: TestIssuer) -> None:
    clinic_id = uuid.uuid4()
    for day in ("2025-04-01", "2025-05-01", "2025-06-01"):
        response = client.put(
            prices_url(clinic_id, uuid.uuid4()),
            json=price_body(effective_from=day),
            headers=issuer.headers("admin"),
        )
        assert response.status_code == 201

    first = client.get(f"{prices_url(clinic_id)}?page_size=2", headers=issuer.headers("front_desk"))
    last = client.get(f"{prices_url(clinic_id)}?page_size=2&page=2", headers=issuer.headers("front_desk"))

    assert first.status_code == 200
    pagination = json.loads(first.headers["X-Pagination"])
    assert pagination["total"] == 3
    assert pagination["total_pages"] == 2
    assert len(first.get_json()) == 2
    assert len(last.get_json()) == 1


# --- charges -------------------------------------------------------------------------------------------


def test_staff_list_charges_filtered_by_patient(
    client: FlaskClient, issuer: TestIssuer, container: Container
) -> None:
    patient_id = uuid.uuid4()
    mine = {str(plan_charge(container, patient_id).id) for _ in range(3)}
    plan_charge(container, uuid.uuid4())

    response = client.get(
        f"/charges?patient_id={patient_id}&status=planned&page_size=2", headers=issuer.headers("billing")
    )

    assert response.status_code == 200
    assert json.loads(response.headers["X-Pagination"])["total"] == 3
    assert {charge["id"] for charge in response.get_json()} < mine


def test_staff_find_charges_that_need_a_price(
    client: FlaskClient, issuer: TestIssuer, container: Container
) -> None:
    clinic_id = uuid.uuid4()
    charge = plan_charge(container, uuid.uuid4(), clinic_id)

    response = client.get(
        f"/charges?clinic_id={clinic_id}&needs_price=true", headers=issuer.headers("billing")
    )

    [listed] = response.get_json()
    assert listed["id"] == str(charge.id)
    assert listed["needs_price"] is True
    assert listed["amount_cents"] is None
    assert listed["currency"] is None


def test_a_patient_lists_only_their_own_charges(
    client: FlaskClient, issuer: TestIssuer, container: Container
) -> None:
    me, someone_else = uuid.uuid4(), uuid.uuid4()
    mine = plan_charge(container, me)
    plan_charge(container, someone_else)
    headers = issuer.headers("patient", patient_id=me)

    own = client.get("/charges", headers=headers)
    theirs = client.get(f"/charges?patient_id={someone_else}", headers=headers)

    assert [charge["id"] for charge in own.get_json()] == [str(mine.id)]
    assert theirs.status_code == 200
    assert theirs.get_json() == []


def test_a_patient_reads_their_own_charge(
    client: FlaskClient, issuer: TestIssuer, container: Container
) -> None:
    me = uuid.uuid4()
    charge = plan_charge(container, me)

    response = client.get(f"/charges/{charge.id}", headers=issuer.headers("patient", patient_id=me))

    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "planned"
    assert body["kind"] == "appointment"
    assert body["service_date"] == "2025-03-10"
    assert body["starts_at"] == "2025-03-10T17:00:00+00:00"


def test_a_patient_gets_404_for_someone_elses_charge(
    client: FlaskClient, issuer: TestIssuer, container: Container
) -> None:
    charge = plan_charge(container, uuid.uuid4())

    response = client.get(f"/charges/{charge.id}", headers=issuer.headers("patient", patient_id=uuid.uuid4()))

    assert response.status_code == 404
    assert response.mimetype == PROBLEM


def test_an_unknown_charge_is_404(client: FlaskClient, issuer: TestIssuer) -> None:
    response = client.get(f"/charges/{uuid.uuid4()}", headers=issuer.headers("admin"))
    assert response.status_code == 404
    assert response.get_json()["title"] == "Not Found"


def test_a_bad_filter_is_a_problem_naming_it(client: FlaskClient, issuer: TestIssuer) -> None:
    response = client.get("/charges?status=paid", headers=issuer.headers("admin"))
    assert response.status_code == 422
    assert invalid_names(response) == {"status"}


# --- documentation and health --------------------------------------------------------------------------


def test_openapi_document_describes_the_endpoints_without_a_token(client: FlaskClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    paths = response.get_json()["paths"]
    assert {"/charges", "/charges/{charge_id}", "/clinics/{clinic_id}/prices"} <= set(paths)
    assert "put" in paths["/clinics/{clinic_id}/prices/{treatment_type_id}"]


def test_liveness_needs_no_token(client: FlaskClient) -> None:
    assert client.get("/healthz").status_code == 200
