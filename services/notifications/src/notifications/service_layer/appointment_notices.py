"""The messages an appointment's booking, rescheduling, cancellation or confirmation calls for, and the
offer of a freed slot to a waitlisted patient. Recorded only: the dispatcher sends them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from notifications.domain.appointments import AppointmentCopy, AppointmentFacts
from notifications.domain.channels import Channel
from notifications.domain.deliveries import Delivery
from notifications.domain.errors import Conflict
from notifications.domain.instants import require_utc
from notifications.domain.kinds import PLAN_ANNOUNCEMENT_KINDS, DeliveryKind
from notifications.domain.notices import notices_wanted, patient_channels, settle_new, skip_moot
from notifications.service_layer.reminder_policies import clinic_zone, policy_of
from notifications.service_layer.unit_of_work import NotificationsUnitOfWork


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
    known = _take_appointment(uow, facts, cancelled=cancelled, with_deliveries=True)
    channels = patient_channels(uow.repo.contact(facts.patient_id))
    pending_plan_messages = (
        list(uow.repo.pending_deliveries(facts.patient_id, PLAN_ANNOUNCEMENT_KINDS))
        if facts.plan_id is not None
        else []
    )
    reminders: dict[Channel, datetime] = {}
    if not cancelled:
        policy = policy_of(uow, facts.clinic_id)
        reminders = policy.schedule(facts.starts_at, clinic_zone(uow, facts.clinic_id), now)
    wanted = notices_wanted(
        cmd.kind,
        facts,
        channels=channels,
        known=known,
        pending_plan_messages=pending_plan_messages,
        reminders=reminders,
        now=now,
        debounce=uow.debounce,
        late=cmd.late,
        online=cmd.online,
        with_plan=cmd.with_plan,
        plan_shortened=cmd.plan_shortened,
    )
    recorded: list[Delivery] = []
    for notice in wanted:
        kind, channel = notice.kind, notice.channel
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
            due_at=notice.due_at,
            key=key,
        )
        settle_new(delivery, known, now, notice.unsent_reason)
        uow.repo.add(delivery)
        known.append(delivery)
        recorded.append(delivery)
    skip_moot(known, now, cancelled=cancelled)
    return recorded


def _take_appointment(
    uow: NotificationsUnitOfWork, facts: AppointmentFacts, *, cancelled: bool, with_deliveries: bool
) -> list[Delivery]:
    """Lock the appointment's copy (and, ``with_deliveries``, its messages) and bring the copy up to
    ``facts``; returns the messages so locked.

    Competing consumers may handle two events of this appointment at once. Its copy's row lock, taken
    first, makes the later one wait and then read what the earlier one recorded: the lock on the
    deliveries alone would not show it the deliveries inserted meanwhile, nor keep the copy from going
    back to an older version. The deliveries are locked before anything is decided on them: a reminder
    falling due meanwhile is either claimed by the dispatcher first (it is sending: left alone) or waits
    for this change (and is skipped unsent), never sent and then overwritten as skipped.

    A new appointment has no copy to lock yet: if a rival inserts one first, our insert waits for the rival
    to commit and then fails. Only that insert is undone (a savepoint: the consumer's inbox row stays),
    and we start over once, now locking the rival's copy and reading the messages it recorded. The copy
    is never read again without its lock: a rival committing between that read and our write would have
    its newer version overwritten (column by column) with ours, and the messages read before the copy
    existed would miss the ones the rival recorded.
    """
    for last_try in (False, True):
        appointment = uow.repo.appointment(facts.appointment_id, for_update=True)
        known = (
            list(uow.repo.deliveries_for_appointment(facts.appointment_id, for_update=True))
            if with_deliveries
            else []
        )
        if appointment is not None:
            appointment.apply(facts, cancelled=cancelled)
            return known
        try:
            with uow.conflicts_as(
                Conflict("this appointment's copy was recorded meanwhile", field="appointment_id")
            ):
                uow.repo.add(AppointmentCopy.from_facts(facts, cancelled=cancelled))
        except Conflict:
            if last_try:
                raise
            continue
        return known
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class RecordConfirmation:
    """The patient confirmed they will attend (scheduling.appointment.confirmed)."""

    facts: AppointmentFacts
    confirmed_at: datetime


def record_confirmation(uow: NotificationsUnitOfWork, cmd: RecordConfirmation) -> None:
    """Remember the confirmation; pending reminders are skipped at send time if the policy says so."""
    _take_appointment(uow, cmd.facts, cancelled=False, with_deliveries=False)  # one change at a time
    appointment = uow.repo.appointment(cmd.facts.appointment_id)
    if appointment is not None:
        appointment.confirm(cmd.facts.sequence, cmd.confirmed_at)


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
    return recorded
