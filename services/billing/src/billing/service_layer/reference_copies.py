"""Billing's reference copies of scheduling's records (clinics, practitioners, treatment types, patients).

Each sync applies one of scheduling's events to a copy; the broker does not guarantee order, so older news is
ignored: an older version never overwrites a newer one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from billing.domain.model import Clinic, Patient, Practitioner, ReferenceCopy, TreatmentType
from billing.service_layer.unit_of_work import BillingUnitOfWork

CopyT = TypeVar("CopyT", bound=ReferenceCopy)


@dataclass(frozen=True)
class SyncClinic:
    clinic_id: uuid.UUID
    code: str
    name: str
    timezone: str
    address: str
    phone: str
    email: str
    currency: str
    as_of: datetime


@dataclass(frozen=True)
class SyncPractitioner:
    practitioner_id: uuid.UUID
    clinic_id: uuid.UUID
    display_name: str
    registration_number: str
    active: bool
    as_of: datetime


@dataclass(frozen=True)
class SyncTreatmentType:
    treatment_type_id: uuid.UUID
    clinic_id: uuid.UUID
    code: str
    name: str
    kind: str
    duration_minutes: int
    active: bool
    as_of: datetime


@dataclass(frozen=True)
class SyncPatient:
    patient_id: uuid.UUID
    first_name: str
    last_name: str
    email: str
    phone: str | None
    language: str
    as_of: datetime


def sync_clinic(uow: BillingUnitOfWork, cmd: SyncClinic) -> Clinic:
    return _sync(uow, Clinic, cmd.clinic_id, cmd.as_of, _facts(cmd, "clinic_id"))


def sync_practitioner(uow: BillingUnitOfWork, cmd: SyncPractitioner) -> Practitioner:
    return _sync(uow, Practitioner, cmd.practitioner_id, cmd.as_of, _facts(cmd, "practitioner_id"))


def sync_treatment_type(uow: BillingUnitOfWork, cmd: SyncTreatmentType) -> TreatmentType:
    return _sync(uow, TreatmentType, cmd.treatment_type_id, cmd.as_of, _facts(cmd, "treatment_type_id"))


def sync_patient(uow: BillingUnitOfWork, cmd: SyncPatient) -> Patient:
    return _sync(uow, Patient, cmd.patient_id, cmd.as_of, _facts(cmd, "patient_id"))


def _sync(
    uow: BillingUnitOfWork, cls: type[CopyT], entity_id: uuid.UUID, as_of: datetime, facts: dict[str, Any]
) -> CopyT:
    """Insert or refresh a local copy; an event older than the copy changes nothing."""
    copy = uow.repo.get(cls, entity_id)
    if copy is None:
        create: Callable[..., CopyT] = cls
        copy = create(id=entity_id, as_of=as_of, **facts)
        uow.repo.add(copy)
    else:
        copy.refresh(as_of, facts)
    return copy


def _facts(cmd: Any, id_field: str) -> dict[str, Any]:
    """A Sync* command's fields other than the record's id and ``as_of``, named as on the copy."""
    return {name: value for name, value in vars(cmd).items() if name not in {id_field, "as_of"}}
