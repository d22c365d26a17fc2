"""The relay, consumer and worker against the real local PostgreSQL and RabbitMQ (one vhost per test).

Two tests stop and restart the shared broker (``rabbitmqctl stop_app``/``start_app``); they always restart
it and wait until it accepts connections again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pika
import pytest
from reliable_messaging_support import (
    CONSUMER,
    EVENT_TYPE,
    EXCHANGE,
    FAST_BACKOFF,
    INBOX,
    METADATA,
    OUTBOX,
    PRODUCER,
    START,
    SUBSCRIPTION,
    ManualClock,
    Outcomes,
    TestUnitOfWork,
    add_to_outbox,
    blocking_channel,
    clinic_changed,
    drain_queue,
    effect_counts,
    make_consumer,
    publish_raw,
    record_effect,
    running,
    wait_until,
)
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError

from clinic_shared.db import make_engine, make_session_factory
from clinic_shared.events import Envelope, new_event
from clinic_shared.events.envelope import dump_event, envelope_to_dict
from clinic_shared.messaging.connection import Backoff, vhost_of
from clinic_shared.messaging.relay import OutboxRelay
from clinic_shared.messaging.topology import declare_consumer, declare_exchange
from clinic_shared.testing.rabbit import rabbitmqctl, set_policies
from clinic_shared.uow import current_correlation_id

pytestmark = pytest.mark.integration

CRASH_WORKER = Path(__file__).with_name("reliable_messaging_crash_worker.py")
AUDIT_QUEUE = "audit"


@pytest.fixture(params=["postgresql", "sqlite"])
def any_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = (
        request.getfixturevalue("pg_url")
        if request.param == "postgresql"
        else f"sqlite:///{tmp_path}/db.sqlite"
    )
    engine = make_engine(url)
    METADATA.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


def make_relay(engine: Engine, amqp_url: str, clock: ManualClock, **kwargs: Any) -> OutboxRelay:
    kwargs.setdefault("backoff", Backoff(**FAST_BACKOFF))
    return OutboxRelay(make_session_factory(engine), OUTBOX, amqp_url, clock=clock, **kwargs)


def bind_audit_queue(amqp_url: str, arguments: dict[str, Any] | None = None) -> None:
    with blocking_channel(amqp_url) as channel:
        declare_exchange(channel, EXCHANGE)
        channel.queue_declare(AUDIT_QUEUE, durable=True, arguments=arguments or {"x-queue-type": "quorum"})
        channel.queue_bind(AUDIT_QUEUE, EXCHANGE, "#")


def outbox_rows(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(OUTBOX).order_by(OUTBOX.c.position)))


def ready_count(amqp_url: str, queue: str) -> int:
    with blocking_channel(amqp_url) as channel:
        return channel.queue_declare(queue, passive=True).method.message_count


def wait_for_broker(amqp_url: str, timeout: float = 90) -> None:
    def accepts() -> bool:
        try:
            connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        except pika.exceptions.AMQPError:
            return False
        connection.close()
        return True

    wait_until(accepts, timeout=timeout, interval=0.2)


# --- relay ------------------------------------------------------------------------------------------------


def test_relay_publishes_every_row_in_order_and_marks_it_sent(
    engine: Engine, amqp_url: str, clock: ManualClock
) -> None:
    bind_audit_queue(amqp_url)
    events = [clinic_changed(clock, i) for i in range(2000)]
    add_to_outbox(engine, events)
    relay = make_relay(engine, amqp_url, clock, batch_size=300)

    try:
        assert relay.publish_pending() == 2000
    finally:
        relay.close()

    rows = outbox_rows(engine)
    assert all(row.sent_at == clock.now() and row.attempts == 0 for row in rows)
    received = drain_queue(amqp_url, AUDIT_QUEUE, 2000)
    assert [props.message_id for props, _ in received] == [str(e.id) for e in events]
    props, body = received[0]
    assert (props.delivery_mode, props.content_type, props.type) == (2, "application/json", EVENT_TYPE)
    assert body == dump_event(events[0])


def test_relay_marks_only_acked_rows_sent_and_retries_nacked_ones(
    engine: Engine, amqp_url: str, clock: ManualClock
) -> None:
    # A full reject-publish queue makes the broker nack: those rows must not be marked sent.
    bind_audit_queue(
        amqp_url, {"x-queue-type": "classic", "x-max-length": 10, "x-overflow": "reject-publish"}
    )
    events = [clinic_changed(clock, i) for i in range(15)]
    add_to_outbox(engine, events)
    relay = make_relay(engine, amqp_url, clock, batch_size=4)
    try:
        assert relay.publish_pending() == 10
        rows = outbox_rows(engine)
        assert [row.sent_at is not None for row in rows] == [True] * 10 + [False] * 5
        assert all(row.attempts == 1 and row.last_error == "nacked by the broker" for row in rows[10:])
        assert all(row.next_attempt_at > clock.now() for row in rows[10:])
        assert relay.publish_pending() == 0, "a refused row waits for its backoff"

        assert len(drain_queue(amqp_url, AUDIT_QUEUE, 10)) == 10
        clock.advance(minutes=5)
        assert relay.publish_pending() == 5
    finally:
        relay.close()
    assert all(row.sent_at is not None for row in outbox_rows(engine))
    received = drain_queue(amqp_url, AUDIT_QUEUE, 5)
    assert [p.message_id for p, _ in received] == [str(e.id) for e in events[10:]]


def test_relay_empties_the_stored_body_of_a_secret_carrying_event_once_the_broker_has_it(
    any_engine: Engine, amqp_url: str, clock: ManualClock
) -> None:
    bind_audit_queue(amqp_url)
    reset = new_event(
        "scheduling.password_reset.requested",
        {
            "account_id": uuid.uuid4(),
            "patient_id": None,
            "email": "staff@example.com",
            "language": "en",
            "first_name": None,
            "token": "t" * 43,
            "expires_at": clock.now(),
        },
        producer=PRODUCER,
        occurred_at=clock.now(),
    )
    events = [clinic_changed(clock, 0), reset, clinic_changed(clock, 1)]
    add_to_outbox(any_engine, events)
    relay = make_relay(any_engine, amqp_url, clock)
    try:
        assert relay.publish_pending() == 3
    finally:
        relay.close()

    rows = outbox_rows(any_engine)
    assert all(row.sent_at is not None for row in rows)
    assert [row.body for row in rows] == [dump_event(events[0]), b"", dump_event(events[2])]
    assert (rows[1].event_id, rows[1].routing_key) == (reset.id, reset.type)
    received = drain_queue(amqp_url, AUDIT_QUEUE, 3)
    assert received[1][1] == dump_event(reset), "what was published is the whole event"


def test_relay_keeps_unroutable_rows_pending_until_a_queue_is_bound(
    engine: Engine, amqp_url: str, clock: ManualClock
) -> None:
    events = [clinic_changed(clock, i) for i in range(5)]
    add_to_outbox(engine, events)
    relay = make_relay(engine, amqp_url, clock, exchanges=[EXCHANGE])
    try:
        assert relay.publish_pending() == 0
        rows = outbox_rows(engine)
        assert all(row.sent_at is None and row.attempts == 1 for row in rows)
        assert all(row.last_error.startswith("unroutable: 312 NO_ROUTE") for row in rows)

        bind_audit_queue(amqp_url)
        clock.advance(minutes=5)
        assert relay.publish_pending() == 5
    finally:
        relay.close()
    assert all(row.sent_at is not None for row in outbox_rows(engine))
    assert [p.message_id for p, _ in drain_queue(amqp_url, AUDIT_QUEUE, 5)] == [str(e.id) for e in events]


def test_relay_publishes_from_a_sqlite_outbox(tmp_path: Path, amqp_url: str, clock: ManualClock) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/outbox.sqlite")
    METADATA.create_all(engine)
    bind_audit_queue(amqp_url)
    events = [clinic_changed(clock, i) for i in range(300)]
    add_to_outbox(engine, events)
    relay = make_relay(engine, amqp_url, clock, batch_size=40)
    try:
        assert relay.publish_pending() == 300
    finally:
        relay.close()
    assert all(row.sent_at is not None for row in outbox_rows(engine))
    engine.dispose()
    received = drain_queue(amqp_url, AUDIT_QUEUE, 300)
    assert [p.message_id for p, _ in received] == [str(e.id) for e in events]


@pytest.mark.disruptive
def test_relay_and_consumer_survive_a_broker_restart_without_losing_events(
    engine: Engine, amqp_url: str, clock: ManualClock
) -> None:
    consumer = make_consumer(engine, amqp_url, clock)
    relay = make_relay(engine, amqp_url, clock, poll_interval=0.05, batch_size=100)
    events = [clinic_changed(clock, i) for i in range(700)]
    with running(consumer.run, "consumer"), running(relay.run, "relay"):
        wait_until(consumer.ready.is_set)
        add_to_outbox(engine, events[:100])
        wait_until(lambda: len(effect_counts(engine)) == 100)

        add_to_outbox(engine, events[100:600])  # some of these are in flight when the broker stops
        try:
            rabbitmqctl("stop_app")
            add_to_outbox(engine, events[600:])
            wait_until(lambda: not consumer.ready.is_set(), timeout=10)
        finally:
            rabbitmqctl("start_app")
            wait_for_broker(amqp_url)

        wait_until(lambda: len(effect_counts(engine)) == len(events), timeout=60)
        wait_until(lambda: all(row.sent_at is not None for row in outbox_rows(engine)), timeout=30)

    counts = effect_counts(engine)
    assert set(counts) == {e.id for e in events}
    assert set(counts.values()) == {1}, "every event applied exactly once"


# --- consumer ---------------------------------------------------------------------------------------------


def test_consumer_applies_an_event_delivered_twice_only_once(
    any_engine: Engine, amqp_url: str, clock: ManualClock
) -> None:
    correlations: list[uuid.UUID | None] = []

    def handler(uow: Any, envelope: Envelope) -> None:
        correlations.append(current_correlation_id.get())
        record_effect(uow, envelope)

    outcomes = Outcomes()
    consumer = make_consumer(any_engine, amqp_url, clock, {EVENT_TYPE: handler}, on_processed=outcomes)
    event = clinic_changed(clock)
    with running(consumer.run, "consumer"):
        wait_until(consumer.ready.is_set)
        publish_raw(amqp_url, [(dump_event(event), str(event.id))] * 2)
        outcomes.wait(lambda o: len(o.items) == 2)

    assert [o for _, o in outcomes.items] == ["applied", "duplicate"]
    assert correlations == [event.correlation_id], "the handler ran once, under the event's correlation id"
    assert effect_counts(any_engine) == {event.id: 1}
    with any_engine.connect() as conn:
        inbox = conn.execute(select(INBOX)).one()
    assert (inbox.consumer, inbox.event_id, inbox.event_type) == (CONSUMER, event.id, EVENT_TYPE)


def test_consumer_dead_letters_malformed_messages_and_keeps_consuming(
    engine: Engine, amqp_url: str, clock: ManualClock
) -> None:
    outcomes = Outcomes()
    consumer = make_consumer(engine, amqp_url, clock, on_processed=outcomes)
    wrong_schema = envelope_to_dict(clinic_changed(clock, 99))
    del wrong_schema["data"]["email"]
    unhandled = envelope_to_dict(clinic_changed(clock, 98)) | {"type": "scheduling.clinic.renamed"}
    bad = [b"{not json", json.dumps(wrong_schema).encode()]
    good = [clinic_changed(clock, i) for i in range(3)]
    with running(consumer.run, "consumer"):
        wait_until(consumer.ready.is_set)
        publish_raw(amqp_url, [(body, None) for body in bad])
        publish_raw(
            amqp_url, [(json.dumps(unhandled).encode(), None)], routing_key="scheduling.clinic.renamed"
        )
        publish_raw(amqp_url, [(dump_event(e), str(e.id)) for e in good])
        outcomes.wait(lambda o: len(o.items) == 6)

    assert outcomes.count("dead-lettered") == 2
    assert outcomes.count("ignored") == 1
    assert {e.id for e in outcomes.of("applied") if e} == {e.id for e in good}
    assert set(effect_counts(engine)) == {e.id for e in good}
    dead = drain_queue(amqp_url, SUBSCRIPTION.dead_letter_queue, 2)
    assert [body for _, body in dead] == bad
    assert [props.headers["x-death"][0]["reason"] for props, _ in dead] == ["rejected", "rejected"]


def test_consumer_dead_letters_a_message_that_keeps_failing_after_the_delivery_limit(
    engine: Engine, amqp_url: str, clock: ManualClock
) -> None:
    delivery_limit = 2
    set_policies(vhost_of(amqp_url), delivery_limit=delivery_limit)
    poison = clinic_changed(clock, 7)
    good = [clinic_changed(clock, i) for i in range(3)]
    attempts: list[uuid.UUID] = []

    def handler(uow: Any, envelope: Envelope) -> None:
        if envelope.id == poison.id:
            attempts.append(envelope.id)
            raise RuntimeError("downstream is broken")
        record_effect(uow, envelope)

    outcomes = Outcomes()
    consumer = make_consumer(
        engine, amqp_url, clock, {EVENT_TYPE: handler}, delivery_limit=delivery_limit, on_processed=outcomes
    )
    with running(consumer.run, "consumer"):
        wait_until(consumer.ready.is_set)
        publish_raw(amqp_url, [(dump_event(e), str(e.id)) for e in [poison, *good]])
        outcomes.wait(lambda o: o.count("applied") == 3 and o.count("retry") == delivery_limit + 1)
        dead = drain_queue(amqp_url, SUBSCRIPTION.dead_letter_queue, 1)

    assert len(attempts) == delivery_limit + 1
    assert [props.message_id for props, _ in dead] == [str(poison.id)]
    assert dead[0][0].headers["x-death"][0]["reason"] == "delivery_limit"
    assert set(effect_counts(engine)) == {e.id for e in good}
    assert ready_count(amqp_url, SUBSCRIPTION.queue) == 0


def test_consumer_keeps_its_connection_through_a_handler_longer_than_two_heartbeats(
    engine: Engine, amqp_url: str, clock: ManualClock
) -> None:
    heartbeat = 2

    def slow_handler(uow: Any, envelope: Envelope) -> None:
        # Checked on this broker: blocking the connection thread this long with heartbeat=2 gets the
        # connection reset (about 2.5x was still tolerated).
        time.sleep(heartbeat * 4)
        record_effect(uow, envelope)

    outcomes = Outcomes()
    consumer = make_consumer(
        engine, amqp_url, clock, {EVENT_TYPE: slow_handler}, heartbeat=heartbeat, on_processed=outcomes
    )
    event = clinic_changed(clock)
    with running(consumer.run, "consumer"):
        wait_until(consumer.ready.is_set)
        publish_raw(amqp_url, [(dump_event(event), str(event.id))])
        outcomes.wait(lambda o: len(o.items) == 1, timeout=30)

    # "applied" is only reported once the ack went out on the original channel.
    assert [o for _, o in outcomes.items] == ["applied"]
    assert effect_counts(engine) == {event.id: 1}
    assert ready_count(amqp_url, SUBSCRIPTION.queue) == 0


def test_consumer_holds_a_message_while_the_database_is_unreachable(
    engine: Engine, amqp_url: str, clock: ManualClock
) -> None:
    outages = iter([True, True])

    def uow_factory() -> TestUnitOfWork:
        if next(outages, False):
            raise OperationalError("BEGIN", {}, ConnectionRefusedError("the database is restarting"))
        return TestUnitOfWork(engine, clock)

    outcomes = Outcomes()
    consumer = make_consumer(engine, amqp_url, clock, uow_factory=uow_factory, on_processed=outcomes)
    event = clinic_changed(clock)
    with running(consumer.run, "consumer"):
        wait_until(consumer.ready.is_set)
        publish_raw(amqp_url, [(dump_event(event), str(event.id))])
        outcomes.wait(lambda o: len(o.items) == 1)

    assert [o for _, o in outcomes.items] == ["applied"], "held, never requeued"
    assert effect_counts(engine) == {event.id: 1}


# --- crashes and signals ----------------------------------------------------------------------------------


def spawn_worker(pg_url: str, amqp_url: str, marker: Path, mode: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, str(CRASH_WORKER), pg_url, amqp_url, str(marker), mode],
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@pytest.mark.parametrize("mode", ["before-commit", "after-commit"])
def test_an_event_whose_worker_is_killed_mid_handling_is_applied_exactly_once(
    mode: str, engine: Engine, pg_url: str, amqp_url: str, clock: ManualClock, tmp_path: Path
) -> None:
    with blocking_channel(amqp_url) as channel:
        declare_consumer(channel, SUBSCRIPTION)
    event = clinic_changed(clock)
    publish_raw(amqp_url, [(dump_event(event), str(event.id))])
    marker, log = tmp_path / "handling", tmp_path / "worker.log"

    worker = spawn_worker(pg_url, amqp_url, marker, mode, log)
    try:
        wait_until(marker.exists, timeout=30)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    assert worker.returncode == -signal.SIGKILL, log.read_text()
    assert effect_counts(engine) == ({} if mode == "before-commit" else {event.id: 1})

    outcomes = Outcomes()
    consumer = make_consumer(engine, amqp_url, clock, on_processed=outcomes)
    with running(consumer.run, "consumer"):
        outcomes.wait(lambda o: len(o.items) == 1)
    assert [o for _, o in outcomes.items] == ["applied" if mode == "before-commit" else "duplicate"]
    assert effect_counts(engine) == {event.id: 1}
    assert ready_count(amqp_url, SUBSCRIPTION.queue) == 0


def test_worker_process_relays_and_consumes_until_sigterm(
    engine: Engine, pg_url: str, amqp_url: str, clock: ManualClock, tmp_path: Path
) -> None:
    marker, log = tmp_path / "ready", tmp_path / "worker.log"
    worker = spawn_worker(pg_url, amqp_url, marker, "serve", log)
    try:
        wait_until(marker.exists, timeout=30)
        events = [clinic_changed(clock, i) for i in range(20)]
        add_to_outbox(engine, events)
        wait_until(lambda: len(effect_counts(engine)) == 20)
        os.kill(worker.pid, signal.SIGTERM)
        assert worker.wait(timeout=20) == 0, log.read_text()
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert set(effect_counts(engine).values()) == {1}
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).where(OUTBOX.c.sent_at.is_(None))).scalar_one() == 0
