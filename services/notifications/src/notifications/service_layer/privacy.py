"""A patient's right of access (PIPA BC s. 23, PIPEDA principle 4.9): everything notifications holds about
them, in one export."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from clinic_shared.tokens import Principal
from notifications.domain.appointments import AppointmentCopy
from notifications.domain.consent import ConsentRecord
from notifications.domain.copies import Contact
from notifications.domain.errors import NotFound
from notifications.domain.inbound import InboundSms
from notifications.service_layer.queries import LoggedDelivery, with_attempts
from notifications.service_layer.tenancy import acts_in, patient_known_to
from notifications.service_layer.unit_of_work import NotificationsUnitOfWork

# Staff who may export a patient's data (front desk may not: an export is the patient's, or an admin's
# answer to the patient's request).
EXPORTERS = frozenset({"admin"})

NOT_FOUND = "patient not found"


@dataclass(frozen=True)
class PatientExport:
    """What notifications holds about one patient. A clinic's admin gets their clinic's part of it: the
    contact copy and consents, and the messages, appointments and texts of their clinic only."""

    patient_id: uuid.UUID
    exported_at: datetime
    # None when scheduling's copy of the patient's details has not arrived (or never will).
    contact: Contact | None
    consents: Sequence[ConsentRecord]
    deliveries: Sequence[LoggedDelivery]
    appointments: Sequence[AppointmentCopy]
    inbound_sms: Sequence[InboundSms]


def export_patient(uow: NotificationsUnitOfWork, actor: Principal, patient_id: uuid.UUID) -> PatientExport:
    """The patient themself gets all of it; an organisation-wide admin too; a clinic's admin, when the
    patient has a relationship with their clinic (ADR 0006), what concerns that clinic. Everyone else (front
    desk, other staff, other patients), and a patient we hold nothing about: not found."""
    own = actor.patient_id == patient_id
    if not own:
        if not actor.has_any(EXPORTERS):
            raise NotFound(NOT_FOUND, field="patient_id")
        if not (actor.organisation_wide or patient_known_to(uow, actor, patient_id)):
            raise NotFound(NOT_FOUND, field="patient_id")
    whole = own or actor.organisation_wide
    contact = uow.repo.contact(patient_id)
    consents = list(uow.repo.consent_records(patient_id))
    deliveries = [d for d in uow.repo.deliveries_of(patient_id) if whole or acts_in(actor, d.clinic_id)]
    appointments = [a for a in uow.repo.appointments_of(patient_id) if whole or acts_in(actor, a.clinic_id)]
    clinic_appointments = {a.appointment_id for a in appointments}
    texts = [
        t
        for t in uow.repo.inbound_sms_of(patient_id)
        if whole or (t.appointment_id is not None and t.appointment_id in clinic_appointments)
    ]
    if contact is None and not (consents or deliveries or appointments or texts):
        raise NotFound(NOT_FOUND, field="patient_id")
    return PatientExport(
        patient_id=patient_id,
        exported_at=uow.clock.now(),
        contact=contact,
        consents=consents,
        deliveries=with_attempts(uow, deliveries),
        appointments=appointments,
        inbound_sms=texts,
    )
