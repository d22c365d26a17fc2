"""Sending what was recorded, in three steps: ``claim_due`` claims due deliveries, ``send`` calls the
transport outside any transaction, and ``record_outcome`` stores what happened (retrying, or falling back to
the other channel). The dispatcher (``entrypoints.dispatcher``) runs them and owns their transactions: the
claims are committed before anything is sent, each outcome after its send."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from clinic_shared import tracing
from notifications.domain.channels import Channel
from notifications.domain.composition import Notice, compose, compose_account_message
from notifications.domain.copies import ReferenceCopies
from notifications.domain.deliveries import AttemptOutcome, Delivery, DeliveryAttempt, DeliveryStatus
from notifications.domain.errors import NoAddress, NotFound
from notifications.domain.kinds import ACCOUNT_KINDS, PLAN_ANNOUNCEMENT_KINDS, STAFF_KINDS, DeliveryKind
from notifications.domain.reasons import (
    CANCELLED,
    CONFIRMED,
    EXPIRED,
    INTERRUPTED,
    LINK_EXPIRED,
    NO_SESSION_LEFT,
    OPTED_OUT,
    STARTED,
    SUPERSEDED,
    UNDELIVERABLE,
)
from notifications.service_layer.plan_messages import current_sessions
from notifications.service_layer.ports import Mailer, MessageRenderer, SmsSender, TransportError
from notifications.service_layer.reminder_policies import clinic_zone, policy_of
from notifications.service_layer.unit_of_work import NotificationsUnitOfWork

log = logging.getLogger(__name__)


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
    """A delivery taken for one send attempt, with everything needed to render it.

    ``delivery`` is the delivery as the claim committed it (sending, ``attempt`` attempts) and ``opened`` the
    attempt it opened: the outcome is decided on them and stored only if the row is still that claim.
    """

    delivery: Delivery
    opened: DeliveryAttempt
    notice: Notice
    # The trace the delivery was recorded in (kept beside its row by the ORM, not a domain field).
    trace_context: str | None = None

    @property
    def delivery_id(self) -> uuid.UUID:
        return self.delivery.id

    @property
    def attempt(self) -> int:
        return self.opened.number


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
    """Claim up to ``limit`` due deliveries (the caller commits the claims before anything is sent).

    Deliveries whose details are missing are deferred (or given up after ``reference_wait``), those with
    no address on their channel are skipped; the rest become ``sending`` with one more attempt.
    """
    now = uow.clock.now()
    report = DispatchReport()
    due = uow.repo.claimable_deliveries(now, now - policy.stale_after, limit)
    copies = _reference_copies(uow, due)
    for delivery in due:
        if delivery.status is DeliveryStatus.SENDING:
            log.warning("delivery %s: attempt %d was interrupted; retrying", delivery.id, delivery.attempts)
            attempts = uow.repo.attempts_of([delivery.id])
            _finish_attempt(attempts, delivery, now, AttemptOutcome.INTERRUPTED, None, INTERRUPTED)
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
        notice = _compose(uow, delivery, copies, policy, now, report)
        if notice is None:
            continue
        delivery.claim(now, notice.recipient)
        opened = DeliveryAttempt(uow.new_id(), delivery.id, delivery.attempts, delivery.channel, now)
        uow.repo.add(opened)
        trace_context = getattr(delivery, "trace_context", None)
        report.claims.append(Claim(delivery, opened, notice, trace_context))
    return report


def send(claim: Claim, transports: Transports) -> Outcome:
    """Render and hand one claimed message to its transport; never raises."""
    # The transport's span continues the trace the delivery was recorded in (clinic_shared.tracing).
    with tracing.resumed(claim.trace_context):
        return _send(claim, transports)


def _send(claim: Claim, transports: Transports) -> Outcome:
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
    """Store the result of one attempt; None when the claim had been taken over meanwhile.

    The outcome is decided on the delivery as claimed (its row is not read again) and stored only if the row
    is still that claim (sending, the same number of attempts): one compare-and-set, ``repo.finish_claim``.
    """
    now = uow.clock.now()
    delivery, attempt = replace(claim.delivery), replace(claim.opened)
    retrying = True
    if outcome.sent:
        delivery.mark_sent(now, outcome.provider_message_id)
        attempt.finish(now, AttemptOutcome.SENT, provider_message_id=outcome.provider_message_id, detail=None)
    else:
        reason = outcome.reason or "unknown error"
        attempt.finish(now, AttemptOutcome.FAILED, provider_message_id=None, detail=reason)
        retry_in = policy.retry_delay(delivery.attempts)
        if outcome.retry_after is not None:
            retry_in = max(retry_in, outcome.retry_after)
        retrying = delivery.attempt_failed(
            now, reason, permanent=outcome.permanent, max_attempts=policy.max_attempts, retry_in=retry_in
        )
    if not uow.repo.finish_claim(claim.delivery, delivery, attempt):
        log.warning(
            "delivery %s: attempt %d finished after its claim was taken over; outcome not recorded",
            claim.delivery_id,
            claim.attempt,
        )
        return None
    if outcome.sent:
        log.info("delivery %s (%s) sent on attempt %d", delivery.id, delivery.key, delivery.attempts)
        return delivery.status
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
    return delivery.status


def _finish_attempt(
    attempts: Iterable[DeliveryAttempt],
    delivery: Delivery,
    now: datetime,
    outcome: AttemptOutcome,
    provider_message_id: str | None,
    detail: str | None,
) -> None:
    for attempt in attempts:
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
    quiet = policy_of(uow, clinic_id).quiet_hours
    if quiet is None:
        return now
    return quiet.earliest_allowed(now, clinic_zone(uow, clinic_id))


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
        clinic_policy = policy_of(uow, delivery.clinic_id)
        if clinic_policy.skip_when_confirmed:
            return CONFIRMED
    return None


def _reference_copies(uow: NotificationsUnitOfWork, due: Sequence[Delivery]) -> ReferenceCopies:
    """The copies the batch's messages may need, read once for the whole batch."""
    about = [d for d in due if d.kind not in ACCOUNT_KINDS]  # account messages need none
    return uow.repo.reference_copies(
        patient_ids={d.patient_id for d in about if d.patient_id is not None},
        clinic_ids={d.clinic_id for d in about if d.clinic_id is not None},
        practitioner_ids={d.practitioner_id for d in about if d.practitioner_id is not None},
        treatment_type_ids={d.treatment_type_id for d in about if d.treatment_type_id is not None},
    )


def _compose(
    uow: NotificationsUnitOfWork,
    delivery: Delivery,
    copies: ReferenceCopies,
    policy: DispatchPolicy,
    now: datetime,
    report: DispatchReport,
) -> Notice | None:
    """The notice for a pending delivery, or None after deferring, giving up on or skipping it."""
    if delivery.kind in ACCOUNT_KINDS:
        # Everything it says came with its event: nothing to wait for, and no channel choice applies.
        try:
            return compose_account_message(delivery)
        except NoAddress as exc:
            delivery.skip(now, str(exc))
            report.skipped += 1
            return None
    contact = copies.contact(delivery.patient_id)
    clinic = copies.clinic(delivery.clinic_id)
    practitioner = copies.practitioner(delivery.practitioner_id)
    treatment = copies.treatment(delivery.treatment_type_id)
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
        sessions = current_sessions(uow, notice.payload.get("sessions", []))
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
    return delivery
