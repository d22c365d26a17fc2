"""Reminders: scheduled durably per the clinic's policy, moved by reschedules, dropped by cancellations and
confirmations, never sent once the appointment has started; immediate messages wait out a debounce."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from clinic_shared.testing.tokens import TestIssuer
from notifications.bootstrap import Container, bootstrap
from notifications.config import NotificationsSettings
from notifications.domain.channels import Channel
from notifications.domain.deliveries import Delivery, DeliveryStatus
from notifications.domain.kinds import DeliveryKind
from notifications.domain.reasons import CONFIRMED, STARTED
from notifications.entrypoints.cli import OPERATOR
from notifications.entrypoints.dispatcher import Dispatcher
from notifications.entrypoints.handlers import HANDLERS
from notifications.service_layer import inbound_sms, reminder_policies

STARTS_AT = datetime(2025, 3, 10, 16, 0, tzinfo=UTC)  # 09:00 in Vancouver (PDT)
EMAIL_DUE = STARTS_AT - timedelta(hours=48)
SMS_DUE = STARTS_AT - timedelta(hours=24)


def reminders(container: Container) -> list[Delivery]:
    with container.uow() as uow:
        query = select(Delivery).where(Delivery.kind == DeliveryKind.REMINDER)
        return sorted(uow.session.scalars(query), key=lambda d: (d.sequence, d.channel))


def by_kind(container: Container) -> list[tuple[str, str, int, str]]:
    with container.uow() as uow:
        rows = uow.session.scalars(select(Delivery))
        return sorted((d.kind.value, d.channel.value, d.sequence, d.status.value) for d in rows)


@pytest.fixture
def booked(apply: Callable[..., None], events: Any, container: Container, transport: Any) -> Dispatcher:
    """A booking whose confirmation already went out; returns the dispatcher."""
    apply(*events.catalogue(), events.booked())
    sender = Dispatcher.from_container(container)
    assert sender.dispatch_due() == 2
    transport.emails.clear()
    transport.sms.clear()
    return sender


def test_booking_schedules_an_email_48h_and_an_sms_24h_before_in_the_database(
    booked: Dispatcher, container: Container
) -> None:
    assert [(d.channel, d.status, d.next_attempt_at) for d in reminders(container)] == [
        (Channel.EMAIL, DeliveryStatus.PENDING, EMAIL_DUE),
        (Channel.SMS, DeliveryStatus.PENDING, SMS_DUE),
    ]


def test_reminders_are_sent_at_their_time_and_not_before(
    booked: Dispatcher, container: Container, transport: Any, clock: Any
) -> None:
    clock.set(EMAIL_DUE - timedelta(seconds=1))
    assert booked.dispatch_due() == 0
    clock.set(EMAIL_DUE)
    assert booked.dispatch_due() == 1
    (email,) = transport.emails
    assert email.subject.startswith("Reminder of your appointment at Demo IMS Clinic")
    clock.set(SMS_DUE)
    assert booked.dispatch_due() == 1
    (sms,) = transport.sms
    assert "reminder of your appointment Mon Mar 10 at 9:00 AM PDT" in sms.body
    clock.advance(days=1)
    assert booked.dispatch_due() == 0
    assert {d.status for d in reminders(container)} == {DeliveryStatus.SENT}


def test_reminders_survive_a_restart_of_the_service(
    booked: Dispatcher,
    container: Container,
    sqlite_url: str,
    make_settings: Callable[..., NotificationsSettings],
    clock: Any,
    issuer: TestIssuer,
    transport: Any,
) -> None:
    container.engine.dispose()
    restarted = bootstrap(
        make_settings(sqlite_url), clock=clock, verifier=issuer.verifier(), mailer=transport, sms=transport
    )
    try:
        clock.set(SMS_DUE)
        assert Dispatcher.from_container(restarted).dispatch_due() == 2
        assert (len(transport.emails), len(transport.sms)) == (1, 1)
    finally:
        restarted.engine.dispose()


def test_a_reschedule_moves_the_reminders_and_the_old_ones_are_never_sent(
    booked: Dispatcher,
    apply: Callable[..., None],
    events: Any,
    container: Container,
    clock: Any,
    transport: Any,
) -> None:
    later = STARTS_AT + timedelta(days=2)
    apply(events.rescheduled(starts_at=later))
    assert [(d.channel, d.sequence, d.status, d.next_attempt_at) for d in reminders(container)] == [
        (Channel.EMAIL, 0, DeliveryStatus.SKIPPED, EMAIL_DUE),
        (Channel.SMS, 0, DeliveryStatus.SKIPPED, SMS_DUE),
        (Channel.EMAIL, 1, DeliveryStatus.PENDING, later - timedelta(hours=48)),
        (Channel.SMS, 1, DeliveryStatus.PENDING, later - timedelta(hours=24)),
    ]
    assert booked.dispatch_due() == 2  # the reschedule notices
    assert [e.subject for e in transport.emails] == [
        "Your appointment at Demo IMS Clinic is moved to Wednesday, March 12, 2025"
    ]
    clock.set(later - timedelta(minutes=1))
    assert booked.dispatch_due() == 2
    assert all(str(later.day) in m.text for m in transport.emails[1:])


def test_a_cancelled_appointment_gets_no_reminder_ever(
    booked: Dispatcher,
    apply: Callable[..., None],
    events: Any,
    container: Container,
    clock: Any,
    transport: Any,
) -> None:
    apply(events.cancelled())
    assert {d.status for d in reminders(container)} == {DeliveryStatus.SKIPPED}
    assert booked.dispatch_due() == 2  # the cancellation notices
    clock.set(SMS_DUE + timedelta(minutes=1))
    assert booked.dispatch_due() == 0
    assert [e.subject for e in transport.emails] == [
        "Your appointment at Demo IMS Clinic on Monday, March 10, 2025 is cancelled"
    ]


def test_a_reminder_is_never_sent_once_the_appointment_has_started(
    booked: Dispatcher, container: Container, clock: Any, transport: Any
) -> None:
    clock.set(STARTS_AT)  # the dispatcher was down through both reminder times
    assert booked.dispatch_due() == 0
    assert booked.last_report.skipped == 2
    assert (transport.emails, transport.sms) == ([], [])
    assert {d.last_error for d in reminders(container)} == {STARTED}


def test_no_reminder_for_an_appointment_the_patient_confirmed(
    booked: Dispatcher,
    apply: Callable[..., None],
    events: Any,
    container: Container,
    clock: Any,
    transport: Any,
) -> None:
    apply(events.confirmed())
    clock.set(SMS_DUE)
    assert booked.dispatch_due() == 0
    assert [(d.status, d.last_error) for d in reminders(container)] == [
        (DeliveryStatus.SKIPPED, CONFIRMED)
    ] * 2
    assert (transport.emails, transport.sms) == ([], [])


def test_a_confirmed_appointment_is_still_reminded_when_the_policy_says_so(
    booked: Dispatcher,
    apply: Callable[..., None],
    events: Any,
    container: Container,
    clock: Any,
    transport: Any,
) -> None:
    with container.uow() as uow:
        reminder_policies.change_reminder_policy(
            uow, OPERATOR, reminder_policies.ChangeReminderPolicy(events.clinic_id, 48, 24, False, None, None)
        )
        uow.commit()
    apply(events.confirmed())
    clock.set(SMS_DUE)
    assert booked.dispatch_due() == 2


def test_confirming_the_old_time_does_not_silence_reminders_for_the_new_time(
    booked: Dispatcher, apply: Callable[..., None], events: Any, container: Container, clock: Any
) -> None:
    later = STARTS_AT + timedelta(days=2)
    apply(events.confirmed(), events.rescheduled(starts_at=later))
    assert booked.dispatch_due() == 2
    clock.set(later - timedelta(hours=24))
    assert booked.dispatch_due() == 2


def test_the_clinic_policy_decides_hours_and_quiet_hours_for_the_next_booking(
    apply: Callable[..., None], events: Any, container: Container
) -> None:
    apply(*events.catalogue())
    with container.uow() as uow:
        reminder_policies.change_reminder_policy(
            uow,
            OPERATOR,
            reminder_policies.ChangeReminderPolicy(
                events.clinic_id,
                None,
                12,
                True,
                datetime(2025, 1, 1, 20).time(),
                datetime(2025, 1, 1, 8).time(),
            ),
        )
        uow.commit()
    starts_at = datetime(2025, 3, 10, 18, 0, tzinfo=UTC)  # 11:00 PDT; 12 h before is 23:00, quiet
    apply(events.booked(starts_at=starts_at))
    assert [(d.channel, d.next_attempt_at) for d in reminders(container)] == [
        (Channel.SMS, datetime(2025, 3, 10, 2, 55, tzinfo=UTC))  # 19:55 PDT the evening before
    ]


# --- debounce ------------------------------------------------------------------------------------------


def apply_to(container: Container, *events: Any) -> None:
    for event in events:
        with container.uow() as uow:
            HANDLERS[event.type](uow, event)
            uow.commit()


def test_a_booking_confirmation_waits_for_the_debounce(
    debounced: Container, events: Any, clock: Any, transport: Any
) -> None:
    apply_to(debounced, *events.catalogue(phone=None), events.booked())
    sender = Dispatcher.from_container(debounced)
    clock.advance(seconds=119)
    assert sender.dispatch_due() == 0
    clock.advance(seconds=1)
    assert sender.dispatch_due() == 1
    assert transport.emails[0].subject.endswith("is confirmed")


def test_a_quick_reschedule_after_booking_sends_one_confirmation_with_the_new_time(
    debounced: Container, events: Any, clock: Any, transport: Any
) -> None:
    later = STARTS_AT + timedelta(days=2)
    apply_to(debounced, *events.catalogue(phone=None), events.booked())
    clock.advance(seconds=60)
    apply_to(debounced, events.rescheduled(starts_at=later))
    clock.advance(minutes=10)
    sender = Dispatcher.from_container(debounced)
    assert sender.dispatch_due() == 1
    assert sender.dispatch_due() == 0
    (email,) = transport.emails
    assert email.subject == "Your appointment at Demo IMS Clinic on Wednesday, March 12, 2025 is confirmed"
    assert email.calendar is not None
    assert b"SEQUENCE:1" in email.calendar.content


def test_several_quick_changes_send_only_the_newest(
    debounced: Container, events: Any, clock: Any, transport: Any
) -> None:
    apply_to(debounced, *events.catalogue(phone=None), events.booked())
    clock.advance(minutes=5)
    sender = Dispatcher.from_container(debounced)
    assert sender.dispatch_due() == 1
    for sequence, days in ((1, 1), (2, 2), (3, 3)):
        apply_to(debounced, events.rescheduled(starts_at=STARTS_AT + timedelta(days=days), sequence=sequence))
        clock.advance(seconds=30)
    clock.advance(minutes=2)
    assert sender.dispatch_due() == 1
    assert [e.subject for e in transport.emails][1:] == [
        "Your appointment at Demo IMS Clinic is moved to Thursday, March 13, 2025"
    ]
    summary = by_kind(debounced)
    assert [row for row in summary if row[0] == "reschedule"] == [
        ("reschedule", "email", 1, "skipped"),
        ("reschedule", "email", 2, "skipped"),
        ("reschedule", "email", 3, "sent"),
    ]


# 48 h before is 08:00 in Vancouver (PST, inside the SMS quiet hours); they end at 09:00 = 17:00 UTC.
QUIET_HOURS_END = datetime(2025, 3, 8, 17, 0, tzinfo=UTC)


def test_a_refused_email_reminder_falls_back_to_an_sms_once_the_quiet_hours_end(
    booked: Dispatcher, container: Container, clock: Any, transport: Any, client: Any, issuer: TestIssuer
) -> None:
    transport.failures.append(transport.permanent())
    clock.set(EMAIL_DUE)
    assert booked.dispatch_due() == 0
    (email,) = [d for d in reminders(container) if d.channel is Channel.EMAIL]
    (sms,) = [d for d in reminders(container) if d.channel is Channel.SMS and d.fallback_of is None]
    (fallback,) = [d for d in reminders(container) if d.fallback_of is not None]
    assert (email.status, email.attempts) == (DeliveryStatus.FAILED, 1)
    assert (fallback.channel, fallback.fallback_of, fallback.next_attempt_at) == (
        Channel.SMS,
        email.id,
        QUIET_HOURS_END,  # not at once: 48 h before is 08:00 local, inside the quiet hours
    )
    clock.set(QUIET_HOURS_END - timedelta(minutes=1))
    assert booked.dispatch_due() == 0  # not in the quiet hours
    clock.set(QUIET_HOURS_END)
    assert booked.dispatch_due() == 1
    (text,) = transport.sms
    assert "reminder of your appointment Mon Mar 10 at 9:00 AM PDT" in text.body
    log = client.get(
        f"/deliveries?appointment_id={email.appointment_id}&kind=reminder", headers=issuer.headers("admin")
    ).json
    logged = {(d["channel"], d["status"], d["fallback_of"]): d["attempts_log"] for d in log}
    assert [a["outcome"] for a in logged[("email", "failed", None)]] == ["failed"]
    assert [a["outcome"] for a in logged[("sms", "sent", str(email.id))]] == ["sent"]
    assert sms.status is DeliveryStatus.PENDING  # the SMS reminder of its own still goes 24 h before


def test_an_email_reminder_that_exhausts_its_attempts_falls_back_to_sms_once(
    booked: Dispatcher, container: Container, clock: Any, transport: Any
) -> None:
    transport.failures.extend([transport.transient()] * 3)
    clock.set(QUIET_HOURS_END)  # outside the quiet hours: the fallback is due at once
    for wait in (0, 1, 2):
        clock.advance(minutes=wait)
        booked.dispatch_due()
    assert booked.dispatch_due() == 1
    email = reminders(container)[0]
    assert (email.channel, email.status, email.attempts) == (Channel.EMAIL, DeliveryStatus.FAILED, 3)
    assert len(transport.sms) == 1
    assert transport.emails == []
    clock.advance(hours=1)
    assert booked.dispatch_due() == 0


def test_no_sms_fallback_for_a_patient_who_opted_out_of_sms(
    booked: Dispatcher, container: Container, clock: Any, transport: Any
) -> None:
    with container.uow() as uow:
        inbound_sms.receive_sms(uow, inbound_sms.ReceiveSms("SMstop", "+16045550100", "STOP"))
        uow.commit()
    transport.failures.append(transport.permanent())
    clock.set(QUIET_HOURS_END)
    booked.dispatch_due()
    assert [(d.channel, d.status, d.fallback_of) for d in reminders(container)] == [
        (Channel.EMAIL, DeliveryStatus.FAILED, None),
        (Channel.SMS, DeliveryStatus.PENDING, None),
    ]


def test_a_fallback_that_fails_too_has_no_fallback_of_its_own(
    booked: Dispatcher, container: Container, clock: Any, transport: Any
) -> None:
    clock.set(EMAIL_DUE)
    assert booked.dispatch_due() == 1
    clock.set(SMS_DUE)
    transport.failures.append(transport.permanent("SMS provider refused the message (400)"))
    booked.dispatch_due()  # the SMS reminder is refused: an e-mail stands in, due at once
    transport.failures.append(transport.permanent())
    booked.dispatch_due()  # the stand-in is refused too
    assert sorted((d.channel, d.status, d.fallback_of is not None) for d in reminders(container)) == [
        (Channel.EMAIL, DeliveryStatus.FAILED, True),
        (Channel.EMAIL, DeliveryStatus.SENT, False),
        (Channel.SMS, DeliveryStatus.FAILED, False),
    ]
