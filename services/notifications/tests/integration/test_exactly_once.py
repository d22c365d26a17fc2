"""Exactly-once, measured against real RabbitMQ, PostgreSQL, an SMTP server (aiosmtpd) and the SMS provider
stand-in, with the worker as a real subprocess: the same event delivered three times sends one message; a
worker SIGKILLed after claiming, mid-send, sends exactly once after restart; a cancelled appointment's
reminder is never sent (while the reminder of one left alone is)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pika
import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import func, select

from clinic_shared.events import Envelope, dump_event
from clinic_shared.testing.reporting import say
from clinic_shared.testing.tokens import TestIssuer
from notifications.adapters import orm
from notifications.bootstrap import Container, bootstrap
from notifications.config import NotificationsSettings
from notifications.domain.channels import Channel
from notifications.domain.deliveries import Delivery, DeliveryStatus
from notifications.domain.kinds import DeliveryKind
from notifications.entrypoints.cli import OPERATOR
from notifications.service_layer import reminder_policies

pytestmark = pytest.mark.integration

EXCHANGE = "scheduling.events"
BIN = Path(sys.executable).parent
MESSAGES = "/2010-04-01/Accounts/AC0123/Messages.json"


@contextmanager
def publisher(amqp_url: str) -> Iterator[Callable[[Envelope], None]]:
    """Publish as scheduling's relay does: confirmed, persistent, mandatory, routed by type."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()

        def publish(event: Envelope) -> None:
            channel.basic_publish(
                EXCHANGE,
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


class Worker:
    """``notifications worker`` as a subprocess (started, SIGKILLed, restarted by the test)."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(BIN / "notifications"), "worker"], env=self.env, stdout=out, stderr=out
            )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
            self.process = None


@pytest.fixture
def provider(httpserver: HTTPServer) -> HTTPServer:
    httpserver.expect_request(MESSAGES, method="POST").respond_with_json(
        {"sid": "SM0001", "status": "queued"}, status=201
    )
    return httpserver


@pytest.fixture
def system(
    pg_url: str,
    amqp_url: str,
    smtp_server: Any,
    provider: HTTPServer,
    tmp_path: Path,
    make_settings: Callable[..., NotificationsSettings],
    issuer: TestIssuer,
) -> Iterator[tuple[Worker, Container]]:
    """A worker subprocess wired to PostgreSQL, a private vhost, aiosmtpd and the provider; and a container
    on the same database for the test to look with."""
    env = dict(os.environ) | {
        "VAR_DIR": str(tmp_path / "var"),
        "NOTIFICATIONS_DATABASE_URL": pg_url,
        "AMQP_URL": amqp_url,
        "SMTP_URL": smtp_server.url(),
        "SMTP_TIMEOUT": "5",
        "SMS_PROVIDER_URL": f"http://AC0123:s3cret@{provider.host}:{provider.port}",
        "SMS_FROM": "+16045550000",
        "NOTIFICATIONS_DEBOUNCE_SECONDS": "0",
        "NOTIFICATIONS_STALE_AFTER_SECONDS": "2",
        "JWKS_URL": "http://127.0.0.1:9/jwks.json",
        "LOG_LEVEL": "WARNING",
    }
    setup = subprocess.run(
        [str(BIN / "notifications"), "setup-broker"], env=env, capture_output=True, timeout=60, check=False
    )
    assert setup.returncode == 0, setup.stderr[-2000:]
    worker = Worker(env, tmp_path / "worker.log")
    container = bootstrap(make_settings(pg_url), verifier=issuer.verifier())
    try:
        yield worker, container
    finally:
        worker.stop()
        container.engine.dispose()


def deliveries(container: Container, kind: DeliveryKind | None = None) -> list[Delivery]:
    with container.uow() as uow:
        query = select(Delivery)
        if kind is not None:
            query = query.where(Delivery.kind == kind)
        return list(uow.session.scalars(query))


def inbox_count(container: Container) -> int:
    """Distinct events consumed: 4 catalogue events and 2 booking event ids (redeliveries are duplicates)."""
    with container.uow() as uow:
        return uow.session.execute(select(func.count()).select_from(orm.inbox)).scalar_one()


def soon() -> datetime:
    return (datetime.now(UTC) + timedelta(days=7)).replace(microsecond=0)


def test_the_same_booking_delivered_three_times_sends_one_message_per_channel(
    system: tuple[Worker, Container],
    amqp_url: str,
    smtp_server: Any,
    provider: HTTPServer,
    events: Any,
    wait_until: Callable[..., Any],
) -> None:
    worker, container = system
    worker.start()
    booked = events.booked(starts_at=soon())
    with publisher(amqp_url) as publish:
        for event in events.catalogue():
            publish(event)
        for _ in range(3):
            publish(booked)
        publish(events.booked(starts_at=booked.data["starts_at"]))  # same facts, new event id
    smtp_server.sink.wait_for(1)
    immediate = lambda: deliveries(container, DeliveryKind.BOOKING_CONFIRMATION)  # noqa: E731
    wait_until(lambda: len(immediate()) == 2 and all(d.finished for d in immediate()), timeout=30)
    # Every copy was consumed (the inbox saw all six distinct event ids) before anything is counted.
    wait_until(lambda: inbox_count(container) == 6, timeout=30)
    emails, sms = len(smtp_server.sink.envelopes), len(provider.log)
    say(f"\nsame booking published 4 times (3 redeliveries + 1 re-emission): e-mails={emails} sms={sms}")
    assert (emails, sms) == (1, 1)
    assert deliveries(container, DeliveryKind.BOOKING_CONFIRMATION)[0].attempts == 1


def test_a_worker_killed_after_claiming_mid_send_sends_exactly_once_after_restart(
    system: tuple[Worker, Container],
    amqp_url: str,
    smtp_server: Any,
    events: Any,
    wait_until: Callable[..., Any],
) -> None:
    worker, container = system
    release = smtp_server.sink.hold_first = threading.Event()
    worker.start()
    with publisher(amqp_url) as publish:
        for event in events.catalogue(phone=None):
            publish(event)
        publish(events.booked(starts_at=soon()))
    assert smtp_server.sink.held.wait(30), "the worker never started sending"
    (claimed,) = deliveries(container, DeliveryKind.BOOKING_CONFIRMATION)
    assert (claimed.status, claimed.attempts) == (DeliveryStatus.SENDING, 1)
    worker.kill()
    release.set()
    assert smtp_server.sink.envelopes == []

    worker.start()
    smtp_server.sink.wait_for(1, timeout=30)
    wait_until(lambda: deliveries(container, DeliveryKind.BOOKING_CONFIRMATION)[0].finished, timeout=30)
    (sent,) = deliveries(container, DeliveryKind.BOOKING_CONFIRMATION)
    with container.uow() as uow:
        log = [(a.number, a.outcome.value) for a in uow.repo.attempts_of([sent.id])]
    emails = len(smtp_server.sink.envelopes)
    say(f"\nworker SIGKILLed mid-send, restarted: e-mails delivered={emails}, attempts={log}")
    assert emails == 1
    assert (sent.status, sent.attempts) == (DeliveryStatus.SENT, 2)
    assert log == [(1, "interrupted"), (2, "sent")]
    (message,) = smtp_server.sink.messages
    assert message["Message-ID"] == sent.message_id


def test_the_reminder_of_a_cancelled_appointment_is_never_sent(
    system: tuple[Worker, Container],
    amqp_url: str,
    smtp_server: Any,
    events: Any,
    wait_until: Callable[..., Any],
) -> None:
    worker, container = system
    with container.uow() as uow:  # e-mail reminders one hour ahead, so they fall due within seconds
        reminder_policies.change_reminder_policy(
            uow, OPERATOR, reminder_policies.ChangeReminderPolicy(events.clinic_id, 1, None, True, None, None)
        )
        uow.commit()
    kept, cancelled = uuid.uuid4(), uuid.uuid4()
    worker.start()
    with publisher(amqp_url) as publish:
        for event in events.catalogue(phone=None):
            publish(event)
        # The reminders fall due seconds after the bookings: counted from when the worker consumes, not
        # from when it was started (which takes seconds more on a busy machine, and a booking heard of
        # after its reminder's time gets none).
        wait_until(lambda: inbox_count(container) == 4, timeout=30)
        starts_at = (datetime.now(UTC) + timedelta(hours=1, seconds=4)).replace(microsecond=0)
        publish(events.booked(starts_at=starts_at, appointment_id=kept))
        publish(events.booked(starts_at=starts_at, appointment_id=cancelled))
        publish(events.cancelled(starts_at=starts_at, appointment_id=cancelled))
    reminders = lambda: {d.appointment_id: d for d in deliveries(container, DeliveryKind.REMINDER)}  # noqa: E731
    wait_until(lambda: len(reminders()) == 2 and all(d.finished for d in reminders().values()), timeout=30)
    # Confirmation and reminder of the kept one; the other was cancelled before the patient heard of it.
    smtp_server.sink.wait_for(2)
    sent_reminders = [m for m in smtp_server.sink.messages if m["Subject"].startswith("Reminder of")]
    by_appointment = reminders()
    say(
        f"\nreminders: kept appointment {by_appointment[kept].status}, "
        f"cancelled appointment {by_appointment[cancelled].status} ({by_appointment[cancelled].last_error}); "
        f"e-mails={len(smtp_server.sink.envelopes)}"
    )
    assert by_appointment[kept].status is DeliveryStatus.SENT
    assert by_appointment[cancelled].status is DeliveryStatus.SKIPPED
    assert by_appointment[cancelled].attempts == 0
    assert len(sent_reminders) == 1
    assert sent_reminders[0]["Message-ID"] == by_appointment[kept].message_id
    assert {d.channel for d in by_appointment.values()} == {Channel.EMAIL}
