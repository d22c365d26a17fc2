"""Privacy use cases (PIPA BC / PIPEDA): the log of who accessed a patient's record, and erasing a patient's
personal data on request while keeping the records the law requires.

Each use case runs in its caller's unit of work, and the caller commits (the access log too: a read is
logged in the transaction that reads).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from clinic_shared.tokens import Principal
from scheduling.domain.errors import Forbidden, NotFound, RuleViolation
from scheduling.domain.model import Appointment, AppointmentStatus, Patient, PatientAccess
from scheduling.domain.waitlist import WaitlistEntry, WaitlistStatus
from scheduling.service_layer import tenancy
from scheduling.service_layer.ports import UnitOfWork

log = logging.getLogger(__name__)
EVERYTHING = 100_000  # an export or an erasure takes all of a patient's rows, not a page


@dataclass(frozen=True)
class PatientExport:
    """What scheduling holds about a patient, as the patient may ask for it (PIPA BC s. 23, PIPEDA)."""

    patient: Patient
    account_email: str | None
    appointments: Sequence[Appointment]
    waitlist_entries: Sequence[WaitlistEntry]
    access_log: Sequence[PatientAccess]


def visible_patient(uow: UnitOfWork, actor: Principal, patient_id: uuid.UUID) -> Patient:
    patient = uow.repo.get(Patient, patient_id)
    if patient is None or not tenancy.sees_patient(uow, actor, patient_id):
        raise NotFound("patient not found")
    return patient


def contact_of(patient: Patient) -> dict[str, object]:
    """What ``scheduling.patient.registered`` and ``.updated`` carry."""
    return {
        "patient_id": patient.id,
        "first_name": patient.first_name,
        "last_name": patient.last_name,
        "email": patient.email,
        "phone": patient.phone,
        "language": patient.language,
    }


def record_access(
    uow: UnitOfWork,
    actor: Principal,
    patient_id: uuid.UUID,
    action: str,
    resource: str,
    *,
    own_too: bool = False,
) -> bool:
    """Add to the patient's access log a read or change by anyone but the patient (the patient's own too
    with ``own_too``, e.g. an erasure they asked for); the caller commits. Whether anything was added."""
    if actor.patient_id == patient_id and not own_too:
        return False
    uow.repo.add(
        PatientAccess(
            id=uow.new_id(),
            patient_id=patient_id,
            actor_account_id=actor.account_id,
            actor_clinic_id=actor.clinic_id,
            action=action,
            resource=resource,
            at=uow.clock.now(),
        )
    )
    return True


def record_reads(uow: UnitOfWork, actor: Principal, patient_ids: Sequence[uuid.UUID], resource: str) -> None:
    """``record_access`` of a read of each of many patients' records at once (a day's schedule names its
    patients): written together, in one statement."""
    at = uow.clock.now()
    uow.repo.add_accesses(
        [
            PatientAccess(uow.new_id(), patient_id, actor.account_id, actor.clinic_id, "read", resource, at)
            for patient_id in patient_ids
            if patient_id != actor.patient_id
        ]
    )


UPCOMING_STATUSES = frozenset(
    {AppointmentStatus.PROPOSED, AppointmentStatus.BOOKED, AppointmentStatus.ARRIVED}
)


def erase_patient(uow: UnitOfWork, actor: Principal, patient_id: uuid.UUID) -> None:
    """Erase a patient's personal data at their request (PIPA BC / PIPEDA), keeping what the law requires.

    The patient (or an admin who may see them) asks. Appointments, plans, charges and invoices stay, under
    the same id; names, e-mail and phone are replaced here and, through ``scheduling.patient.updated``, in
    billing's and notifications' copies; the account can no longer sign in and every session ends; waiting
    list entries are withdrawn. Upcoming appointments must be cancelled first (their notices still need an
    address).
    """
    if actor.patient_id != patient_id and not actor.has_any(("admin",)):
        raise NotFound("patient not found")
    patient = visible_patient(uow, actor, patient_id)
    now = uow.clock.now()
    appointments, _ = uow.repo.list(Appointment, offset=0, limit=EVERYTHING, patient_id=patient_id)
    if any(a.status in UPCOMING_STATUSES and a.ends_at > now for a in appointments):
        raise RuleViolation(
            "cancel the upcoming appointments first; then the account can be erased", field="patient_id"
        )
    entries, _ = uow.repo.list(WaitlistEntry, offset=0, limit=EVERYTHING, patient_id=patient_id)
    for entry in entries:
        if entry.status is WaitlistStatus.WAITING:
            entry.withdraw()
    patient.erase()
    account = uow.repo.account_of_patient(patient_id)
    if account is not None:
        account.email, account.active = patient.email, False
        uow.repo.revoke_refresh_tokens(now, account_id=account.id)
    uow.emit("scheduling.patient.updated", contact_of(patient))
    record_access(uow, actor, patient_id, "change", "erasure", own_too=True)
    log.info("patient %s erased at the request of account %s", patient_id, actor.account_id)


def patient_access_log(
    uow: UnitOfWork, actor: Principal, patient_id: uuid.UUID, offset: int, limit: int
) -> tuple[Sequence[PatientAccess], int]:
    """Who read or changed the patient's record, newest first: for an admin who may see the patient; a
    clinic's admin sees what their clinic's staff did, an organisation-wide admin everything."""
    if not actor.has_any(("admin",)):
        raise Forbidden("only an admin reads the access log")
    visible_patient(uow, actor, patient_id)
    return uow.repo.list(
        PatientAccess,
        offset=offset,
        limit=limit,
        patient_id=patient_id,
        **tenancy.clinic_filter(actor, "actor_clinic_id"),
    )


def export_patient(uow: UnitOfWork, actor: Principal, patient_id: uuid.UUID) -> PatientExport:
    """Everything scheduling holds about the patient, for the patient (or an admin who may see them, at the
    patient's request). Billing and notifications export what they hold the same way."""
    if actor.patient_id != patient_id and not actor.has_any(("admin",)):
        raise NotFound("patient not found")
    patient = visible_patient(uow, actor, patient_id)
    account = uow.repo.account_of_patient(patient_id)
    appointments, _ = uow.repo.list(Appointment, offset=0, limit=EVERYTHING, patient_id=patient_id)
    entries, _ = uow.repo.list(WaitlistEntry, offset=0, limit=EVERYTHING, patient_id=patient_id)
    accesses, _ = uow.repo.list(PatientAccess, offset=0, limit=EVERYTHING, patient_id=patient_id)
    record_access(uow, actor, patient_id, "read", "export", own_too=True)
    return PatientExport(patient, account.email if account else None, appointments, entries, accesses)
