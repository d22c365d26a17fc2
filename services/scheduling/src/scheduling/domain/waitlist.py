"""The waitlist: a patient asks for an earlier time; a freed slot is held for the first matching patient.

The hold is an appointment in FHIR status ``proposed``: it occupies the practitioner's time like any other
(so nobody else can take it) until the patient claims it (``booked``) or the offer expires (``cancelled``).

An entry may name the patient's existing, later appointment: claiming then moves that appointment to the
offered time (the hold is released) instead of booking a second one.

An entry has at most one live offer, and no hold outlives its offer window: the sweep releases every hold
made more than ``OFFER_HOLD`` ago, whichever entry (if any) still points at it.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from scheduling.domain.errors import RuleViolation
from scheduling.domain.model import Appointment, AppointmentStatus

OFFER_HOLD = timedelta(minutes=30)


def holds_lapsed_by(now: datetime) -> datetime:
    """Holds made at or before this moment have outlived their offer window."""
    return now - OFFER_HOLD


class WaitlistStatus(enum.StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"
    BOOKED = "booked"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


@dataclass
class WaitlistEntry:
    """Any start in [not_before, not_after] for this treatment (with this practitioner, if one is named)."""

    id: uuid.UUID
    clinic_id: uuid.UUID
    patient_id: uuid.UUID
    treatment_type_id: uuid.UUID
    practitioner_id: uuid.UUID | None
    not_before: datetime
    not_after: datetime
    created_at: datetime
    status: WaitlistStatus = WaitlistStatus.WAITING
    offer_appointment_id: uuid.UUID | None = None
    offer_expires_at: datetime | None = None
    appointment_id: uuid.UUID | None = None

    def __post_init__(self) -> None:
        if self.not_after <= self.not_before:
            raise RuleViolation("the latest time must be after the earliest", field="not_after")

    def check_replaceable(self, appointment: Appointment) -> None:
        """The appointment to move must be this patient's, booked, of this treatment, after the window."""
        if appointment.patient_id != self.patient_id:
            raise RuleViolation("the appointment to move is not this patient's", field="appointment_id")
        if appointment.status is not AppointmentStatus.BOOKED:
            raise RuleViolation(
                f"an appointment that is {appointment.status} cannot be moved", field="appointment_id"
            )
        if appointment.clinic_id != self.clinic_id or appointment.treatment_type_id != self.treatment_type_id:
            raise RuleViolation(
                "the appointment to move must be for this clinic and treatment type", field="appointment_id"
            )
        if appointment.starts_at <= self.not_after:
            raise RuleViolation(
                "the appointment to move must start after the wanted window", field="appointment_id"
            )

    def matches(self, practitioner_id: uuid.UUID, starts_at: datetime) -> bool:
        """Whether a time freed with this practitioner suits the entry (the treatment must still fit)."""
        return (
            self.status is WaitlistStatus.WAITING
            and self.practitioner_id in (None, practitioner_id)
            and self.not_before <= starts_at <= self.not_after
        )

    def offer(self, appointment_id: uuid.UUID, now: datetime) -> None:
        self.status = WaitlistStatus.OFFERED
        self.offer_appointment_id = appointment_id
        self.offer_expires_at = now + OFFER_HOLD

    def claim(self, now: datetime) -> uuid.UUID:
        if self.status is not WaitlistStatus.OFFERED or self.offer_appointment_id is None:
            raise RuleViolation("there is no open offer to claim", field="status")
        if self.offer_expires_at is not None and now >= self.offer_expires_at:
            raise RuleViolation("the offer has expired", field="status")
        self.status = WaitlistStatus.BOOKED
        return self.offer_appointment_id

    def expire(self) -> None:
        self.status = WaitlistStatus.EXPIRED

    def reopen(self, hold_id: uuid.UUID) -> bool:
        """The clinic released the time held for this entry: it waits again (its place kept).

        False when the entry's open offer is not that hold (taken, lapsed, or another one).
        """
        if self.status is not WaitlistStatus.OFFERED or self.offer_appointment_id != hold_id:
            return False
        self.status = WaitlistStatus.WAITING
        return True

    def withdraw(self) -> None:
        if self.status not in (WaitlistStatus.WAITING, WaitlistStatus.OFFERED):
            raise RuleViolation(f"the entry is already {self.status}", field="status")
        self.status = WaitlistStatus.WITHDRAWN
