"""Clinics, practitioners, treatment types, patients, accounts and appointments.

Times are timezone-aware UTC; a clinic's IANA zone is used only to present them. Appointment statuses
follow FHIR's Appointment vocabulary.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from scheduling.domain.errors import Forbidden, PreconditionFailed, RuleViolation


def require_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise RuleViolation(f"unknown time zone {name!r}", field="timezone") from None


def require_aware(value: datetime, field_name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise RuleViolation("must include a UTC offset", field=field_name)
    return value


class AppointmentKind(enum.StrEnum):
    ASSESSMENT = "assessment"
    TREATMENT = "treatment"


class AppointmentStatus(enum.StrEnum):
    """FHIR R4 Appointment.status values used by the clinic."""

    PROPOSED = "proposed"
    BOOKED = "booked"
    ARRIVED = "arrived"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    NOSHOW = "noshow"


# Statuses that no longer hold the practitioner's time.
RELEASED_STATUSES = frozenset({AppointmentStatus.CANCELLED})


class Role(enum.StrEnum):
    PATIENT = "patient"
    PRACTITIONER = "practitioner"
    FRONT_DESK = "front_desk"
    BILLING = "billing"
    ADMIN = "admin"


STAFF_ROLES = frozenset({Role.PRACTITIONER, Role.FRONT_DESK, Role.BILLING, Role.ADMIN})


@dataclass
class Clinic:
    id: uuid.UUID
    code: str
    name: str
    timezone: str
    address: str
    phone: str
    email: str
    currency: str = "CAD"
    min_notice_minutes: int = 60
    horizon_days: int = 180
    slot_step_minutes: int = 15

    def __post_init__(self) -> None:
        require_zone(self.timezone)
        self.code = self.code.upper()

    def check_booking_window(self, starts_at: datetime, now: datetime) -> None:
        """Online booking needs some notice and may not reach beyond the horizon."""
        if starts_at < now + timedelta(minutes=self.min_notice_minutes):
            raise RuleViolation(
                f"bookings need at least {self.min_notice_minutes} minutes' notice", field="starts_at"
            )
        if starts_at > now + timedelta(days=self.horizon_days):
            raise RuleViolation(f"bookings open at most {self.horizon_days} days ahead", field="starts_at")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass
class Practitioner:
    id: uuid.UUID
    clinic_id: uuid.UUID
    display_name: str
    registration_number: str
    ims_qualified: bool = False
    active: bool = True


@dataclass
class TreatmentType:
    id: uuid.UUID
    clinic_id: uuid.UUID
    code: str
    name: str
    kind: AppointmentKind
    duration_minutes: int
    buffer_minutes: int = 0
    late_cancel_hours: int = 24
    active: bool = True

    def __post_init__(self) -> None:
        if not 5 <= self.duration_minutes <= 480:
            raise RuleViolation("duration must be between 5 and 480 minutes", field="duration_minutes")
        if not 0 <= self.buffer_minutes <= 120:
            raise RuleViolation("buffer must be between 0 and 120 minutes", field="buffer_minutes")

    @property
    def duration(self) -> timedelta:
        return timedelta(minutes=self.duration_minutes)

    @property
    def buffer(self) -> timedelta:
        return timedelta(minutes=self.buffer_minutes)


# Erased patients' addresses are in this reserved domain (RFC 2606): nothing is ever sent there.
ERASED_DOMAIN = "erased.invalid"


@dataclass
class Patient:
    id: uuid.UUID
    first_name: str
    last_name: str
    email: str
    phone: str | None = None
    language: str = "en"

    def erase(self) -> None:
        """Keep the id (appointments, charges and invoices refer to it and are kept as the law requires) and
        replace every personal field. The address is in the reserved ``.invalid`` domain: nothing is sent."""
        self.first_name, self.last_name = "Erased", "Patient"
        self.email = f"erased-{self.id}@{ERASED_DOMAIN}"
        self.phone = None


@dataclass
class ClinicPatient:
    """A patient on a clinic's list: registered by its front desk, or found there by exact e-mail or phone.

    One of the care relationships that let a clinic's staff see the patient (ADR 0006), before any visit.
    """

    clinic_id: uuid.UUID
    patient_id: uuid.UUID
    added_at: datetime
    added_by: uuid.UUID


@dataclass
class Account:
    """A login. Patients self-register; staff accounts are created by an admin or the CLI."""

    id: uuid.UUID
    email: str
    password_hash: str
    roles: list[str]
    patient_id: uuid.UUID | None = None
    practitioner_id: uuid.UUID | None = None
    clinic_id: uuid.UUID | None = None
    active: bool = True


@dataclass
class Appointment:
    """One booked time: a practitioner's time (plus buffer) is held until it is cancelled."""

    id: uuid.UUID
    clinic_id: uuid.UUID
    practitioner_id: uuid.UUID
    patient_id: uuid.UUID
    treatment_type_id: uuid.UUID
    kind: AppointmentKind
    starts_at: datetime
    ends_at: datetime
    occupied_until: datetime
    late_cancel_window: timedelta
    booked_at: datetime
    status: AppointmentStatus = AppointmentStatus.BOOKED
    sequence: int = 0
    cancelled_at: datetime | None = None
    cancelled_by: str | None = None
    late_cancellation: bool = False
    cancel_reason: str | None = field(default=None)
    room_id: uuid.UUID | None = None
    plan_id: uuid.UUID | None = None
    fee_waived: bool = False
    arrived_at: datetime | None = None
    completed_at: datetime | None = None
    no_show_at: datetime | None = None
    confirmed_at: datetime | None = None
    # A waitlist hold's entry (at most one live hold per entry), and a plan session's place in its series.
    waitlist_entry_id: uuid.UUID | None = None
    plan_index: int | None = None
    # Staff booked it knowing it overlaps the patient's other appointments: the patient rule skips it.
    allow_patient_overlap: bool = False
    # Changes with every stored change (the store bumps and compares it); clients send it back in If-Match.
    version: int = 1

    @classmethod
    def book(
        cls,
        *,
        appointment_id: uuid.UUID,
        clinic: Clinic,
        practitioner: Practitioner,
        treatment: TreatmentType,
        patient_id: uuid.UUID,
        starts_at: datetime,
        now: datetime,
        room_id: uuid.UUID | None = None,
        plan_id: uuid.UUID | None = None,
    ) -> Appointment:
        check_can_deliver(clinic, practitioner, treatment, starts_at, now)
        starts_at = starts_at.astimezone(UTC)
        ends_at = starts_at + treatment.duration
        return cls(
            id=appointment_id,
            clinic_id=clinic.id,
            practitioner_id=practitioner.id,
            patient_id=patient_id,
            treatment_type_id=treatment.id,
            kind=treatment.kind,
            starts_at=starts_at,
            ends_at=ends_at,
            occupied_until=ends_at + treatment.buffer,
            late_cancel_window=timedelta(hours=treatment.late_cancel_hours),
            booked_at=now,
            room_id=room_id,
            plan_id=plan_id,
        )

    def allow_overlap_for_patient(self, *, by_staff: bool) -> None:
        """Staff may book a patient into overlapping appointments on purpose (two practitioners at once)."""
        if not by_staff:
            raise Forbidden("only staff can book a patient into overlapping appointments")
        self.allow_patient_overlap = True

    def require_version(self, expected: Collection[int] | None) -> None:
        """A client's precondition (If-Match): a change prepared against another version is refused."""
        if expected is not None and self.version not in expected:
            raise PreconditionFailed(
                f"the appointment has changed since that version (it is now at version {self.version}); "
                "read it again"
            )

    def overlaps(self, other: Appointment) -> bool:
        return self.starts_at < other.occupied_until and other.starts_at < self.occupied_until

    @property
    def free_cancellation_until(self) -> datetime:
        """Cancelling before this moment is free; from it on the cancellation is late (a fee may apply)."""
        return self.starts_at - self.late_cancel_window

    def cancel(
        self, *, by_staff: bool, now: datetime, reason: str | None = None, waive_fee: bool = False
    ) -> None:
        """Cancel; inside the late-cancel window the cancellation is flagged late (billing may charge).

        Only staff may waive the fee; a waived cancellation stays late (the record says what happened).
        """
        if self.status is AppointmentStatus.CANCELLED:
            raise RuleViolation("the appointment is already cancelled", field="status")
        if self.status is not AppointmentStatus.BOOKED:
            raise RuleViolation(f"an appointment that is {self.status} cannot be cancelled", field="status")
        if not by_staff and now >= self.starts_at:
            raise Forbidden("patients cannot cancel after the appointment has started")
        if waive_fee and not by_staff:
            raise Forbidden("only staff can waive a late-cancellation fee")
        self.status = AppointmentStatus.CANCELLED
        self.cancelled_at = now
        self.cancelled_by = "staff" if by_staff else "patient"
        self.late_cancellation = self.starts_at - now < self.late_cancel_window
        self.fee_waived = waive_fee and self.late_cancellation
        self.cancel_reason = reason
        self.sequence += 1

    def reschedule(
        self,
        *,
        clinic: Clinic,
        practitioner: Practitioner,
        treatment: TreatmentType,
        starts_at: datetime,
        now: datetime,
        by_staff: bool,
        room_id: uuid.UUID | None,
    ) -> None:
        """Move to a new time (and perhaps practitioner); patients may not move one that has started."""
        self.check_movable(by_staff=by_staff, now=now)
        check_can_deliver(clinic, practitioner, treatment, starts_at, now)
        starts_at = starts_at.astimezone(UTC)
        self.practitioner_id = practitioner.id
        self.starts_at = starts_at
        self.ends_at = starts_at + treatment.duration
        self.occupied_until = self.ends_at + treatment.buffer
        self.room_id = room_id
        self.confirmed_at = None
        self.sequence += 1

    def check_movable(self, *, by_staff: bool, now: datetime) -> None:
        if self.status is not AppointmentStatus.BOOKED:
            raise RuleViolation(f"an appointment that is {self.status} cannot be moved", field="status")
        if not by_staff and now >= self.starts_at:
            raise Forbidden("patients cannot move an appointment after it has started")

    def hold_for(self, entry_id: uuid.UUID | None = None) -> None:
        """Make this a hold (FHIR ``proposed``) for a waitlist entry: it occupies the time until claimed or
        released."""
        self.status = AppointmentStatus.PROPOSED
        self.waitlist_entry_id = entry_id

    def require_held(self) -> None:
        if self.status is not AppointmentStatus.PROPOSED:
            raise RuleViolation("this time is no longer held", field="status")

    def accept_hold(self, now: datetime) -> None:
        self.require_held()
        self.status = AppointmentStatus.BOOKED
        self.booked_at = now
        self.sequence += 1

    def release_hold(self, now: datetime) -> None:
        if self.status is AppointmentStatus.PROPOSED:
            self.status = AppointmentStatus.CANCELLED
            self.cancelled_at = now
            self.cancelled_by = "staff"
            self.sequence += 1

    def mark_arrived(self, now: datetime, zone: ZoneInfo) -> None:
        """The patient is here. Arrival may be recorded from the start of the appointment's day in the
        clinic's zone (``zone``), not on an earlier day: that is a slip for another appointment."""
        if self.status is not AppointmentStatus.BOOKED:
            raise RuleViolation(
                f"an appointment that is {self.status} cannot be marked arrived", field="status"
            )
        if now.astimezone(zone).date() < self.starts_at.astimezone(zone).date():
            raise RuleViolation(
                "an appointment cannot be marked arrived before the day it is on", field="status"
            )
        self.status = AppointmentStatus.ARRIVED
        self.arrived_at = now
        self.sequence += 1

    def mark_completed(self, now: datetime) -> None:
        if self.status not in (AppointmentStatus.BOOKED, AppointmentStatus.ARRIVED):
            raise RuleViolation(f"an appointment that is {self.status} cannot be completed", field="status")
        if now < self.starts_at:
            raise RuleViolation("an appointment cannot be completed before it starts", field="status")
        self.status = AppointmentStatus.FULFILLED
        self.completed_at = now
        self.sequence += 1

    def mark_no_show(self, now: datetime, *, waive_fee: bool = False) -> None:
        if self.status is not AppointmentStatus.BOOKED:
            raise RuleViolation(f"an appointment that is {self.status} cannot be a no-show", field="status")
        if now < self.starts_at:
            raise RuleViolation("a patient cannot miss an appointment that has not started", field="status")
        self.status = AppointmentStatus.NOSHOW
        self.no_show_at = now
        self.fee_waived = waive_fee
        self.sequence += 1

    def confirm(self, now: datetime) -> bool:
        """Record the patient's confirmation; False when there is nothing to confirm (done, or moved on)."""
        if self.status is not AppointmentStatus.BOOKED or self.confirmed_at is not None:
            return False
        self.confirmed_at = now
        return True

    @property
    def interval(self) -> tuple[datetime, datetime]:
        return self.starts_at, self.occupied_until

    def facts(self) -> dict[str, object]:
        """The fields every appointment event carries."""
        return {
            "appointment_id": self.id,
            "clinic_id": self.clinic_id,
            "practitioner_id": self.practitioner_id,
            "patient_id": self.patient_id,
            "treatment_type_id": self.treatment_type_id,
            "kind": str(self.kind),
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "sequence": self.sequence,
            "plan_id": self.plan_id,
        }


@dataclass
class Suitability:
    """A practitioner's finding after an assessment: whether IMS suits this patient, with their consent."""

    id: uuid.UUID
    clinic_id: uuid.UUID
    patient_id: uuid.UUID
    assessment_id: uuid.UUID
    practitioner_id: uuid.UUID
    suitable: bool
    consent_recorded: bool
    recorded_at: datetime

    @property
    def clears_for_ims(self) -> bool:
        return self.suitable and self.consent_recorded


def check_can_deliver(
    clinic: Clinic, practitioner: Practitioner, treatment: TreatmentType, starts_at: datetime, now: datetime
) -> None:
    """The practitioner works here, offers this treatment (IMS needs the roster) and the time is ahead."""
    require_aware(starts_at, "starts_at")
    if practitioner.clinic_id != clinic.id or not practitioner.active:
        raise RuleViolation("practitioner does not work at this clinic", field="practitioner_id")
    if treatment.clinic_id != clinic.id or not treatment.active:
        raise RuleViolation("treatment type is not offered at this clinic", field="treatment_type_id")
    if treatment.kind is AppointmentKind.TREATMENT and not practitioner.ims_qualified:
        raise RuleViolation("practitioner is not on the IMS roster", field="practitioner_id")
    if starts_at <= now:
        raise RuleViolation("the start time has passed", field="starts_at")


@dataclass
class PatientAccess:
    """One read or change of a patient's record by someone other than the patient: the access log that
    privacy law (PIPA BC, PIPEDA) lets a patient ask for. Append-only: the database refuses to change or
    delete a row."""

    id: uuid.UUID
    patient_id: uuid.UUID
    actor_account_id: uuid.UUID
    actor_clinic_id: uuid.UUID | None
    action: str  # "read" or "change"
    resource: str  # what was read or changed, e.g. "patient"
    at: datetime
