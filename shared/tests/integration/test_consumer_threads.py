"""A consumer with several handler threads handles that many messages of its prefetch at once, applies each
once, and on stop finishes and acks every message in hand before it closes. PostgreSQL and the real local
RabbitMQ."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from reliable_messaging_support import (
    CONSUMER,
    INBOX,
    METADATA,
    START,
    ManualClock,
    Outcomes,
    blocking_channel,
    clinic_changed,
    effect_counts,
    make_consumer,
    publish_raw,
    record_effect,
    running,
    wait_until,
)
from sqlalchemy import Engine, func, select

from clinic_shared.db import make_engine
from clinic_shared.events import Envelope
from clinic_shared.events.envelope import dump_event
from clinic_shared.messaging.consumer import Consumer
from clinic_shared.uow import SqlAlchemyUnitOfWork

pytestmark = pytest.mark.integration

THREADS = 4


@pytest.fixture
def engine(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    METADATA.create_all(engine)
    yield engine
    engine.dispose()


class InHand:
    """A handler that records how many messages are in hand at once and holds each until released."""

    def __init__(self) -> None:
        self.now = 0
        self.most = 0
        self.released = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, uow: SqlAlchemyUnitOfWork, envelope: Envelope) -> None:
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            self.released.wait(20)
            record_effect(uow, envelope)
        finally:
            with self._lock:
                self.now -= 1


def publish(amqp_url: str, events: list[Envelope]) -> None:
    publish_raw(amqp_url, [(dump_event(event), str(event.id)) for event in events])


def queued(amqp_url: str) -> int:
    with blocking_channel(amqp_url) as channel:
        return channel.queue_declare(CONSUMER, passive=True).method.message_count


def inbox_size(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(INBOX)).scalar_one()


def test_several_handler_threads_hold_that_many_messages_at_once_and_apply_each_once(
    engine: Engine, amqp_url: str
) -> None:
    clock = ManualClock(START)
    handler = InHand()
    outcomes = Outcomes()
    consumer = make_consumer(
        engine,
        amqp_url,
        clock,
        {"scheduling.clinic.changed": handler},
        handler_threads=THREADS,
        on_processed=outcomes,
    )
    events = [clinic_changed(clock, n) for n in range(3 * THREADS)]
    with running(consumer.run, "consumer"):
        wait_until(consumer.ready.is_set)
        publish(amqp_url, events)
        wait_until(lambda: handler.now == THREADS, what="every handler thread holding a message")
        handler.released.set()
        outcomes.wait(lambda o: o.count("applied") == len(events))

    assert handler.most == THREADS, "no more messages in hand than threads, and that many at once"
    assert effect_counts(engine) == {event.id: 1 for event in events}
    assert inbox_size(engine) == len(events)
    assert queued(amqp_url) == 0


def test_a_stop_finishes_and_acks_every_message_in_hand_and_requeues_the_rest(
    engine: Engine, amqp_url: str
) -> None:
    clock = ManualClock(START)
    handler = InHand()
    outcomes = Outcomes()
    consumer = make_consumer(
        engine,
        amqp_url,
        clock,
        {"scheduling.clinic.changed": handler},
        handler_threads=THREADS,
        prefetch=2 * THREADS,
        on_processed=outcomes,
    )
    events = [clinic_changed(clock, n) for n in range(3 * THREADS)]
    with running(consumer.run, "consumer") as stop:
        wait_until(consumer.ready.is_set)
        publish(amqp_url, events)
        wait_until(lambda: handler.now == THREADS, what="every handler thread holding a message")
        stop.set()  # while THREADS messages are in hand and THREADS more wait in the prefetch
        threading.Timer(0.5, handler.released.set).start()

    # Each thread holds a batch: the message it is handling and any taken with it, all finished.
    in_hand = len(outcomes.items)
    assert THREADS <= in_hand < len(events)
    assert [o for _, o in outcomes.items] == ["applied"] * in_hand, "those in hand finished and were acked"
    assert sum(effect_counts(engine).values()) == in_hand
    wait_until(lambda: queued(amqp_url) == len(events) - in_hand, what="the rest back in the queue")

    rest = Outcomes()
    again = make_consumer(
        engine, amqp_url, clock, {"scheduling.clinic.changed": record_effect}, on_processed=rest
    )
    with running(again.run, "consumer again"):
        rest.wait(lambda o: len(o.items) == len(events) - in_hand)
    assert [o for _, o in rest.items] == ["applied"] * (len(events) - in_hand), (
        "no redelivery of an acked one"
    )
    assert effect_counts(engine) == {event.id: 1 for event in events}


def test_a_consumer_needs_at_least_one_handler_thread(engine: Engine, amqp_url: str) -> None:
    with pytest.raises(ValueError, match="at least one handler thread"):
        make_consumer(engine, amqp_url, ManualClock(START), handler_threads=0)
    assert isinstance(make_consumer(engine, amqp_url, ManualClock(START)), Consumer)
