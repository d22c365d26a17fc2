"""Notifications' use cases. Each runs in one unit of work: state and events commit together or not at all.

Event handlers only *record* deliveries (in the transaction that also holds the consumer's inbox row);
sending is the dispatcher's job: ``claim_due`` commits the claim, ``send`` calls the transport outside any
transaction, and ``record_outcome`` stores what happened.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from clinic_shared.tokens import Principal
from notifications.domain.composition import Notice, compose
from notifications.domain.errors import Forbidden, NoAddress, NotFound
from notifications.domain.model import (
    AppointmentFacts,
    Channel,
    ClinicInfo,
    Contact,
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    PractitionerInfo,
    TreatmentInfo,
)
from notifications.service_layer.ports import Mailer, MessageRenderer, SmsSender, TransportError
from notifications.service_layer.unit_of_work import NotificationsUnitOfWork

log = logging.getLogger(__name__)

# Staff who may read the delivery log and patients' contact copies.
STAFF_READERS = frozenset({"front_desk", "admin"})

SUPERSEDED = "superseded by a newer message about this appointment"
INTERRUPTED = "interrupted while sending (the message may have gone out)"


@dataclass(frozen=True)
class Page:
    offset: int
    limit: int


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
    """Create or refresh a patient's contact copy (older news than ours is ignored)."""
    contact = uow.repo.contact(cmd.patient_id)
    if contact is None:
        contact = Contact(cmd.patient_id, cmd.first_name, cmd.email, cmd.phone, cmd.language, cmd.as_of)
        uow.repo.add(contact)
    else:
        contact.update(
            first_name=cmd.first_name,
            email=cmd.email,
            phone=cmd.phone,
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


def upsert_practitioner(uow: NotificationsUnitOfWork, cmd: UpsertPractitioner) -> PractitionerInfo:
    practitioner = uow.repo.practitioner(cmd.practitioner_id)
    if practitioner is None:
        practitioner = PractitionerInfo(cmd.practitioner_id, cmd.display_name, cmd.as_of)
        uow.repo.add(practitioner)
    else:
        practitioner.update(display_name=cmd.display_name, as_of=cmd.as_of)
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
    kind: DeliveryKind
    facts: AppointmentFacts
    event_id: uuid.UUID


def record_appointment_notices(uow: NotificationsUnitOfWork, cmd: RecordAppointmentNotices) -> list[Delivery]:
    """Record the messages an appointment change calls for; sends nothing.

    Always an e-mail; an SMS too unless we know the patient has no phone (if their details have not
    arrived yet, the dispatcher decides). A message already recorded under the same key is not recorded
    again. Messages about different versions of one appointment (the event ``sequence``) are reconciled
    whatever order the events arrive in: a pending message about an older version is skipped, and a
    message about a version older than one already recorded is recorded as skipped.
    """
    now = uow.clock.now()
    facts = cmd.facts
    contact = uow.repo.contact(facts.patient_id)
    channels = [Channel.EMAIL]
    if contact is None or contact.phone:
        channels.append(Channel.SMS)
    known = list(uow.repo.deliveries_for_appointment(facts.appointment_id))
    recorded: list[Delivery] = []
    for channel in channels:
        key = Delivery.key_for(facts.appointment_id, cmd.kind, channel, facts.sequence)
        if any(delivery.key == key for delivery in known):
            continue
        delivery = Delivery.record(
            delivery_id=uow.new_id(),
            kind=cmd.kind,
            channel=channel,
            facts=facts,
            event_id=cmd.event_id,
            now=now,
        )
        if any(other.supersedes(delivery) for other in known):
            delivery.skip(now, SUPERSEDED)
        for older in known:
            if delivery.supersedes(older) and older.status is DeliveryStatus.PENDING:
                older.skip(now, SUPERSEDED)
        uow.repo.add(delivery)
        known.append(delivery)
        recorded.append(delivery)
    uow.commit()
    return recorded


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
            if not delivery.attempt_failed(
                now, INTERRUPTED, permanent=False, max_attempts=policy.max_attempts, retry_in=timedelta(0)
            ):
                report.failed += 1
                continue
        notice = _compose(uow, delivery, policy, now, report)
        if notice is None:
            continue
        delivery.claim(now, notice.recipient)
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
        return Outcome(sent=False, reason=exc.reason, permanent=exc.permanent)
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
        log.info("delivery %s (%s) sent on attempt %d", delivery.id, delivery.key, delivery.attempts)
    else:
        retrying = delivery.attempt_failed(
            now,
            outcome.reason or "unknown error",
            permanent=outcome.permanent,
            max_attempts=policy.max_attempts,
            retry_in=policy.retry_delay(delivery.attempts),
        )
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


def _compose(
    uow: NotificationsUnitOfWork,
    delivery: Delivery,
    policy: DispatchPolicy,
    now: datetime,
    report: DispatchReport,
) -> Notice | None:
    """The notice for a pending delivery, or None after deferring, giving up on or skipping it."""
    repo = uow.repo
    contact = repo.contact(delivery.patient_id)
    clinic = repo.clinic(delivery.clinic_id)
    practitioner = repo.practitioner(delivery.practitioner_id)
    treatment = repo.treatment_type(delivery.treatment_type_id)
    if contact is None or clinic is None or practitioner is None or treatment is None:
        missing = ", ".join(
            name
            for name, value in (
                ("patient contact", contact),
                ("clinic", clinic),
                ("practitioner", practitioner),
                ("treatment type", treatment),
            )
            if value is None
        )
        if now - delivery.created_at >= policy.reference_wait:
            delivery.give_up(now, f"details never arrived: {missing}")
            log.error("delivery %s: gave up waiting for %s", delivery.id, missing)
            report.failed += 1
        else:
            delivery.defer(now, now + policy.reference_retry, f"waiting for details: {missing}")
            log.info("delivery %s: waiting for %s", delivery.id, missing)
            report.deferred += 1
        return None
    try:
        return compose(delivery, contact, clinic, practitioner, treatment)
    except NoAddress as exc:
        delivery.skip(now, str(exc))
        report.skipped += 1
        return None


# --- reading -------------------------------------------------------------------------------------------


def list_deliveries(
    uow: NotificationsUnitOfWork,
    page: Page,
    *,
    patient_id: uuid.UUID | None = None,
    appointment_id: uuid.UUID | None = None,
    status: DeliveryStatus | None = None,
    channel: Channel | None = None,
) -> tuple[Sequence[Delivery], int]:
    filters = {
        name: value
        for name, value in (
            ("patient_id", patient_id),
            ("appointment_id", appointment_id),
            ("status", status),
            ("channel", channel),
        )
        if value is not None
    }
    return uow.repo.list_deliveries(offset=page.offset, limit=page.limit, **filters)


def get_delivery(uow: NotificationsUnitOfWork, delivery_id: uuid.UUID) -> Delivery:
    delivery = uow.repo.get(Delivery, delivery_id)
    if delivery is None:
        raise NotFound("delivery not found")
    return delivery


def get_contact(uow: NotificationsUnitOfWork, actor: Principal, patient_id: uuid.UUID) -> Contact:
    """Front desk and admins see any contact copy, a patient only their own (others' are 404)."""
    if not actor.has_any(STAFF_READERS) and actor.patient_id != patient_id:
        if actor.is_staff:
            raise Forbidden("your role does not allow reading patients' contact details")
        raise NotFound("contact not found")
    contact = uow.repo.contact(patient_id)
    if contact is None:
        raise NotFound("contact not found")
    return contact
