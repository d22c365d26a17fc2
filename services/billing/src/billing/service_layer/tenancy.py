"""Clinic tenancy (ADR 0006): staff act only in their own clinic, unless organisation-wide.

Every staff use case checks the clinic of what it touches here: the clinic named in the request for a
clinic's configuration, lists and reports, the object's own clinic for a charge, invoice, credit note or
payment. Another clinic's object is answered as not found (``NotFound``, a 404), never as forbidden, so a
clinic-scoped account cannot even learn that it exists. Patients are not staff: what they may see of their
own records is decided by the use case itself, not here.
"""

from __future__ import annotations

import uuid

from billing.domain.errors import NotFound
from billing.service_layer.unit_of_work import BillingUnitOfWork
from clinic_shared.tokens import Principal


def staff_outside(actor: Principal, clinic_id: uuid.UUID | None) -> bool:
    """Whether ``actor`` is staff whose roles do not hold in ``clinic_id`` (so it must not see it)."""
    return actor.is_staff and not actor.acts_in(clinic_id)


def ensure_acts_in(
    actor: Principal, clinic_id: uuid.UUID | None, message: str = "clinic not found", field: str | None = None
) -> None:
    """Raise NotFound(``message``) for staff of another clinic; patients pass (their use case decides)."""
    if staff_outside(actor, clinic_id):
        raise NotFound(message, field=field)


def clinic_filter(actor: Principal, clinic_id: uuid.UUID | None) -> uuid.UUID | None:
    """The clinic a staff list is restricted to: the one asked for (404 if not the caller's), else the
    caller's own clinic for clinic-scoped staff, else None (organisation-wide staff, or a patient)."""
    if clinic_id is not None:
        ensure_acts_in(actor, clinic_id, field="clinic_id")
        return clinic_id
    return actor.clinic_id if actor.is_staff else None


def ensure_patient_in_reach(
    uow: BillingUnitOfWork, actor: Principal, patient_id: uuid.UUID, field: str = "patient_id"
) -> None:
    """Clinic-scoped staff reach a patient only when the patient has a charge or an invoice at their
    clinic; organisation-wide staff reach every patient. Others' patients are not found."""
    if not actor.is_staff:
        return
    if actor.clinic_id is not None and not uow.repo.patient_known_at(actor.clinic_id, patient_id):
        raise NotFound("patient not found", field=field)
