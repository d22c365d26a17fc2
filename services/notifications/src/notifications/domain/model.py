"""Local copies of what scheduling tells us, and the delivery log of every message we owe a patient.

Copies (contacts, clinics, practitioners, treatment types) are fed by scheduling's events, which may arrive
out of order: each copy remembers the ``as_of`` instant of the event it reflects and ignores older news.

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
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from notifications.domain.errors import InvalidTransition

MESSAGE_ID_DOMAIN = "notifications.ims-clinic"
# RFC 2606 reserves the top-level domain .invalid: no mail can ever be delivered there. Scheduling erases a
# patient (PIPA BC / PIPEDA) by giving them such an address (erased-<patient id>@erased.invalid).
UNDELIVERABLE_TLD = ".invalid"


def email_deliverable(address: str | None) -> bool:
    """False for no address and for one in a reserved, undeliverable domain (an erased patient's)."""
    if not address:
        return False
    domain = address.rpartition("@")[2].strip().rstrip(".").lower()
    return not (domain == UNDELIVERABLE_TLD[1:] or domain.endswith(UNDELIVERABLE_TLD))


def require_utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value.astimezone(UTC)


class Channel(enum.StrEnum):
    EMAIL = "email"
    SMS = "sms"


class ConsentKind(enum.StrEnum):
    EXPRESS = "express"
    IMPLIED = "implied"
    WITHDRAWN = "withdrawn"


TRANSACTIONAL = "transactional"
PROMOTIONAL = "promotional"


class DeliveryKind(enum.StrEnum):
    BOOKING_CONFIRMATION = "booking_confirmation"
    RESCHEDULE = "reschedule"
    CANCELLATION = "cancellation"
    REMINDER = "reminder"
    LATE_CANCELLATION_ALERT = "late_cancellation_alert"
    ONLINE_BOOKING_ALERT = "online_booking_alert"
    WAITLIST_OFFER = "waitlist_offer"
    PLAN_SUMMARY = "plan_summary"
    PLAN_EXTENDED = "plan_extended"
    PLAN_CANCELLED = "plan_cancelled"
    PLAN_SHORTENED = "plan_shortened"
    INVOICE_ISSUED = "invoice_issued"
    PAYMENT_RECEIPT = "payment_receipt"
    CREDIT_NOTE_ISSUED = "credit_note_issued"
    PRACTITIONER_AGENDA = "practitioner_agenda"
    PASSWORD_RESET = "password_reset"  # noqa: S105 - a message kind, not a password
    SIGN_UP_LINK = "sign_up_link"
    SIGN_UP_ACCOUNT_EXISTS = "sign_up_account_exists"


# Messages to the clinic's front desk (its e-mail address), not to the patient.
STAFF_KINDS = frozenset(
    {
        DeliveryKind.LATE_CANCELLATION_ALERT,
        DeliveryKind.ONLINE_BOOKING_ALERT,
        DeliveryKind.PRACTITIONER_AGENDA,
    }
)
# Messages about a login, not about care at a clinic: addressed as the event says (staff have no contact
# copy), tied to no clinic, e-mail only, sent whatever the channel choices (the holder asked for them).
ACCOUNT_KINDS = frozenset(
    {DeliveryKind.PASSWORD_RESET, DeliveryKind.SIGN_UP_LINK, DeliveryKind.SIGN_UP_ACCOUNT_EXISTS}
)
# What in a message's payload only its recipient may see: kept until the message is done with (sent, failed
# or skipped), then replaced by REDACTED, so the delivery log never keeps a working credential.
SECRET_PAYLOAD_FIELDS: dict[DeliveryKind, tuple[str, ...]] = {
    DeliveryKind.PASSWORD_RESET: ("token",),
    DeliveryKind.SIGN_UP_LINK: ("token",),
}
REDACTED = "redacted"
# Messages about a treatment plan: they speak for its sessions, whose own notices are not sent.
PLAN_KINDS = frozenset(
    {
        DeliveryKind.PLAN_SUMMARY,
        DeliveryKind.PLAN_EXTENDED,
        DeliveryKind.PLAN_CANCELLED,
        DeliveryKind.PLAN_SHORTENED,
    }
)
# Plan messages that announce sessions (listed in their payload, and refreshed when sent).
PLAN_ANNOUNCEMENT_KINDS = frozenset({DeliveryKind.PLAN_SUMMARY, DeliveryKind.PLAN_EXTENDED})
# Messages that take an appointment (or a plan's sessions) out of the patient's calendar.
CANCELLATION_KINDS = frozenset(
    {DeliveryKind.CANCELLATION, DeliveryKind.PLAN_CANCELLED, DeliveryKind.PLAN_SHORTENED}
)
# Messages that carry no calendar invitation (nothing is booked for the reader yet, or it is not theirs).
NO_INVITATION_KINDS = STAFF_KINDS | {
    DeliveryKind.WAITLIST_OFFER,
    DeliveryKind.INVOICE_ISSUED,
    DeliveryKind.PAYMENT_RECEIPT,
    DeliveryKind.CREDIT_NOTE_ISSUED,
    *ACCOUNT_KINDS,
}


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


# Provider statuses (Twilio's vocabulary) meaning the message will not reach the phone.
UNDELIVERED_STATUSES = frozenset({"undelivered", "failed"})

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
    # The patient's own choices, which scheduling's updates never touch: SMS withdrawn (e.g. STOP), no
    # e-mail wanted, a language other than the one scheduling holds, express consent to promotional messages.
    sms_opted_out_at: datetime | None = None
    email_opted_out_at: datetime | None = None
    preferred_language: str | None = None
    promotional_consent_at: datetime | None = None

    def address_on(self, channel: Channel) -> str | None:
        """The address to send to on ``channel``; None when there is none that can receive a message (no
        phone, or an erased patient's e-mail address in the reserved .invalid domain)."""
        if channel is Channel.EMAIL:
            return self.email if self.email_deliverable else None
        return self.phone

    @property
    def email_deliverable(self) -> bool:
        """False for an erased patient's address (reserved .invalid domain): nothing is sent there."""
        return email_deliverable(self.email)

    @property
    def message_language(self) -> str:
        return self.preferred_language or self.language

    @property
    def sms_allowed(self) -> bool:
        return bool(self.phone) and self.sms_opted_out_at is None

    def wants(self, channel: Channel) -> bool:
        """False once the patient opted out of ``channel`` (honoured even for transactional messages)."""
        opted_out = self.sms_opted_out_at if channel is Channel.SMS else self.email_opted_out_at
        return opted_out is None

    def opt_out_of_sms(self, now: datetime) -> bool:
        """Withdraw SMS consent; False when it was already withdrawn (so the opt-out is confirmed once)."""
        if self.sms_opted_out_at is not None:
            return False
        self.sms_opted_out_at = now
        return True

    def opt_in_to_sms(self) -> bool:
        """Give SMS consent back (e.g. START); False when it was not withdrawn (so it is confirmed once)."""
        if self.sms_opted_out_at is None:
            return False
        self.sms_opted_out_at = None
        return True

    def choose(
        self,
        now: datetime,
        *,
        email: bool,
        sms: bool,
        language: str | None,
        promotional: bool,
    ) -> list[tuple[Channel, ConsentKind, str]]:
        """Apply the patient's preferences; returns the consent changes to record (channel, kind, purpose)."""
        changes: list[tuple[Channel, ConsentKind, str]] = []
        for channel, wanted in ((Channel.EMAIL, email), (Channel.SMS, sms)):
            field = "email_opted_out_at" if channel is Channel.EMAIL else "sms_opted_out_at"
            if wanted and getattr(self, field) is not None:
                setattr(self, field, None)
                changes.append((channel, ConsentKind.EXPRESS, TRANSACTIONAL))
            elif not wanted and getattr(self, field) is None:
                setattr(self, field, now)
                changes.append((channel, ConsentKind.WITHDRAWN, TRANSACTIONAL))
        if promotional and self.promotional_consent_at is None:
            self.promotional_consent_at = now
            changes.append((Channel.EMAIL, ConsentKind.EXPRESS, PROMOTIONAL))
        elif not promotional and self.promotional_consent_at is not None:
            self.promotional_consent_at = None
            changes.append((Channel.EMAIL, ConsentKind.WITHDRAWN, PROMOTIONAL))
        self.preferred_language = language
        return changes

    def resume_choices(self, records: Iterable[ConsentRecord]) -> None:
        """Start a new copy from the choices the patient recorded before it arrived (the latest of each).

        A patient may choose how to be contacted (e.g. right after signing up) before scheduling's news of
        them reaches us; those choices are kept as consent records and applied here.
        """
        for record in records:  # oldest first: the latest choice wins
            if record.purpose == PROMOTIONAL:
                given = record.kind is ConsentKind.EXPRESS
                self.promotional_consent_at = record.recorded_at if given else None
            elif record.channel is Channel.SMS:
                withdrawn = record.kind is ConsentKind.WITHDRAWN
                self.sms_opted_out_at = record.recorded_at if withdrawn else None
            else:
                withdrawn = record.kind is ConsentKind.WITHDRAWN
                self.email_opted_out_at = record.recorded_at if withdrawn else None

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
    """A practitioner as messages name them; ``agenda_email`` (set by an admin here, never by scheduling's
    events) is where their daily agenda goes, if anywhere. ``clinic_id`` is the clinic scheduling says they
    work at (None only for a copy made before notifications kept it and never backfilled): its staff, and
    organisation-wide staff, may change their agenda address."""

    practitioner_id: uuid.UUID
    display_name: str
    as_of: datetime
    agenda_email: str | None = None
    clinic_id: uuid.UUID | None = None

    def update(self, *, display_name: str, as_of: datetime, clinic_id: uuid.UUID | None = None) -> bool:
        if not self.accepts(as_of):
            return False
        self.display_name, self.as_of = display_name, as_of
        if clinic_id is not None:
            self.clinic_id = clinic_id
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


@dataclass
class ConsentRecord:
    """One change of a patient's consent to a channel, kept for the record (CASL): what, when and how."""

    id: uuid.UUID
    patient_id: uuid.UUID
    channel: Channel
    kind: ConsentKind
    recorded_at: datetime
    source: str
    # Appointment messages are transactional (CASL); anything promotional needs express consent.
    purpose: str = TRANSACTIONAL


@dataclass
class InboundSms:
    """A text a patient sent us, kept once per provider message id (a redelivered webhook is a no-op)."""

    message_sid: str
    patient_id: uuid.UUID | None
    command: str | None
    received_at: datetime
    appointment_id: uuid.UUID | None = None


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
