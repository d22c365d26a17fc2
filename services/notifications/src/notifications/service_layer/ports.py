"""What the service layer needs from the outside world, as protocols the adapters implement."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from notifications.domain.appointments import AppointmentCopy
from notifications.domain.composition import Notice
from notifications.domain.consent import ConsentRecord
from notifications.domain.copies import (
    ClinicInfo,
    Contact,
    PractitionerInfo,
    ReferenceCopies,
    TreatmentInfo,
)
from notifications.domain.deliveries import Delivery, DeliveryAttempt
from notifications.domain.inbound import InboundSms
from notifications.domain.kinds import DeliveryKind
from notifications.domain.reminders import ReminderPolicy

T = TypeVar("T")


@dataclass(frozen=True)
class CalendarAttachment:
    """An iCalendar object (RFC 5545) with its iTIP method (RFC 5546): REQUEST or CANCEL."""

    method: str
    content: bytes
    filename: str = "appointment.ics"


@dataclass(frozen=True)
class OutgoingEmail:
    """A rendered e-mail; ``message_id`` is stable per delivery so a resend is recognizable."""

    message_id: str
    to: str
    subject: str
    text: str
    html: str
    language: str
    reply_to: str | None = None
    calendar: CalendarAttachment | None = None


@dataclass(frozen=True)
class OutgoingSms:
    """A rendered SMS; ``key`` is the delivery's unique key, passed on where a provider deduplicates."""

    key: str
    to: str
    body: str
    # Lets a provider adapter point the status callback at this delivery.
    delivery_id: uuid.UUID | None = None


class TransportError(Exception):
    """Sending failed. ``permanent`` means retrying cannot help (e.g. the address was refused).

    ``reason`` must not quote addresses or message content: it is stored and shown to staff.
    """

    def __init__(self, reason: str, *, permanent: bool = False, retry_after: timedelta | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        # The provider asked us to wait at least this long (HTTP 429 Retry-After).
        self.retry_after = retry_after


class Mailer(Protocol):
    def send(self, email: OutgoingEmail) -> str | None:
        """Hand the e-mail over; returns the transport's id for it, if any. Raises TransportError."""
        ...

    def close(self) -> None:
        """Let go of a connection kept between messages (the dispatcher calls it after each pass)."""
        ...


class SmsSender(Protocol):
    def send(self, sms: OutgoingSms) -> str | None:
        """Hand the SMS over; returns the provider's id for it, if any. Raises TransportError."""
        ...


class MessageRenderer(Protocol):
    def email(self, notice: Notice) -> OutgoingEmail:
        """Subject, plain text, HTML and calendar invitation for a notice."""
        ...

    def sms(self, notice: Notice) -> OutgoingSms: ...


class Repository(Protocol):
    """How the service layer finds and stores domain objects within one unit of work."""

    def add(self, entity: object) -> None: ...

    def get(self, cls: type[T], entity_id: uuid.UUID) -> T | None: ...

    def contact(self, patient_id: uuid.UUID) -> Contact | None: ...

    def lock_contact(self, patient_id: uuid.UUID) -> None:
        """Until the transaction ends, be the one writing this patient's contact copy or choices: the copy
        arriving from scheduling and choices made before it arrived must not miss each other."""
        ...

    def patient_known_at(self, patient_id: uuid.UUID, clinic_id: uuid.UUID) -> bool:
        """Whether the patient has a delivery about the clinic or an appointment copy there."""
        ...

    def clinic(self, clinic_id: uuid.UUID) -> ClinicInfo | None: ...

    def practitioner(self, practitioner_id: uuid.UUID) -> PractitionerInfo | None: ...

    def treatment_type(self, treatment_type_id: uuid.UUID) -> TreatmentInfo | None: ...

    def reference_copies(
        self,
        *,
        patient_ids: Collection[uuid.UUID],
        clinic_ids: Collection[uuid.UUID],
        practitioner_ids: Collection[uuid.UUID],
        treatment_type_ids: Collection[uuid.UUID],
    ) -> ReferenceCopies:
        """The contacts, clinics, practitioners and treatment types with these ids (those that exist), read
        in a bounded number of queries whatever the number of ids."""
        ...

    def appointment(self, appointment_id: uuid.UUID, *, for_update: bool = False) -> AppointmentCopy | None:
        """``for_update`` row-locks the copy until the transaction ends and reads it afresh."""
        ...

    def appointments_between(
        self, clinic_id: uuid.UUID, start: datetime, end: datetime
    ) -> Sequence[AppointmentCopy]:
        """The clinic's appointments starting in [start, end), not cancelled, by practitioner then time."""
        ...

    def all_clinics(self) -> Sequence[ClinicInfo]: ...

    def contacts_by_phone(self, phone: str) -> Sequence[Contact]: ...

    def inbound_sms(self, message_sid: str) -> InboundSms | None: ...

    def inbound_sms_of(self, patient_id: uuid.UUID) -> Sequence[InboundSms]:
        """Texts recognised as the patient's, oldest first."""
        ...

    def appointments_of(self, patient_id: uuid.UUID) -> Sequence[AppointmentCopy]:
        """The patient's appointment copies (cancelled ones too), by start."""
        ...

    def deliveries_of(self, patient_id: uuid.UUID) -> Sequence[Delivery]:
        """Every message about the patient, whatever its clinic, oldest first."""
        ...

    def consent_records(self, patient_id: uuid.UUID) -> Sequence[ConsentRecord]: ...

    def next_appointment(self, patient_ids: Sequence[uuid.UUID], after: datetime) -> AppointmentCopy | None:
        """The earliest appointment of these patients starting after ``after`` and not cancelled."""
        ...

    def latest_appointment(self, patient_ids: Sequence[uuid.UUID]) -> AppointmentCopy | None: ...

    def reminder_policy(self, clinic_id: uuid.UUID) -> ReminderPolicy | None: ...

    def save_reminder_policy(self, policy: ReminderPolicy) -> None: ...

    def deliveries_for_appointment(
        self, appointment_id: uuid.UUID, *, for_update: bool = False
    ) -> Sequence[Delivery]: ...

    def claimable_deliveries(self, now: datetime, stale_before: datetime, limit: int) -> Sequence[Delivery]:
        """Due pending deliveries and stale sending ones, locked (skipping rows another dispatcher holds)."""
        ...

    def delivery_for_update(self, delivery_id: uuid.UUID) -> Delivery | None: ...

    def finish_claim(self, claimed: Delivery, finished: Delivery, attempt: DeliveryAttempt) -> bool:
        """Store a send attempt's outcome if the delivery is still as ``claimed`` (its status and number of
        attempts), as one compare-and-set without reading the row: the fields ``finished`` changed from
        ``claimed`` (the rest of the row, whatever else wrote it meanwhile, is left alone) and the finish of
        ``attempt``, the attempt the claim opened (if still open). False, storing nothing, when the claim
        was taken over meanwhile."""
        ...

    def attempts_of(self, delivery_ids: Sequence[uuid.UUID]) -> Sequence[DeliveryAttempt]:
        """Attempts of these deliveries, in order of delivery then number."""
        ...

    def pending_deliveries(
        self, patient_id: uuid.UUID, kinds: Collection[DeliveryKind]
    ) -> Sequence[Delivery]:
        """A patient's messages of these kinds that have not been sent yet."""

    def delivery_by_key(self, key: str) -> Delivery | None: ...

    def list_deliveries(
        self, *, offset: int, limit: int, **filters: Any
    ) -> tuple[Sequence[Delivery], int]: ...
