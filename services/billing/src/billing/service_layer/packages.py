"""Treatment packages: a number of sessions sold at once, drawn down as the patient's visits are billed."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from billing.domain.invoicing import Invoice
from billing.domain.model import TreatmentType, local_date
from billing.domain.money import Money
from billing.domain.packages import Package
from billing.service_layer.audit import audit
from billing.service_layer.invoices import _clinic
from billing.service_layer.tenancy import clinic_filter, ensure_acts_in, ensure_patient_in_reach
from billing.service_layer.unit_of_work import BillingUnitOfWork
from clinic_shared.pagination import Page
from clinic_shared.tokens import Principal


@dataclass(frozen=True)
class SellPackage:
    clinic_id: uuid.UUID
    patient_id: uuid.UUID
    treatment_type_id: uuid.UUID
    sessions: int
    amount_cents: int
    currency: str
    plan_id: uuid.UUID | None = None
    name: str | None = None  # none: named by its treatment and sessions
    expires_on: date | None = None


def sell_package(uow: BillingUnitOfWork, actor: Principal, cmd: SellPackage) -> Package:
    """Sell prepaid sessions: the package, and a draft invoice for its price to review and issue."""
    ensure_acts_in(actor, cmd.clinic_id, field="clinic_id")
    now = uow.clock.now()
    price = Money(cmd.amount_cents, cmd.currency)
    today = local_date(now, _clinic(uow, cmd.clinic_id).zone)
    treatment = uow.repo.get(TreatmentType, cmd.treatment_type_id)
    package = Package.sell(
        package_id=uow.new_id(),
        clinic_id=cmd.clinic_id,
        patient_id=cmd.patient_id,
        treatment_type_id=cmd.treatment_type_id,
        name=cmd.name or f"{treatment.name if treatment else 'Treatment'} package, {cmd.sessions} sessions",
        sessions=cmd.sessions,
        price=price,
        today=today,
        now=now,
        expires_on=cmd.expires_on,
        plan_id=cmd.plan_id,
    )
    invoice = Invoice.draft(
        invoice_id=uow.new_id(),
        clinic_id=cmd.clinic_id,
        patient_id=cmd.patient_id,
        currency=price.currency,
        now=now,
    )
    invoice.add_line(
        line_id=uow.new_id(),
        charge_id=None,
        description=package.name,
        service_date=today,
        practitioner_id=None,
        treatment_type_id=cmd.treatment_type_id,
        amount=price,
        tax_rate_bp=0,
        position=0,
    )
    package.invoice_id = invoice.id
    uow.repo.add(package)
    uow.repo.add(invoice)
    audit(
        uow,
        actor.account_id,
        "package",
        package.id,
        "sold",
        sessions=cmd.sessions,
        invoice_id=str(invoice.id),
    )
    return package


def list_packages(
    uow: BillingUnitOfWork, actor: Principal, patient_id: uuid.UUID, page: Page
) -> tuple[Sequence[Package], int]:
    """A patient's packages: clinic-scoped staff see those sold at their clinic, and only of a patient with
    a charge or an invoice there; organisation-wide staff see all."""
    ensure_patient_in_reach(uow, actor, patient_id)
    return uow.repo.list_packages(
        patient_id, offset=page.offset, limit=page.limit, clinic_id=clinic_filter(actor, None)
    )
