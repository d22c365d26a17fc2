"""The delivery log: every message we owe a patient (or a clinic's staff), and each try at sending it.

A Delivery is one message on one channel. Its ``key`` is unique, so however often an event is delivered the
message is recorded once. Its life::

    pending --claim--> sending --sent--> sent
       ^                  |
       +---retry later----+--gave up--> failed
    pending --skip--> skipped (no address, opted out, superseded, cancelled, confirmed, or the appointment
                               had started by the time it fell due)
    pending --give_up--> failed (its details never arrived)

Immediate messages are due a short debounce after the event; reminders at the time the clinic's policy
gives. Each claim opens a DeliveryAttempt (the log's line per try). A claim is committed before the
transport is called; a claim left ``sending`` by a crash is claimed again after a while (a possible
duplicate, recognizable by its Message-ID, rather than a lost message). An SMS that finally fails, or that
the provider reports undelivered, may fall back to an e-mail delivery (``fallback_of``); an e-mail reminder
that finally fails, to an SMS. A fallback that fails too has no fallback of its own.

A message carrying a credential (a password-reset link's token, SECRET_PAYLOAD_FIELDS) keeps it only while
it is owed: reaching sent, failed or skipped redacts it from the payload.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from notifications.domain.appointments import AppointmentFacts
from notifications.domain.channels import Channel
from notifications.domain.errors import InvalidTransition
from notifications.domain.instants import require_utc
from notifications.domain.kinds import PLAN_KINDS, STAFF_KINDS, DeliveryKind

MESSAGE_ID_DOMAIN = "notifications.ims-clinic"
# What in a message's payload only its recipient may see: kept until the message is done with (sent, failed
# or skipped), then replaced by REDACTED, so the delivery log never keeps a working credential.
SECRET_PAYLOAD_FIELDS: dict[DeliveryKind, tuple[str, ...]] = {
    DeliveryKind.PASSWORD_RESET: ("token",),
    DeliveryKind.SIGN_UP_LINK: ("token",),
}
REDACTED = "redacted"


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


# Provider statuses (Twilio's vocabulary) meaning the message will not reach the phone.
UNDELIVERED_STATUSES = frozenset({"undelivered", "failed"})

FINISHED_STATUSES = frozenset({DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.SKIPPED})


@dataclass
class Delivery:
    """One message to one patient on one channel, and what happened to it."""

    id: uuid.UUID
    key: str
    channel: Channel
    kind: DeliveryKind
    # None for messages to staff about no single patient (a practitioner's agenda).
    patient_id: uuid.UUID | None
    # The appointment the message is about; for other messages, their subject (plan, invoice, payment,
    # password-reset request).
    appointment_id: uuid.UUID
    # None for messages about an account (ACCOUNT_KINDS), which no clinic sends.
    clinic_id: uuid.UUID | None
    # None for messages about no single appointment (invoices, payments).
    practitioner_id: uuid.UUID | None
    treatment_type_id: uuid.UUID | None
    starts_at: datetime | None
    ends_at: datetime | None
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
    # The delivery on the other channel this one stands in for, after that one could not be delivered.
    fallback_of: uuid.UUID | None = None
    # What the provider last reported through its status callback (e.g. delivered, undelivered).
    provider_status: str | None = None
    # A message about an offer is pointless once the offer lapses.
    expires_at: datetime | None = None
    # What a message about something other than one appointment says (amounts, invoice number, sessions).
    payload: dict[str, Any] | None = None

    @classmethod
    def record_message(
        cls,
        *,
        delivery_id: uuid.UUID,
        kind: DeliveryKind,
        subject_id: uuid.UUID,
        patient_id: uuid.UUID | None,
        clinic_id: uuid.UUID | None,
        payload: dict[str, Any],
        event_id: uuid.UUID,
        now: datetime,
        due_at: datetime,
        practitioner_id: uuid.UUID | None = None,
        treatment_type_id: uuid.UUID | None = None,
        channel: Channel = Channel.EMAIL,
    ) -> Delivery:
        """A pending message about a plan, an invoice or a payment (``subject_id``): one per subject, kind
        and channel."""
        return cls(
            id=delivery_id,
            key=cls.key_for(subject_id, kind, channel, 0),
            channel=channel,
            kind=kind,
            patient_id=patient_id,
            appointment_id=subject_id,
            clinic_id=clinic_id,
            practitioner_id=practitioner_id,
            treatment_type_id=treatment_type_id,
            starts_at=None,
            ends_at=None,
            sequence=0,
            event_id=event_id,
            created_at=now,
            updated_at=now,
            next_attempt_at=due_at,
            payload=payload,
        )

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
        due_at: datetime | None = None,
        key: str | None = None,
    ) -> Delivery:
        """A new pending delivery, due at ``due_at`` (at once by default).

        ``key`` replaces the appointment's own business key for a message that speaks for several
        appointments (one alert for a whole treatment plan).
        """
        return cls(
            id=delivery_id,
            key=key or cls.key_for(facts.appointment_id, kind, channel, facts.sequence),
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
            next_attempt_at=require_utc(due_at, "due_at") if due_at is not None else now,
        )

    def fallback_on(
        self, channel: Channel, delivery_id: uuid.UUID, now: datetime, due_at: datetime
    ) -> Delivery:
        """A pending delivery of this (undeliverable) message on the other ``channel``, due at ``due_at``."""
        if channel is self.channel:
            raise ValueError("a fallback goes on the other channel")
        return Delivery(
            id=delivery_id,
            key=f"{self.key_for(self.appointment_id, self.kind, channel, self.sequence)}:fallback",
            channel=channel,
            kind=self.kind,
            patient_id=self.patient_id,
            appointment_id=self.appointment_id,
            clinic_id=self.clinic_id,
            practitioner_id=self.practitioner_id,
            treatment_type_id=self.treatment_type_id,
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            sequence=self.sequence,
            event_id=self.event_id,
            created_at=now,
            updated_at=now,
            next_attempt_at=require_utc(due_at, "due_at"),
            fallback_of=self.id,
        )

    @property
    def for_staff(self) -> bool:
        return self.kind in STAFF_KINDS

    @property
    def is_reminder(self) -> bool:
        return self.kind is DeliveryKind.REMINDER

    @property
    def went_out(self) -> bool:
        """True once the message may have reached the patient (sent, or being sent right now)."""
        return self.status in (DeliveryStatus.SENT, DeliveryStatus.SENDING) or (
            self.status is DeliveryStatus.PENDING and self.attempts > 0
        )

    def announces(self, appointment_id: uuid.UUID) -> bool:
        """True for a plan message whose session list names ``appointment_id``."""
        sessions = (self.payload or {}).get("sessions", [])
        wanted = str(appointment_id)
        return self.kind in PLAN_KINDS and any(s.get("appointment_id") == wanted for s in sessions)

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
        self._forget_secrets()

    def attempt_failed(
        self, now: datetime, reason: str, *, permanent: bool, max_attempts: int, retry_in: timedelta
    ) -> bool:
        """Record a failed attempt; True when it will be retried, False when the delivery gave up."""
        self._require(DeliveryStatus.SENDING, "record a failed attempt for")
        self.last_error = reason
        self.updated_at = now
        if permanent or self.attempts >= max_attempts:
            self.status = DeliveryStatus.FAILED
            self._forget_secrets()
            return False
        self.status = DeliveryStatus.PENDING
        self.next_attempt_at = now + retry_in
        return True

    def provider_reported(self, now: datetime, status: str) -> bool:
        """Record the provider's latest word on a sent message; True when it says it never arrived."""
        self.provider_status = status
        self.updated_at = now
        return self.status is DeliveryStatus.SENT and status in UNDELIVERED_STATUSES

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
        self._forget_secrets()

    def skip(self, now: datetime, reason: str) -> None:
        """Decide not to send: nowhere to send it, or a newer message made it pointless."""
        self._require(DeliveryStatus.PENDING, "skip")
        self.status = DeliveryStatus.SKIPPED
        self.last_error = reason
        self.updated_at = now
        self._forget_secrets()

    def _forget_secrets(self) -> None:
        """Once the message is done with, nobody needs its credential any more: redact it (a new dict, so
        the change is stored)."""
        secret = SECRET_PAYLOAD_FIELDS.get(self.kind, ())
        if self.payload and any(self.payload.get(name) not in (None, REDACTED) for name in secret):
            self.payload = {**self.payload, **dict.fromkeys(secret, REDACTED)}

    def _require(self, status: DeliveryStatus, action: str) -> None:
        if self.status is not status:
            raise InvalidTransition(f"cannot {action} a delivery that is {self.status}")


class AttemptOutcome(enum.StrEnum):
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


@dataclass
class DeliveryAttempt:
    """One try at handing a delivery to its transport: the delivery log's line per attempt."""

    id: uuid.UUID
    delivery_id: uuid.UUID
    number: int
    channel: Channel
    started_at: datetime
    outcome: AttemptOutcome = AttemptOutcome.SENDING
    finished_at: datetime | None = None
    provider_message_id: str | None = None
    detail: str | None = None

    def finish(
        self, now: datetime, outcome: AttemptOutcome, *, provider_message_id: str | None, detail: str | None
    ) -> None:
        self.outcome, self.finished_at = outcome, now
        self.provider_message_id, self.detail = provider_message_id, detail
