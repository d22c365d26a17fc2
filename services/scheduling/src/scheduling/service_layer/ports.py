"""What the service layer needs from the outside world, as protocols the adapters implement."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple, Protocol, Self, TypeVar

from clinic_shared.clock import Clock
from clinic_shared.events import Envelope
from scheduling.domain.auth import PasswordResetToken, RefreshToken, SignUpRequest
from scheduling.domain.availability import Closure, Interval, OpeningHours, Room, TimeOff, WorkingHours
from scheduling.domain.calendar import CalendarFeed
from scheduling.domain.model import (
    Account,
    Appointment,
    Clinic,
    ClinicPatient,
    Patient,
    PatientAccess,
    Practitioner,
    Suitability,
    TreatmentType,
)
from scheduling.domain.waitlist import WaitlistEntry

T = TypeVar("T")


class Guard(enum.StrEnum):
    """The database's last word on appointments (PostgreSQL exclusion constraints), by constraint name."""

    PRACTITIONER = "ex_appointments_practitioner_overlap"
    ROOM = "ex_appointments_room_overlap"
    PATIENT = "ex_appointments_patient_overlap"


class BookingParties(NamedTuple):
    """What a booking names, read together: None where the record does not exist."""

    clinic: Clinic | None
    practitioner: Practitioner | None
    treatment: TreatmentType | None
    patient_exists: bool


@dataclass
class AvailabilityFacts:
    """Everything free time depends on over one period, read together (see Repository.availability_facts)."""

    opening_hours: list[OpeningHours] = field(default_factory=list)
    closures: list[Closure] = field(default_factory=list)
    working_hours: list[WorkingHours] = field(default_factory=list)
    time_off: list[TimeOff] = field(default_factory=list)
    rooms: list[Room] = field(default_factory=list)
    # The time held by live appointments, by practitioner and by room.
    busy: dict[uuid.UUID, list[Interval]] = field(default_factory=dict)
    room_busy: dict[uuid.UUID, list[Interval]] = field(default_factory=dict)


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool: ...


class Repository(Protocol):
    def add(self, entity: object) -> None: ...

    def add_accesses(self, accesses: Sequence[PatientAccess]) -> None:
        """Append entries to patients' access logs, in one statement."""
        ...

    def get(self, cls: type[T], entity_id: uuid.UUID) -> T | None: ...

    def get_for_update(self, cls: type[T], entity_id: uuid.UUID) -> T | None:
        """The record, its row locked until the transaction ends (a concurrent change waits for ours)."""
        ...

    def list(
        self, cls: type[T], *, offset: int, limit: int, **filters: object
    ) -> tuple[Sequence[T], int]: ...

    def account_by_email(self, email: str) -> Account | None: ...

    def time_off_page(
        self, clinic_id: uuid.UUID, starts_before: datetime, ends_after: datetime, *, offset: int, limit: int
    ) -> tuple[Sequence[TimeOff], int]:
        """The clinic's practitioners' time off overlapping (ends_after, starts_before), by start."""
        ...

    def clinic_by_code(self, code: str) -> Clinic | None: ...

    def booking_parties(
        self,
        clinic_id: uuid.UUID,
        practitioner_id: uuid.UUID,
        treatment_type_id: uuid.UUID,
        patient_id: uuid.UUID,
    ) -> BookingParties: ...

    def practitioners(self, clinic_id: uuid.UUID) -> Sequence[Practitioner]: ...

    def opening_hours(self, clinic_id: uuid.UUID) -> Sequence[OpeningHours]: ...

    def working_hours(self, practitioner_ids: Sequence[uuid.UUID]) -> Sequence[WorkingHours]: ...

    def rooms(self, clinic_id: uuid.UUID) -> Sequence[Room]: ...

    def availability_facts(
        self,
        clinic_id: uuid.UUID,
        practitioner_ids: Sequence[uuid.UUID],
        start: datetime,
        end: datetime,
        first_day: date,
        last_day: date,
        exclude: uuid.UUID | None = None,
    ) -> AvailabilityFacts: ...

    def suitability(self, clinic_id: uuid.UUID, patient_id: uuid.UUID) -> Suitability | None: ...

    def suitability_for(self, assessment_id: uuid.UUID) -> Suitability | None: ...

    def replace_weekly(
        self, entity: type, owner_column: str, owner_id: uuid.UUID, rows: Sequence[object]
    ) -> None: ...

    def waiting_entries(self, clinic_id: uuid.UUID) -> Sequence[WaitlistEntry]: ...

    def offers_expired_by(self, now: datetime) -> Sequence[WaitlistEntry]: ...

    def waitlist_entry_for_update(self, entry_id: uuid.UUID) -> WaitlistEntry | None:
        """The entry, its row locked until the transaction ends."""
        ...

    def holds_booked_by(self, cutoff: datetime) -> Sequence[Appointment]:
        """Waitlist holds (``proposed``) made at or before ``cutoff``, whatever entry points at them."""
        ...

    def plan_id_of(self, appointment_id: uuid.UUID) -> uuid.UUID | None:
        """The plan an appointment is a session of, read without loading (or locking) the appointment."""
        ...

    def clinic_id_of(self, appointment_id: uuid.UUID) -> uuid.UUID | None:
        """The clinic of an appointment (None: no such appointment), read without loading it."""
        ...

    def plan_sessions_for_update(self, plan_id: uuid.UUID) -> Sequence[Appointment]:
        """A plan's sessions, their rows locked in id order (the one order every path takes them in)."""
        ...

    def feed_by_token_hash(self, token_hash: str) -> CalendarFeed | None: ...

    def appointments_of(
        self, owner_kind: str, owner_id: uuid.UUID, start: datetime, end: datetime
    ) -> Sequence[Appointment]: ...

    def patient_overlap(
        self, patient_id: uuid.UUID, start: datetime, end: datetime, exclude: uuid.UUID
    ) -> Appointment | None:
        """The patient's earliest live appointment overlapping [start, end) that was not booked as an allowed
        overlap, ``exclude`` left out."""
        ...

    def patient_related_to_clinic(self, patient_id: uuid.UUID, clinic_id: uuid.UUID) -> bool:
        """Whether the patient is on the clinic's list or has an appointment, a plan or a waitlist entry
        there (ADR 0006)."""
        ...

    def clinic_patients_among(
        self, patient_ids: Sequence[uuid.UUID], clinic_id: uuid.UUID
    ) -> Sequence[Patient]:
        """Those of ``patient_ids`` on the clinic's list or with an appointment, plan or waitlist entry."""
        ...

    def patients_booked_at(
        self, clinic_id: uuid.UUID, starts_from: datetime, starts_before: datetime
    ) -> Sequence[Patient]:
        """The patients with an appointment (of any status) at the clinic starting in [from, before)."""
        ...

    def find_patients(
        self, text: str, clinic_id: uuid.UUID, *, offset: int, limit: int
    ) -> tuple[Sequence[Patient], int]:
        """The clinic's patients whose name, e-mail or phone holds every word of ``text``; and the total."""
        ...

    def patient_by_contact(self, *, email: str | None = None, phone: str | None = None) -> Patient | None:
        """The patient with exactly this e-mail address (any case) or E.164 phone number."""
        ...

    def clinic_patient(self, clinic_id: uuid.UUID, patient_id: uuid.UUID) -> ClinicPatient | None: ...

    def appointments_page(
        self,
        *,
        offset: int,
        limit: int,
        starts_from: datetime | None = None,
        starts_before: datetime | None = None,
        **filters: object,
    ) -> tuple[Sequence[Appointment], int]:
        """Appointments matching ``filters`` (column equality) starting in [starts_from, starts_before),
        ordered by start then id, and how many match in all."""
        ...

    def account_of_patient(self, patient_id: uuid.UUID) -> Account | None: ...

    def lock_patient_bookings(self, patient_id: uuid.UUID) -> None:
        """Wait until no other transaction is booking for this patient, and keep others waiting until this
        one ends: simultaneous bookings for one patient take turns instead of deadlocking on the database's
        overlap check, so the later one finds and names the earlier."""
        ...

    def try_claim_room(self, room_id: uuid.UUID, day: date) -> bool:
        """Claim the room for ``day`` until the transaction ends, unless another transaction holds that
        claim (False, without waiting). Advisory only: the database's constraints still decide overlaps."""
        ...

    def delete(self, entity: object) -> None: ...

    def refresh_token_for_update(self, token_hash: str) -> RefreshToken | None:
        """The refresh token with this digest, its row locked until the transaction ends."""
        ...

    def revoke_refresh_tokens(
        self, now: datetime, *, family_id: uuid.UUID | None = None, account_id: uuid.UUID | None = None
    ) -> int:
        """Revoke the unrevoked tokens of a family, or of every family of an account; returns how many."""
        ...

    def reset_token_for_update(self, token_hash: str) -> PasswordResetToken | None:
        """The password-reset token with this digest, its row locked until the transaction ends."""
        ...

    def newest_reset_token(self, account_id: uuid.UUID) -> PasswordResetToken | None: ...

    def sign_up_request_for_update(self, token_hash: str) -> SignUpRequest | None:
        """The pending sign-up with this link digest, its row locked until the transaction ends."""
        ...

    def purge_sign_up_requests(self, now: datetime) -> int:
        """Delete the sign-ups whose link no longer works at ``now`` (expired); returns how many."""
        ...


class UnitOfWork(Protocol):
    """One transaction: state changes and the events describing them commit together or not at all.

    Whoever opened it owns it and commits; a use case only adds to it and returns.
    """

    repo: Repository
    clock: Clock

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc_info: object) -> None: ...

    def new_id(self) -> uuid.UUID: ...

    def emit(
        self, event_type: str, data: Mapping[str, Any], *, causation: Envelope | None = None
    ) -> Envelope: ...

    def flush(self) -> None: ...

    def savepoint(self) -> AbstractContextManager[object]:
        """A savepoint: an error inside rolls back only what was done inside, and the transaction goes on."""
        ...

    def conflicts_as(self, error: Exception | type[Exception]) -> AbstractContextManager[None]:
        """Write the block in a savepoint and flush it; a unique or exclusion violation (a lost race) undoes
        the block alone and raises ``error``."""
        ...

    def commit(self) -> None:
        """Only the caller that opened the unit of work (a view, the consumer, a job, the CLI) commits; a use
        case never does (issue 13)."""
        ...
