"""Appointments as scheduling's events describe them, and the local copy of each one's latest version.

Events may arrive in any order: ``sequence`` grows with every change scheduling makes, and facts of an older
version than the copy's are ignored.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from notifications.domain.instants import require_utc


@dataclass(frozen=True)
class AppointmentFacts:
    """The appointment as one event described it; ``sequence`` grows with every change scheduling makes."""

    appointment_id: uuid.UUID
    patient_id: uuid.UUID
    clinic_id: uuid.UUID
    practitioner_id: uuid.UUID
    treatment_type_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    sequence: int
    # The treatment plan the appointment is a session of, if any.
    plan_id: uuid.UUID | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "starts_at", require_utc(self.starts_at, "starts_at"))
        object.__setattr__(self, "ends_at", require_utc(self.ends_at, "ends_at"))
        if self.ends_at <= self.starts_at:
            raise ValueError("an appointment must end after it starts")
        if self.sequence < 0:
            raise ValueError("sequence must be >= 0")


@dataclass
class AppointmentCopy:
    """What notifications knows of an appointment: its latest facts, cancelled or not, confirmed or not.

    Fed by scheduling's events in any order: facts of an older ``sequence`` are ignored. A confirmation
    holds for the version the patient confirmed (``confirmed_sequence``) and those before a reschedule.
    """

    appointment_id: uuid.UUID
    patient_id: uuid.UUID
    clinic_id: uuid.UUID
    practitioner_id: uuid.UUID
    treatment_type_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    sequence: int
    cancelled: bool = False
    confirmed_sequence: int | None = None
    confirmed_at: datetime | None = None

    @classmethod
    def from_facts(cls, facts: AppointmentFacts, *, cancelled: bool = False) -> AppointmentCopy:
        return cls(
            appointment_id=facts.appointment_id,
            patient_id=facts.patient_id,
            clinic_id=facts.clinic_id,
            practitioner_id=facts.practitioner_id,
            treatment_type_id=facts.treatment_type_id,
            starts_at=facts.starts_at,
            ends_at=facts.ends_at,
            sequence=facts.sequence,
            cancelled=cancelled,
        )

    def apply(self, facts: AppointmentFacts, *, cancelled: bool = False) -> bool:
        """Take newer facts; False (and no change) for an older version than ours."""
        if facts.sequence < self.sequence:
            return False
        self.practitioner_id, self.treatment_type_id = facts.practitioner_id, facts.treatment_type_id
        self.starts_at, self.ends_at, self.sequence = facts.starts_at, facts.ends_at, facts.sequence
        self.cancelled = self.cancelled or cancelled
        return True

    def confirm(self, sequence: int, at: datetime) -> None:
        if self.confirmed_sequence is None or sequence > self.confirmed_sequence:
            self.confirmed_sequence, self.confirmed_at = sequence, require_utc(at, "confirmed_at")

    def confirmed_for(self, sequence: int, starts_at: datetime) -> bool:
        """True when the patient confirmed this version (same start) of the appointment."""
        return (
            self.confirmed_sequence is not None
            and self.confirmed_sequence >= sequence
            and self.starts_at == starts_at
        )
