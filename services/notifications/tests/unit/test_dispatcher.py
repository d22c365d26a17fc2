"""The dispatcher: claim (committed) before sending, retries with backoff, waiting for late details."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import icalendar
from sqlalchemy import select

from notifications.bootstrap import Container
from notifications.domain.channels import Channel
from notifications.domain.deliveries import Delivery, DeliveryStatus
from notifications.domain.kinds import DeliveryKind
from notifications.entrypoints.dispatcher import Dispatcher
from notifications.service_layer.ports import OutgoingEmail


def dispatcher(container: Container, **kwargs: Any) -> Dispatcher:
    return Dispatcher.from_container(container, **kwargs)


def all_deliveries(container: Container) -> dict[Channel, Delivery]:
    with container.uow() as uow:
        return {
            d.channel: d
            for d in uow.session.scalars(select(Delivery).where(Delivery.kind != DeliveryKind.REMINDER))
        }


def test_sends_a_due_email_and_sms_once_with_the_deterministic_message_id(
    container: Container, apply: Callable[..., None], events: Any, transport: Any
) -> None:
    apply(*events.catalogue(), events.booked())
    sender = dispatcher(container)
    assert sender.dispatch_due() == 2
    assert sender.dispatch_due() == 0

    recorded = all_deliveries(container)
    (email,), (sms,) = transport.emails, transport.sms
    assert email.message_id == recorded[Channel.EMAIL].message_id
    assert email.to == "pat@example.com"
    assert email.calendar is not None
    calendar = icalendar.Calendar.from_ical(email.calendar.content)
    assert str(calendar.events[0]["UID"]) == f"{events.appointment_id}@ims-clinic"
    assert sms.to == "+16045550100"
    assert sms.key == recorded[Channel.SMS].key
    for delivery in recorded.values():
        assert (delivery.status, delivery.attempts, delivery.last_error) == (DeliveryStatus.SENT, 1, None)
        assert delivery.sent_at == container.clock.now()
    assert recorded[Channel.EMAIL].provider_message_id == "mail-1"
    assert recorded[Channel.EMAIL].recipient == "pat@example.com"


def test_the_claim_is_committed_before_the_transport_is_called(
    container: Container, apply: Callable[..., None], events: Any, transport: Any
) -> None:
    apply(*events.catalogue(phone=None), events.booked())
    seen: list[tuple[DeliveryStatus, int]] = []

    def look_from_another_session(_message: OutgoingEmail) -> None:
        delivery = all_deliveries(container)[Channel.EMAIL]
        seen.append((delivery.status, delivery.attempts))

    transport.on_send = look_from_another_session
    dispatcher(container).dispatch_due()
    assert seen == [(DeliveryStatus.SENDING, 1)]


def test_waits_for_missing_contact_details_then_sends_once_they_arrive(
    container: Container, apply: Callable[..., None], events: Any, transport: Any, clock: Any
) -> None:
    apply(
        events.clinic_changed(),
        events.practitioner_changed(),
        events.treatment_type_changed(),
        events.booked(),
    )
    sender = dispatcher(container)
    assert sender.dispatch_due() == 0
    assert sender.last_report.deferred == 2
    email = all_deliveries(container)[Channel.EMAIL]
    assert (email.status, email.attempts) == (DeliveryStatus.PENDING, 0)
    assert email.last_error == "waiting for details: patient contact"
    assert email.next_attempt_at == clock.now() + container.policy.reference_retry

    apply(events.patient_registered(phone=None))
    assert sender.dispatch_due() == 0  # not due yet
    clock.advance(seconds=30)
    assert sender.dispatch_due() == 1
    assert len(transport.emails) == 1
    recorded = all_deliveries(container)
    assert (recorded[Channel.EMAIL].status, recorded[Channel.EMAIL].attempts) == (DeliveryStatus.SENT, 1)
    assert recorded[Channel.SMS].status is DeliveryStatus.SKIPPED
    assert recorded[Channel.SMS].last_error == "the patient has no sms address"


def test_gives_up_when_the_details_never_arrive(
    container: Container, apply: Callable[..., None], events: Any, transport: Any, clock: Any
) -> None:
    apply(events.booked())
    sender = dispatcher(container)
    sender.dispatch_due()
    clock.advance(hours=1)
    sender.dispatch_due()
    recorded = all_deliveries(container)
    assert {d.status for d in recorded.values()} == {DeliveryStatus.FAILED}
    assert recorded[Channel.EMAIL].last_error == (
        "details never arrived: patient contact, clinic, practitioner, treatment type"
    )
    assert transport.emails == []


def test_a_transient_failure_is_retried_after_a_backoff_then_given_up(
    container: Container, apply: Callable[..., None], events: Any, transport: Any, clock: Any
) -> None:
    apply(*events.catalogue(phone=None), events.booked())
    transport.failures.extend([transport.transient()] * 3)
    sender = dispatcher(container)

    assert sender.dispatch_due() == 0
    email = all_deliveries(container)[Channel.EMAIL]
    assert (email.status, email.attempts) == (DeliveryStatus.PENDING, 1)
    assert email.last_error == "SMTP server unavailable (TimeoutError)"
    assert email.next_attempt_at == clock.now() + container.policy.retry_delay(1)

    assert sender.dispatch_due() == 0  # backing off
    clock.advance(minutes=1)
    sender.dispatch_due()
    assert all_deliveries(container)[Channel.EMAIL].attempts == 2
    clock.advance(minutes=2)
    sender.dispatch_due()
    email = all_deliveries(container)[Channel.EMAIL]
    assert (email.status, email.attempts) == (DeliveryStatus.FAILED, 3)
    assert sender.last_report.failed == 1
    clock.advance(hours=1)
    assert sender.dispatch_due() == 0
    assert transport.emails == []


def test_a_transient_failure_then_success_sends_exactly_once(
    container: Container, apply: Callable[..., None], events: Any, transport: Any, clock: Any
) -> None:
    apply(*events.catalogue(phone=None), events.booked())
    transport.failures.append(transport.transient())
    sender = dispatcher(container)
    sender.dispatch_due()
    clock.advance(minutes=1)
    assert sender.dispatch_due() == 1
    email = all_deliveries(container)[Channel.EMAIL]
    assert (email.status, email.attempts, email.last_error) == (DeliveryStatus.SENT, 2, None)
    assert len(transport.emails) == 1


def test_a_permanent_failure_is_not_retried(
    container: Container, apply: Callable[..., None], events: Any, transport: Any, clock: Any
) -> None:
    apply(*events.catalogue(phone=None), events.booked())
    transport.failures.append(transport.permanent())
    sender = dispatcher(container)
    sender.dispatch_due()
    clock.advance(hours=2)
    sender.dispatch_due()
    email = all_deliveries(container)[Channel.EMAIL]
    assert (email.status, email.attempts, email.last_error) == (
        DeliveryStatus.FAILED,
        1,
        "SMTP recipient refused (550)",
    )


def test_a_send_interrupted_by_a_crash_is_retried_after_the_stale_period(
    container: Container, apply: Callable[..., None], events: Any, transport: Any, clock: Any
) -> None:
    apply(*events.catalogue(phone=None), events.booked())
    with container.uow() as uow:
        (email,) = [
            d for d in uow.repo.deliveries_for_appointment(events.appointment_id) if not d.is_reminder
        ]
        email.claim(clock.now(), "pat@example.com")  # a dispatcher claimed it, then died
        uow.commit()
    sender = dispatcher(container)
    assert sender.dispatch_due() == 0
    clock.advance(minutes=5)
    assert sender.dispatch_due() == 1
    (sent,) = transport.emails
    assert sent.message_id == email.message_id  # a duplicate, if the first went out, is recognizable
    assert all_deliveries(container)[Channel.EMAIL].attempts == 2


def test_an_unexpected_error_counts_as_a_failed_attempt(
    container: Container, apply: Callable[..., None], events: Any, transport: Any
) -> None:
    apply(*events.catalogue(phone=None), events.booked())
    transport.failures.append(KeyError("template bug"))
    sender = dispatcher(container)
    assert sender.dispatch_due() == 0
    email = all_deliveries(container)[Channel.EMAIL]
    assert (email.status, email.last_error) == (DeliveryStatus.PENDING, "unexpected error (KeyError)")


def test_cancellation_after_a_sent_confirmation_sends_a_cancel_invitation(
    container: Container, apply: Callable[..., None], events: Any, transport: Any
) -> None:
    apply(*events.catalogue(phone=None), events.booked())
    sender = dispatcher(container)
    sender.dispatch_due()
    apply(events.cancelled())
    assert sender.dispatch_due() == 1
    confirmation, cancellation = transport.emails
    assert confirmation.calendar is not None
    assert confirmation.calendar.method == "REQUEST"
    assert cancellation.calendar is not None
    assert cancellation.calendar.method == "CANCEL"
    assert confirmation.message_id != cancellation.message_id


def test_limit_bounds_one_pass(
    container: Container, apply: Callable[..., None], events: Any, transport: Any
) -> None:
    apply(*events.catalogue())
    apply(events.booked())
    sender = dispatcher(container)
    assert sender.dispatch_due(limit=1) == 1
    assert sender.dispatch_due(limit=1) == 1
    assert sender.dispatch_due(limit=1) == 0


def test_run_sends_when_woken_and_stops_when_asked(
    container: Container, apply: Callable[..., None], events: Any, transport: Any, wait_until: Any
) -> None:
    apply(*events.catalogue(phone=None))
    sender = dispatcher(container, poll_interval=30)
    stop = threading.Event()
    thread = threading.Thread(target=sender.run, args=(stop,), daemon=True)
    thread.start()
    try:
        apply(events.booked())
        sender.wake()
        wait_until(lambda: len(transport.emails) == 1, timeout=5)
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()
