"""Notifications' use cases. Each runs in one unit of work: state and events commit together or not at all.

Event handlers only *record* deliveries (in the transaction that also holds the consumer's inbox row);
sending is the dispatcher's job: ``claim_due`` commits the claim, ``send`` calls the transport outside any
transaction, and ``record_outcome`` stores what happened.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from clinic_shared.tokens import Principal
from notifications.domain.composition import Notice, choose_language, compose, compose_account_message
from notifications.domain.errors import Forbidden, InvalidPolicy, NoAddress, NotFound, NotYet
from notifications.domain.inbound import ClinicContact, Command, parse_command, reply_text
from notifications.domain.model import (
    ACCOUNT_KINDS,
    PLAN_ANNOUNCEMENT_KINDS,
    PROMOTIONAL,
    STAFF_KINDS,
    TRANSACTIONAL,
    AppointmentCopy,
    AppointmentFacts,
    AttemptOutcome,
    Channel,
    ClinicInfo,
    ConsentKind,
    ConsentRecord,
    Contact,
    Delivery,
    DeliveryAttempt,
    DeliveryKind,
    DeliveryStatus,
    InboundSms,
    PractitionerInfo,
    TreatmentInfo,
    require_utc,
)
from notifications.domain.phones import to_e164
from notifications.domain.plans import plan_speaks_for, untold
from notifications.domain.reminders import QuietHours, ReminderPolicy
from notifications.service_layer.ports import Mailer, MessageRenderer, SmsSender, TransportError
from notifications.service_layer.unit_of_work import NotificationsUnitOfWork

log = logging.getLogger(__name__)

# Staff who may read the delivery log and patients' contact copies.
STAFF_READERS = frozenset({"front_desk", "admin"})

# Staff who may change a clinic's reminder policy.
POLICY_EDITORS = frozenset({"front_desk", "admin"})

SUPERSEDED = "superseded by a newer message about this appointment"
STARTED = "the appointment had started"
OPTED_OUT = "the patient opted out of this channel"
UNDELIVERABLE = "the patient's e-mail address cannot receive mail (reserved .invalid domain: patient erased)"
EXPIRED = "the offer had expired"
LINK_EXPIRED = "the link had expired"
CANCELLED = "the appointment was cancelled"
CONFIRMED = "the patient had confirmed the appointment"
# Used for quiet hours only until the clinic's own details arrive (clinics here are in British Columbia).
FALLBACK_TIMEZONE = "America/Vancouver"
# How a consent given back by text is recorded (CASL: how consent was obtained).
SMS_KEYWORD_START = "sms keyword START"
INTERRUPTED = "interrupted while sending (the message may have gone out)"
NEVER_TOLD = "the patient was never told of the booking (its confirmation had not gone out)"
IN_PENDING_PLAN_MESSAGE = "the treatment plan's message, not sent yet, shows the session as it is when sent"
NO_SESSION_LEFT = "every session it announced was cancelled before it went out"


@dataclass(frozen=True)
class Page:
    offset: int
    limit: int


# --- tenancy (ADR 0006) --------------------------------------------------------------------------------


def acts_in(actor: Principal, clinic_id: uuid.UUID | None) -> bool:
    """Whether staff ``actor`` may see or change an object of ``clinic_id``: their own clinic, or any when
    organisation-wide. An object of no clinic (an account's message) is organisation-level: only
    organisation-wide staff see it."""
    if clinic_id is None:
        return actor.organisation_wide
    return actor.acts_in(clinic_id)


def require_clinic(
    actor: Principal, clinic_id: uuid.UUID | None, message: str, *, field: str | None = None
) -> None:
    """Raise NotFound (never Forbidden: that would confirm the object exists) unless ``actor`` acts in
    ``clinic_id``."""
    if not acts_in(actor, clinic_id):
        raise NotFound(message, field=field)


# --- local copies of scheduling's data -----------------------------------------------------------------


@dataclass(frozen=True)
class UpsertContact:
    patient_id: uuid.UUID
    first_name: str
    email: str
    phone: str | None
    language: str
    as_of: datetime


def upsert_contact(uow: NotificationsUnitOfWork, cmd: UpsertContact) -> Contact:
    """Create or refresh a patient's contact copy (older news than ours is ignored).

    The phone is kept in E.164; a number that is not valid is dropped (no SMS rather than a wrong one).
    """
    phone = to_e164(cmd.phone)
    if cmd.phone and phone is None:
        log.warning("patient %s: phone number is not valid; no SMS will be sent", cmd.patient_id)
    contact = uow.repo.contact(cmd.patient_id)
    if contact is None:
        contact = Contact(cmd.patient_id, cmd.first_name, cmd.email, phone, cmd.language, cmd.as_of)
        contact.resume_choices(uow.repo.consent_records(cmd.patient_id))
        uow.repo.add(contact)
    else:
        contact.update(
            first_name=cmd.first_name,
            email=cmd.email,
            phone=phone,
            language=cmd.language,
            as_of=cmd.as_of,
        )
    uow.commit()
    return contact


@dataclass(frozen=True)
class UpsertClinic:
    clinic_id: uuid.UUID
    name: str
    timezone: str
    address: str
    phone: str
    email: str
    as_of: datetime


def upsert_clinic(uow: NotificationsUnitOfWork, cmd: UpsertClinic) -> ClinicInfo:
    clinic = uow.repo.clinic(cmd.clinic_id)
    if clinic is None:
        clinic = ClinicInfo(
            cmd.clinic_id, cmd.name, cmd.timezone, cmd.address, cmd.phone, cmd.email, cmd.as_of
        )
        uow.repo.add(clinic)
    else:
        clinic.update(
            name=cmd.name,
            timezone=cmd.timezone,
            address=cmd.address,
            phone=cmd.phone,
            email=cmd.email,
            as_of=cmd.as_of,
        )
    uow.commit()
    return clinic


@dataclass(frozen=True)
class UpsertPractitioner:
    practitioner_id: uuid.UUID
    display_name: str
    as_of: datetime
    clinic_id: uuid.UUID | None = None


def upsert_practitioner(uow: NotificationsUnitOfWork, cmd: UpsertPractitioner) -> PractitionerInfo:
    practitioner = uow.repo.practitioner(cmd.practitioner_id)
    if practitioner is None:
        practitioner = PractitionerInfo(
            cmd.practitioner_id, cmd.display_name, cmd.as_of, clinic_id=cmd.clinic_id
        )
        uow.repo.add(practitioner)
    else:
        practitioner.update(display_name=cmd.display_name, as_of=cmd.as_of, clinic_id=cmd.clinic_id)
    uow.commit()
    return practitioner


@dataclass(frozen=True)
class UpsertTreatmentType:
    treatment_type_id: uuid.UUID
    name: str
    as_of: datetime


def upsert_treatment_type(uow: NotificationsUnitOfWork, cmd: UpsertTreatmentType) -> TreatmentInfo:
    treatment = uow.repo.treatment_type(cmd.treatment_type_id)
    if treatment is None:
        treatment = TreatmentInfo(cmd.treatment_type_id, cmd.name, cmd.as_of)
        uow.repo.add(treatment)
    else:
        treatment.update(name=cmd.name, as_of=cmd.as_of)
    uow.commit()
    return treatment


# --- recording what we owe -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordAppointmentNotices:
    """An appointment was booked, rescheduled or cancelled (``kind`` says which message it calls for)."""

    kind: DeliveryKind
    facts: AppointmentFacts
    event_id: uuid.UUID
    # A cancellation inside the clinic's late-cancellation window: the front desk is alerted.
    late: bool = False
    # A booking the patient made online (not at the front desk): the front desk is alerted.
    online: bool = False
    # A session cancelled with its whole plan: the plan's cancellation message speaks for it.
    with_plan: bool = False
    # A session cut off its plan (which goes on shorter): the shortening's message speaks for it.
    plan_shortened: bool = False


def record_appointment_notices(uow: NotificationsUnitOfWork, cmd: RecordAppointmentNotices) -> list[Delivery]:
    """Record the messages an appointment change calls for; sends nothing.

    The immediate message (confirmation, reschedule, cancellation) goes by e-mail, and by SMS too unless we
    know the patient has no phone (if their details have not arrived yet, the dispatcher decides); it is
    due after the debounce, so that a quick further change replaces it. Unless the appointment is
    cancelled, reminders are scheduled per the clinic's policy. A message already recorded under the same
    key is not recorded again. Messages about different versions of one appointment (the event
    ``sequence``) are reconciled whatever order the events arrive in: a pending message about an older
    version is skipped, and a message about a version older than one already recorded is recorded as
    skipped. A reschedule of a booking whose confirmation was never sent is sent as the confirmation, and
    a cancellation of a booking the patient was never told of is not sent either (recorded as skipped).

    Sessions of a treatment plan are announced by the plan's messages, not one by one: booking them sends
    nothing but reminders, cancelling them with the plan (or cutting them off it) sends nothing but the
    plan's cancellation (or its shortening's message), and while a plan message naming a session is still
    pending, a change to that session sends nothing (the plan message shows the session as it is when it
    goes out).
    """
    now = uow.clock.now()
    facts = cmd.facts
    cancelled = cmd.kind is DeliveryKind.CANCELLATION
    # Locked before anything is decided on them: a reminder falling due meanwhile is either claimed by the
    # dispatcher first (it is sending: left alone) or waits for this change (and is skipped unsent), never
    # sent and then overwritten as skipped.
    known = list(uow.repo.deliveries_for_appointment(facts.appointment_id, for_update=True))
    _remember_appointment(uow, facts, cancelled=cancelled)
    channels = _patient_channels(uow.repo.contact(facts.patient_id))
    pending_plan_messages = (
        list(uow.repo.pending_deliveries(facts.patient_id, PLAN_ANNOUNCEMENT_KINDS))
        if facts.plan_id is not None
        else []
    )
    spoken_for_by_plan = plan_speaks_for(
        cmd.kind,
        in_plan=facts.plan_id is not None,
        with_plan=cmd.with_plan,
        plan_shortened=cmd.plan_shortened,
    )
    wanted: list[tuple[DeliveryKind, Channel, datetime, str | None]] = []
    for channel in [] if spoken_for_by_plan else channels:
        kind = cmd.kind
        if kind is DeliveryKind.RESCHEDULE and _never_told_of_booking(known, channel):
            kind = DeliveryKind.BOOKING_CONFIRMATION
        unsent_reason = None
        if any(d.channel is channel and d.announces(facts.appointment_id) for d in pending_plan_messages):
            unsent_reason = IN_PENDING_PLAN_MESSAGE
        wanted.append((kind, channel, now + uow.debounce, unsent_reason))
    if cancelled and cmd.late:
        wanted.append((DeliveryKind.LATE_CANCELLATION_ALERT, Channel.EMAIL, now, None))
    if cmd.kind is DeliveryKind.BOOKING_CONFIRMATION and cmd.online:
        wanted.append((DeliveryKind.ONLINE_BOOKING_ALERT, Channel.EMAIL, now, None))
    if not cancelled:
        policy = uow.repo.reminder_policy(facts.clinic_id) or ReminderPolicy.default(facts.clinic_id)
        clinic = uow.repo.clinic(facts.clinic_id)
        zone = ZoneInfo(clinic.timezone if clinic else FALLBACK_TIMEZONE)
        for channel, due_at in policy.schedule(facts.starts_at, zone, now).items():
            if channel in channels:
                wanted.append((DeliveryKind.REMINDER, channel, due_at, None))
    recorded: list[Delivery] = []
    for kind, channel, due_at, unsent_reason in wanted:
        key = Delivery.key_for(facts.appointment_id, kind, channel, facts.sequence)
        if kind is DeliveryKind.ONLINE_BOOKING_ALERT and facts.plan_id is not None:
            # One alert for a plan booked online, not one per session.
            key = Delivery.key_for(facts.plan_id, kind, channel, 0)
            if uow.repo.delivery_by_key(key) is not None:
                continue
        if any(delivery.key == key for delivery in known):
            continue
        delivery = Delivery.record(
            delivery_id=uow.new_id(),
            kind=kind,
            channel=channel,
            facts=facts,
            event_id=cmd.event_id,
            now=now,
            due_at=due_at,
            key=key,
        )
        if any(other.supersedes(delivery) for other in known):
            delivery.skip(now, SUPERSEDED)
        elif unsent_reason is not None:
            delivery.skip(now, unsent_reason)
        for older in known:
            if delivery.supersedes(older) and older.status is DeliveryStatus.PENDING:
                older.skip(now, SUPERSEDED)
        uow.repo.add(delivery)
        known.append(delivery)
        recorded.append(delivery)
    for delivery in known:
        if delivery.status is not DeliveryStatus.PENDING:
            continue
        if cancelled and delivery.is_reminder:
            delivery.skip(now, CANCELLED)
        # Whichever of booking and cancellation arrived first: no cancellation of an unannounced booking.
        elif delivery.kind is DeliveryKind.CANCELLATION and _never_told_of_booking(known, delivery.channel):
            delivery.skip(now, NEVER_TOLD)
    uow.commit()
    return recorded


def _patient_channels(contact: Contact | None) -> list[Channel]:
    """The channels to record a patient's messages on (if their details have not arrived yet, both: the
    dispatcher decides when they have)."""
    channels = [Channel.EMAIL]
    if contact is not None and not (contact.wants(Channel.EMAIL) and contact.email_deliverable):
        channels.remove(Channel.EMAIL)
    if contact is None or contact.sms_allowed:
        channels.append(Channel.SMS)
    return channels


def _never_told_of_booking(known: Sequence[Delivery], channel: Channel) -> bool:
    """True when there was a booking confirmation on ``channel`` and none of them went out."""
    confirmations = [d for d in known if d.channel is channel and d.kind is DeliveryKind.BOOKING_CONFIRMATION]
    return bool(confirmations) and not any(d.went_out for d in confirmations)


def _remember_appointment(uow: NotificationsUnitOfWork, facts: AppointmentFacts, *, cancelled: bool) -> None:
    appointment = uow.repo.appointment(facts.appointment_id)
    if appointment is None:
        uow.repo.add(AppointmentCopy.from_facts(facts, cancelled=cancelled))
    else:
        appointment.apply(facts, cancelled=cancelled)


@dataclass(frozen=True)
class RecordWaitlistOffer:
    """A freed slot is held for a waitlisted patient until ``expires_at`` (scheduling.waitlist.offered).

    ``facts`` describe the slot; its ``appointment_id`` is the offer's id (nothing is booked yet).
    """

    facts: AppointmentFacts
    expires_at: datetime
    event_id: uuid.UUID


def record_waitlist_offer(uow: NotificationsUnitOfWork, cmd: RecordWaitlistOffer) -> list[Delivery]:
    """An offer by e-mail and SMS, due at once (no debounce: it lapses); never sent once it expired."""
    now = uow.clock.now()
    contact = uow.repo.contact(cmd.facts.patient_id)
    channels = [c for c in Channel if contact is None or (contact.wants(c) and contact.address_on(c))]
    recorded = []
    for channel in channels:
        key = Delivery.key_for(cmd.facts.appointment_id, DeliveryKind.WAITLIST_OFFER, channel, 0)
        if uow.repo.delivery_by_key(key) is not None:
            continue
        delivery = Delivery.record(
            delivery_id=uow.new_id(),
            kind=DeliveryKind.WAITLIST_OFFER,
            channel=channel,
            facts=cmd.facts,
            event_id=cmd.event_id,
            now=now,
        )
        delivery.expires_at = require_utc(cmd.expires_at, "expires_at")
        uow.repo.add(delivery)
        recorded.append(delivery)
    uow.commit()
    return recorded


@dataclass(frozen=True)
class RecordMessage:
    """A message about a plan, an invoice or a payment (``subject_id``): one e-mail per subject and kind."""

    kind: DeliveryKind
    subject_id: uuid.UUID
    patient_id: uuid.UUID
    clinic_id: uuid.UUID
    payload: dict[str, Any]
    event_id: uuid.UUID
    practitioner_id: uuid.UUID | None = None
    treatment_type_id: uuid.UUID | None = None
    # Also by SMS (where the patient allows it): plan messages, which stand in for per-session texts.
    by_sms: bool = False
    # Record the message as skipped with this reason on these channels (it need not go out).
    unsent: Mapping[Channel, str] = field(default_factory=dict)


def record_message(uow: NotificationsUnitOfWork, cmd: RecordMessage) -> list[Delivery]:
    """Record the message (due after the debounce) on each channel it was not recorded on already (a
    redelivered event records nothing)."""
    now = uow.clock.now()
    channels = [Channel.EMAIL]
    if cmd.by_sms:
        channels = _patient_channels(uow.repo.contact(cmd.patient_id))
    recorded = []
    for channel in channels:
        if uow.repo.delivery_by_key(Delivery.key_for(cmd.subject_id, cmd.kind, channel, 0)) is not None:
            continue
        delivery = Delivery.record_message(
            delivery_id=uow.new_id(),
            kind=cmd.kind,
            subject_id=cmd.subject_id,
            patient_id=cmd.patient_id,
            clinic_id=cmd.clinic_id,
            payload=cmd.payload,
            event_id=cmd.event_id,
            now=now,
            due_at=now + uow.debounce,
            practitioner_id=cmd.practitioner_id,
            treatment_type_id=cmd.treatment_type_id,
            channel=channel,
        )
        if channel in cmd.unsent:
            delivery.skip(now, cmd.unsent[channel])
        uow.repo.add(delivery)
        recorded.append(delivery)
    uow.commit()
    return recorded


@dataclass(frozen=True)
class RecordAccountMessage:
    """A message about a login (ACCOUNT_KINDS): a password-reset link (scheduling.password_reset.requested),
    a link that finishes signing up (scheduling.sign_up.requested), or word that someone tried to sign up
    with an address that has an account (scheduling.sign_up.account_exists)."""

    kind: DeliveryKind
    event_id: uuid.UUID
    patient_id: uuid.UUID | None
    email: str
    language: str
    first_name: str | None
    requested_at: datetime
    # The link's token and when it stops working; None for a message without a link.
    token: str | None = None
    expires_at: datetime | None = None


def record_account_message(uow: NotificationsUnitOfWork, cmd: RecordAccountMessage) -> Delivery | None:
    """One e-mail, due at once (no debounce: a link lapses), keyed by the event.

    E-mail only and whatever the patient's channel choices: the holder asked for it, and it is
    transactional. A token stays in the delivery's payload only until the message is done with (sent,
    finally failed, or skipped once the link expired); then it is redacted. A link heard of after it
    expired is recorded as skipped. Returns None when the event was recorded before.
    """
    if cmd.kind not in ACCOUNT_KINDS:
        raise ValueError(f"{cmd.kind} is not a message about an account")
    now = uow.clock.now()
    key = Delivery.key_for(cmd.event_id, cmd.kind, Channel.EMAIL, 0)
    if uow.repo.delivery_by_key(key) is not None:
        return None
    payload: dict[str, Any] = {"email": cmd.email, "language": cmd.language, "first_name": cmd.first_name}
    expires_at = require_utc(cmd.expires_at, "expires_at") if cmd.expires_at else None
    if cmd.token is not None and expires_at is not None:
        payload["token"] = cmd.token
        # The e-mail says how long the link works, as scheduling set it.
        payload["valid_minutes"] = max(1, round((expires_at - cmd.requested_at).total_seconds() / 60))
    delivery = Delivery.record_message(
        delivery_id=uow.new_id(),
        kind=cmd.kind,
        subject_id=cmd.event_id,
        patient_id=cmd.patient_id,
        clinic_id=None,
        payload=payload,
        event_id=cmd.event_id,
        now=now,
        due_at=now,
    )
    delivery.expires_at = expires_at
    if expires_at is not None and now >= expires_at:
        delivery.skip(now, LINK_EXPIRED)
    uow.repo.add(delivery)
    uow.commit()
    return delivery


# An extension's message is keyed by a name derived from (plan, sessions added): one per extension.
PLAN_EXTENSION_NAMESPACE = uuid.UUID("0b8e4d52-7f0a-4c4e-8a51-3d9b6c2f1e77")
# A shortening's message likewise, from (plan, sessions cut off): one per shortening.
PLAN_SHORTENING_NAMESPACE = uuid.UUID("5c2a9e61-3b7d-4f18-9e0c-71d4a8b2f6e3")


@dataclass(frozen=True)
class PlanSession:
    appointment_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class PlanFacts:
    """Whom and what a treatment plan is about (every scheduling.plan.* event carries them)."""

    plan_id: uuid.UUID
    patient_id: uuid.UUID
    clinic_id: uuid.UUID
    practitioner_id: uuid.UUID
    treatment_type_id: uuid.UUID


@dataclass(frozen=True)
class RecordPlanSummary:
    """A treatment plan was booked with all its sessions (scheduling.plan.created)."""

    plan: PlanFacts
    sessions: Sequence[PlanSession]
    event_id: uuid.UUID


def record_plan_summary(uow: NotificationsUnitOfWork, cmd: RecordPlanSummary) -> list[Delivery]:
    """One message (e-mail with every session's invitation, and a text) for the whole plan.

    It is the sessions' booking confirmation: they get no confirmation of their own.
    """
    payload = {"sessions": _sessions_payload(uow, cmd.sessions)}
    return _record_plan_message(
        uow, cmd.plan, DeliveryKind.PLAN_SUMMARY, cmd.plan.plan_id, payload, cmd.event_id
    )


@dataclass(frozen=True)
class RecordPlanExtension:
    """Sessions were added to a treatment plan (scheduling.plan.extended)."""

    plan: PlanFacts
    total_sessions: int
    added: Sequence[PlanSession]
    event_id: uuid.UUID


def record_plan_extension(uow: NotificationsUnitOfWork, cmd: RecordPlanExtension) -> list[Delivery]:
    """One message per extension listing the added sessions (a plan may be extended more than once)."""
    ids = ",".join(sorted(str(s.appointment_id) for s in cmd.added))
    subject_id = uuid.uuid5(PLAN_EXTENSION_NAMESPACE, f"{cmd.plan.plan_id}:{ids}")
    payload = {"sessions": _sessions_payload(uow, cmd.added), "total_sessions": cmd.total_sessions}
    return _record_plan_message(uow, cmd.plan, DeliveryKind.PLAN_EXTENDED, subject_id, payload, cmd.event_id)


@dataclass(frozen=True)
class RecordPlanCancellation:
    """A treatment plan was cancelled with its remaining sessions (scheduling.plan.cancelled)."""

    plan: PlanFacts
    cancelled_appointment_ids: Sequence[uuid.UUID]
    event_id: uuid.UUID


def record_plan_cancellation(uow: NotificationsUnitOfWork, cmd: RecordPlanCancellation) -> list[Delivery]:
    """One message per plan naming the cancelled sessions (the e-mail removes them from the calendar).

    The event names sessions by id only; their times come from the appointment copies (scheduling
    announces each session's booking, and its cancellation before the plan's). ``cancelled_count`` counts
    them all, so a session whose copy never arrived is still counted. On a channel where the plan's
    summary has not gone out yet, nothing is sent: the summary, when it goes, leaves the cancelled
    sessions out (and is not sent at all if none is left).
    """
    known = [uow.repo.appointment(appointment_id) for appointment_id in cmd.cancelled_appointment_ids]
    sessions = [PlanSession(a.appointment_id, a.starts_at, a.ends_at) for a in known if a is not None]
    summaries = uow.repo.deliveries_for_appointment(cmd.plan.plan_id)
    unsent = {
        channel: NEVER_TOLD
        for channel in Channel
        if (told := [d for d in summaries if d.kind is DeliveryKind.PLAN_SUMMARY and d.channel is channel])
        and not any(d.went_out for d in told)
    }
    payload = {
        "sessions": _sessions_payload(uow, sessions),
        "cancelled_count": len(cmd.cancelled_appointment_ids),
    }
    return _record_plan_message(
        uow, cmd.plan, DeliveryKind.PLAN_CANCELLED, cmd.plan.plan_id, payload, cmd.event_id, unsent
    )


@dataclass(frozen=True)
class RecordPlanShortening:
    """A treatment plan was cut after sessions it keeps; the later ones were cancelled
    (scheduling.plan.shortened). The plan goes on with ``total_sessions``."""

    plan: PlanFacts
    total_sessions: int
    previous_total_sessions: int
    cancelled_appointment_ids: Sequence[uuid.UUID]
    event_id: uuid.UUID


def record_plan_shortening(uow: NotificationsUnitOfWork, cmd: RecordPlanShortening) -> list[Delivery]:
    """One message per shortening: the plan's new length and the cut sessions (the e-mail removes them
    from the calendar); the cut sessions' own cancellations are not sent (``plan_shortened``).

    As for a plan's cancellation, the sessions' times come from the appointment copies (their
    cancellations come first) and ``cancelled_count`` counts those never heard of too. On a channel where
    every cut session is still to be announced by a pending plan message, nothing is sent: that message,
    when it goes, leaves them out.
    """
    known = [uow.repo.appointment(appointment_id) for appointment_id in cmd.cancelled_appointment_ids]
    sessions = [PlanSession(a.appointment_id, a.starts_at, a.ends_at) for a in known if a is not None]
    pending = uow.repo.pending_deliveries(cmd.plan.patient_id, PLAN_ANNOUNCEMENT_KINDS)
    unsent = {
        channel: IN_PENDING_PLAN_MESSAGE
        for channel in Channel
        if untold(channel, cmd.cancelled_appointment_ids, pending)
    }
    ids = ",".join(sorted(str(i) for i in cmd.cancelled_appointment_ids))
    subject_id = uuid.uuid5(PLAN_SHORTENING_NAMESPACE, f"{cmd.plan.plan_id}:{ids}")
    payload = {
        "sessions": _sessions_payload(uow, sessions),
        "cancelled_count": len(cmd.cancelled_appointment_ids),
        "total_sessions": cmd.total_sessions,
        "previous_total_sessions": cmd.previous_total_sessions,
    }
    return _record_plan_message(
        uow, cmd.plan, DeliveryKind.PLAN_SHORTENED, subject_id, payload, cmd.event_id, unsent
    )


def _record_plan_message(
    uow: NotificationsUnitOfWork,
    plan: PlanFacts,
    kind: DeliveryKind,
    subject_id: uuid.UUID,
    payload: dict[str, Any],
    event_id: uuid.UUID,
    unsent: Mapping[Channel, str] | None = None,
) -> list[Delivery]:
    """Plan messages go by e-mail and by text: they stand in for the sessions' own messages."""
    return record_message(
        uow,
        RecordMessage(
            kind=kind,
            subject_id=subject_id,
            patient_id=plan.patient_id,
            clinic_id=plan.clinic_id,
            practitioner_id=plan.practitioner_id,
            treatment_type_id=plan.treatment_type_id,
            payload=payload,
            event_id=event_id,
            by_sms=True,
            unsent=unsent or {},
        ),
    )


def _sessions_payload(uow: NotificationsUnitOfWork, sessions: Sequence[PlanSession]) -> list[dict[str, Any]]:
    """Sessions in time order, each with the appointment's version as we know it (for the invitation)."""
    payload = []
    for session in sorted(sessions, key=lambda s: s.starts_at):
        copy = uow.repo.appointment(session.appointment_id)
        payload.append(
            {
                "appointment_id": str(session.appointment_id),
                "sequence": copy.sequence if copy is not None else 0,
                "starts_at": session.starts_at.isoformat(),
                "ends_at": session.ends_at.isoformat(),
            }
        )
    return payload


def _current_sessions(
    uow: NotificationsUnitOfWork, sessions: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """A plan message's sessions as they are now: cancelled ones left out, moved ones at their new time."""
    current = []
    for session in sessions:
        appointment_id = session.get("appointment_id")
        copy = uow.repo.appointment(uuid.UUID(appointment_id)) if appointment_id else None
        if copy is None:
            current.append(dict(session))
        elif not copy.cancelled:
            current.append(
                {
                    "appointment_id": appointment_id,
                    "sequence": copy.sequence,
                    "starts_at": copy.starts_at.isoformat(),
                    "ends_at": copy.ends_at.isoformat(),
                }
            )
    return sorted(current, key=lambda s: datetime.fromisoformat(s["starts_at"]))


@dataclass(frozen=True)
class RecordCreditNote:
    """Billing credited (part of) an invoice (billing.credit_note.issued)."""

    credit_note_id: uuid.UUID
    number: str
    invoice_id: uuid.UUID
    patient_id: uuid.UUID
    clinic_id: uuid.UUID
    amount_cents: int
    currency: str
    voids_invoice: bool
    event_id: uuid.UUID


def record_credit_note(uow: NotificationsUnitOfWork, cmd: RecordCreditNote) -> list[Delivery]:
    """One e-mail per credit note; the invoice's number is the one its "invoice issued" message carried
    (None when that message was never recorded here: the e-mail then says "your invoice")."""
    invoice_message = uow.repo.delivery_by_key(
        Delivery.key_for(cmd.invoice_id, DeliveryKind.INVOICE_ISSUED, Channel.EMAIL, 0)
    )
    invoice_number = (invoice_message.payload or {}).get("number") if invoice_message else None
    return record_message(
        uow,
        RecordMessage(
            kind=DeliveryKind.CREDIT_NOTE_ISSUED,
            subject_id=cmd.credit_note_id,
            patient_id=cmd.patient_id,
            clinic_id=cmd.clinic_id,
            payload={
                "credit_note_number": cmd.number,
                "invoice_number": invoice_number,
                "amount_cents": cmd.amount_cents,
                "currency": cmd.currency,
                "voids_invoice": cmd.voids_invoice,
            },
            event_id=cmd.event_id,
        ),
    )


# Agenda deliveries are keyed by a name derived from (practitioner, local day): one per practitioner a day.
AGENDA_NAMESPACE = uuid.UUID("6f1d3c3e-2a53-4f0e-9d54-5a1c2b7e9a10")
DEFAULT_AGENDA_TIME = time(6, 30)


def record_daily_agendas(uow: NotificationsUnitOfWork, agenda_time: time = DEFAULT_AGENDA_TIME) -> int:
    """Record today's agenda e-mail for each practitioner who has an agenda address and appointments today.

    "Today" and ``agenda_time`` are the clinic's local ones; from that time on, each practitioner's agenda
    is recorded once (the unique key), listing the day's appointments (first name, time, treatment) as
    notifications knows them then. An agenda not sent by the end of its day is skipped. Returns how many
    were recorded.
    """
    now = uow.clock.now()
    recorded = 0
    for clinic in uow.repo.all_clinics():
        zone = ZoneInfo(clinic.timezone)
        local = now.astimezone(zone)
        if local.time() < agenda_time:
            continue
        day = local.date()
        start = require_utc(datetime.combine(day, time(0), tzinfo=zone), "start")
        end = require_utc(datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone), "end")
        by_practitioner: dict[uuid.UUID, list[AppointmentCopy]] = {}
        for appointment in uow.repo.appointments_between(clinic.clinic_id, start, end):
            by_practitioner.setdefault(appointment.practitioner_id, []).append(appointment)
        for practitioner_id, day_appointments in by_practitioner.items():
            practitioner = uow.repo.practitioner(practitioner_id)
            if practitioner is None or not practitioner.agenda_email:
                continue
            subject_id = uuid.uuid5(AGENDA_NAMESPACE, f"{practitioner_id}:{day.isoformat()}")
            key = Delivery.key_for(subject_id, DeliveryKind.PRACTITIONER_AGENDA, Channel.EMAIL, 0)
            if uow.repo.delivery_by_key(key) is not None:
                continue
            delivery = Delivery.record_message(
                delivery_id=uow.new_id(),
                kind=DeliveryKind.PRACTITIONER_AGENDA,
                subject_id=subject_id,
                patient_id=None,
                clinic_id=clinic.clinic_id,
                payload={"day": day.isoformat(), "agenda": [_agenda_line(uow, a) for a in day_appointments]},
                # No event caused it: the job's own subject id stands in for one.
                event_id=subject_id,
                now=now,
                due_at=now,
                practitioner_id=practitioner_id,
            )
            delivery.expires_at = end
            uow.repo.add(delivery)
            recorded += 1
    uow.commit()
    return recorded


def _agenda_line(uow: NotificationsUnitOfWork, appointment: AppointmentCopy) -> dict[str, str]:
    contact = uow.repo.contact(appointment.patient_id)
    treatment = uow.repo.treatment_type(appointment.treatment_type_id)
    return {
        "starts_at": appointment.starts_at.isoformat(),
        "ends_at": appointment.ends_at.isoformat(),
        "first_name": contact.first_name if contact else "",
        "treatment": treatment.name if treatment else "",
    }


@dataclass(frozen=True)
class SetAgendaAddress:
    practitioner_id: uuid.UUID
    email: str | None


def set_agenda_address(
    uow: NotificationsUnitOfWork, actor: Principal, cmd: SetAgendaAddress
) -> PractitionerInfo:
    """Where a practitioner's daily agenda goes (None: nowhere); the practitioner must be known here, and
    be of the actor's clinic unless the actor is organisation-wide (another clinic's is not found)."""
    practitioner = uow.repo.practitioner(cmd.practitioner_id)
    if practitioner is None or not acts_in(actor, practitioner.clinic_id):
        raise NotFound("practitioner not found", field="practitioner_id")
    practitioner.agenda_email = cmd.email
    uow.commit()
    return practitioner


@dataclass(frozen=True)
class RecordConfirmation:
    """The patient confirmed they will attend (scheduling.appointment.confirmed)."""

    facts: AppointmentFacts
    confirmed_at: datetime


def record_confirmation(uow: NotificationsUnitOfWork, cmd: RecordConfirmation) -> None:
    """Remember the confirmation; pending reminders are skipped at send time if the policy says so."""
    _remember_appointment(uow, cmd.facts, cancelled=False)
    appointment = uow.repo.appointment(cmd.facts.appointment_id)
    if appointment is not None:
        appointment.confirm(cmd.facts.sequence, cmd.confirmed_at)
    uow.commit()


# --- reminder policies ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChangeReminderPolicy:
    """The whole policy (PUT semantics); ``None`` hours turn a channel's reminder off."""

    clinic_id: uuid.UUID
    email_hours_before: int | None
    sms_hours_before: int | None
    skip_when_confirmed: bool
    quiet_hours_start: time | None
    quiet_hours_end: time | None


CLINIC_NOT_FOUND = "clinic not found"


def get_reminder_policy(
    uow: NotificationsUnitOfWork, actor: Principal, clinic_id: uuid.UUID
) -> ReminderPolicy:
    """The clinic's policy, or the default one if it never changed it (staff of that clinic, or
    organisation-wide; another clinic's is not found)."""
    require_clinic(actor, clinic_id, CLINIC_NOT_FOUND, field="clinic_id")
    return _policy_of(uow, clinic_id)


def _policy_of(uow: NotificationsUnitOfWork, clinic_id: uuid.UUID) -> ReminderPolicy:
    return uow.repo.reminder_policy(clinic_id) or ReminderPolicy.default(clinic_id)


def change_reminder_policy(
    uow: NotificationsUnitOfWork, actor: Principal, cmd: ChangeReminderPolicy
) -> ReminderPolicy:
    """Replace a clinic's policy; it applies to appointments booked or rescheduled from now on (staff of
    that clinic, or organisation-wide; another clinic's is not found)."""
    require_clinic(actor, cmd.clinic_id, CLINIC_NOT_FOUND, field="clinic_id")
    quiet: QuietHours | None = None
    if (cmd.quiet_hours_start is None) != (cmd.quiet_hours_end is None):
        raise InvalidPolicy("give both ends of the quiet hours, or neither", field="quiet_hours_end")
    if cmd.quiet_hours_start is not None and cmd.quiet_hours_end is not None:
        quiet = QuietHours(cmd.quiet_hours_start, cmd.quiet_hours_end)
    policy = ReminderPolicy(
        clinic_id=cmd.clinic_id,
        email_hours_before=cmd.email_hours_before,
        sms_hours_before=cmd.sms_hours_before,
        skip_when_confirmed=cmd.skip_when_confirmed,
        quiet_hours=quiet,
        updated_at=uow.clock.now(),
    )
    uow.repo.save_reminder_policy(policy)
    uow.commit()
    return policy


# --- dispatching ---------------------------------------------------------------------------------------


def exponential_retry(attempt: int) -> timedelta:
    """1, 2, 4 ... minutes after failed attempt 1, 2, 3 ..., at most an hour."""
    return timedelta(minutes=min(60, 2 ** max(attempt - 1, 0)))


@dataclass(frozen=True)
class DispatchPolicy:
    """How hard the dispatcher tries.

    ``max_attempts`` send attempts per delivery, ``retry_delay(attempt)`` after a failed one;
    a delivery whose patient/clinic/practitioner/treatment copy has not arrived is retried every
    ``reference_retry`` for up to ``reference_wait``; a claim left ``sending`` longer than ``stale_after``
    (its dispatcher died mid-send) counts as a failed attempt and is claimed again.
    """

    max_attempts: int = 5
    retry_delay: Callable[[int], timedelta] = exponential_retry
    reference_retry: timedelta = timedelta(seconds=30)
    reference_wait: timedelta = timedelta(hours=24)
    stale_after: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class Transports:
    """The renderer and the channels' transports the dispatcher sends through."""

    renderer: MessageRenderer
    mailer: Mailer
    sms: SmsSender


@dataclass(frozen=True)
class Claim:
    """A delivery taken for one send attempt, with everything needed to render it."""

    delivery_id: uuid.UUID
    attempt: int
    notice: Notice


@dataclass(frozen=True)
class Outcome:
    sent: bool
    provider_message_id: str | None = None
    reason: str | None = None
    permanent: bool = False
    retry_after: timedelta | None = None


@dataclass
class DispatchReport:
    """What one dispatch pass did."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0
    deferred: int = 0
    claims: list[Claim] = field(default_factory=list, repr=False)

    @property
    def examined(self) -> int:
        return self.sent + self.retrying + self.failed + self.skipped + self.deferred


def claim_due(uow: NotificationsUnitOfWork, policy: DispatchPolicy, limit: int) -> DispatchReport:
    """Claim up to ``limit`` due deliveries and commit the claims (before anything is sent).

    Deliveries whose details are missing are deferred (or given up after ``reference_wait``), those with
    no address on their channel are skipped; the rest become ``sending`` with one more attempt.
    """
    now = uow.clock.now()
    report = DispatchReport()
    for delivery in uow.repo.claimable_deliveries(now, now - policy.stale_after, limit):
        if delivery.status is DeliveryStatus.SENDING:
            log.warning("delivery %s: attempt %d was interrupted; retrying", delivery.id, delivery.attempts)
            _finish_attempt(uow, delivery, now, AttemptOutcome.INTERRUPTED, None, INTERRUPTED)
            if not delivery.attempt_failed(
                now, INTERRUPTED, permanent=False, max_attempts=policy.max_attempts, retry_in=timedelta(0)
            ):
                _fall_back(uow, delivery, now)
                report.failed += 1
                continue
        reason = _pointless(uow, delivery, now)
        if reason is not None:
            delivery.skip(now, reason)
            log.info("delivery %s: skipped (%s)", delivery.id, reason)
            report.skipped += 1
            continue
        notice = _compose(uow, delivery, policy, now, report)
        if notice is None:
            continue
        delivery.claim(now, notice.recipient)
        uow.repo.add(DeliveryAttempt(uow.new_id(), delivery.id, delivery.attempts, delivery.channel, now))
        report.claims.append(Claim(delivery.id, delivery.attempts, notice))
    uow.commit()
    return report


def send(claim: Claim, transports: Transports) -> Outcome:
    """Render and hand one claimed message to its transport; never raises."""
    notice = claim.notice
    try:
        if notice.channel is Channel.EMAIL:
            provider_id = transports.mailer.send(transports.renderer.email(notice))
        else:
            provider_id = transports.sms.send(transports.renderer.sms(notice))
    except TransportError as exc:
        return Outcome(sent=False, reason=exc.reason, permanent=exc.permanent, retry_after=exc.retry_after)
    except Exception as exc:  # one broken message (a template bug, say) must not stop the dispatcher
        log.error("delivery %s: unexpected %s while sending", notice.delivery_id, type(exc).__name__)
        # The traceback may quote message content, so it is only logged at debug level.
        log.debug("delivery %s: failure", notice.delivery_id, exc_info=exc)
        return Outcome(sent=False, reason=f"unexpected error ({type(exc).__name__})")
    return Outcome(sent=True, provider_message_id=provider_id)


def record_outcome(
    uow: NotificationsUnitOfWork, claim: Claim, outcome: Outcome, policy: DispatchPolicy
) -> DeliveryStatus | None:
    """Store the result of one attempt; None when the claim had been taken over meanwhile."""
    now = uow.clock.now()
    delivery = uow.repo.delivery_for_update(claim.delivery_id)
    if (
        delivery is None
        or delivery.status is not DeliveryStatus.SENDING
        or delivery.attempts != claim.attempt
    ):
        log.warning(
            "delivery %s: attempt %d finished after its claim was taken over; outcome not recorded",
            claim.delivery_id,
            claim.attempt,
        )
        return None
    if outcome.sent:
        delivery.mark_sent(now, outcome.provider_message_id)
        _finish_attempt(uow, delivery, now, AttemptOutcome.SENT, outcome.provider_message_id, None)
        log.info("delivery %s (%s) sent on attempt %d", delivery.id, delivery.key, delivery.attempts)
    else:
        reason = outcome.reason or "unknown error"
        _finish_attempt(uow, delivery, now, AttemptOutcome.FAILED, None, reason)
        retry_in = policy.retry_delay(delivery.attempts)
        if outcome.retry_after is not None:
            retry_in = max(retry_in, outcome.retry_after)
        retrying = delivery.attempt_failed(
            now, reason, permanent=outcome.permanent, max_attempts=policy.max_attempts, retry_in=retry_in
        )
        if not retrying:
            _fall_back(uow, delivery, now)
        log.warning(
            "delivery %s (%s) attempt %d failed: %s; %s",
            delivery.id,
            delivery.key,
            delivery.attempts,
            outcome.reason,
            f"retrying at {delivery.next_attempt_at.isoformat()}" if retrying else "giving up",
        )
    uow.commit()
    return delivery.status


def _finish_attempt(
    uow: NotificationsUnitOfWork,
    delivery: Delivery,
    now: datetime,
    outcome: AttemptOutcome,
    provider_message_id: str | None,
    detail: str | None,
) -> None:
    for attempt in uow.repo.attempts_of([delivery.id]):
        if attempt.number == delivery.attempts and attempt.outcome is AttemptOutcome.SENDING:
            attempt.finish(now, outcome, provider_message_id=provider_message_id, detail=detail)


def _fall_back(uow: NotificationsUnitOfWork, delivery: Delivery, now: datetime) -> Delivery | None:
    """After a message finally failed on one channel, the same message on the other (once).

    An SMS falls back to e-mail. Booking, reschedule and cancellation notices always go by e-mail too, so
    only a failed reminder SMS (its e-mail reminder went out a day earlier) gets a fallback e-mail of its
    own. A failed e-mail reminder falls back to an SMS if the patient has a phone and allows SMS, due at
    once or, in the quiet hours, when they end (it is skipped if the appointment has started by then). A
    fallback that fails has no fallback: both channels were tried.
    """
    if delivery.fallback_of is not None:
        return None
    if delivery.channel is Channel.SMS:
        if delivery.kind is not DeliveryKind.REMINDER:
            same = Delivery.key_for(delivery.appointment_id, delivery.kind, Channel.EMAIL, delivery.sequence)
            if uow.repo.delivery_by_key(same) is not None:
                return None
        fallback = delivery.fallback_on(Channel.EMAIL, uow.new_id(), now, now)
    else:
        if not delivery.is_reminder or delivery.patient_id is None:
            return None
        contact = uow.repo.contact(delivery.patient_id)
        if contact is None or not contact.sms_allowed:
            return None
        fallback = delivery.fallback_on(
            Channel.SMS, uow.new_id(), now, _sms_due(uow, delivery.clinic_id, now)
        )
    if uow.repo.delivery_by_key(fallback.key) is not None:
        return None
    uow.repo.add(fallback)
    log.info(
        "delivery %s: %s failed, falling back to %s %s",
        delivery.id,
        delivery.channel,
        fallback.channel,
        fallback.id,
    )
    return fallback


def _sms_due(uow: NotificationsUnitOfWork, clinic_id: uuid.UUID | None, now: datetime) -> datetime:
    """``now``, or the end of the clinic's SMS quiet hours when ``now`` falls in them."""
    if clinic_id is None:
        return now
    quiet = _policy_of(uow, clinic_id).quiet_hours
    if quiet is None:
        return now
    clinic = uow.repo.clinic(clinic_id)
    return quiet.earliest_allowed(now, ZoneInfo(clinic.timezone if clinic else FALLBACK_TIMEZONE))


def dispatch_due(
    uow_factory: Callable[[], NotificationsUnitOfWork],
    transports: Transports,
    policy: DispatchPolicy,
    limit: int,
) -> DispatchReport:
    """One dispatch pass: claim due deliveries, send each, record each outcome."""
    with uow_factory() as uow:
        report = claim_due(uow, policy, limit)
    for claim in report.claims:
        outcome = send(claim, transports)
        with uow_factory() as uow:
            status = record_outcome(uow, claim, outcome, policy)
        if status is DeliveryStatus.SENT:
            report.sent += 1
        elif status is DeliveryStatus.PENDING:
            report.retrying += 1
        elif status is DeliveryStatus.FAILED:
            report.failed += 1
    return report


def _pointless(uow: NotificationsUnitOfWork, delivery: Delivery, now: datetime) -> str | None:
    """Why a due delivery should no longer be sent, checked at send time; None when it should."""
    if delivery.status is not DeliveryStatus.PENDING:
        return None
    if delivery.starts_at is not None and now >= delivery.starts_at and not delivery.for_staff:
        return STARTED
    if delivery.expires_at is not None and now >= delivery.expires_at:
        return LINK_EXPIRED if delivery.kind in ACCOUNT_KINDS else EXPIRED
    if not delivery.is_reminder:
        return None
    appointment = uow.repo.appointment(delivery.appointment_id)
    if appointment is None:
        return None
    if appointment.cancelled:
        return CANCELLED
    if appointment.sequence > delivery.sequence:
        return SUPERSEDED
    if (
        delivery.starts_at is not None
        and delivery.clinic_id is not None
        and appointment.confirmed_for(delivery.sequence, delivery.starts_at)
    ):
        clinic_policy = _policy_of(uow, delivery.clinic_id)
        if clinic_policy.skip_when_confirmed:
            return CONFIRMED
    return None


def _compose(
    uow: NotificationsUnitOfWork,
    delivery: Delivery,
    policy: DispatchPolicy,
    now: datetime,
    report: DispatchReport,
) -> Notice | None:
    """The notice for a pending delivery, or None after deferring, giving up on or skipping it."""
    repo = uow.repo
    if delivery.kind in ACCOUNT_KINDS:
        # Everything it says came with its event: nothing to wait for, and no channel choice applies.
        try:
            return compose_account_message(delivery)
        except NoAddress as exc:
            delivery.skip(now, str(exc))
            report.skipped += 1
            return None
    contact = repo.contact(delivery.patient_id) if delivery.patient_id else None
    clinic = repo.clinic(delivery.clinic_id) if delivery.clinic_id else None
    practitioner = repo.practitioner(delivery.practitioner_id) if delivery.practitioner_id else None
    treatment = repo.treatment_type(delivery.treatment_type_id) if delivery.treatment_type_id else None
    needed = (
        ("patient contact", contact, delivery.patient_id is not None),
        ("clinic", clinic, True),
        ("practitioner", practitioner, delivery.practitioner_id is not None),
        ("treatment type", treatment, delivery.treatment_type_id is not None),
    )
    missing = ", ".join(name for name, value, required in needed if required and value is None)
    if clinic is None or missing:
        if now - delivery.created_at >= policy.reference_wait:
            delivery.give_up(now, f"details never arrived: {missing}")
            log.error("delivery %s: gave up waiting for %s", delivery.id, missing)
            report.failed += 1
        else:
            delivery.defer(now, now + policy.reference_retry, f"waiting for details: {missing}")
            log.info("delivery %s: waiting for %s", delivery.id, missing)
            report.deferred += 1
        return None
    if contact is not None and not contact.wants(delivery.channel):
        delivery.skip(now, OPTED_OUT)
        report.skipped += 1
        return None
    if (
        contact is not None
        and delivery.channel is Channel.EMAIL
        and delivery.kind not in STAFF_KINDS
        and not contact.email_deliverable
    ):
        delivery.skip(now, UNDELIVERABLE)
        report.skipped += 1
        return None
    try:
        notice = compose(delivery, contact, clinic, practitioner, treatment)
    except NoAddress as exc:
        delivery.skip(now, str(exc))
        report.skipped += 1
        return None
    if delivery.kind in PLAN_ANNOUNCEMENT_KINDS:
        sessions = _current_sessions(uow, notice.payload.get("sessions", []))
        if not sessions:
            delivery.skip(now, NO_SESSION_LEFT)
            report.skipped += 1
            return None
        notice = replace(notice, payload={**notice.payload, "sessions": sessions})
    return notice


@dataclass(frozen=True)
class RecordProviderStatus:
    """The SMS provider's status callback for one delivery (already verified by the entrypoint)."""

    delivery_id: uuid.UUID
    provider_message_id: str
    status: str


def record_provider_status(uow: NotificationsUnitOfWork, cmd: RecordProviderStatus) -> Delivery:
    """Store the provider's status; an SMS it could not deliver falls back to e-mail."""
    now = uow.clock.now()
    delivery = uow.repo.delivery_for_update(cmd.delivery_id)
    if delivery is None or delivery.provider_message_id not in (None, cmd.provider_message_id):
        raise NotFound("delivery not found")
    if delivery.provider_reported(now, cmd.status):
        _fall_back(uow, delivery, now)
    uow.commit()
    return delivery


# --- texts from patients ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceiveSms:
    """A text a patient sent (the provider's inbound webhook, already verified)."""

    message_sid: str
    from_phone: str
    body: str


def receive_sms(uow: NotificationsUnitOfWork, cmd: ReceiveSms) -> str | None:
    """Act on a patient's reply and return the answer to text back, or None for no answer.

    CONFIRM confirms the patient's next appointment (scheduling hears of it through
    notifications.appointment.confirmation_received; its reminders stop now). STOP withdraws SMS consent
    at once, keeps a consent record and publishes notifications.contact.opted_out; it is answered the
    first time only. START gives SMS consent back (express, kept on record), also answered once only.
    HELP answers with the clinic's contact details. The same webhook delivered twice (same message sid)
    does nothing the second time; texts from unknown numbers get no answer.
    """
    now = uow.clock.now()
    if uow.repo.inbound_sms(cmd.message_sid) is not None:
        return None
    phone = to_e164(cmd.from_phone)
    patients = list(uow.repo.contacts_by_phone(phone)) if phone else []
    command = parse_command(cmd.body)
    inbound = InboundSms(
        cmd.message_sid, patients[0].patient_id if patients else None, command.value if command else None, now
    )
    uow.repo.add(inbound)
    reply: str | None = None
    if patients and command is not None:
        language = choose_language(patients[0].message_language)
        ids = [p.patient_id for p in patients]
        if command is Command.CONFIRM:
            reply = _confirm_next(uow, patients, language, inbound, now)
        elif command is Command.STOP:
            reply = _opt_out(uow, patients, language, now)
        elif command is Command.START:
            reply = _opt_in(uow, patients, language, now)
        else:
            reply = reply_text("help", language, _clinic_contact(uow, uow.repo.latest_appointment(ids)))
    uow.commit()
    log.info(
        "inbound sms %s: patient %s, command %s",
        cmd.message_sid,
        inbound.patient_id,
        inbound.command or "none",
    )
    return reply


def _confirm_next(
    uow: NotificationsUnitOfWork, patients: list[Contact], language: str, inbound: InboundSms, now: datetime
) -> str:
    appointment = uow.repo.next_appointment([p.patient_id for p in patients], now)
    if appointment is None:
        latest = uow.repo.latest_appointment([p.patient_id for p in patients])
        return reply_text("nothing_to_confirm", language, _clinic_contact(uow, latest))
    appointment.confirm(appointment.sequence, now)
    inbound.appointment_id = appointment.appointment_id
    uow.emit(
        "notifications.appointment.confirmation_received",
        {
            "appointment_id": appointment.appointment_id,
            "patient_id": appointment.patient_id,
            "channel": Channel.SMS.value,
            "received_at": now,
        },
    )
    patient = next(p for p in patients if p.patient_id == appointment.patient_id)
    return reply_text("confirmed", language, _clinic_contact(uow, appointment), patient.first_name)


def _opt_out(
    uow: NotificationsUnitOfWork, patients: list[Contact], language: str, now: datetime
) -> str | None:
    withdrawn = [p for p in patients if p.opt_out_of_sms(now)]
    for patient in withdrawn:
        uow.repo.add(
            ConsentRecord(
                uow.new_id(), patient.patient_id, Channel.SMS, ConsentKind.WITHDRAWN, now, "sms reply STOP"
            )
        )
        uow.emit(
            "notifications.contact.opted_out",
            {"patient_id": patient.patient_id, "channel": Channel.SMS.value, "opted_out_at": now},
        )
    if not withdrawn:
        return None
    latest = uow.repo.latest_appointment([p.patient_id for p in patients])
    return reply_text("stopped", language, _clinic_contact(uow, latest))


def _opt_in(
    uow: NotificationsUnitOfWork, patients: list[Contact], language: str, now: datetime
) -> str | None:
    """Express consent given by text: SMS messages recorded from now on go out again."""
    renewed = [p for p in patients if p.opt_in_to_sms()]
    for patient in renewed:
        uow.repo.add(
            ConsentRecord(
                uow.new_id(), patient.patient_id, Channel.SMS, ConsentKind.EXPRESS, now, SMS_KEYWORD_START
            )
        )
    if not renewed:
        return None
    latest = uow.repo.latest_appointment([p.patient_id for p in patients])
    return reply_text("started", language, _clinic_contact(uow, latest))


def _clinic_contact(
    uow: NotificationsUnitOfWork, appointment: AppointmentCopy | None
) -> ClinicContact | None:
    clinic = uow.repo.clinic(appointment.clinic_id) if appointment else None
    if clinic is None:
        return None
    return ClinicContact(clinic.name, clinic.address, clinic.phone, clinic.email)


# --- contact preferences and consent (CASL, PIPA BC) -----------------------------------------------------


@dataclass(frozen=True)
class Preferences:
    """A patient's channels, language and consents, with the record of every consent change."""

    contact: Contact
    consents: Sequence[ConsentRecord]


@dataclass(frozen=True)
class ChangePreferences:
    patient_id: uuid.UUID
    email: bool
    sms: bool
    language: str | None
    promotional: bool


def get_preferences(uow: NotificationsUnitOfWork, actor: Principal, patient_id: uuid.UUID) -> Preferences:
    """The patient themself, front desk and admins (others: as for contacts)."""
    contact = get_contact(uow, actor, patient_id)
    return Preferences(contact, uow.repo.consent_records(patient_id))


def change_preferences(
    uow: NotificationsUnitOfWork, actor: Principal, cmd: ChangePreferences
) -> Preferences | None:
    """Apply the choices at once (pending messages on a withdrawn channel are skipped when due), record each
    consent change with who made it, and publish notifications.contact.opted_out for each withdrawal.

    The patient themself may choose before their contact copy has arrived from scheduling (right after
    signing up): the choices are then recorded as consent records, which the copy starts from when it
    arrives (``upsert_contact``), and None is returned. A language can only be chosen once the copy exists.
    """
    now = uow.clock.now()
    own = actor.patient_id == cmd.patient_id
    source = "preferences by the patient" if own else "preferences by staff"
    try:
        contact = get_contact(uow, actor, cmd.patient_id)
    except NotFound:
        if not own:
            raise
        _record_choices_ahead_of_contact(uow, cmd, now, source)
        return None
    changes = contact.choose(
        now, email=cmd.email, sms=cmd.sms, language=cmd.language, promotional=cmd.promotional
    )
    for channel, kind, purpose in changes:
        uow.repo.add(ConsentRecord(uow.new_id(), contact.patient_id, channel, kind, now, source, purpose))
        if kind is ConsentKind.WITHDRAWN and purpose == TRANSACTIONAL:
            uow.emit(
                "notifications.contact.opted_out",
                {"patient_id": contact.patient_id, "channel": channel.value, "opted_out_at": now},
            )
    uow.commit()
    return Preferences(contact, uow.repo.consent_records(cmd.patient_id))


def _record_choices_ahead_of_contact(
    uow: NotificationsUnitOfWork, cmd: ChangePreferences, now: datetime, source: str
) -> None:
    if cmd.language is not None:
        raise NotYet(
            "the patient's contact details have not arrived from scheduling yet; choose a language once "
            "they have (or change it in scheduling)",
            field="language",
        )
    choices = [
        (Channel.EMAIL, ConsentKind.EXPRESS if cmd.email else ConsentKind.WITHDRAWN, TRANSACTIONAL),
        (Channel.SMS, ConsentKind.EXPRESS if cmd.sms else ConsentKind.WITHDRAWN, TRANSACTIONAL),
    ]
    promotional = [r for r in uow.repo.consent_records(cmd.patient_id) if r.purpose == PROMOTIONAL]
    consented = bool(promotional) and promotional[-1].kind is ConsentKind.EXPRESS
    if cmd.promotional != consented:
        kind = ConsentKind.EXPRESS if cmd.promotional else ConsentKind.WITHDRAWN
        choices.append((Channel.EMAIL, kind, PROMOTIONAL))
    for channel, kind, purpose in choices:
        uow.repo.add(ConsentRecord(uow.new_id(), cmd.patient_id, channel, kind, now, source, purpose))
        if kind is ConsentKind.WITHDRAWN and purpose == TRANSACTIONAL:
            uow.emit(
                "notifications.contact.opted_out",
                {"patient_id": cmd.patient_id, "channel": channel.value, "opted_out_at": now},
            )
    uow.commit()


# --- reading -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoggedDelivery:
    """A delivery with each attempt at sending it: one entry of the delivery log as staff read it."""

    delivery: Delivery
    attempts: Sequence[DeliveryAttempt]


def _with_attempts(uow: NotificationsUnitOfWork, items: Sequence[Delivery]) -> list[LoggedDelivery]:
    by_delivery: dict[uuid.UUID, list[DeliveryAttempt]] = {}
    for attempt in uow.repo.attempts_of([d.id for d in items]):
        by_delivery.setdefault(attempt.delivery_id, []).append(attempt)
    return [LoggedDelivery(d, by_delivery.get(d.id, [])) for d in items]


def list_deliveries(
    uow: NotificationsUnitOfWork,
    actor: Principal,
    page: Page,
    *,
    clinic_id: uuid.UUID | None = None,
    patient_id: uuid.UUID | None = None,
    appointment_id: uuid.UUID | None = None,
    status: DeliveryStatus | None = None,
    channel: Channel | None = None,
    kind: DeliveryKind | None = None,
) -> tuple[Sequence[LoggedDelivery], int]:
    """Newest first; clinic-scoped staff see their clinic's only (naming another clinic: not found),
    organisation-wide staff every clinic's and the account messages of no clinic."""
    if clinic_id is not None:
        require_clinic(actor, clinic_id, CLINIC_NOT_FOUND, field="clinic_id")
    elif not actor.organisation_wide:
        clinic_id = actor.clinic_id
        if clinic_id is None:  # not staff: the entrypoint lets none such through
            raise NotFound(CLINIC_NOT_FOUND)
    filters = {
        name: value
        for name, value in (
            ("clinic_id", clinic_id),
            ("patient_id", patient_id),
            ("appointment_id", appointment_id),
            ("status", status),
            ("channel", channel),
            ("kind", kind),
        )
        if value is not None
    }
    items, total = uow.repo.list_deliveries(offset=page.offset, limit=page.limit, **filters)
    return _with_attempts(uow, items), total


def get_delivery(uow: NotificationsUnitOfWork, actor: Principal, delivery_id: uuid.UUID) -> LoggedDelivery:
    """One delivery of the actor's clinic (any, organisation-wide); another clinic's is not found."""
    delivery = uow.repo.get(Delivery, delivery_id)
    if delivery is None or not acts_in(actor, delivery.clinic_id):
        raise NotFound("delivery not found", field="delivery_id")
    return _with_attempts(uow, [delivery])[0]


def _patient_known_to(uow: NotificationsUnitOfWork, actor: Principal, patient_id: uuid.UUID) -> bool:
    """Whether clinic-scoped staff ``actor``'s clinic has a relationship with the patient (ADR 0006)."""
    return actor.clinic_id is not None and uow.repo.patient_known_at(patient_id, actor.clinic_id)


def get_contact(uow: NotificationsUnitOfWork, actor: Principal, patient_id: uuid.UUID) -> Contact:
    """A patient sees their own contact copy; front desk and admins a patient's who has a relationship
    with their clinic (a message about it, or an appointment there), organisation-wide ones any patient's.
    Others' are 404 (staff of other roles: 403)."""
    own = actor.patient_id == patient_id
    if not own and not actor.has_any(STAFF_READERS):
        if actor.is_staff:
            raise Forbidden("your role does not allow reading patients' contact details")
        raise NotFound("contact not found", field="patient_id")
    if not (own or actor.organisation_wide or _patient_known_to(uow, actor, patient_id)):
        raise NotFound("contact not found", field="patient_id")
    contact = uow.repo.contact(patient_id)
    if contact is None:
        raise NotFound("contact not found", field="patient_id")
    return contact
