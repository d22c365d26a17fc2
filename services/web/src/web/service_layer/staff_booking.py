"""The front desk books on a patient's behalf: the portal's booking use cases (``booking``), in the signed-in
staff member's name, for the patient they name.

Scheduling checks again that the desk may book for this patient at this clinic (ADR 0006) and whether the
patient is cleared for IMS; staff book without the online notice, inside the clinic's hours and horizon.
A series is previewed and booked by the portal's ``booking.preview_plan`` and ``booking.book_plan`` with the
patient named (``entrypoints.booking_steps.plan_step``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from web.domain.slots import Times
from web.service_layer import booking, clinic_catalogue, slot_search
from web.service_layer.accounts import Credentials
from web.service_layer.booking import Appointment
from web.service_layer.clinic_catalogue import Catalogue
from web.service_layer.ports import Apis
from web.service_layer.staff_patients import PatientRow

DESK_ROLES = frozenset({"front_desk", "admin"})  # who books for patients


@dataclass(frozen=True)
class ForPatient:
    """Whom the desk books for, and what their clinic offers them (IMS only once they are cleared)."""

    patient: PatientRow
    catalogue: Catalogue


def patient(apis: Apis, credentials: Credentials, patient_id: str) -> PatientRow:
    """The patient's name and contact (scheduling records the desk's read in the patient's access log)."""
    return PatientRow.of(apis.scheduling.get(f"/patients/{patient_id}", token=credentials.access_token))


def for_patient(apis: Apis, credentials: Credentials, clinic_id: str, patient_id: str) -> ForPatient:
    return ForPatient(
        patient(apis, credentials, patient_id),
        clinic_catalogue.catalogue(apis, credentials, clinic_id, patient_id=patient_id),
    )


def times(
    apis: Apis,
    credentials: Credentials,
    found: Catalogue,
    treatment_id: str,
    practitioner_id: str | None,
    week: date | None,
    *,
    now: datetime,
) -> Times:
    """A week of free times as the portal shows them (free times are the same whoever books)."""
    preferred = [p.id for p in found.qualified(found.treatment(treatment_id))]
    return slot_search.times(
        apis, credentials, found.clinic, treatment_id, practitioner_id, week, now=now, preferred=preferred
    )


def book(apis: Apis, credentials: Credentials, patient_id: str, **visit: Any) -> str:
    """Book one appointment for the patient (``visit``: ``booking.book``'s clinic_id, treatment_id,
    practitioner_id, starts_at); ``booking.SlotTaken`` if the time went meanwhile."""
    return booking.book(apis, credentials, patient_id=patient_id, **visit)


@dataclass(frozen=True)
class Booked:
    """What the desk booked: the sessions (one, or a plan's), the patient and the clinic's catalogue."""

    sessions: list[Appointment]
    patient: PatientRow
    catalogue: Catalogue
    rooms: dict[str, str]

    @property
    def first_day(self) -> date | None:
        """The first session's day on the clinic's clock: the day page to open."""
        return (
            self.sessions[0].starts_at.astimezone(self.catalogue.clinic.zone).date()
            if self.sessions
            else None
        )

    def treatment_name(self) -> str:
        kinds = {s.treatment_type_id for s in self.sessions}
        return next((t.name for t in self.catalogue.treatments if t.id in kinds), "")


def _booked(
    apis: Apis, credentials: Credentials, sessions: list[Appointment], clinic_id: str, patient_id: str
) -> Booked:
    return Booked(
        sessions,
        patient(apis, credentials, patient_id),
        clinic_catalogue.catalogue(apis, credentials, clinic_id, patient_id=patient_id),
        clinic_catalogue.rooms(apis, credentials, clinic_id),
    )


def booked(apis: Apis, credentials: Credentials, appointment_id: str) -> Booked:
    visit = apis.scheduling.get(f"/appointments/{appointment_id}", token=credentials.access_token)
    return _booked(
        apis, credentials, [Appointment.from_api(visit)], str(visit["clinic_id"]), str(visit["patient_id"])
    )


def booked_plan(apis: Apis, credentials: Credentials, plan_id: str) -> Booked:
    details, sessions = booking.plan_sessions(apis, credentials, plan_id)
    return _booked(apis, credentials, sessions, str(details["clinic_id"]), str(details["patient_id"]))
