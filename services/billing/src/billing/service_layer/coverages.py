"""A patient's coverages (WorkSafeBC, ICBC, extended health): who pays what share of their treatments."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from billing.domain.coverages import Coverage
from billing.domain.errors import NotFound, RuleViolation
from billing.domain.invoicing import PayerKind
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
    valid_from: date | None = None


def add_coverage(uow: BillingUnitOfWork, actor: Principal, cmd: AddCoverage) -> Coverage:
    """Record a patient's WorkSafeBC claim, ICBC claim or extended health plan, for a clinic and a patient
    billing has heard of (from scheduling's events). Clinic-scoped staff add coverages at their clinic."""
    ensure_acts_in(actor, cmd.clinic_id, field="clinic_id")
    if uow.repo.get(Patient, cmd.patient_id) is None:
        raise NotFound("patient not found", field="patient_id")
    clinic = uow.repo.get(Clinic, cmd.clinic_id)
    if clinic is None:
        raise NotFound("clinic not found", field="clinic_id")
    now = uow.clock.now()
    # Valid from the day given, else the date of injury (a claim), else the clinic's today.
    valid_from = cmd.valid_from or cmd.date_of_injury or now.astimezone(clinic.zone).date()
    coverage = Coverage(id=uow.new_id(), created_at=now, **vars(cmd) | {"valid_from": valid_from})
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


@dataclass(frozen=True)
class EndCoverage:
    patient_id: uuid.UUID
    coverage_id: uuid.UUID
    valid_to: date


def end_coverage(uow: BillingUnitOfWork, actor: Principal, cmd: EndCoverage) -> Coverage:
    """End the patient's coverage on ``valid_to`` (its last day, inclusive); ending it again moves that day.
    Another clinic's coverage, or another patient's, is not found; a last day before its first is refused."""
    coverage = uow.repo.get_for_update(Coverage, cmd.coverage_id)
    if coverage is None or coverage.patient_id != cmd.patient_id:
        raise NotFound("coverage not found", field="coverage_id")
    ensure_acts_in(actor, coverage.clinic_id, "coverage not found", field="coverage_id")
    if cmd.valid_to < coverage.first_day:
        raise RuleViolation("a coverage cannot end before its first day", field="valid_to")
    coverage.valid_to = cmd.valid_to
    audit(uow, actor.account_id, "coverage", coverage.id, "ended", valid_to=cmd.valid_to.isoformat())
    return coverage
