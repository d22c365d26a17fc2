"""Which messages an appointment change calls for, decided in the domain (plain Python, no I/O)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from notifications.domain.appointments import AppointmentFacts
from notifications.domain.channels import Channel
from notifications.domain.copies import Contact
from notifications.domain.deliveries import Delivery, DeliveryStatus
from notifications.domain.kinds import DeliveryKind
from notifications.domain.notices import (
    WantedNotice,
    never_told_of_booking,
    notices_wanted,
    patient_channels,
    settle_new,
    skip_moot,
)
from notifications.domain.reasons import CANCELLED, IN_PENDING_PLAN_MESSAGE, NEVER_TOLD, SUPERSEDED

NOW = datetime(2025, 3, 3, 17, 0, tzinfo=UTC)
DEBOUNCE = timedelta(minutes=2)
STARTS = datetime(2025, 3, 10, 16, 0, tzinfo=UTC)
APPOINTMENT = uuid.UUID(int=1)
PLAN = uuid.UUID(int=6)
BOTH = [Channel.EMAIL, Channel.SMS]
REMINDERS = {Channel.EMAIL: STARTS - timedelta(hours=48), Channel.SMS: STARTS - timedelta(hours=24)}


def facts(sequence: int = 0, plan_id: uuid.UUID | None = None) -> AppointmentFacts:
    return AppointmentFacts(
        appointment_id=APPOINTMENT,
        patient_id=uuid.UUID(int=2),
        clinic_id=uuid.UUID(int=3),
        practitioner_id=uuid.UUID(int=4),
        treatment_type_id=uuid.UUID(int=5),
        starts_at=STARTS,
        ends_at=STARTS + timedelta(minutes=30),
        sequence=sequence,
        plan_id=plan_id,
    )


def recorded(kind: DeliveryKind, channel: Channel = Channel.EMAIL, sequence: int = 0) -> Delivery:
    return Delivery.record(
        delivery_id=uuid.uuid4(),
        kind=kind,
        channel=channel,
        facts=facts(sequence),
        event_id=uuid.uuid4(),
        now=NOW,
    )


def sent(delivery: Delivery) -> Delivery:
    delivery.claim(NOW, "pat@example.com")
    delivery.mark_sent(NOW, None)
    return delivery


def plan_summary_naming(appointment_id: uuid.UUID, channel: Channel) -> Delivery:
    return Delivery.record_message(
        delivery_id=uuid.uuid4(),
        kind=DeliveryKind.PLAN_SUMMARY,
        subject_id=PLAN,
        patient_id=uuid.UUID(int=2),
        clinic_id=uuid.UUID(int=3),
        payload={"sessions": [{"appointment_id": str(appointment_id)}]},
        event_id=uuid.uuid4(),
        now=NOW,
        due_at=NOW + DEBOUNCE,
        channel=channel,
    )


def wanted(
    kind: DeliveryKind,
    appointment: AppointmentFacts | None = None,
    *,
    channels: Sequence[Channel] = BOTH,
    known: Sequence[Delivery] = (),
    pending_plan_messages: Sequence[Delivery] = (),
    reminders: Mapping[Channel, datetime] = REMINDERS,
    late: bool = False,
    online: bool = False,
    with_plan: bool = False,
) -> list[WantedNotice]:
    return notices_wanted(
        kind,
        appointment or facts(),
        channels=channels,
        known=known,
        pending_plan_messages=pending_plan_messages,
        reminders=reminders,
        now=NOW,
        debounce=DEBOUNCE,
        late=late,
        online=online,
        with_plan=with_plan,
    )


def test_a_patient_whose_details_have_not_arrived_gets_messages_on_both_channels() -> None:
    assert patient_channels(None) == [Channel.EMAIL, Channel.SMS]


def test_a_patient_without_a_phone_gets_e_mail_only() -> None:
    contact = Contact(uuid.UUID(int=2), "Pat", "pat@example.com", None, "en", NOW)
    assert patient_channels(contact) == [Channel.EMAIL]


def test_a_patient_who_opted_out_of_sms_gets_e_mail_only() -> None:
    contact = Contact(uuid.UUID(int=2), "Pat", "pat@example.com", "+16045550100", "en", NOW)
    contact.opt_out_of_sms(NOW)
    assert patient_channels(contact) == [Channel.EMAIL]


def test_a_booking_calls_for_a_debounced_confirmation_on_each_channel_and_its_reminders() -> None:
    assert wanted(DeliveryKind.BOOKING_CONFIRMATION) == [
        WantedNotice(DeliveryKind.BOOKING_CONFIRMATION, Channel.EMAIL, NOW + DEBOUNCE),
        WantedNotice(DeliveryKind.BOOKING_CONFIRMATION, Channel.SMS, NOW + DEBOUNCE),
        WantedNotice(DeliveryKind.REMINDER, Channel.EMAIL, REMINDERS[Channel.EMAIL]),
        WantedNotice(DeliveryKind.REMINDER, Channel.SMS, REMINDERS[Channel.SMS]),
    ]


def test_reminders_go_only_on_the_channels_the_patient_gets_messages_on() -> None:
    kinds = [(w.kind, w.channel) for w in wanted(DeliveryKind.BOOKING_CONFIRMATION, channels=[Channel.EMAIL])]
    assert kinds == [
        (DeliveryKind.BOOKING_CONFIRMATION, Channel.EMAIL),
        (DeliveryKind.REMINDER, Channel.EMAIL),
    ]


def test_an_online_booking_alerts_the_front_desk_at_once() -> None:
    alerts = [
        w for w in wanted(DeliveryKind.BOOKING_CONFIRMATION, online=True) if w.kind.name.endswith("ALERT")
    ]
    assert alerts == [WantedNotice(DeliveryKind.ONLINE_BOOKING_ALERT, Channel.EMAIL, NOW)]


def test_a_cancellation_calls_for_no_reminder_and_a_late_one_alerts_the_front_desk() -> None:
    assert wanted(DeliveryKind.CANCELLATION, late=True) == [
        WantedNotice(DeliveryKind.CANCELLATION, Channel.EMAIL, NOW + DEBOUNCE),
        WantedNotice(DeliveryKind.CANCELLATION, Channel.SMS, NOW + DEBOUNCE),
        WantedNotice(DeliveryKind.LATE_CANCELLATION_ALERT, Channel.EMAIL, NOW),
    ]


def test_a_session_booked_with_its_plan_gets_reminders_but_no_confirmation() -> None:
    kinds = {w.kind for w in wanted(DeliveryKind.BOOKING_CONFIRMATION, facts(plan_id=PLAN))}
    assert kinds == {DeliveryKind.REMINDER}


def test_a_session_cancelled_with_its_plan_gets_no_message_of_its_own() -> None:
    assert wanted(DeliveryKind.CANCELLATION, facts(plan_id=PLAN), with_plan=True) == []


def test_a_change_to_a_session_a_pending_plan_message_names_is_recorded_unsent() -> None:
    pending = [plan_summary_naming(APPOINTMENT, Channel.SMS)]
    immediate = wanted(
        DeliveryKind.RESCHEDULE, facts(1, plan_id=PLAN), pending_plan_messages=pending, reminders={}
    )
    assert [(w.channel, w.unsent_reason) for w in immediate] == [
        (Channel.EMAIL, None),
        (Channel.SMS, IN_PENDING_PLAN_MESSAGE),
    ]


def test_a_reschedule_of_a_booking_never_announced_is_sent_as_the_confirmation() -> None:
    known = [
        recorded(DeliveryKind.BOOKING_CONFIRMATION, Channel.EMAIL),
        sent(recorded(DeliveryKind.BOOKING_CONFIRMATION, Channel.SMS)),
    ]
    immediate = wanted(DeliveryKind.RESCHEDULE, facts(1), known=known, reminders={})
    assert [(w.kind, w.channel) for w in immediate] == [
        (DeliveryKind.BOOKING_CONFIRMATION, Channel.EMAIL),
        (DeliveryKind.RESCHEDULE, Channel.SMS),
    ]


def test_a_booking_is_never_told_only_while_none_of_its_confirmations_went_out() -> None:
    confirmation = recorded(DeliveryKind.BOOKING_CONFIRMATION)
    assert never_told_of_booking([confirmation], Channel.EMAIL)
    assert not never_told_of_booking([], Channel.EMAIL)
    assert not never_told_of_booking([sent(confirmation)], Channel.EMAIL)


def test_a_message_about_an_older_version_arriving_late_is_recorded_as_superseded() -> None:
    newer = recorded(DeliveryKind.RESCHEDULE, sequence=2)
    older = recorded(DeliveryKind.BOOKING_CONFIRMATION, sequence=0)
    settle_new(older, [newer], NOW, None)
    assert (older.status, older.last_error) == (DeliveryStatus.SKIPPED, SUPERSEDED)
    assert newer.status is DeliveryStatus.PENDING


def test_a_newer_message_skips_the_pending_one_about_an_older_version() -> None:
    older = recorded(DeliveryKind.BOOKING_CONFIRMATION, sequence=0)
    newer = recorded(DeliveryKind.RESCHEDULE, sequence=1)
    settle_new(newer, [older], NOW, None)
    assert (older.status, older.last_error) == (DeliveryStatus.SKIPPED, SUPERSEDED)
    assert newer.status is DeliveryStatus.PENDING


def test_a_new_message_that_need_not_go_out_is_recorded_as_skipped_with_its_reason() -> None:
    delivery = recorded(DeliveryKind.RESCHEDULE, sequence=1)
    settle_new(delivery, [], NOW, IN_PENDING_PLAN_MESSAGE)
    assert (delivery.status, delivery.last_error) == (DeliveryStatus.SKIPPED, IN_PENDING_PLAN_MESSAGE)


def test_a_cancellation_skips_pending_reminders_and_its_own_message_when_the_booking_was_never_told() -> None:
    reminder = recorded(DeliveryKind.REMINDER)
    confirmation = recorded(DeliveryKind.BOOKING_CONFIRMATION)
    cancellation = recorded(DeliveryKind.CANCELLATION, sequence=1)
    skip_moot([reminder, confirmation, cancellation], NOW, cancelled=True)
    assert (reminder.status, reminder.last_error) == (DeliveryStatus.SKIPPED, CANCELLED)
    assert (cancellation.status, cancellation.last_error) == (DeliveryStatus.SKIPPED, NEVER_TOLD)


def test_a_cancellation_of_an_announced_booking_stays_pending() -> None:
    confirmation = sent(recorded(DeliveryKind.BOOKING_CONFIRMATION))
    cancellation = recorded(DeliveryKind.CANCELLATION, sequence=1)
    skip_moot([confirmation, cancellation], NOW, cancelled=True)
    assert cancellation.status is DeliveryStatus.PENDING
