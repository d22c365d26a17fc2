"""A clinic's patient list, for its front desk: search it, find a patient by exact e-mail or phone, register a
patient who phones in.

A clinic's staff see only the clinic's patients (ADR 0006). Searching therefore covers the clinic's list;
a patient who is new to the clinic is found by the one thing the desk can only know from the patient, the
exact e-mail address or phone number, and is then on the clinic's list (``ClinicPatient``) so that the desk
can book their first visit. The organisation's registry is never browsed. Registering a patient who phones
in opens their account without a password: they claim it with a password reset ("Forgot your password?").

Each use case runs in its caller's unit of work, and the caller commits.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from clinic_shared.pagination import Page
from clinic_shared.tokens import Principal
from scheduling.domain.errors import Conflict, Forbidden, NotFound, RuleViolation
from scheduling.domain.model import ClinicPatient, Patient
from scheduling.service_layer import accounts, privacy, tenancy
from scheduling.service_layer.guarded_writes import conflict_on_violation
from scheduling.service_layer.ports import PasswordHasher, UnitOfWork

# Who keeps the clinic's patient list (search, find, register).
DESK_ROLES = ("front_desk", "admin")


def _check_desk(actor: Principal, clinic_id: uuid.UUID) -> None:
    tenancy.check_clinic(actor, clinic_id, staff_only=True)
    if not actor.has_any(DESK_ROLES):
        raise Forbidden("only the front desk and admins keep the clinic's patient list")


def search_patients(
    uow: UnitOfWork, actor: Principal, clinic_id: uuid.UUID, text: str, page: Page
) -> tuple[Sequence[Patient], int]:
    """The clinic's patients whose name, e-mail or phone holds every word of ``text``, by name."""
    _check_desk(actor, clinic_id)
    return uow.repo.find_patients(text, clinic_id, offset=page.offset, limit=page.limit)


MAX_NAMES = 80  # ids in one request line within gunicorn's 4,094 bytes (a day names more in a few calls)
MAX_NAMES_WINDOW = timedelta(days=31)


@dataclass(frozen=True)
class NamesWanted:
    """Whose names: these patients (``ids``), or those with an appointment at the clinic starting in
    [``booked_from``, ``booked_before``) (a schedule's patients, asked for beside its appointments)."""

    ids: Sequence[uuid.UUID] | None = None
    booked_from: datetime | None = None
    booked_before: datetime | None = None


def patient_names(
    uow: UnitOfWork, actor: Principal, clinic_id: uuid.UUID, wanted: NamesWanted
) -> Sequence[Patient]:
    """The clinic's patients asked for, for its staff to name them (a day's schedule): one read.

    Every patient named is a read of their record in the access log, written in the same transaction.
    """
    tenancy.check_clinic(actor, clinic_id, staff_only=True)
    if wanted.ids is not None:
        if len(wanted.ids) > MAX_NAMES:
            raise RuleViolation(f"ask for at most {MAX_NAMES} patients at a time", field="id")
        patients = uow.repo.clinic_patients_among(sorted(set(wanted.ids)), clinic_id)
    elif wanted.booked_from is not None and wanted.booked_before is not None:
        start, end = wanted.booked_from, wanted.booked_before
        if end <= start:
            raise RuleViolation("booked_before must be after booked_from", field="booked_before")
        if end - start > MAX_NAMES_WINDOW:
            raise RuleViolation(
                f"ask for at most {MAX_NAMES_WINDOW.days} days at a time", field="booked_before"
            )
        patients = uow.repo.patients_booked_at(clinic_id, start, end)
    else:
        raise RuleViolation(
            "name the patients (id) or the appointments' times (booked_from, booked_before)", field="id"
        )
    privacy.record_reads(uow, actor, [patient.id for patient in patients], "patient name")
    return patients


def find_patient(
    uow: UnitOfWork, actor: Principal, clinic_id: uuid.UUID, *, email: str | None, phone: str | None
) -> Patient:
    """The patient with exactly this e-mail address or phone number (one of them), now on the clinic's list.

    The lookup is logged as a read of the patient's record.
    """
    _check_desk(actor, clinic_id)
    if (email is None) == (phone is None):
        raise RuleViolation("give the patient's e-mail address or phone number", field="email")
    patient = uow.repo.patient_by_contact(email=email, phone=phone)
    if patient is None:
        what = "e-mail address" if email is not None else "phone number"
        raise NotFound(f"no patient has this {what}", field="email" if email is not None else "phone")
    _put_on_list(uow, actor, clinic_id, patient.id)
    privacy.record_access(uow, actor, patient.id, "read", "patient")
    return patient


@dataclass(frozen=True)
class RegisterCaller:
    """A patient the front desk registers (they phoned in): no password, they claim the account later."""

    email: str
    first_name: str
    last_name: str
    phone: str | None
    language: str


def register_caller(
    uow: UnitOfWork, hasher: PasswordHasher, actor: Principal, clinic_id: uuid.UUID, cmd: RegisterCaller
) -> Patient:
    """Open the patient's account with a password nobody knows, and put them on the clinic's list."""
    _check_desk(actor, clinic_id)
    if uow.repo.account_by_email(cmd.email.strip().lower()) is not None:
        raise Conflict("a patient with this e-mail address is registered: find them by e-mail", field="email")
    registration = accounts.NewPatient(
        email=cmd.email,
        first_name=cmd.first_name,
        last_name=cmd.last_name,
        phone=cmd.phone,
        language=cmd.language,
    )
    unusable = hasher.hash(secrets.token_urlsafe(32))  # forgotten at once: only a reset sets a password
    patient = accounts.open_patient_account(uow, registration, unusable)
    _put_on_list(uow, actor, clinic_id, patient.id)
    privacy.record_access(uow, actor, patient.id, "change", "patient")
    return patient


def _put_on_list(uow: UnitOfWork, actor: Principal, clinic_id: uuid.UUID, patient_id: uuid.UUID) -> None:
    if uow.repo.clinic_patient(clinic_id, patient_id) is not None:
        return
    entry = ClinicPatient(
        clinic_id=clinic_id, patient_id=patient_id, added_at=uow.clock.now(), added_by=actor.account_id
    )
    try:
        with conflict_on_violation(uow, "already on the clinic's list", "patient_id"):
            uow.repo.add(entry)
    except Conflict:
        pass  # another desk put the patient on the list meanwhile: so much the better
