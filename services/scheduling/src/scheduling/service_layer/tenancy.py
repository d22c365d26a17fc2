"""Clinic tenancy (ADR 0006): the one place scheduling's use cases ask whether a caller may touch a clinic's
objects.

Clinic-scoped staff act in their own clinic only; organisation-wide staff in every clinic
(``Principal.acts_in``). Another clinic's object is answered as not found, never as forbidden: a 403 would
confirm that it exists. Patients are unaffected here (their own-records checks stay where they were), and may
still read any clinic's public catalogue (hours, practitioners, treatment types, free slots).

Clinic-scoped staff see a patient only when the patient has a care relationship with their clinic (on its
patient list, or an appointment, plan or waitlist entry there; see ``patient_registry``).
"""

from __future__ import annotations

import uuid

from clinic_shared.tokens import Principal
from scheduling.domain.errors import NotFound
from scheduling.service_layer.ports import UnitOfWork

# The command line, the demo seed and the benchmark act as an organisation-wide admin (the operator).
OPERATOR = Principal(account_id=uuid.UUID(int=0), roles=frozenset({"admin"}))


def check_clinic(
    actor: Principal,
    clinic_id: uuid.UUID | None,
    *,
    staff_only: bool = False,
    what: str = "clinic",
    field: str | None = "clinic_id",
) -> None:
    """Raise NotFound unless the caller may touch ``clinic_id``'s objects.

    Staff must act in the clinic. Anyone else passes (their own checks apply) unless ``staff_only``: then
    the operation is for the clinic's staff alone and a non-staff caller does not find it either.
    """
    if (actor.is_staff or staff_only) and not actor.acts_in(clinic_id):
        raise NotFound(f"{what} not found", field=field)


def clinic_filter(actor: Principal, column: str = "clinic_id") -> dict[str, object]:
    """Filters that limit a list to the caller's clinic (none for organisation-wide staff and patients)."""
    if actor.is_staff and actor.clinic_id is not None:
        return {column: actor.clinic_id}
    return {}


def sees_patient(uow: UnitOfWork, actor: Principal, patient_id: uuid.UUID) -> bool:
    """Whether staff may see and change this patient: organisation-wide staff always; clinic-scoped staff when
    the patient is on their clinic's list or has an appointment, plan or waitlist entry there. Non-staff:
    only themselves."""
    if not actor.is_staff:
        return actor.patient_id == patient_id
    if actor.clinic_id is None:
        return True
    return uow.repo.patient_related_to_clinic(patient_id, actor.clinic_id)


def check_patient(
    uow: UnitOfWork, actor: Principal, patient_id: uuid.UUID, *, field: str | None = "patient_id"
) -> None:
    """Raise NotFound("patient not found") unless the caller may see this patient."""
    if not sees_patient(uow, actor, patient_id):
        raise NotFound("patient not found", field=field)
