"""Scheduling's use cases. Each runs in one unit of work: state and events commit together or not at all."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exc

from clinic_shared.db import is_conflict
from clinic_shared.tokens import Principal
from scheduling.domain.errors import Conflict, Forbidden, InvalidCredentials, NotFound, RuleViolation
from scheduling.domain.model import (
    STAFF_ROLES,
    Account,
    Appointment,
    AppointmentKind,
    Clinic,
    Patient,
    Practitioner,
    Role,
    TreatmentType,
)
from scheduling.service_layer.ports import PasswordHasher, UnitOfWork


@dataclass(frozen=True)
class Page:
    offset: int
    limit: int


# --- accounts -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegisterPatient:
    email: str
    password: str
    first_name: str
    last_name: str
    phone: str | None
    language: str


def register_patient(uow: UnitOfWork, hasher: PasswordHasher, cmd: RegisterPatient) -> Patient:
    email = cmd.email.strip().lower()
    if uow.repo.account_by_email(email) is not None:
        raise Conflict("an account with this email already exists", field="email")
    patient = Patient(
        id=uow.new_id(),
        first_name=cmd.first_name,
        last_name=cmd.last_name,
        email=email,
        phone=cmd.phone,
        language=cmd.language,
    )
    account = Account(
        id=uow.new_id(),
        email=email,
        password_hash=hasher.hash(cmd.password),
        roles=[Role.PATIENT.value],
        patient_id=patient.id,
    )
    with _conflict_on_violation("an account with this email already exists", "email"):
        uow.repo.add(patient)
        uow.flush()  # the account row references the patient row
        uow.repo.add(account)
        uow.emit("scheduling.patient.registered", _patient_contact(patient))
        uow.commit()
    return patient


@dataclass(frozen=True)
class UpdatePatient:
    patient_id: uuid.UUID
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    language: str | None = None


def update_patient(uow: UnitOfWork, actor: Principal, cmd: UpdatePatient) -> Patient:
    patient = _visible_patient(uow, actor, cmd.patient_id)
    for name in ("first_name", "last_name", "phone", "language"):
        value = getattr(cmd, name)
        if value is not None:
            setattr(patient, name, value)
    uow.emit("scheduling.patient.updated", _patient_contact(patient))
    uow.commit()
    return patient


def get_patient(uow: UnitOfWork, actor: Principal, patient_id: uuid.UUID) -> Patient:
    return _visible_patient(uow, actor, patient_id)


@dataclass(frozen=True)
class CreateStaffAccount:
    email: str
    password: str
    roles: Sequence[str]
    clinic_id: uuid.UUID | None = None
    practitioner_id: uuid.UUID | None = None


def create_staff_account(uow: UnitOfWork, hasher: PasswordHasher, cmd: CreateStaffAccount) -> Account:
    roles = sorted(set(cmd.roles))
    if not roles or not set(roles) <= {r.value for r in STAFF_ROLES}:
        raise RuleViolation(
            "staff roles must be some of practitioner, front_desk, billing, admin", field="roles"
        )
    email = cmd.email.strip().lower()
    if uow.repo.account_by_email(email) is not None:
        raise Conflict("an account with this email already exists", field="email")
    if cmd.clinic_id and uow.repo.get(Clinic, cmd.clinic_id) is None:
        raise NotFound("clinic not found", field="clinic_id")
    if cmd.practitioner_id and uow.repo.get(Practitioner, cmd.practitioner_id) is None:
        raise NotFound("practitioner not found", field="practitioner_id")
    account = Account(
        id=uow.new_id(),
        email=email,
        password_hash=hasher.hash(cmd.password),
        roles=roles,
        clinic_id=cmd.clinic_id,
        practitioner_id=cmd.practitioner_id,
    )
    with _conflict_on_violation("an account with this email already exists", "email"):
        uow.repo.add(account)
        uow.commit()
    return account


def authenticate(uow: UnitOfWork, hasher: PasswordHasher, email: str, password: str) -> Account:
    account = uow.repo.account_by_email(email.strip().lower())
    if account is None or not account.active or not hasher.verify(account.password_hash, password):
        raise InvalidCredentials("wrong email or password")
    return account


# --- clinics, practitioners, treatment types -----------------------------------------------------------


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


def create_clinic(uow: UnitOfWork, cmd: CreateClinic) -> Clinic:
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
    with _conflict_on_violation("a clinic with this code already exists", "code"):
        uow.repo.add(clinic)
        uow.emit("scheduling.clinic.changed", _clinic_data(clinic))
        uow.commit()
    return clinic


@dataclass(frozen=True)
class AddPractitioner:
    clinic_id: uuid.UUID
    display_name: str
    registration_number: str
    ims_qualified: bool
    practitioner_id: uuid.UUID | None = None


def add_practitioner(uow: UnitOfWork, cmd: AddPractitioner) -> Practitioner:
    _clinic(uow, cmd.clinic_id)
    practitioner = Practitioner(
        id=cmd.practitioner_id or uow.new_id(),
        clinic_id=cmd.clinic_id,
        display_name=cmd.display_name,
        registration_number=cmd.registration_number,
        ims_qualified=cmd.ims_qualified,
    )
    uow.repo.add(practitioner)
    uow.emit("scheduling.practitioner.changed", _practitioner_data(practitioner))
    uow.commit()
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


def add_treatment_type(uow: UnitOfWork, cmd: AddTreatmentType) -> TreatmentType:
    _clinic(uow, cmd.clinic_id)
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
    uow.commit()
    return treatment


def list_clinics(uow: UnitOfWork, page: Page) -> tuple[Sequence[Clinic], int]:
    return uow.repo.list(Clinic, offset=page.offset, limit=page.limit)


def get_clinic(uow: UnitOfWork, clinic_id: uuid.UUID) -> Clinic:
    return _clinic(uow, clinic_id)


def list_practitioners(
    uow: UnitOfWork, clinic_id: uuid.UUID, page: Page
) -> tuple[Sequence[Practitioner], int]:
    _clinic(uow, clinic_id)
    return uow.repo.list(Practitioner, offset=page.offset, limit=page.limit, clinic_id=clinic_id)


def list_treatment_types(
    uow: UnitOfWork, clinic_id: uuid.UUID, page: Page
) -> tuple[Sequence[TreatmentType], int]:
    _clinic(uow, clinic_id)
    return uow.repo.list(TreatmentType, offset=page.offset, limit=page.limit, clinic_id=clinic_id)


# --- appointments --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BookAppointment:
    clinic_id: uuid.UUID
    practitioner_id: uuid.UUID
    treatment_type_id: uuid.UUID
    starts_at: datetime
    patient_id: uuid.UUID | None = None


def book_appointment(uow: UnitOfWork, actor: Principal, cmd: BookAppointment) -> Appointment:
    """Book one appointment; the time must be free (the database has the last word on PostgreSQL)."""
    patient_id = _patient_for_booking(actor, cmd.patient_id)
    if uow.repo.get(Patient, patient_id) is None:
        raise NotFound("patient not found", field="patient_id")
    clinic = _clinic(uow, cmd.clinic_id)
    practitioner = uow.repo.get(Practitioner, cmd.practitioner_id)
    if practitioner is None:
        raise NotFound("practitioner not found", field="practitioner_id")
    treatment = uow.repo.get(TreatmentType, cmd.treatment_type_id)
    if treatment is None:
        raise NotFound("treatment type not found", field="treatment_type_id")
    appointment = Appointment.book(
        appointment_id=uow.new_id(),
        clinic=clinic,
        practitioner=practitioner,
        treatment=treatment,
        patient_id=patient_id,
        starts_at=cmd.starts_at,
        now=uow.clock.now(),
    )
    if uow.repo.overlapping(practitioner.id, appointment.starts_at, appointment.occupied_until, exclude=None):
        raise Conflict("the practitioner is not free at this time", field="starts_at")
    with _conflict_on_violation("the practitioner is not free at this time", "starts_at"):
        uow.repo.add(appointment)
        uow.emit("scheduling.appointment.booked", appointment.facts())
        uow.commit()
    return appointment


def cancel_appointment(
    uow: UnitOfWork, actor: Principal, appointment_id: uuid.UUID, reason: str | None
) -> Appointment:
    appointment = _visible_appointment(uow, actor, appointment_id)
    appointment.cancel(by_staff=actor.is_staff, now=uow.clock.now(), reason=reason)
    uow.emit(
        "scheduling.appointment.cancelled",
        appointment.facts()
        | {
            "cancelled_at": appointment.cancelled_at,
            "cancelled_by": appointment.cancelled_by,
            "late": appointment.late_cancellation,
        },
    )
    uow.commit()
    return appointment


def get_appointment(uow: UnitOfWork, actor: Principal, appointment_id: uuid.UUID) -> Appointment:
    return _visible_appointment(uow, actor, appointment_id)


def list_appointments(
    uow: UnitOfWork, actor: Principal, page: Page, patient_id: uuid.UUID | None = None
) -> tuple[Sequence[Appointment], int]:
    """A patient sees only their own appointments; staff may filter by patient."""
    if not actor.is_staff:
        patient_id = actor.patient_id
        if patient_id is None:
            return [], 0
    filters = {"patient_id": patient_id} if patient_id else {}
    return uow.repo.list(Appointment, offset=page.offset, limit=page.limit, **filters)


# --- helpers -------------------------------------------------------------------------------------------


@contextmanager
def _conflict_on_violation(message: str, field: str) -> Iterator[None]:
    """Turn a uniqueness/exclusion violation (a lost race, caught by the database) into a Conflict."""
    try:
        yield
    except exc.IntegrityError as error:
        if is_conflict(error):
            raise Conflict(message, field=field) from None
        raise


def _clinic(uow: UnitOfWork, clinic_id: uuid.UUID) -> Clinic:
    clinic = uow.repo.get(Clinic, clinic_id)
    if clinic is None:
        raise NotFound("clinic not found", field="clinic_id")
    return clinic


def _patient_for_booking(actor: Principal, requested: uuid.UUID | None) -> uuid.UUID:
    if actor.is_staff:
        if requested is None:
            raise RuleViolation("staff must say which patient the booking is for", field="patient_id")
        return requested
    if actor.patient_id is None:
        raise Forbidden("only patients and staff can book")
    if requested is not None and requested != actor.patient_id:
        raise NotFound("patient not found", field="patient_id")
    return actor.patient_id


def _visible_patient(uow: UnitOfWork, actor: Principal, patient_id: uuid.UUID) -> Patient:
    patient = uow.repo.get(Patient, patient_id)
    if patient is None or (not actor.is_staff and actor.patient_id != patient_id):
        raise NotFound("patient not found")
    return patient


def _visible_appointment(uow: UnitOfWork, actor: Principal, appointment_id: uuid.UUID) -> Appointment:
    appointment = uow.repo.get(Appointment, appointment_id)
    if appointment is None or (not actor.is_staff and actor.patient_id != appointment.patient_id):
        raise NotFound("appointment not found")
    return appointment


def _patient_contact(patient: Patient) -> dict[str, object]:
    return {
        "patient_id": patient.id,
        "first_name": patient.first_name,
        "last_name": patient.last_name,
        "email": patient.email,
        "phone": patient.phone,
        "language": patient.language,
    }


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
