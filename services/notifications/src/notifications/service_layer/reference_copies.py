"""Notifications' local copies of scheduling's data (patients' contacts, clinics, practitioners, treatment
types), refreshed from its events; older news than ours is ignored."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from notifications.domain.copies import ClinicInfo, Contact, PractitionerInfo, TreatmentInfo
from notifications.domain.phones import to_e164
from notifications.service_layer.unit_of_work import NotificationsUnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyncPatient:
    patient_id: uuid.UUID
    first_name: str
    email: str
    phone: str | None
    language: str
    as_of: datetime


def sync_patient(uow: NotificationsUnitOfWork, cmd: SyncPatient) -> Contact:
    """Create or refresh a patient's contact copy from scheduling's news of the patient (older news is
    ignored).

    The phone is kept in E.164; a number that is not valid is dropped (no SMS rather than a wrong one).
    """
    phone = to_e164(cmd.phone)
    if cmd.phone and phone is None:
        log.warning("patient %s: phone number is not valid; no SMS will be sent", cmd.patient_id)
    uow.repo.lock_contact(cmd.patient_id)  # choices made meanwhile are then read below, not missed
    contact = uow.repo.contact(cmd.patient_id)
    if contact is None:
        contact = Contact(cmd.patient_id, cmd.first_name, cmd.email, phone, cmd.language, cmd.as_of)
        contact.resume_choices(uow.repo.consent_records(cmd.patient_id))
        uow.repo.add(contact)
    else:
        contact.update(
            first_name=cmd.first_name,
            email=cmd.email,
            phone=phone,
            language=cmd.language,
            as_of=cmd.as_of,
        )
    return contact


@dataclass(frozen=True)
class SyncClinic:
    clinic_id: uuid.UUID
    name: str
    timezone: str
    address: str
    phone: str
    email: str
    as_of: datetime


def sync_clinic(uow: NotificationsUnitOfWork, cmd: SyncClinic) -> ClinicInfo:
    clinic = uow.repo.clinic(cmd.clinic_id)
    if clinic is None:
        clinic = ClinicInfo(
            cmd.clinic_id, cmd.name, cmd.timezone, cmd.address, cmd.phone, cmd.email, cmd.as_of
        )
        uow.repo.add(clinic)
    else:
        clinic.update(
            name=cmd.name,
            timezone=cmd.timezone,
            address=cmd.address,
            phone=cmd.phone,
            email=cmd.email,
            as_of=cmd.as_of,
        )
    return clinic


@dataclass(frozen=True)
class SyncPractitioner:
    practitioner_id: uuid.UUID
    display_name: str
    as_of: datetime
    clinic_id: uuid.UUID | None = None


def sync_practitioner(uow: NotificationsUnitOfWork, cmd: SyncPractitioner) -> PractitionerInfo:
    practitioner = uow.repo.practitioner(cmd.practitioner_id)
    if practitioner is None:
        practitioner = PractitionerInfo(
            cmd.practitioner_id, cmd.display_name, cmd.as_of, clinic_id=cmd.clinic_id
        )
        uow.repo.add(practitioner)
    else:
        practitioner.update(display_name=cmd.display_name, as_of=cmd.as_of, clinic_id=cmd.clinic_id)
    return practitioner


@dataclass(frozen=True)
class SyncTreatmentType:
    treatment_type_id: uuid.UUID
    name: str
    as_of: datetime


def sync_treatment_type(uow: NotificationsUnitOfWork, cmd: SyncTreatmentType) -> TreatmentInfo:
    treatment = uow.repo.treatment_type(cmd.treatment_type_id)
    if treatment is None:
        treatment = TreatmentInfo(cmd.treatment_type_id, cmd.name, cmd.as_of)
        uow.repo.add(treatment)
    else:
        treatment.update(name=cmd.name, as_of=cmd.as_of)
    return treatment
