"""Messages waiting in the prefetch are applied together, one transaction and one commit for them all, and a
batch never changes what becomes of a message: each is applied once, a failing handler costs only its own
message one delivery, and a batch the database refuses is applied one message at a time. PostgreSQL and the
real local RabbitMQ.

Each test holds the consumer on its first message until the rest are waiting behind it, so they arrive
as one batch.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from reliable_messaging_support import (
    EVENT_TYPE,
    INBOX,
    METADATA,
    START,
    SUBSCRIPTION,
    ManualClock,
    Outcomes,
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
from sqlalchemy import Engine, event, func, select, text

from clinic_shared.db import make_engine
from clinic_shared.events import Envelope
from clinic_shared.events.envelope import dump_event
from clinic_shared.messaging.connection import vhost_of
from clinic_shared.messaging.consumer import Consumer
from clinic_shared.testing.rabbit import set_policies

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    METADATA.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def commits(engine: Engine) -> list[int]:
    """One entry per transaction committed on ``engine``."""
    committed: list[int] = []
    event.listen(engine, "commit", lambda _connection: committed.append(1))
    return committed


class HeldFirst:
    """Calls ``then`` for each event; the first call waits for ``release``, so the rest queue up behind it."""

    def __init__(self, then: Callable[[Any, Envelope], None]) -> None:
        self.then = then
        self.release = threading.Event()
        self.calls: list[uuid.UUID] = []

    def __call__(self, uow: Any, envelope: Envelope) -> None:
        first = not self.calls
        self.calls.append(envelope.id)
        if first:
            assert self.release.wait(20)
        self.then(uow, envelope)


def publish(amqp_url: str, events: list[Envelope]) -> None:
    publish_raw(amqp_url, [(dump_event(e), str(e.id)) for e in events])


def waiting(consumer: Consumer[Any], n: int) -> None:
    """Wait until ``n`` messages wait behind the one in hand (handed over by the connection's thread)."""
    wait_until(lambda: consumer._work.qsize() >= n, what=f"{n} messages waiting")


def inbox_ids(engine: Engine) -> list[uuid.UUID]:
    with engine.connect() as conn:
        return list(conn.execute(select(INBOX.c.event_id)).scalars())


def test_messages_waiting_are_applied_in_one_transaction_each_once(
    engine: Engine, amqp_url: str, commits: list[int]
) -> None:
    clock = ManualClock(START)
    handler = HeldFirst(record_effect)
    outcomes = Outcomes()
    consumer = make_consumer(engine, amqp_url, clock, {EVENT_TYPE: handler}, on_processed=outcomes)
    acked_together: list[set[int]] = []
    ack_together = consumer._ack_together

    def recording_acks(acks: list[Any]) -> set[int]:
        acked_together.append(ack_together(acks))
        return acked_together[-1]

    consumer._ack_together = recording_acks  # type: ignore[method-assign]
    first, *rest = [clinic_changed(clock, n) for n in range(12)]
    with running(consumer.run, "consumer"):
        wait_until(consumer.ready.is_set)
        publish(amqp_url, [first])
        wait_until(lambda: handler.calls, what="the first message in hand")
        publish(amqp_url, [*rest, rest[3]])  # rest[3] twice: a duplicate within the batch
        waiting(consumer, 12)
        handler.release.set()
        outcomes.wait(lambda o: len(o.items) == 13)

    assert outcomes.count("applied") == 12
    assert outcomes.count("duplicate") == 1
    assert effect_counts(engine) == {e.id: 1 for e in [first, *rest]}
    assert sorted(inbox_ids(engine)) == sorted(e.id for e in [first, *rest])
    assert len(commits) < 12, f"{len(commits)} commits for 12 events: the waiting ones were batched"
    assert max(map(len, acked_together)) >= 11, "the batch (duplicate included) was acked in one frame"
    with blocking_channel(amqp_url) as channel:  # none left unacked, so none requeued when it stopped
        assert channel.queue_declare(SUBSCRIPTION.queue, passive=True).method.message_count == 0


def test_a_failing_handler_costs_only_its_own_message_a_delivery(
    engine: Engine, amqp_url: str, commits: list[int]
) -> None:
    delivery_limit = 2
    set_policies(vhost_of(amqp_url), delivery_limit=delivery_limit)
    clock = ManualClock(START)
    events = [clinic_changed(clock, n) for n in range(8)]
    poison = events[4]

    def apply(uow: Any, envelope: Envelope) -> None:
        if envelope.id == poison.id:
            raise RuntimeError("downstream is broken")
        record_effect(uow, envelope)

    handler = HeldFirst(apply)
    outcomes = Outcomes()
    consumer = make_consumer(
        engine, amqp_url, clock, {EVENT_TYPE: handler}, delivery_limit=delivery_limit, on_processed=outcomes
    )
    with running(consumer.run, "consumer"):
        wait_until(consumer.ready.is_set)
        publish(amqp_url, events[:1])
        wait_until(lambda: handler.calls, what="the first message in hand")
        publish(amqp_url, events[1:])
        waiting(consumer, len(events) - 1)
        handler.release.set()
        outcomes.wait(lambda o: o.count("applied") == 7 and o.count("retry") == delivery_limit + 1)
        dead = drain_queue(amqp_url, SUBSCRIPTION.dead_letter_queue, 1)

    assert handler.calls.count(poison.id) == delivery_limit + 1, "one try per delivery, batch or not"
    assert [props.message_id for props, _ in dead] == [str(poison.id)]
    assert effect_counts(engine) == {e.id: 1 for e in events if e is not poison}
    assert poison.id not in inbox_ids(engine)


def test_a_batch_the_database_refuses_is_applied_one_message_at_a_time(
    engine: Engine, amqp_url: str, commits: list[int]
) -> None:
    clock = ManualClock(START)
    events = [clinic_changed(clock, n) for n in range(6)]
    refused = events[3]
    tries: list[uuid.UUID] = []

    def apply(uow: Any, envelope: Envelope) -> None:
        if envelope.id == refused.id and refused.id not in tries:
            tries.append(envelope.id)
            uow.session.execute(text("SELECT 1 / 0"))  # the database refuses the batch's transaction
        record_effect(uow, envelope)

    handler = HeldFirst(apply)
    outcomes = Outcomes()
    consumer = make_consumer(engine, amqp_url, clock, {EVENT_TYPE: handler}, on_processed=outcomes)
    with running(consumer.run, "consumer"):
        wait_until(consumer.ready.is_set)
        publish(amqp_url, events[:1])
        wait_until(lambda: handler.calls, what="the first message in hand")
        publish(amqp_url, events[1:])
        waiting(consumer, len(events) - 1)
        handler.release.set()
        outcomes.wait(lambda o: len(o.items) == 6)

    assert [o for _, o in outcomes.items] == ["applied"] * 6, "the refusal cost no message a delivery"
    assert handler.calls.count(events[1].id) == 2, "the batch's first ran together, then alone"
    assert effect_counts(engine) == {e.id: 1 for e in events}
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(INBOX)).scalar_one() == 6
