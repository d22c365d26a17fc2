"""A coverage's days of validity and ending it: POST /patients/{id}/coverages/{id}/end.

Each test runs on SQLite and on PostgreSQL (the ``client`` fixture is parametrized over both).
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from billing.bootstrap import Container
from clinic_shared.testing.tokens import TestIssuer

from .test_invoicing_api import PROBLEM, STARTS_AT, Setup, new_setup

WORKSAFEBC = {
    "payer_kind": "worksafebc",
    "claim_number": "WCB-1234567",
    "date_of_injury": "2025-02-14",
    "employer_name": "Harbour Builders Ltd",
}


@pytest.fixture
def setup(client: FlaskClient, container: Container, issuer: TestIssuer) -> Setup:
    return new_setup(client, container, issuer)


def add(setup: Setup, facts: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    return setup.client.post(
        f"/patients/{setup.patient_id}/coverages",
        json={"clinic_id": str(setup.clinic_id)} | facts,
        headers=headers or setup.headers,
    )


def end(setup: Setup, coverage_id: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    return setup.client.post(
        f"/patients/{setup.patient_id}/coverages/{coverage_id}/end",
        json=body,
        headers=headers or setup.headers,
    )


def named(response: Any) -> list[str]:
    assert response.content_type == PROBLEM, response.get_data(as_text=True)[:300]
    return [p["name"] for p in response.get_json()["invalid-params"]]


def test_a_coverage_starts_on_its_date_of_injury_or_the_clinics_today_or_the_day_given(setup: Setup) -> None:
    claim = add(setup, WORKSAFEBC)
    assert claim.status_code == 201, claim.get_json()
    assert (claim.get_json()["valid_from"], claim.get_json()["valid_to"]) == ("2025-02-14", None)
    plan = add(setup, {"payer_kind": "extended_health", "policy_number": "GRP-7", "coverage_bp": 8000})
    assert plan.get_json()["valid_from"] == "2025-03-03"  # the clock's day in Vancouver
    given = add(
        setup,
        {
            "payer_kind": "extended_health",
            "policy_number": "GRP-8",
            "coverage_bp": 5000,
            "valid_from": "2025-01-01",
        },
    )
    assert given.get_json()["valid_from"] == "2025-01-01"
    cannot_set_the_end = add(setup, WORKSAFEBC | {"valid_to": "2025-12-31"})
    assert cannot_set_the_end.status_code == 422
    assert named(cannot_set_the_end) == ["valid_to"]


def test_ending_a_coverage_sets_its_last_day_lists_it_and_audits_it(setup: Setup) -> None:
    coverage = add(setup, WORKSAFEBC).get_json()
    setup.container.clock.advance(seconds=1)  # type: ignore[attr-defined]
    ended = end(setup, coverage["id"], {"valid_to": "2025-03-31"})
    assert ended.status_code == 200, ended.get_json()
    assert (ended.get_json()["id"], ended.get_json()["valid_to"]) == (coverage["id"], "2025-03-31")
    listed = setup.client.get(f"/patients/{setup.patient_id}/coverages", headers=setup.headers).get_json()
    assert [(c["id"], c["valid_from"], c["valid_to"]) for c in listed] == [
        (coverage["id"], "2025-02-14", "2025-03-31")
    ]
    setup.container.clock.advance(seconds=1)  # type: ignore[attr-defined]
    moved = end(setup, coverage["id"], {"valid_to": "2025-02-14"})  # its first day is its last: allowed
    assert moved.get_json()["valid_to"] == "2025-02-14"
    trail = setup.client.get(f"/audit?entity_id={coverage['id']}", headers=setup.headers).get_json()
    assert [entry["action"] for entry in trail] == ["added", "ended", "ended"]
    assert trail[-1]["details"] == {"valid_to": "2025-02-14"}


def test_a_last_day_before_the_first_or_none_at_all_is_refused_naming_the_field(setup: Setup) -> None:
    coverage = add(setup, WORKSAFEBC).get_json()
    before = end(setup, coverage["id"], {"valid_to": "2025-02-13"})
    assert before.status_code == 422
    assert named(before) == ["valid_to"]
    for body in ({}, {"valid_to": "31/03/2025"}):
        refused = end(setup, coverage["id"], body)
        assert refused.status_code == 422
        assert named(refused) == ["valid_to"]
    listed = setup.client.get(f"/patients/{setup.patient_id}/coverages", headers=setup.headers).get_json()
    assert listed[0]["valid_to"] is None


def test_an_unknown_coverage_another_patients_or_another_clinics_is_not_found(setup: Setup) -> None:
    coverage = add(setup, WORKSAFEBC).get_json()
    unknown = end(setup, str(uuid.uuid4()), {"valid_to": "2025-03-31"})
    assert unknown.status_code == 404
    assert named(unknown) == ["coverage_id"]
    other_patient = setup.client.post(
        f"/patients/{uuid.uuid4()}/coverages/{coverage['id']}/end",
        json={"valid_to": "2025-03-31"},
        headers=setup.headers,
    )
    assert other_patient.status_code == 404
    assert named(other_patient) == ["coverage_id"]
    elsewhere = setup.issuer.headers("billing", clinic_id=uuid.uuid4())
    refused = end(setup, coverage["id"], {"valid_to": "2025-03-31"}, headers=elsewhere)
    assert refused.status_code == 404
    assert named(refused) == ["coverage_id"]
    here = setup.issuer.headers("front_desk", clinic_id=setup.clinic_id)
    assert end(setup, coverage["id"], {"valid_to": "2025-03-31"}, headers=here).status_code == 200


def test_patients_and_practitioners_cannot_end_a_coverage(setup: Setup) -> None:
    coverage = add(setup, WORKSAFEBC).get_json()
    for headers in (
        setup.issuer.headers("patient", patient_id=setup.patient_id),
        setup.issuer.headers("practitioner", clinic_id=setup.clinic_id),
    ):
        assert end(setup, coverage["id"], {"valid_to": "2025-03-31"}, headers=headers).status_code == 403


def split(setup: Setup, coverage_id: str) -> Any:
    body = {
        "clinic_id": str(setup.clinic_id),
        "patient_id": str(setup.patient_id),
        "coverage_id": coverage_id,
    }
    return setup.post("/invoices/split", body)


def test_a_split_bills_the_payer_only_for_visits_within_the_coverages_days(setup: Setup) -> None:
    claim = add(setup, WORKSAFEBC).get_json()  # from 2025-02-14
    assert end(setup, claim["id"], {"valid_to": "2025-03-12"}).status_code == 200
    setup.completed_visit()  # 2025-03-10: covered
    setup.completed_visit(STARTS_AT + timedelta(days=7))  # after its last day: the patient's

    response = split(setup, claim["id"])

    assert response.status_code == 201, response.get_json()
    payer, patient = response.get_json()
    assert [(line["service_date"], line["amount_cents"]) for line in payer["lines"]] == [
        ("2025-03-10", 12000)
    ]
    assert [(line["service_date"], line["amount_cents"]) for line in patient["lines"]] == [
        ("2025-03-17", 12000)
    ]


def test_a_coverage_ended_before_every_visit_is_not_offered_and_cannot_split(setup: Setup) -> None:
    claim = add(setup, WORKSAFEBC).get_json()
    assert end(setup, claim["id"], {"valid_to": "2025-02-28"}).status_code == 200
    setup.completed_visit()  # 2025-03-10

    refused = split(setup, claim["id"])

    assert refused.status_code == 422
    assert named(refused) == ["coverage_id"]
    queued = setup.client.get(
        "/billing-queue", query_string={"clinic_id": str(setup.clinic_id)}, headers=setup.headers
    ).get_json()
    assert [(entry["patient_id"], entry["coverages"]) for entry in queued] == [(str(setup.patient_id), [])]
    assert split(setup, claim["id"]).status_code == 422  # and nothing was drafted meanwhile
    assert (
        setup.post(
            "/invoices", {"clinic_id": str(setup.clinic_id), "patient_id": str(setup.patient_id)}
        ).status_code
        == 201
    )


def test_the_openapi_document_describes_ending_a_coverage(setup: Setup) -> None:
    spec = json.loads(setup.client.get("/openapi.json").data)
    post = spec["paths"]["/patients/{patient_id}/coverages/{coverage_id}/end"]["post"]
    assert {"200", "404", "422"} <= set(post["responses"])
    body = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body.endswith("/EndCoverageRequest")
    listed = spec["components"]["schemas"]["PatientCoverage"]["properties"]
    assert {"valid_from", "valid_to"} <= set(listed)
