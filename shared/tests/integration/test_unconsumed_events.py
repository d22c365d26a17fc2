"""Events nobody consumes are archived and marked sent; a consumed event that cannot be routed stays an error
and a row stuck for long is reported. Against the real local PostgreSQL and RabbitMQ (one vhost per test)."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from reliable_messaging_support import (
    EXCHANGE,
    FAST_BACKOFF,
    OUTBOX,
    PRODUCER,
    START,
    ManualClock,
    add_to_outbox,
    blocking_channel,
    clinic_changed,
    drain_queue,
    running,
    wait_until,
)
from sqlalchemy import Engine, select

from clinic_shared.db import make_session_factory
from clinic_shared.events import Envelope, new_event
from clinic_shared.messaging import status
from clinic_shared.messaging.connection import Backoff
from clinic_shared.messaging.relay import OutboxRelay
from clinic_shared.messaging.subscriptions import CONSUMED
from clinic_shared.messaging.topology import Subscription, archive_queue_for, setup_broker

pytestmark = pytest.mark.integration

ARRIVED = "scheduling.appointment.arrived"
OPTED_OUT = "notifications.contact.opted_out"
ARCHIVE = archive_queue_for(EXCHANGE)
BILLING = Subscription("billing", {EXCHANGE: sorted(CONSUMED["billing"])})


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


def make_relay(engine: Engine, amqp_url: str, clock: ManualClock, **kwargs: Any) -> OutboxRelay:
    kwargs.setdefault("backoff", Backoff(**FAST_BACKOFF))
    return OutboxRelay(make_session_factory(engine), OUTBOX, amqp_url, clock=clock, **kwargs)


def arrived(clock: ManualClock, n: int = 0) -> Envelope:
    ids = {
        f"{name}_id": uuid.UUID(int=n * 10 + i)
        for i, name in enumerate(("appointment", "clinic", "practitioner", "patient", "treatment_type"))
    }
    return new_event(
        ARRIVED,
        {
            **ids,
            "kind": "treatment",
            "starts_at": clock.now(),
            "ends_at": clock.now() + timedelta(minutes=30),
            "sequence": 1,
            "arrived_at": clock.now(),
        },
        producer=PRODUCER,
        occurred_at=clock.now(),
    )


def opted_out(clock: ManualClock) -> Envelope:
    return new_event(
        OPTED_OUT,
        {"patient_id": uuid.uuid4(), "channel": "sms", "opted_out_at": clock.now()},
        producer="notifications",
        occurred_at=clock.now(),
    )


def outbox_rows(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(OUTBOX).order_by(OUTBOX.c.position)))


def queue_depth(amqp_url: str, queue: str) -> int:
    with blocking_channel(amqp_url) as channel:
        return int(channel.queue_declare(queue, passive=True).method.message_count)


def test_running_relay_marks_an_event_nobody_consumes_sent_and_archives_it(
    engine: Engine, amqp_url: str, clock: ManualClock
) -> None:
    setup_broker(amqp_url, producer=PRODUCER, subscription=None)
    events = [arrived(clock, i) for i in range(3)]
    add_to_outbox(engine, events)
    relay = make_relay(engine, amqp_url, clock, poll_interval=0.05)

    with running(relay.run, "relay"):
        wait_until(lambda: all(row.sent_at is not None for row in outbox_rows(engine)), timeout=10)

    rows = outbox_rows(engine)
    assert all(row.attempts == 0 and row.last_error is None for row in rows), "never refused"
    archived = drain_queue(amqp_url, ARCHIVE, 3)
    assert [props.message_id for props, _ in archived] == [str(e.id) for e in events]
    assert all(props.type == ARRIVED for props, _ in archived)


def test_archive_keeps_only_the_latest_events_up_to_its_bound(
    engine: Engine, amqp_url: str, clock: ManualClock
) -> None:
    setup_broker(amqp_url, producer=PRODUCER, subscription=None, archive_max_length=5)
    events = [arrived(clock, i) for i in range(12)]
    add_to_outbox(engine, events)
    relay = make_relay(engine, amqp_url, clock, batch_size=4)
    try:
        assert relay.publish_pending() == 12
    finally:
        relay.close()

    assert queue_depth(amqp_url, ARCHIVE) == 5
    archived = drain_queue(amqp_url, ARCHIVE, 5)
    assert [props.message_id for props, _ in archived] == [str(e.id) for e in events[-5:]]


def test_a_consumed_event_reaches_its_consumer_and_not_the_archive(
    engine: Engine, amqp_url: str, clock: ManualClock
) -> None:
    setup_broker(amqp_url, producer=PRODUCER, subscription=None)
    setup_broker(amqp_url, producer="billing", subscription=BILLING)
    changed, visit = clinic_changed(clock, 0), arrived(clock, 1)
    add_to_outbox(engine, [changed, visit])
    relay = make_relay(engine, amqp_url, clock)
    try:
        assert relay.publish_pending() == 2
    finally:
        relay.close()

    assert [p.message_id for p, _ in drain_queue(amqp_url, "billing", 1)] == [str(changed.id)]
    assert [p.message_id for p, _ in drain_queue(amqp_url, ARCHIVE, 1)] == [str(visit.id)]
    assert queue_depth(amqp_url, "billing") == queue_depth(amqp_url, ARCHIVE) == 0


def test_relay_marks_unconsumed_events_sent_even_before_their_archive_is_declared(
    engine: Engine, amqp_url: str, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    events = [arrived(clock, 0), opted_out(clock), arrived(clock, 1)]
    add_to_outbox(engine, events)
    relay = make_relay(engine, amqp_url, clock, exchanges=[EXCHANGE])
    with caplog.at_level(logging.WARNING, logger="clinic_shared.messaging.relay"):
        try:
            assert relay.publish_pending() == 3
        finally:
            relay.close()

    assert all(row.sent_at is not None and row.attempts == 0 for row in outbox_rows(engine))
    warnings = [r.getMessage() for r in caplog.records if "run setup-broker" in r.getMessage()]
    assert len(warnings) == 2, "one warning per type and connection"
    assert any(ARRIVED in w for w in warnings)
    assert any(OPTED_OUT in w for w in warnings)


def test_a_consumed_event_whose_queue_is_missing_stays_pending_and_is_reported_once_stuck(
    engine: Engine, amqp_url: str, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    # The producer's archive exists, but billing's and notifications' queues do not.
    setup_broker(amqp_url, producer=PRODUCER, subscription=None)
    changed = clinic_changed(clock, 0)
    add_to_outbox(engine, [changed])
    relay = make_relay(engine, amqp_url, clock, stuck_after=timedelta(minutes=5))
    try:
        with caplog.at_level(logging.WARNING, logger="clinic_shared.messaging.relay"):
            assert relay.publish_pending() == 0
            assert not [r for r in caplog.records if "undelivered for over" in r.getMessage()]
            (row,) = outbox_rows(engine)
            assert row.sent_at is None
            assert row.attempts == 1
            assert row.last_error.startswith("unroutable: 312 NO_ROUTE")

            clock.advance(minutes=10)
            assert relay.publish_pending() == 0
    finally:
        relay.close()

    assert queue_depth(amqp_url, ARCHIVE) == 0, "a consumed type is never archived"
    (stuck,) = [r.getMessage() for r in caplog.records if "undelivered for over" in r.getMessage()]
    assert f"event_id={changed.id}" in stuck
    assert "type=scheduling.clinic.changed" in stuck
    assert "age=600s" in stuck
    assert "attempts=2" in stuck
    assert changed.data["email"] not in stuck
    assert changed.data["phone"] not in stuck

    with engine.connect() as conn:
        figures = status.outbox_status(conn, OUTBOX, clock.now())
    assert figures.count == 1
    assert figures.oldest_age == timedelta(minutes=10)
    assert [(p.event_type, p.count, p.max_attempts) for p in figures.pending] == [
        ("scheduling.clinic.changed", 1, 2)
    ]
    assert figures.stuck(timedelta(minutes=5))
    assert not figures.stuck(timedelta(minutes=15))


def test_setup_broker_stops_archiving_a_type_once_it_has_a_consumer(
    engine: Engine, amqp_url: str, clock: ManualClock
) -> None:
    # A broker set up when nobody consumed scheduling.clinic.changed has it bound to the archive ...
    setup_broker(amqp_url, producer=PRODUCER, subscription=None, registry={})
    # ... and the next deploy, where billing and notifications consume it, converges without deleting.
    setup_broker(amqp_url, producer=PRODUCER, subscription=None)
    add_to_outbox(engine, [clinic_changed(clock, 0), arrived(clock, 1)])
    relay = make_relay(engine, amqp_url, clock)
    try:
        assert relay.publish_pending() == 1
    finally:
        relay.close()

    changed, visit = outbox_rows(engine)
    assert changed.sent_at is None
    assert changed.last_error.startswith("unroutable: 312 NO_ROUTE")
    assert visit.sent_at is not None
    assert queue_depth(amqp_url, ARCHIVE) == 1


def test_status_command_prints_the_figures_and_fails_when_a_row_is_stuck(
    engine: Engine, pg_url: str, amqp_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    setup_broker(amqp_url, producer=PRODUCER, subscription=None)
    # The command measures age against the wall clock: these rows were written an hour ago.
    clock = ManualClock(datetime.now(UTC) - timedelta(hours=1))
    add_to_outbox(engine, [clinic_changed(clock, 0), clinic_changed(clock, 1), arrived(clock, 2)])

    argv = [PRODUCER, "--database-url", pg_url, "--amqp-url", amqp_url, "--stuck-after", "300"]
    assert status.main(argv) == 1
    out = capsys.readouterr().out
    assert "scheduling outbox: 3 unsent" in out
    assert "scheduling.clinic.changed: 2 unsent" in out
    assert f"{ARRIVED}: 1 unsent" in out
    assert "scheduling archive of unconsumed events: 0 event(s)" in out

    assert status.main([*argv[:-1], "86400"]) == 0, "not stuck under a longer threshold"
    with blocking_channel(amqp_url) as channel:
        channel.queue_delete(ARCHIVE)
    status.main(argv)
    assert "archive of unconsumed events: missing" in capsys.readouterr().out
