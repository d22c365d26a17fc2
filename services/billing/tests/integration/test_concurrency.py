"""Concurrency on real PostgreSQL: gapless numbers under forced rollbacks, idempotent payments, credit.

Requests go through the HTTP app from many threads released together by a barrier; the Flask test client
runs each request in its calling thread, so a thread-local flag can make that request's transaction fail
after it has taken its number.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient

from billing.bootstrap import Container, bootstrap
from billing.entrypoints.api import create_app
from billing.service_layer import charges, invoices, prices, reference_copies
from billing.service_layer.unit_of_work import BillingUnitOfWork
from clinic_shared.testing.reporting import say
from clinic_shared.testing.tokens import TestIssuer
from clinic_shared.tokens import Principal

from ..conftest import NOW, ManualClock, billing_settings

pytestmark = pytest.mark.integration

ISSUES = 100
ROLLBACK_EVERY = 7
STARTS_AT = datetime(2025, 3, 10, 17, 0, tzinfo=UTC)
STAFF = Principal(account_id=uuid.uuid4(), roles=frozenset({"billing"}))


class InjectedFailure(Exception):
    """Raised instead of committing, after the transaction has done all its work."""


class FailureInjector:
    """Wraps the container's unit of work: a thread that set ``fail`` gets a commit that rolls back."""

    def __init__(self, container: Container) -> None:
        self.local = threading.local()
        self._make = container.uow

    def __call__(self) -> BillingUnitOfWork:
        uow = self._make()
        if getattr(self.local, "fail", False):

            def commit() -> None:
                uow.flush()
                raise InjectedFailure

            uow.commit = commit  # type: ignore[method-assign]
        return uow


@pytest.fixture
def app_parts(pg_url: str) -> Iterator[tuple[Container, FlaskClient, TestIssuer, FailureInjector]]:
    issuer = TestIssuer()
    container = bootstrap(billing_settings(pg_url), clock=ManualClock(NOW), verifier=issuer.verifier())
    injector = FailureInjector(container)
    container.uow = injector  # type: ignore[method-assign]
    app = create_app(container=container)
    yield container, app.test_client(), issuer, injector
    container.engine.dispose()


def seed_clinic(container: Container, code: str) -> tuple[uuid.UUID, uuid.UUID]:
    clinic_id, treatment_id = uuid.uuid4(), uuid.uuid4()
    with container.uow() as uow:
        reference_copies.sync_clinic(
            uow,
            reference_copies.SyncClinic(
                clinic_id,
                code,
                "Clinic",
                "America/Vancouver",
                "1 Main St",
                "+16045550100",
                "c@example.com",
                "CAD",
                datetime(2025, 1, 1, tzinfo=UTC),
            ),
        )
        uow.commit()
    with container.uow() as uow:
        prices.set_price(uow, prices.SetPrice(clinic_id, treatment_id, 12000, "CAD", STARTS_AT.date()))
        uow.commit()
    return clinic_id, treatment_id


def draft_for_new_patient(container: Container, clinic_id: uuid.UUID, treatment_id: uuid.UUID) -> uuid.UUID:
    patient_id = uuid.uuid4()
    facts = {
        "appointment_id": uuid.uuid4(),
        "clinic_id": clinic_id,
        "practitioner_id": uuid.uuid4(),
        "patient_id": patient_id,
        "treatment_type_id": treatment_id,
        "starts_at": STARTS_AT,
        "sequence": 1,
    }
    with container.uow() as uow:
        charges.complete_charge(uow, charges.CompleteCharge(**facts))
        uow.commit()
    with container.uow() as uow:
        draft = invoices.draft_invoice(uow, STAFF, invoices.DraftInvoice(clinic_id, patient_id))
        uow.commit()
        return draft.id


def all_at_once(count: int, task: Callable[[int], Any]) -> list[Any]:
    """Run ``task(0..count-1)`` on ``count`` threads released together."""
    barrier = threading.Barrier(count)

    def run(index: int) -> Any:
        barrier.wait()
        return task(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def test_concurrent_issues_with_rollbacks_number_invoices_without_gaps_or_duplicates(
    app_parts: tuple[Container, FlaskClient, TestIssuer, FailureInjector],
) -> None:
    container, client, issuer, injector = app_parts
    clinic_id, treatment_id = seed_clinic(container, "VAN")
    drafts = [draft_for_new_patient(container, clinic_id, treatment_id) for _ in range(ISSUES)]
    headers = issuer.headers("billing")

    def issue(index: int) -> tuple[uuid.UUID, int, str | None]:
        injector.local.fail = index % ROLLBACK_EVERY == 0
        try:
            response = client.post(f"/invoices/{drafts[index]}/issue", headers=headers)
        finally:
            injector.local.fail = False
        return drafts[index], response.status_code, (response.get_json() or {}).get("number")

    started = time.perf_counter()
    results = all_at_once(ISSUES, issue)
    elapsed = time.perf_counter() - started

    issued = [number for _, status, number in results if status == 200]
    failed = [invoice_id for invoice_id, status, _ in results if status != 200]
    values = sorted(int(number.rsplit("-", 1)[1]) for number in issued)
    assert len(failed) == len(range(0, ISSUES, ROLLBACK_EVERY))
    assert values == list(range(1, len(issued) + 1)), "numbers have a gap or a duplicate"
    assert all(number.startswith("VAN-2025-") for number in issued)

    # The rolled-back drafts are still drafts; issuing them now continues the series without a gap.
    retried = [client.post(f"/invoices/{invoice_id}/issue", headers=headers) for invoice_id in failed]
    assert [r.status_code for r in retried] == [200] * len(failed)
    all_values = sorted(values + [int(r.get_json()["number"].rsplit("-", 1)[1]) for r in retried])
    assert all_values == list(range(1, ISSUES + 1))
    say(
        f"\ngapless numbering: {ISSUES} concurrent issue requests, {len(failed)} forced rollbacks -> "
        f"{len(issued)} numbers exactly 1..{len(issued)} in {elapsed:.2f}s; "
        f"after retrying the rolled-back drafts: 1..{len(all_values)}, no gap, no duplicate"
    )


def test_concurrent_duplicate_payments_record_one_payment_and_replay_one_response(
    app_parts: tuple[Container, FlaskClient, TestIssuer, FailureInjector],
) -> None:
    container, client, issuer, _ = app_parts
    clinic_id, treatment_id = seed_clinic(container, "VIC")
    invoice_id = draft_for_new_patient(container, clinic_id, treatment_id)
    headers = issuer.headers("billing")
    issued = client.post(f"/invoices/{invoice_id}/issue", headers=headers).get_json()
    body = {
        "clinic_id": str(clinic_id),
        "patient_id": issued["patient_id"],
        "amount_cents": 5000,
        "currency": "CAD",
        "method": "cash",
        "allocations": [{"invoice_id": str(invoice_id), "amount_cents": 5000}],
    }
    duplicates = 20

    responses = all_at_once(
        duplicates,
        lambda _: client.post("/payments", json=body, headers=headers | {"Idempotency-Key": "till-42"}),
    )

    assert {r.status_code for r in responses} == {201}
    assert len({r.data for r in responses}) == 1
    replayed = sum(r.headers["Idempotent-Replayed"] == "true" for r in responses)
    assert replayed == duplicates - 1
    payments = client.get(f"/payments?patient_id={issued['patient_id']}", headers=headers).get_json()
    assert len(payments) == 1
    assert client.get(f"/invoices/{invoice_id}", headers=headers).get_json()["paid_cents"] == 5000
    say(
        f"\nidempotency: {duplicates} concurrent duplicates -> 1 payment row, 1 original + {replayed} replays"
    )


def issued_invoices_for_one_patient(
    container: Container, client: FlaskClient, headers: dict[str, str], count: int
) -> tuple[uuid.UUID, uuid.UUID, list[str]]:
    """A fresh clinic and patient with ``count`` issued invoices of 120.00 CAD each."""
    clinic_id, treatment_id = seed_clinic(container, "NAN")
    patient_id = uuid.uuid4()
    invoice_ids = []
    for _ in range(count):
        facts = {
            "appointment_id": uuid.uuid4(),
            "clinic_id": clinic_id,
            "practitioner_id": uuid.uuid4(),
            "patient_id": patient_id,
            "treatment_type_id": treatment_id,
            "starts_at": STARTS_AT,
            "sequence": 1,
        }
        with container.uow() as uow:
            charges.complete_charge(uow, charges.CompleteCharge(**facts))
            uow.commit()
        with container.uow() as uow:
            draft = invoices.draft_invoice(uow, STAFF, invoices.DraftInvoice(clinic_id, patient_id))
            uow.commit()
        assert client.post(f"/invoices/{draft.id}/issue", headers=headers).status_code == 200
        invoice_ids.append(str(draft.id))
    return clinic_id, patient_id, invoice_ids


@pytest.mark.parametrize(
    ("each_cents", "expected_successes"),
    [pytest.param(12000, 1, id="each-the-whole-credit"), pytest.param(5000, 2, id="each-part-of-it")],
)
def test_concurrent_credit_applications_never_spend_more_than_the_credit(
    app_parts: tuple[Container, FlaskClient, TestIssuer, FailureInjector],
    each_cents: int,
    expected_successes: int,
) -> None:
    container, client, issuer, _ = app_parts
    headers = issuer.headers("billing")
    applications = 10
    clinic_id, patient_id, invoice_ids = issued_invoices_for_one_patient(
        container, client, headers, applications
    )
    # 120.00 of credit from three payments, so an application locks and draws on several rows.
    for cents in (5000, 4000, 3000):
        paid = client.post(
            "/payments",
            json={
                "clinic_id": str(clinic_id),
                "patient_id": str(patient_id),
                "amount_cents": cents,
                "currency": "CAD",
                "method": "cash",
            },
            headers=headers | {"Idempotency-Key": str(uuid.uuid4())},
        )
        assert paid.status_code == 201
    credit_url = f"/patients/{patient_id}/credit?clinic_id={clinic_id}"
    assert client.get(credit_url, headers=headers).get_json()["credit_cents"] == 12000

    def apply(index: int) -> Any:
        return client.post(
            f"/patients/{patient_id}/credit/applications",
            json={
                "clinic_id": str(clinic_id),
                "currency": "CAD",
                "allocations": [{"invoice_id": invoice_ids[index], "amount_cents": each_cents}],
            },
            headers=headers | {"Idempotency-Key": f"apply-{index}"},
        )

    responses = all_at_once(applications, apply)

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * expected_successes + [422] * (applications - expected_successes)
    for refused in (r for r in responses if r.status_code == 422):
        assert refused.get_json()["invalid-params"][0]["name"] == "allocations"
    paid_cents = [client.get(f"/invoices/{i}", headers=headers).get_json()["paid_cents"] for i in invoice_ids]
    assert sum(paid_cents) == each_cents * expected_successes <= 12000
    left = client.get(credit_url, headers=headers).get_json()["credit_cents"]
    assert left == 12000 - each_cents * expected_successes
    payments = client.get(f"/payments?patient_id={patient_id}", headers=headers).get_json()
    for payment in payments:
        drawn = sum(a["amount_cents"] for a in payment["allocations"])
        assert drawn + payment["unallocated_cents"] == payment["amount_cents"]
    say(
        f"\npatient credit: {applications} concurrent applications of {each_cents} against 12000 of credit "
        f"-> {expected_successes} applied, {applications - expected_successes} refused (422), "
        f"{left} left, never overspent"
    )
