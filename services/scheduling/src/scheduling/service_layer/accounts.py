"""Accounts: patients who sign up or are registered by the desk, their details, and staff accounts.

Each use case runs in its caller's unit of work: state and events commit together or not at all, when the
caller commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from clinic_shared.pagination import Page
from clinic_shared.tokens import Principal
from scheduling.domain.errors import Conflict, Forbidden, InvalidCredentials, NotFound, RuleViolation
from scheduling.domain.model import STAFF_ROLES, Account, Patient, Practitioner, Role
from scheduling.service_layer import privacy, tenancy
from scheduling.service_layer.clinic_setup import clinic_of
from scheduling.service_layer.guarded_writes import conflict_on_violation
from scheduling.service_layer.ports import PasswordHasher, UnitOfWork


@dataclass(frozen=True)
class NewPatient:
    """Whom a patient account is opened for; how its password is set is the caller's (a sign-up's hash, or an
    unusable one for a caller the desk registers)."""

    email: str
    first_name: str
    last_name: str
    phone: str | None
    language: str


@dataclass(frozen=True)
class RegisterPatient(NewPatient):
    password: str


def register_patient(uow: UnitOfWork, hasher: PasswordHasher, cmd: RegisterPatient) -> Patient:
    """Open a patient's account at once, with no e-mail confirmation (the demo's seed).

    Patients signing themselves up confirm their address first (``auth.request_sign_up``).
    """
    return open_patient_account(uow, cmd, hasher.hash(cmd.password))


def open_patient_account(uow: UnitOfWork, cmd: NewPatient, password_hash: str) -> Patient:
    """Add the patient and their login with ``password_hash`` and announce them; flushed, for the caller to
    commit with whatever else it adds. An address taken meanwhile undoes these two rows alone (a Conflict)."""
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
        password_hash=password_hash,
        roles=[Role.PATIENT.value],
        patient_id=patient.id,
    )
    with conflict_on_violation(uow, "an account with this email already exists", "email"):
        uow.repo.add(patient)
        uow.flush()  # the account row references the patient row
        uow.repo.add(account)
        uow.flush()
    uow.emit("scheduling.patient.registered", privacy.contact_of(patient))
    return patient


@dataclass(frozen=True)
class UpdatePatient:
    patient_id: uuid.UUID
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    language: str | None = None


def update_patient(uow: UnitOfWork, actor: Principal, cmd: UpdatePatient) -> Patient:
    patient = privacy.visible_patient(uow, actor, cmd.patient_id)
    for name in ("first_name", "last_name", "phone", "language"):
        value = getattr(cmd, name)
        if value is not None:
            setattr(patient, name, value)
    uow.emit("scheduling.patient.updated", privacy.contact_of(patient))
    privacy.record_access(uow, actor, patient.id, "change", "patient")
    return patient


def get_patient(uow: UnitOfWork, actor: Principal, patient_id: uuid.UUID) -> Patient:
    patient = privacy.visible_patient(uow, actor, patient_id)
    privacy.record_access(uow, actor, patient_id, "read", "patient")
    return patient


@dataclass(frozen=True)
class CreateStaffAccount:
    email: str
    password: str
    roles: Sequence[str]
    clinic_id: uuid.UUID | None = None
    practitioner_id: uuid.UUID | None = None
    organisation_wide: bool = False


def create_staff_account(
    uow: UnitOfWork, hasher: PasswordHasher, actor: Principal, cmd: CreateStaffAccount
) -> Account:
    """A staff login scoped to one clinic, or organisation-wide (exactly one of the two; ADR 0006).

    A clinic's admin creates accounts of that clinic only (another clinic is not found); only an
    organisation-wide admin creates organisation-wide accounts.
    """
    if not actor.has_any(("admin",)):
        raise Forbidden("only an admin creates staff accounts")
    if cmd.organisation_wide and cmd.clinic_id is not None:
        raise RuleViolation(
            "a staff account names a clinic or is organisation-wide, not both", field="organisation_wide"
        )
    if not cmd.organisation_wide and cmd.clinic_id is None:
        raise RuleViolation(
            "name the account's clinic (clinic_id) or say organisation_wide: true", field="clinic_id"
        )
    if cmd.organisation_wide and not actor.organisation_wide:
        raise Forbidden("only an organisation-wide admin creates organisation-wide accounts")
    roles = sorted(set(cmd.roles))
    if not roles or not set(roles) <= {r.value for r in STAFF_ROLES}:
        raise RuleViolation(
            "staff roles must be some of practitioner, front_desk, billing, admin", field="roles"
        )
    if cmd.clinic_id is not None:
        tenancy.check_clinic(actor, cmd.clinic_id, staff_only=True)
        clinic_of(uow, cmd.clinic_id)
    email = cmd.email.strip().lower()
    if uow.repo.account_by_email(email) is not None:
        raise Conflict("an account with this email already exists", field="email")
    if cmd.practitioner_id:
        practitioner = uow.repo.get(Practitioner, cmd.practitioner_id)
        if practitioner is None or cmd.clinic_id not in (None, practitioner.clinic_id):
            raise NotFound("practitioner not found", field="practitioner_id")
    account = Account(
        id=uow.new_id(),
        email=email,
        password_hash=hasher.hash(cmd.password),
        roles=roles,
        clinic_id=cmd.clinic_id,
        practitioner_id=cmd.practitioner_id,
    )
    with conflict_on_violation(uow, "an account with this email already exists", "email"):
        uow.repo.add(account)
    return account


def list_staff_accounts(
    uow: UnitOfWork, actor: Principal, clinic_id: uuid.UUID, page: Page
) -> tuple[Sequence[Account], int]:
    """The staff logins of one clinic, by e-mail address, disabled ones too (never a patient's login).

    Admins only: a clinic's admin lists their own clinic (another clinic is not found, ADR 0006), an
    organisation-wide admin any clinic. Organisation-wide accounts belong to no clinic and are not listed.
    """
    if not actor.has_any(("admin",)):
        raise Forbidden("only an admin lists staff accounts")
    tenancy.check_clinic(actor, clinic_id, staff_only=True)
    clinic_of(uow, clinic_id)
    return uow.repo.list(Account, offset=page.offset, limit=page.limit, clinic_id=clinic_id, patient_id=None)


def authenticate(uow: UnitOfWork, hasher: PasswordHasher, email: str, password: str) -> Account:
    account = uow.repo.account_by_email(email.strip().lower())
    if account is None or not account.active or not hasher.verify(account.password_hash, password):
        raise InvalidCredentials("wrong email or password")
    return account
