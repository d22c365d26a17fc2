"""Which messages an appointment change calls for, on which channels, and which recorded ones it makes moot.

Plain functions over what the service layer read: the caller records what they return.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from notifications.domain.appointments import AppointmentFacts
from notifications.domain.channels import Channel
from notifications.domain.copies import Contact
from notifications.domain.deliveries import Delivery, DeliveryStatus
from notifications.domain.kinds import DeliveryKind
from notifications.domain.plans import plan_speaks_for
from notifications.domain.reasons import CANCELLED, IN_PENDING_PLAN_MESSAGE, NEVER_TOLD, SUPERSEDED


@dataclass(frozen=True)
class WantedNotice:
    """One message an appointment change calls for; recorded as skipped when ``unsent_reason`` is set."""

    kind: DeliveryKind
    channel: Channel
    due_at: datetime
    unsent_reason: str | None = None


def patient_channels(contact: Contact | None) -> list[Channel]:
    """The channels to record a patient's messages on (if their details have not arrived yet, both: the
    dispatcher decides when they have)."""
    channels = [Channel.EMAIL]
    if contact is not None and not (contact.wants(Channel.EMAIL) and contact.email_deliverable):
        channels.remove(Channel.EMAIL)
    if contact is None or contact.sms_allowed:
        channels.append(Channel.SMS)
    return channels


def never_told_of_booking(known: Sequence[Delivery], channel: Channel) -> bool:
    """True when there was a booking confirmation on ``channel`` and none of them went out."""
    confirmations = [d for d in known if d.channel is channel and d.kind is DeliveryKind.BOOKING_CONFIRMATION]
    return bool(confirmations) and not any(d.went_out for d in confirmations)


def notices_wanted(
    kind: DeliveryKind,
    facts: AppointmentFacts,
    *,
    channels: Sequence[Channel],
    known: Sequence[Delivery],
    pending_plan_messages: Sequence[Delivery],
    reminders: Mapping[Channel, datetime],
    now: datetime,
    debounce: timedelta,
    late: bool = False,
    online: bool = False,
    with_plan: bool = False,
    plan_shortened: bool = False,
) -> list[WantedNotice]:
    """The messages a booking, reschedule or cancellation (``kind``) calls for.

    The immediate message on each of ``channels``, due after ``debounce`` (none for a session its plan's
    message speaks for; skipped while a pending plan message names the session; a reschedule of a booking
    whose confirmation never went out is sent as the confirmation); the front desk's alert for a late
    cancellation or an online booking, due at once; and unless it is a cancellation, the ``reminders``
    (the clinic's policy's schedule) on the channels the patient gets messages on.
    """
    cancelled = kind is DeliveryKind.CANCELLATION
    spoken_for_by_plan = plan_speaks_for(
        kind,
        in_plan=facts.plan_id is not None,
        with_plan=with_plan,
        plan_shortened=plan_shortened,
    )
    wanted: list[WantedNotice] = []
    for channel in [] if spoken_for_by_plan else channels:
        message = kind
        if message is DeliveryKind.RESCHEDULE and never_told_of_booking(known, channel):
            message = DeliveryKind.BOOKING_CONFIRMATION
        unsent_reason = None
        if any(d.channel is channel and d.announces(facts.appointment_id) for d in pending_plan_messages):
            unsent_reason = IN_PENDING_PLAN_MESSAGE
        wanted.append(WantedNotice(message, channel, now + debounce, unsent_reason))
    if cancelled and late:
        wanted.append(WantedNotice(DeliveryKind.LATE_CANCELLATION_ALERT, Channel.EMAIL, now))
    if kind is DeliveryKind.BOOKING_CONFIRMATION and online:
        wanted.append(WantedNotice(DeliveryKind.ONLINE_BOOKING_ALERT, Channel.EMAIL, now))
    if not cancelled:
        for channel, due_at in reminders.items():
            if channel in channels:
                wanted.append(WantedNotice(DeliveryKind.REMINDER, channel, due_at))
    return wanted


def settle_new(
    delivery: Delivery, known: Sequence[Delivery], now: datetime, unsent_reason: str | None
) -> None:
    """Reconcile a newly recorded message with those already ``known`` about the appointment, whatever order
    the events arrived in: it is skipped if one of them is about a newer version (or if it need not go out),
    and the pending ones about an older version are skipped."""
    if any(other.supersedes(delivery) for other in known):
        delivery.skip(now, SUPERSEDED)
    elif unsent_reason is not None:
        delivery.skip(now, unsent_reason)
    for older in known:
        if delivery.supersedes(older) and older.status is DeliveryStatus.PENDING:
            older.skip(now, SUPERSEDED)


def skip_moot(known: Sequence[Delivery], now: datetime, *, cancelled: bool) -> None:
    """Skip the pending messages the change made moot: the reminders of a cancelled appointment, and the
    cancellation of a booking the patient was never told of (whichever of the two arrived first)."""
    for delivery in known:
        if delivery.status is not DeliveryStatus.PENDING:
            continue
        if cancelled and delivery.is_reminder:
            delivery.skip(now, CANCELLED)
        elif delivery.kind is DeliveryKind.CANCELLATION and never_told_of_booking(known, delivery.channel):
            delivery.skip(now, NEVER_TOLD)
