"""The billing queue through the HTTP API: patients with charges waiting to be invoiced, a page of patients
at a time, longest waiting first, with every billable charge and the coverages a split can use.

Each test runs on SQLite and on PostgreSQL (the ``client`` fixture is parametrized over both).
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient

from billing.bootstrap import Container
from billing.service_layer import reference_copies
from billing.service_layer.reference_copies import SyncPatient
from clinic_shared.testing.tokens import TestIssuer

from .test_invoicing_api import STARTS_AT, Setup, add_coverage, new_setup


def queue(setup: Setup, headers: dict[str, str] | None = None, **query: Any) -> Any:
    return setup.client.get("/billing-queue", query_string=query, headers=headers or setup.headers)


def patient_ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [entry["patient_id"] for entry in response.get_json()]


def another_patient(setup: Setup) -> Setup:
    """A second patient billing knows at the same clinic, billed by the same staff."""
    patient_id = uuid.uuid4()
    with setup.container.uow() as uow:
        reference_copies.sync_patient(
            uow, SyncPatient(patient_id, "Ben", "Ng", f"{patient_id}@example.test", None, "en", STARTS_AT)
        )
        uow.commit()
    return dataclasses.replace(setup, patient_id=patient_id)


def test_the_queue_lists_patients_longest_waiting_first_with_all_their_billable_charges(
    client: FlaskClient, container: Container, issuer: TestIssuer
) -> None:
    ana = new_setup(client, container, issuer)
    ben = another_patient(ana)
    ben.completed_visit(STARTS_AT - timedelta(days=14))
    ana.completed_visit(STARTS_AT)
    ana.completed_visit(STARTS_AT + timedelta(days=7))
    claim = add_coverage(
        ana, payer_kind="icbc", claim_number="CL-1", date_of_injury="2025-02-01", insurer_fee_cents=9000
    )
    assert claim.status_code == 201, claim.get_json()

    response = queue(ana, clinic_id=str(ana.clinic_id))

    assert patient_ids(response) == [str(ben.patient_id), str(ana.patient_id)]
    ben_entry, ana_entry = response.get_json()
    assert ben_entry["oldest_service_date"] == str((STARTS_AT - timedelta(days=14)).date())
    assert [c["amount_cents"] for c in ana_entry["charges"]] == [12000, 12000]
    assert {c["status"] for c in ana_entry["charges"]} == {"billable"}
    assert [(c["payer_kind"], c["claim_number"]) for c in ana_entry["coverages"]] == [("icbc", "CL-1")]
    assert ben_entry["coverages"] == []


def test_the_queue_pages_by_patient_and_filters_by_service_date_and_payer(
    client: FlaskClient, container: Container, issuer: TestIssuer
) -> None:
    ana = new_setup(client, container, issuer)
    others = [another_patient(ana) for _ in range(4)]
    for days, patient in enumerate([ana, *others]):
        patient.completed_visit(STARTS_AT + timedelta(days=days))
    covered = add_coverage(
        others[0], payer_kind="icbc", claim_number="CL-2", date_of_injury="2025-02-01", insurer_fee_cents=9000
    )
    assert covered.status_code == 201, covered.get_json()

    first = queue(ana, clinic_id=str(ana.clinic_id), page=1, page_size=2)
    second = queue(ana, clinic_id=str(ana.clinic_id), page=2, page_size=2)
    assert json.loads(first.headers["X-Pagination"])["total"] == 5
    assert patient_ids(first) + patient_ids(second) == [str(p.patient_id) for p in [ana, *others[:3]]]

    window = queue(
        ana,
        clinic_id=str(ana.clinic_id),
        first_day=str((STARTS_AT + timedelta(days=1)).date()),
        last_day=str((STARTS_AT + timedelta(days=2)).date()),
    )
    assert patient_ids(window) == [str(others[0].patient_id), str(others[1].patient_id)]
    assert patient_ids(queue(ana, clinic_id=str(ana.clinic_id), payer="icbc")) == [str(others[0].patient_id)]
    uncovered = patient_ids(queue(ana, clinic_id=str(ana.clinic_id), payer="patient"))
    assert str(others[0].patient_id) not in uncovered
    assert len(uncovered) == 4


def test_invoiced_charges_leave_the_queue(
    client: FlaskClient, container: Container, issuer: TestIssuer
) -> None:
    ana = new_setup(client, container, issuer)
    ana.completed_visit()
    assert patient_ids(queue(ana, clinic_id=str(ana.clinic_id))) == [str(ana.patient_id)]
    draft = ana.post("/invoices", {"clinic_id": str(ana.clinic_id), "patient_id": str(ana.patient_id)})
    assert draft.status_code == 201, draft.get_json()
    assert patient_ids(queue(ana, clinic_id=str(ana.clinic_id))) == []


def test_only_billing_staff_of_the_clinic_see_its_queue(
    client: FlaskClient, container: Container, issuer: TestIssuer
) -> None:
    ana = new_setup(client, container, issuer)
    ana.completed_visit()
    elsewhere = issuer.headers("billing", clinic_id=uuid.uuid4())
    assert queue(ana, headers=issuer.headers("patient", patient_id=ana.patient_id)).status_code == 403
    assert queue(ana, headers=issuer.headers("front_desk", clinic_id=ana.clinic_id)).status_code == 403
    assert patient_ids(queue(ana, headers=elsewhere)) == []  # their own clinic's queue: empty
    refused = queue(ana, headers=elsewhere, clinic_id=str(ana.clinic_id))
    assert refused.status_code == 404
    assert refused.get_json()["invalid-params"][0]["name"] == "clinic_id"
    own = issuer.headers("billing", clinic_id=ana.clinic_id)
    assert patient_ids(queue(ana, headers=own)) == [str(ana.patient_id)]


def test_a_backwards_window_or_unknown_payer_is_a_problem_naming_the_field(
    client: FlaskClient, container: Container, issuer: TestIssuer
) -> None:
    ana = new_setup(client, container, issuer)
    backwards = queue(ana, first_day="2025-03-10", last_day="2025-03-01")
    assert backwards.status_code == 422
    assert backwards.get_json()["invalid-params"][0]["name"] == "last_day"
    unknown = queue(ana, payer="santa")
    assert unknown.status_code == 422
    assert "payer" in json.dumps(unknown.get_json())
