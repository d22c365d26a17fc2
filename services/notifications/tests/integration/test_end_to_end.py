"""Scheduling's events through real RabbitMQ and PostgreSQL to a real SMTP server, once per message."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import icalendar
import pika
import pytest
from sqlalchemy import select

from clinic_shared.events import Envelope, dump_event, new_event
from clinic_shared.messaging.connection import Backoff
from clinic_shared.testing.tokens import TestIssuer
from notifications.adapters import orm
from notifications.bootstrap import Container, bootstrap
from notifications.config import NotificationsSettings
from notifications.domain.channels import Channel
from notifications.domain.deliveries import Delivery, DeliveryStatus
from notifications.domain.kinds import DeliveryKind
from notifications.entrypoints.dispatcher import Dispatcher
from notifications.entrypoints.worker import build_consumer

pytestmark = pytest.mark.integration

EXCHANGE = "scheduling.events"


@contextmanager
def publisher(amqp_url: str, exchange: str = EXCHANGE) -> Iterator[Callable[[Envelope], None]]:
    """Publish events as a producer's relay does: confirmed, persistent, mandatory, routed by type."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.exchange_declare(exchange, exchange_type="topic", durable=True)

        def publish(event: Envelope) -> None:
            channel.basic_publish(
                exchange,
                event.type,
                dump_event(event),
                pika.BasicProperties(
                    content_type="application/json",
                    delivery_mode=pika.DeliveryMode.Persistent,
                    message_id=str(event.id),
                    type=event.type,
                ),
                mandatory=True,
            )

        yield publish
    finally:
        if connection.is_open:
            connection.close()


def calendar_of(message: Any) -> icalendar.Calendar:
    (attachment,) = [
        part for part in message.iter_attachments() if part.get_content_type() == "text/calendar"
    ]
    return icalendar.Calendar.from_ical(attachment.get_payload(decode=True))


def deliveries(container: Container) -> list[Delivery]:
    with container.uow() as uow:
        return list(uow.session.scalars(select(Delivery).where(Delivery.kind != DeliveryKind.REMINDER)))


@pytest.fixture
def live_container(
    pg_url: str,
    amqp_url: str,
    smtp_server: Any,
    make_settings: Callable[..., NotificationsSettings],
    issuer: TestIssuer,
) -> Iterator[Container]:
    """The real wiring (system clock, SMTP mailer, SMS sink) on PostgreSQL and a private vhost."""
    settings = make_settings(pg_url, AMQP_URL=amqp_url, SMTP_URL=smtp_server.url(), SMTP_TIMEOUT="5")
    container = bootstrap(settings, verifier=issuer.verifier())
    yield container
    container.engine.dispose()


def test_booking_and_cancellation_reach_the_patient_once_each(
    live_container: Container,
    amqp_url: str,
    smtp_server: Any,
    events: Any,
    outcomes: Any,
    running: Callable[..., Any],
    wait_until: Callable[..., Any],
    tmp_path: Path,
) -> None:
    dispatcher = Dispatcher.from_container(live_container, poll_interval=0.2)
    outcomes.also = dispatcher.wake
    consumer = build_consumer(
        live_container,
        on_processed=outcomes,
        backoff=Backoff(initial=0.05, cap=0.5),
        retry_backoff=Backoff(initial=0.01, cap=0.05),
    )
    with (
        running(consumer.run, "consumer"),
        running(dispatcher.run, "dispatcher"),
        publisher(amqp_url) as publish,
    ):
        assert consumer.ready.wait(20), "consumer did not start"
        for event in events.catalogue():
            publish(event)
        starts_at = (datetime.now(UTC) + timedelta(days=7)).replace(microsecond=0)
        booked = events.booked(starts_at=starts_at)
        publish(booked)

        (confirmation,) = smtp_server.sink.wait_for(1)
        assert confirmation["To"] == "pat@example.com"
        assert "Demo IMS Clinic" in confirmation["Subject"]
        text = confirmation.get_body(preferencelist=("plain",))
        assert text is not None
        assert "Dr. Ida Needham" in text.get_content()
        invitation = calendar_of(confirmation)
        assert invitation["METHOD"] == "REQUEST"
        assert str(invitation.events[0]["UID"]) == f"{events.appointment_id}@ims-clinic"
        assert invitation.events[0]["SEQUENCE"] == 0

        # The same event delivered three more times is a duplicate for the inbox ...
        for _ in range(3):
            publish(booked)
        outcomes.wait(lambda o: o.count("duplicate") == 3)
        # ... and the same facts under a new event id get past the inbox but not the unique key.
        publish(events.booked(starts_at=starts_at))
        outcomes.wait(lambda o: o.count("applied") == 6)
        wait_until(lambda: all(d.finished for d in deliveries(live_container)), timeout=20)
        assert len(deliveries(live_container)) == 2
        assert len(smtp_server.sink.envelopes) == 1

        publish(events.cancelled(starts_at=starts_at))
        _, cancellation = smtp_server.sink.wait_for(2)
        assert "cancelled" in cancellation["Subject"]
        invitation = calendar_of(cancellation)
        assert invitation["METHOD"] == "CANCEL"
        assert invitation.events[0]["STATUS"] == "CANCELLED"
        assert invitation.events[0]["SEQUENCE"] == 1
        assert str(invitation.events[0]["UID"]) == f"{events.appointment_id}@ims-clinic"
        wait_until(lambda: all(d.finished for d in deliveries(live_container)), timeout=20)

    stored = {(d.kind, d.channel): d for d in deliveries(live_container)}
    assert {key: d.status for key, d in stored.items()} == {
        (DeliveryKind.BOOKING_CONFIRMATION, Channel.EMAIL): DeliveryStatus.SENT,
        (DeliveryKind.BOOKING_CONFIRMATION, Channel.SMS): DeliveryStatus.SENT,
        (DeliveryKind.CANCELLATION, Channel.EMAIL): DeliveryStatus.SENT,
        (DeliveryKind.CANCELLATION, Channel.SMS): DeliveryStatus.SENT,
    }
    assert confirmation["Message-ID"] == stored[(DeliveryKind.BOOKING_CONFIRMATION, Channel.EMAIL)].message_id
    assert cancellation["Message-ID"] == stored[(DeliveryKind.CANCELLATION, Channel.EMAIL)].message_id
    assert len(smtp_server.sink.envelopes) == 2
    sms = [json.loads(line) for line in (tmp_path / "sms" / "outbox.jsonl").read_text().splitlines()]
    assert [(line["to"], line["key"].split(":")[1]) for line in sms] == [
        ("+16045550100", "booking_confirmation"),
        ("+16045550100", "cancellation"),
    ]


def test_billing_events_arrive_through_the_billing_exchange(
    live_container: Container,
    amqp_url: str,
    smtp_server: Any,
    events: Any,
    outcomes: Any,
    running: Callable[..., Any],
) -> None:
    dispatcher = Dispatcher.from_container(live_container, poll_interval=0.2)
    outcomes.also = dispatcher.wake
    consumer = build_consumer(live_container, on_processed=outcomes, backoff=Backoff(initial=0.05, cap=0.5))
    payment = new_event(
        "billing.payment.received",
        {
            "payment_id": uuid.uuid4(),
            "clinic_id": events.clinic_id,
            "patient_id": events.patient_id,
            "amount_cents": 4200,
            "currency": "CAD",
            "method": "card",
            "received_at": datetime.now(UTC),
            "allocations": [],
        },
        producer="billing",
        occurred_at=datetime.now(UTC),
    )
    with (
        running(consumer.run, "consumer"),
        running(dispatcher.run, "dispatcher"),
        publisher(amqp_url) as publish,
        publisher(amqp_url, "billing.events") as publish_billing,
    ):
        assert consumer.ready.wait(20), "consumer did not start"
        for event in events.catalogue(phone=None):
            publish(event)
        publish_billing(payment)
        (receipt,) = smtp_server.sink.wait_for(1)
    assert receipt["Subject"] == "Receipt from Demo IMS Clinic: CAD 42.00 received"


def test_plan_extensions_and_credit_notes_arrive_through_their_bindings_once_each(
    live_container: Container,
    amqp_url: str,
    smtp_server: Any,
    events: Any,
    outcomes: Any,
    running: Callable[..., Any],
) -> None:
    dispatcher = Dispatcher.from_container(live_container, poll_interval=0.2)
    outcomes.also = dispatcher.wake
    consumer = build_consumer(live_container, on_processed=outcomes, backoff=Backoff(initial=0.05, cap=0.5))
    now = datetime.now(UTC)
    common = {
        "clinic_id": events.clinic_id,
        "patient_id": events.patient_id,
    }
    added = now.replace(microsecond=0) + timedelta(days=7)
    extended = new_event(
        "scheduling.plan.extended",
        common
        | {
            "plan_id": uuid.uuid4(),
            "practitioner_id": events.practitioner_id,
            "treatment_type_id": events.treatment_type_id,
            "total_sessions": 5,
            "added_sessions": [
                {
                    "appointment_id": uuid.uuid4(),
                    "starts_at": added,
                    "ends_at": added + timedelta(minutes=30),
                    "practitioner_id": events.practitioner_id,
                }
            ],
        },
        producer="scheduling",
        occurred_at=now,
    )
    credit_note = new_event(
        "billing.credit_note.issued",
        common
        | {
            "credit_note_id": uuid.uuid4(),
            "number": "VAN-CN-2025-0001",
            "invoice_id": uuid.uuid4(),
            "amount_cents": 2500,
            "currency": "CAD",
            "issued_at": now,
            "voids_invoice": False,
        },
        producer="billing",
        occurred_at=now,
    )
    with (
        running(consumer.run, "consumer"),
        running(dispatcher.run, "dispatcher"),
        publisher(amqp_url) as publish,
        publisher(amqp_url, "billing.events") as publish_billing,
    ):
        assert consumer.ready.wait(20), "consumer did not start"
        for event in events.catalogue(phone=None):
            publish(event)
        publish(extended)
        publish(extended)  # redelivered
        publish_billing(credit_note)
        publish_billing(credit_note)
        messages = smtp_server.sink.wait_for(2)
        outcomes.wait(lambda o: o.count("duplicate") >= 2)
    subjects = sorted(message["Subject"] for message in messages)
    assert subjects[0] == "Credit note VAN-CN-2025-0001 from Demo IMS Clinic: CAD 25.00 credited"
    assert subjects[1].startswith("Your treatment plan at Demo IMS Clinic: 1 session added from ")
    assert len(smtp_server.sink.envelopes) == 2


def test_a_shortened_plan_reaches_the_patient_as_one_message_through_its_binding(
    live_container: Container,
    amqp_url: str,
    smtp_server: Any,
    events: Any,
    outcomes: Any,
    running: Callable[..., Any],
    wait_until: Callable[..., Any],
) -> None:
    dispatcher = Dispatcher.from_container(live_container, poll_interval=0.2)
    outcomes.also = dispatcher.wake
    consumer = build_consumer(live_container, on_processed=outcomes, backoff=Backoff(initial=0.05, cap=0.5))
    now = datetime.now(UTC)
    first = now.replace(microsecond=0) + timedelta(days=7)
    plan_id = uuid.uuid4()
    sessions = {uuid.uuid4(): first + timedelta(weeks=n) for n in range(3)}
    kept, *cut = sessions
    plan = {
        "plan_id": plan_id,
        "clinic_id": events.clinic_id,
        "patient_id": events.patient_id,
        "practitioner_id": events.practitioner_id,
        "treatment_type_id": events.treatment_type_id,
    }
    created = new_event(
        "scheduling.plan.created",
        plan
        | {
            "total_sessions": 3,
            "sessions": [
                {
                    "appointment_id": i,
                    "starts_at": start,
                    "ends_at": start + timedelta(minutes=30),
                    "practitioner_id": events.practitioner_id,
                }
                for i, start in sessions.items()
            ],
        },
        producer="scheduling",
        occurred_at=now,
    )
    shortened = new_event(
        "scheduling.plan.shortened",
        plan
        | {
            "total_sessions": 1,
            "previous_total_sessions": 3,
            "cancelled_appointment_ids": cut,
            "shortened_at": now,
        },
        producer="scheduling",
        occurred_at=now,
    )
    with (
        running(consumer.run, "consumer"),
        running(dispatcher.run, "dispatcher"),
        publisher(amqp_url) as publish,
    ):
        assert consumer.ready.wait(20), "consumer did not start"
        for event in events.catalogue(phone=None):
            publish(event)
        for i, start in sessions.items():
            publish(events.booked(starts_at=start, appointment_id=i, plan_id=plan_id))
        publish(created)
        smtp_server.sink.wait_for(1)  # the summary
        # As scheduling emits a shortening: each cut session's cancellation, then the plan's event.
        for i in cut:
            publish(
                events.cancelled(
                    starts_at=sessions[i], appointment_id=i, plan_id=plan_id, plan_shortened=True
                )
            )
        publish(shortened)
        _, message = smtp_server.sink.wait_for(2)
        outcomes.wait(lambda o: o.count("applied") == 11)
        wait_until(lambda: all(d.finished for d in deliveries(live_container)), timeout=20)

    assert len(smtp_server.sink.envelopes) == 2
    assert message["Subject"] == "Your treatment plan at Demo IMS Clinic now has 1 session"
    invitation = calendar_of(message)
    assert invitation["METHOD"] == "CANCEL"
    assert [str(e["UID"]) for e in invitation.events] == [f"{i}@ims-clinic" for i in cut]
    assert {e["STATUS"] for e in invitation.events} == {"CANCELLED"}
    assert {e["SEQUENCE"] for e in invitation.events} == {1}
    assert {(d.kind, d.status) for d in deliveries(live_container)} == {
        (DeliveryKind.PLAN_SUMMARY, DeliveryStatus.SENT),
        (DeliveryKind.PLAN_SHORTENED, DeliveryStatus.SENT),
    }
    assert len(deliveries(live_container)) == 2
    with live_container.uow() as uow:
        reminders = {i: uow.repo.deliveries_for_appointment(i) for i in sessions}
    assert [d.status for d in reminders[kept]] == [DeliveryStatus.PENDING]
    assert [d.status for i in cut for d in reminders[i]] == [DeliveryStatus.SKIPPED] * 2


def test_a_password_reset_link_reaches_the_account_once_and_is_then_forgotten(
    live_container: Container,
    amqp_url: str,
    smtp_server: Any,
    outcomes: Any,
    running: Callable[..., Any],
    wait_until: Callable[..., Any],
) -> None:
    dispatcher = Dispatcher.from_container(live_container, poll_interval=0.2)
    outcomes.also = dispatcher.wake
    consumer = build_consumer(live_container, on_processed=outcomes, backoff=Backoff(initial=0.05, cap=0.5))
    token = "cmVhbC1zeXN0ZW0tdGVzdC10b2tlbi1ub3QtYS1zZWNyZXQ"
    now = datetime.now(UTC)
    requested = new_event(
        "scheduling.password_reset.requested",
        {
            "account_id": uuid.uuid4(),
            "patient_id": None,  # a staff account: no contact copy here, nothing else to wait for
            "email": "desk@clinic.test",
            "language": "fr",
            "first_name": None,
            "token": token,
            "expires_at": now + timedelta(minutes=30),
        },
        producer="scheduling",
        occurred_at=now,
    )
    with (
        running(consumer.run, "consumer"),
        running(dispatcher.run, "dispatcher"),
        publisher(amqp_url) as publish,
    ):
        assert consumer.ready.wait(20), "consumer did not start"
        publish(requested)
        publish(requested)  # redelivered: the inbox makes it a duplicate
        (message,) = smtp_server.sink.wait_for(1)
        outcomes.wait(lambda o: o.count("duplicate") == 1)

        def finished() -> list[Delivery]:
            with live_container.uow() as uow:
                found = uow.session.scalars(
                    select(Delivery).where(Delivery.kind == DeliveryKind.PASSWORD_RESET)
                )
                return [d for d in found if d.finished]

        (delivery,) = wait_until(finished, timeout=20)
    assert message["To"] == "desk@clinic.test"
    assert message["Subject"] == "Réinitialisation de votre mot de passe"
    assert message["Reply-To"] is None
    text = message.get_body(preferencelist=("plain",))
    assert text is not None
    assert f"http://127.0.0.1:8000/reset-password/{token}" in text.get_content()
    assert "valable 30 minutes et ne peut servir qu\u2019une fois" in text.get_content()
    assert list(message.iter_attachments()) == []
    assert len(smtp_server.sink.envelopes) == 1
    assert delivery.status is DeliveryStatus.SENT
    assert delivery.payload is not None
    assert delivery.payload["token"] == "redacted"
    assert message["Message-ID"] == delivery.message_id
    with live_container.engine.connect() as conn:
        stored = [
            repr(tuple(row)) for table in orm.metadata.sorted_tables for row in conn.execute(select(table))
        ]
    assert any("desk@clinic.test" in row for row in stored), "the check sees the delivery's rows"
    assert not any(token in row for row in stored), "the token is stored nowhere once the e-mail went"
