"""Local copies of what scheduling tells us, and the delivery log of every message we owe a patient.

Copies (contacts, clinics, practitioners, treatment types) are fed by scheduling's events, which may arrive
out of order: each copy remembers the ``as_of`` instant of the event it reflects and ignores older news.

A Delivery is one message on one channel. Its ``key`` is unique, so however often an event is delivered the
message is recorded once. Its life::

    pending --claim--> sending --sent--> sent
       ^                  |
       +---retry later----+--gave up--> failed
    pending --skip--> skipped (no address on the channel, or superseded before it went out)
    pending --give_up--> failed (its details never arrived)

A claim is committed before the transport is called; a claim left ``sending`` by a crash is claimed again
after a while (a possible duplicate, recognizable by its Message-ID, rather than a lost message).
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from notifications.domain.errors import InvalidTransition

MESSAGE_ID_DOMAIN = "notifications.ims-clinic"


def require_utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value.astimezone(UTC)


class Channel(enum.StrEnum):
    EMAIL = "email"
    SMS = "sms"


class DeliveryKind(enum.StrEnum):
    BOOKING_CONFIRMATION = "booking_confirmation"
    CANCELLATION = "cancellation"


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


FINISHED_STATUSES = frozenset({DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.SKIPPED})


class _Copy:
    """Shared rule of the local copies: news older than what we hold is ignored."""

    as_of: datetime

    def accepts(self, as_of: datetime) -> bool:
        return as_of >= self.as_of


@dataclass
class Contact(_Copy):
    """How to reach a patient, in which language. Only what messages need: no last name, nothing clinical."""

    patient_id: uuid.UUID
    first_name: str
    email: str
    phone: str | None
    language: str
    as_of: datetime

    def address_on(self, channel: Channel) -> str | None:
        return self.email if channel is Channel.EMAIL else self.phone

    def update(
        self, *, first_name: str, email: str, phone: str | None, language: str, as_of: datetime
    ) -> bool:
        """Apply newer contact details; False (and no change) when ``as_of`` is older than ours."""
        if not self.accepts(as_of):
            return False
        self.first_name, self.email, self.phone, self.language = first_name, email, phone, language
        self.as_of = as_of
        return True


@dataclass
class ClinicInfo(_Copy):
    """What a message says about the clinic: its name, zone (for local times), address and how to call."""

    clinic_id: uuid.UUID
    name: str
    timezone: str
    address: str
    phone: str
    email: str
    as_of: datetime

    def update(
        self, *, name: str, timezone: str, address: str, phone: str, email: str, as_of: datetime
    ) -> bool:
        if not self.accepts(as_of):
            return False
        self.name, self.timezone, self.address, self.phone, self.email = name, timezone, address, phone, email
        self.as_of = as_of
        return True


@dataclass
class PractitionerInfo(_Copy):
    practitioner_id: uuid.UUID
    display_name: str
    as_of: datetime

    def update(self, *, display_name: str, as_of: datetime) -> bool:
        if not self.accepts(as_of):
            return False
        self.display_name, self.as_of = display_name, as_of
        return True


@dataclass
class TreatmentInfo(_Copy):
    treatment_type_id: uuid.UUID
    name: str
    as_of: datetime

    def update(self, *, name: str, as_of: datetime) -> bool:
        if not self.accepts(as_of):
            return False
        self.name, self.as_of = name, as_of
        return True


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

    def __post_init__(self) -> None:
        object.__setattr__(self, "starts_at", require_utc(self.starts_at, "starts_at"))
        object.__setattr__(self, "ends_at", require_utc(self.ends_at, "ends_at"))
        if self.ends_at <= self.starts_at:
            raise ValueError("an appointment must end after it starts")
        if self.sequence < 0:
            raise ValueError("sequence must be >= 0")


@dataclass
class Delivery:
    """One message to one patient on one channel, and what happened to it."""

    id: uuid.UUID
    key: str
    channel: Channel
    kind: DeliveryKind
    patient_id: uuid.UUID
    appointment_id: uuid.UUID
    clinic_id: uuid.UUID
    practitioner_id: uuid.UUID
    treatment_type_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    sequence: int
    event_id: uuid.UUID
    created_at: datetime
    updated_at: datetime
    next_attempt_at: datetime
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: int = 0
    recipient: str | None = None
    provider_message_id: str | None = None
    last_error: str | None = None
    claimed_at: datetime | None = None
    sent_at: datetime | None = None

    @staticmethod
    def key_for(appointment_id: uuid.UUID, kind: DeliveryKind, channel: Channel, sequence: int) -> str:
        """The business key: one message per appointment, kind, channel and appointment version."""
        return f"{appointment_id}:{kind}:{channel}:{sequence}"

    @classmethod
    def record(
        cls,
        *,
        delivery_id: uuid.UUID,
        kind: DeliveryKind,
        channel: Channel,
        facts: AppointmentFacts,
        event_id: uuid.UUID,
        now: datetime,
    ) -> Delivery:
        """A new pending delivery, due at once."""
        return cls(
            id=delivery_id,
            key=cls.key_for(facts.appointment_id, kind, channel, facts.sequence),
            channel=channel,
            kind=kind,
            patient_id=facts.patient_id,
            appointment_id=facts.appointment_id,
            clinic_id=facts.clinic_id,
            practitioner_id=facts.practitioner_id,
            treatment_type_id=facts.treatment_type_id,
            starts_at=facts.starts_at,
            ends_at=facts.ends_at,
            sequence=facts.sequence,
            event_id=event_id,
            created_at=now,
            updated_at=now,
            next_attempt_at=now,
        )

    @property
    def message_id(self) -> str:
        """RFC 5322 Message-ID derived from the delivery id: a resend after a crash carries the same one."""
        return f"<{self.id}@{MESSAGE_ID_DOMAIN}>"

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    def is_claimable(self, now: datetime, stale_after: timedelta) -> bool:
        """Due and pending, or left ``sending`` (by a crashed dispatcher) for longer than ``stale_after``."""
        if self.status is DeliveryStatus.PENDING:
            return self.next_attempt_at <= now
        if self.status is DeliveryStatus.SENDING:
            return self.claimed_at is not None and self.claimed_at <= now - stale_after
        return False

    def supersedes(self, other: Delivery) -> bool:
        """True when this message is about a newer version of the same appointment, on the same channel."""
        return (
            other.appointment_id == self.appointment_id
            and other.channel is self.channel
            and other.sequence < self.sequence
        )

    def claim(self, now: datetime, recipient: str) -> None:
        """Take the delivery for one send attempt (committed before the transport is called)."""
        if self.status not in (DeliveryStatus.PENDING, DeliveryStatus.SENDING):
            raise InvalidTransition(f"cannot send a delivery that is {self.status}")
        self.status = DeliveryStatus.SENDING
        self.attempts += 1
        self.recipient = recipient
        self.claimed_at = now
        self.updated_at = now

    def mark_sent(self, now: datetime, provider_message_id: str | None) -> None:
        self._require(DeliveryStatus.SENDING, "mark as sent")
        self.status = DeliveryStatus.SENT
        self.provider_message_id = provider_message_id
        self.last_error = None
        self.sent_at = now
        self.updated_at = now

    def attempt_failed(
        self, now: datetime, reason: str, *, permanent: bool, max_attempts: int, retry_in: timedelta
    ) -> bool:
        """Record a failed attempt; True when it will be retried, False when the delivery gave up."""
        self._require(DeliveryStatus.SENDING, "record a failed attempt for")
        self.last_error = reason
        self.updated_at = now
        if permanent or self.attempts >= max_attempts:
            self.status = DeliveryStatus.FAILED
            return False
        self.status = DeliveryStatus.PENDING
        self.next_attempt_at = now + retry_in
        return True

    def defer(self, now: datetime, until: datetime, reason: str) -> None:
        """Wait (without using up an attempt) for something the message needs, e.g. the patient's details."""
        self._require(DeliveryStatus.PENDING, "defer")
        self.next_attempt_at = until
        self.last_error = reason
        self.updated_at = now

    def give_up(self, now: datetime, reason: str) -> None:
        self._require(DeliveryStatus.PENDING, "give up on")
        self.status = DeliveryStatus.FAILED
        self.last_error = reason
        self.updated_at = now

    def skip(self, now: datetime, reason: str) -> None:
        """Decide not to send: nowhere to send it, or a newer message made it pointless."""
        self._require(DeliveryStatus.PENDING, "skip")
        self.status = DeliveryStatus.SKIPPED
        self.last_error = reason
        self.updated_at = now

    def _require(self, status: DeliveryStatus, action: str) -> None:
        if self.status is not status:
            raise InvalidTransition(f"cannot {action} a delivery that is {self.status}")
