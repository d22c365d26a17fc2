"""A patient's coverages (WorkSafeBC, ICBC, extended health): who pays what share of their treatments."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from billing.domain.errors import NotFound
from billing.domain.invoicing import Coverage, PayerKind
from billing.domain.model import Clinic, Patient
from billing.service_layer.audit import audit
from billing.service_layer.tenancy import clinic_filter, ensure_acts_in, ensure_patient_in_reach
from billing.service_layer.unit_of_work import BillingUnitOfWork
from clinic_shared.pagination import Page
from clinic_shared.tokens import Principal


@dataclass(frozen=True)
class AddCoverage:
    clinic_id: uuid.UUID
    patient_id: uuid.UUID
    payer_kind: PayerKind
    currency: str = "CAD"
    claim_number: str | None = None
    date_of_injury: date | None = None
    employer_name: str | None = None
    insurer_fee_cents: int | None = None
    coverage_bp: int | None = None
    per_visit_max_cents: int | None = None
    annual_max_cents: int | None = None
    policy_number: str | None = None


def add_coverage(uow: BillingUnitOfWork, actor: Principal, cmd: AddCoverage) -> Coverage:
    """Record a patient's WorkSafeBC claim, ICBC claim or extended health plan, for a clinic and a patient
    billing has heard of (from scheduling's events). Clinic-scoped staff add coverages at their clinic."""
    ensure_acts_in(actor, cmd.clinic_id, field="clinic_id")
    if uow.repo.get(Patient, cmd.patient_id) is None:
        raise NotFound("patient not found", field="patient_id")
    if uow.repo.get(Clinic, cmd.clinic_id) is None:
        raise NotFound("clinic not found", field="clinic_id")
    coverage = Coverage(id=uow.new_id(), created_at=uow.clock.now(), **vars(cmd))
    uow.repo.add(coverage)
    audit(uow, actor.account_id, "coverage", coverage.id, "added", payer_kind=str(cmd.payer_kind))
    return coverage


def list_coverages(
    uow: BillingUnitOfWork, actor: Principal, patient_id: uuid.UUID, page: Page
) -> tuple[Sequence[Coverage], int]:
    """A patient's coverages: clinic-scoped staff see those at their clinic, and only of a patient with a
    charge or an invoice there; organisation-wide staff see all."""
    ensure_patient_in_reach(uow, actor, patient_id)
    return uow.repo.list_coverages(
        patient_id, offset=page.offset, limit=page.limit, clinic_id=clinic_filter(actor, None)
    )
