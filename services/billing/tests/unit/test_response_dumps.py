"""Billing's queue response on ``FastDumpSchema`` (and what it nests) dumps exactly as marshmallow would
(values, types, key order), on objects like the ones the endpoint returns."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any

import pytest

from billing.domain.coverages import Coverage
from billing.domain.invoicing import PayerKind
from billing.domain.model import Charge, ChargeKind, ChargeStatus
from billing.domain.money import Money
from billing.entrypoints.api.billing_queue import QueueEntrySchema
from billing.entrypoints.api.schemas.charges import ChargeSchema
from billing.entrypoints.api.schemas.coverages import CoverageSchema, PatientCoverageSchema
from billing.service_layer.billing_queue import QueueEntry
from clinic_shared.testing.dumps import assert_dumps_as_marshmallow, fast_keys

UTC = dt.UTC
START = dt.datetime(2025, 3, 3, 17, 0, tzinfo=UTC)


def charges_and_coverages(*, optional_none: bool) -> tuple[list[Any], list[Any]]:
    clinic, patient = uuid.uuid4(), uuid.uuid4()
    charge = Charge(
        id=uuid.uuid4(),
        kind=ChargeKind.APPOINTMENT,
        appointment_id=uuid.uuid4(),
        clinic_id=clinic,
        patient_id=patient,
        practitioner_id=uuid.uuid4(),
        treatment_type_id=uuid.uuid4(),
        starts_at=START,
        service_date=START.date(),
        amount=None if optional_none else Money(9500, "CAD"),
        status=ChargeStatus.BILLABLE,
        appointment_sequence=2,
        created_at=START,
        updated_at=START + dt.timedelta(hours=1),
    )
    extended = Coverage(
        id=uuid.uuid4(),
        clinic_id=clinic,
        patient_id=patient,
        payer_kind=PayerKind.EXTENDED_HEALTH,
        currency="CAD",
        created_at=START,
        policy_number="EH-99",
        coverage_bp=8000,
    )
    if optional_none:
        return [charge], [extended]
    fee = dataclasses.replace(charge, id=uuid.uuid4(), kind=ChargeKind.LATE_CANCEL_FEE)
    fee.late_cancellation, fee.tax_rate_bp, fee.status = True, 500, ChargeStatus.WAIVED
    fee.waived_reason, fee.waived_by, fee.waived_at = "first time", uuid.uuid4(), START
    fee.invoice_id, fee.package_id, fee.aborted_at = uuid.uuid4(), uuid.uuid4(), START
    icbc = Coverage(
        id=uuid.uuid4(),
        clinic_id=clinic,
        patient_id=patient,
        payer_kind=PayerKind.ICBC,
        currency="CAD",
        created_at=START,
        claim_number="C-1",
        date_of_injury=dt.date(2025, 1, 5),
        insurer_fee_cents=7000,
        per_visit_max_cents=9000,
        annual_max_cents=150000,
        employer_name="Acme",
        valid_from=dt.date(2025, 1, 5),
        valid_to=dt.date(2025, 12, 31),
    )
    return [charge, fee], [extended, icbc]


@pytest.mark.parametrize("optional_none", [False, True], ids=["filled", "optional-none"])
def test_the_billing_queue_and_what_it_nests_dump_as_marshmallow(optional_none: bool) -> None:
    charges, coverages = charges_and_coverages(optional_none=optional_none)
    entry = QueueEntry(charges[0].clinic_id, charges[0].patient_id, charges, coverages)
    got = assert_dumps_as_marshmallow(QueueEntrySchema(many=True), [entry, entry])
    assert len(got[0]["charges"]) == len(charges)
    assert_dumps_as_marshmallow(ChargeSchema(many=True), charges)
    assert_dumps_as_marshmallow(CoverageSchema(many=True), coverages)
    assert_dumps_as_marshmallow(PatientCoverageSchema(many=True), coverages)
    assert {"id", "kind", "status", "starts_at", "tax_rate_bp"} <= fast_keys(ChargeSchema())
