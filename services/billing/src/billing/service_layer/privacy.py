"""Privacy use cases (PIPA BC / PIPEDA): a patient downloads everything billing holds about them.

Scheduling and notifications export what they hold the same way (``GET /patients/{id}/export``); each
service answers for its own records.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from billing.domain.coverages import Coverage
from billing.domain.credit_notes import CreditNote
from billing.domain.errors import NotFound
from billing.domain.invoicing import Invoice
from billing.domain.model import Charge, Patient
from billing.domain.packages import Package
from billing.domain.payments import CreditApplication, Payment
from billing.service_layer.payments import patient_credit
from billing.service_layer.tenancy import clinic_filter, ensure_patient_in_reach
from billing.service_layer.unit_of_work import BillingUnitOfWork
from clinic_shared.tokens import Principal

EVERYTHING = 100_000  # an export takes all of a patient's rows, not a page


@dataclass(frozen=True)
class CreditBalance:
    """What the patient has paid at a clinic and not yet had applied to an invoice."""

    patient_id: uuid.UUID
    clinic_id: uuid.UUID
    credit_cents: int
    currency: str


@dataclass(frozen=True)
class PatientExport:
    """What billing holds about a patient, as the patient may ask for it (PIPA BC s. 23, PIPEDA).

    ``patient`` is billing's copy of the patient's names and contact (None when it has not reached
    billing). Invoices are the issued ones (a draft is still being prepared, as everywhere a patient
    looks); payments include refunds (``refund_of``) and their allocations.
    """

    patient_id: uuid.UUID
    patient: Patient | None
    charges: Sequence[Charge]
    invoices: Sequence[Invoice]
    credit_notes: Sequence[CreditNote]
    payments: Sequence[Payment]
    credit_applications: Sequence[CreditApplication]
    credit_balances: Sequence[CreditBalance]
    coverages: Sequence[Coverage]
    packages: Sequence[Package]

    @property
    def is_empty(self) -> bool:
        return self.patient is None and not any(
            (
                self.charges,
                self.invoices,
                self.credit_notes,
                self.payments,
                self.credit_applications,
                self.coverages,
                self.packages,
            )
        )


def export_patient(uow: BillingUnitOfWork, actor: Principal, patient_id: uuid.UUID) -> PatientExport:
    """Everything billing holds about the patient, for the patient, or for an admin who may see them (at
    the patient's request). A clinic's admin reaches only a patient with a charge or an invoice at their
    clinic, and then exports that clinic's records only; an organisation-wide admin exports all of them.
    Anyone else, and a patient billing knows nothing about, is answered "patient not found"."""
    own = actor.patient_id is not None and actor.patient_id == patient_id
    if not own:
        if not actor.has_any(("admin",)):
            raise NotFound("patient not found")
        ensure_patient_in_reach(uow, actor, patient_id)
    clinic_id = None if own else clinic_filter(actor, None)
    repo = uow.repo
    charges, _ = repo.list_charges(offset=0, limit=EVERYTHING, patient_id=patient_id, clinic_id=clinic_id)
    invoices, _ = repo.list_invoices(
        offset=0, limit=EVERYTHING, patient_id=patient_id, clinic_id=clinic_id, issued_only=True
    )
    payments, _ = repo.list_payments(offset=0, limit=EVERYTHING, patient_id=patient_id, clinic_id=clinic_id)
    coverages, _ = repo.list_coverages(patient_id, offset=0, limit=EVERYTHING, clinic_id=clinic_id)
    packages, _ = repo.list_packages(patient_id, offset=0, limit=EVERYTHING, clinic_id=clinic_id)
    paid_at = sorted({p.clinic_id for p in payments}, key=str)
    balances = []
    for paid_clinic in paid_at:
        credit = patient_credit(uow, paid_clinic, patient_id)
        balances.append(CreditBalance(patient_id, paid_clinic, credit.cents, credit.currency))
    export = PatientExport(
        patient_id=patient_id,
        patient=repo.get(Patient, patient_id),
        charges=charges,
        invoices=invoices,
        credit_notes=repo.patient_credit_notes(patient_id, clinic_id=clinic_id),
        payments=payments,
        credit_applications=repo.patient_credit_applications(patient_id, clinic_id=clinic_id),
        credit_balances=balances,
        coverages=coverages,
        packages=packages,
    )
    if export.is_empty:
        raise NotFound("patient not found")
    return export
