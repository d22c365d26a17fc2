"""Billing's API fuzzed from its own OpenAPI document (schemathesis) on PostgreSQL, as a patient and as a
billing clerk: no server error, and every answer as the document describes it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from billing.bootstrap import bootstrap
from billing.config import BillingSettings
from billing.entrypoints.api import create_app
from billing.service_layer import charges, prices, reference_copies
from clinic_shared.testing.fuzz import fuzz
from clinic_shared.testing.tokens import TestIssuer

pytestmark = pytest.mark.integration

VISIT = datetime(2025, 3, 10, 17, 0, tzinfo=UTC)
SYNCED = datetime(2025, 1, 1, tzinfo=UTC)


@dataclass
class Seeded:
    app: Flask
    ids: dict[str, Any]


@pytest.fixture
def seeded(pg_url: str, clock: Any, issuer: TestIssuer, tmp_path: Path) -> Iterator[Seeded]:
    """A clinic with a priced treatment type, a patient's completed visit invoiced and partly paid."""
    settings = BillingSettings.from_env(
        {
            "BILLING_DATABASE_URL": pg_url,
            "VAR_DIR": str(tmp_path),
            "BILLING_PUBLIC_URL": "https://billing.clinic.test",
            "DOCUMENT_LINK_SECRET": "fuzz-document-link-secret-0123456789",
        }
    )
    container = bootstrap(settings, clock=clock, verifier=issuer.verifier())
    clinic_id, treatment_type_id, patient_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with container.uow() as uow:
        reference_copies.sync_clinic(
            uow,
            reference_copies.SyncClinic(
                clinic_id,
                "VAN",
                "Demo IMS Clinic",
                "America/Vancouver",
                "100 Main St",
                "+16045550199",
                "front@demo.clinic",
                "CAD",
                SYNCED,
            ),
        )
        reference_copies.sync_treatment_type(
            uow,
            reference_copies.SyncTreatmentType(
                treatment_type_id, clinic_id, "IMS30", "IMS session, 30 min", "treatment", 30, True, SYNCED
            ),
        )
        uow.commit()
    with container.uow() as uow:
        prices.set_price(
            uow, prices.SetPrice(clinic_id, treatment_type_id, 12000, "CAD", VISIT.date() - timedelta(30))
        )
        uow.commit()
    facts = {
        "appointment_id": uuid.uuid4(),
        "clinic_id": clinic_id,
        "practitioner_id": uuid.uuid4(),
        "patient_id": patient_id,
        "treatment_type_id": treatment_type_id,
        "starts_at": VISIT,
        "sequence": 0,
    }
    with container.uow() as uow:
        charges.plan_charge(uow, charges.PlanCharge(**facts))
        uow.commit()
    with container.uow() as uow:
        charge = charges.complete_charge(uow, charges.CompleteCharge(**facts | {"sequence": 2}))
        uow.commit()
    app = create_app(container=container)
    client, clerk = app.test_client(), issuer.headers("billing")
    draft = client.post(
        "/invoices", json={"clinic_id": str(clinic_id), "patient_id": str(patient_id)}, headers=clerk
    )
    assert draft.status_code == 201, draft.get_json()
    clock.advance(seconds=1)
    invoice_id = draft.get_json()["id"]
    assert client.post(f"/invoices/{invoice_id}/issue", headers=clerk).status_code == 200
    payment = client.post(
        "/payments",
        json={
            "clinic_id": str(clinic_id),
            "patient_id": str(patient_id),
            "amount_cents": 5000,
            "currency": "CAD",
            "method": "card",
            "allocations": [{"invoice_id": invoice_id, "amount_cents": 5000}],
        },
        headers=clerk | {"Idempotency-Key": str(uuid.uuid4())},
    )
    assert payment.status_code == 201, payment.get_json()
    yield Seeded(
        app,
        {
            "clinic_id": clinic_id,
            "treatment_type_id": treatment_type_id,
            "patient_id": patient_id,
            "charge_id": charge.id,
            "invoice_id": invoice_id,
            "payment_id": payment.get_json()["id"],
        },
    )
    container.engine.dispose()


@pytest.mark.parametrize("role", ["patient", "billing"])
def test_every_answer_is_as_documented(
    role: str, seeded: Seeded, issuer: TestIssuer, record_property: Callable[[str, object], None]
) -> None:
    headers = (
        issuer.headers("patient", patient_id=seeded.ids["patient_id"])
        if role == "patient"
        else issuer.headers(role, clinic_id=seeded.ids["clinic_id"])
    )
    result = fuzz(seeded.app, f"billing as {role}", headers=headers, known_ids=seeded.ids)
    result.record(record_property)
    result.assert_clean()
