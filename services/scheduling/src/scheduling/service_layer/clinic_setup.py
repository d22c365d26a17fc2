"""Clinics, their practitioners and treatment types: created by staff, announced to the other services as
events (billing and notifications keep copies), and looked up by every other use case.

Each use case runs in its caller's unit of work, and the caller commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from clinic_shared.pagination import Page
from clinic_shared.tokens import Principal
from scheduling.domain.errors import Conflict, Forbidden, NotFound
from scheduling.domain.model import AppointmentKind, Clinic, Practitioner, TreatmentType
from scheduling.service_layer import tenancy
from scheduling.service_layer.guarded_writes import conflict_on_violation
from scheduling.service_layer.ports import UnitOfWork


@dataclass(frozen=True)
class CreateClinic:
    code: str
    name: str
    timezone: str
    address: str
    phone: str
    email: str
    currency: str = "CAD"
    clinic_id: uuid.UUID | None = None  # chosen by the caller when importing or seeding


def create_clinic(uow: UnitOfWork, actor: Principal, cmd: CreateClinic) -> Clinic:
    if not (actor.organisation_wide and actor.has_any(("admin",))):
        raise Forbidden("only an organisation-wide admin creates clinics")
    if uow.repo.clinic_by_code(cmd.code) is not None:
        raise Conflict("a clinic with this code already exists", field="code")
    clinic = Clinic(
        id=cmd.clinic_id or uow.new_id(),
        code=cmd.code,
        name=cmd.name,
        timezone=cmd.timezone,
        address=cmd.address,
        phone=cmd.phone,
        email=cmd.email,
        currency=cmd.currency,
    )
    with conflict_on_violation(uow, "a clinic with this code already exists", "code"):
        uow.repo.add(clinic)
        uow.emit("scheduling.clinic.changed", _clinic_data(clinic))
    return clinic


@dataclass(frozen=True)
class AddPractitioner:
    clinic_id: uuid.UUID
    display_name: str
    registration_number: str
    ims_qualified: bool
    practitioner_id: uuid.UUID | None = None


def add_practitioner(uow: UnitOfWork, actor: Principal, cmd: AddPractitioner) -> Practitioner:
    tenancy.check_clinic(actor, cmd.clinic_id, staff_only=True)
    clinic_of(uow, cmd.clinic_id)
    practitioner = Practitioner(
        id=cmd.practitioner_id or uow.new_id(),
        clinic_id=cmd.clinic_id,
        display_name=cmd.display_name,
        registration_number=cmd.registration_number,
        ims_qualified=cmd.ims_qualified,
    )
    uow.repo.add(practitioner)
    uow.emit("scheduling.practitioner.changed", _practitioner_data(practitioner))
    return practitioner


@dataclass(frozen=True)
class AddTreatmentType:
    clinic_id: uuid.UUID
    code: str
    name: str
    kind: AppointmentKind
    duration_minutes: int
    buffer_minutes: int = 0
    late_cancel_hours: int = 24
    treatment_type_id: uuid.UUID | None = None


def add_treatment_type(uow: UnitOfWork, actor: Principal, cmd: AddTreatmentType) -> TreatmentType:
    tenancy.check_clinic(actor, cmd.clinic_id, staff_only=True)
    clinic_of(uow, cmd.clinic_id)
    treatment = TreatmentType(
        id=cmd.treatment_type_id or uow.new_id(),
        clinic_id=cmd.clinic_id,
        code=cmd.code,
        name=cmd.name,
        kind=cmd.kind,
        duration_minutes=cmd.duration_minutes,
        buffer_minutes=cmd.buffer_minutes,
        late_cancel_hours=cmd.late_cancel_hours,
    )
    uow.repo.add(treatment)
    uow.emit("scheduling.treatment_type.changed", _treatment_data(treatment))
    return treatment


def list_clinics(uow: UnitOfWork, actor: Principal, page: Page) -> tuple[Sequence[Clinic], int]:
    """Every clinic; clinic-scoped staff see their own only."""
    mine = tenancy.clinic_filter(actor)
    filters = {"id": mine["clinic_id"]} if mine else {}
    return uow.repo.list(Clinic, offset=page.offset, limit=page.limit, **filters)


def get_clinic(uow: UnitOfWork, actor: Principal, clinic_id: uuid.UUID) -> Clinic:
    return clinic_of(uow, clinic_id, actor)


def list_practitioners(
    uow: UnitOfWork, actor: Principal, clinic_id: uuid.UUID, page: Page
) -> tuple[Sequence[Practitioner], int]:
    clinic_of(uow, clinic_id, actor)
    return uow.repo.list(Practitioner, offset=page.offset, limit=page.limit, clinic_id=clinic_id)


def list_treatment_types(
    uow: UnitOfWork, actor: Principal, clinic_id: uuid.UUID, page: Page
) -> tuple[Sequence[TreatmentType], int]:
    clinic_of(uow, clinic_id, actor)
    return uow.repo.list(TreatmentType, offset=page.offset, limit=page.limit, clinic_id=clinic_id)


def clinic_of(uow: UnitOfWork, clinic_id: uuid.UUID, actor: Principal | None = None) -> Clinic:
    """The clinic; with ``actor``, also one the caller may touch (staff: of their clinic)."""
    if actor is not None:
        tenancy.check_clinic(actor, clinic_id)
    clinic = uow.repo.get(Clinic, clinic_id)
    if clinic is None:
        raise NotFound("clinic not found", field="clinic_id")
    return clinic


def practitioner_of(uow: UnitOfWork, practitioner_id: uuid.UUID) -> Practitioner:
    practitioner = uow.repo.get(Practitioner, practitioner_id)
    if practitioner is None:
        raise NotFound("practitioner not found", field="practitioner_id")
    return practitioner


def treatment_of(uow: UnitOfWork, treatment_type_id: uuid.UUID) -> TreatmentType:
    treatment = uow.repo.get(TreatmentType, treatment_type_id)
    if treatment is None:
        raise NotFound("treatment type not found", field="treatment_type_id")
    return treatment


def _clinic_data(clinic: Clinic) -> dict[str, object]:
    return {
        "clinic_id": clinic.id,
        "code": clinic.code,
        "name": clinic.name,
        "timezone": clinic.timezone,
        "address": clinic.address,
        "phone": clinic.phone,
        "email": clinic.email,
        "currency": clinic.currency,
    }


def _practitioner_data(practitioner: Practitioner) -> dict[str, object]:
    return {
        "practitioner_id": practitioner.id,
        "clinic_id": practitioner.clinic_id,
        "display_name": practitioner.display_name,
        "registration_number": practitioner.registration_number,
        "active": practitioner.active,
    }


def _treatment_data(treatment: TreatmentType) -> dict[str, object]:
    return {
        "treatment_type_id": treatment.id,
        "clinic_id": treatment.clinic_id,
        "code": treatment.code,
        "name": treatment.name,
        "kind": str(treatment.kind),
        "duration_minutes": treatment.duration_minutes,
        "active": treatment.active,
    }
