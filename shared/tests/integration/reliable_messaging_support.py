"""Tables, events, handlers and waiters shared by the messaging tests and their crash-test subprocess."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pika
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, Uuid, func, insert, select

from clinic_shared.db import make_session_factory
from clinic_shared.events import Envelope, new_event
from clinic_shared.messaging.connection import Backoff
from clinic_shared.messaging.consumer import Consumer, Outcome
from clinic_shared.messaging.outbox import OutboxWriter, exchange_for
from clinic_shared.messaging.tables import define_inbox_table, define_outbox_table
from clinic_shared.messaging.topology import Subscription
from clinic_shared.testing.clock import ManualClock
from clinic_shared.testing.waiting import running, wait_until
from clinic_shared.uow import SqlAlchemyUnitOfWork

__all__ = ["running", "wait_until"]  # the tests import them from here with the rest of their support

PRODUCER = "scheduling"
EXCHANGE = exchange_for(PRODUCER)
EVENT_TYPE = "scheduling.clinic.changed"
CONSUMER = "billing"
SUBSCRIPTION = Subscription(CONSUMER, {EXCHANGE: ["scheduling.clinic.*"]})
FAST_BACKOFF = {"initial": 0.05, "cap": 0.5}

METADATA = MetaData()
OUTBOX = define_outbox_table(METADATA)
INBOX = define_inbox_table(METADATA)
EFFECTS = Table(
    "effects",
    METADATA,
    # Deliberately no unique key on event_id: a double application must be visible.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", Uuid, nullable=False),
    Column("clinic_code", String(10), nullable=False),
)


START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def clinic_changed(clock: ManualClock, n: int = 0, *, event_id: uuid.UUID | None = None) -> Envelope:
    return new_event(
        EVENT_TYPE,
        {
            "clinic_id": uuid.UUID(int=n + 1),
            "code": f"C{n:05d}",
            "name": f"Clinic {n}",
            "timezone": "America/Toronto",
            "address": "1 Main St",
            "phone": "+15145550100",
            "email": "front@example.com",
            "currency": "CAD",
        },
        producer=PRODUCER,
        occurred_at=clock.now(),
        event_id=event_id,
    )


class TestUnitOfWork(SqlAlchemyUnitOfWork):
    """The shared unit of work with the test tables' outbox."""

    __test__ = False

    def __init__(self, engine: Engine, clock: ManualClock) -> None:
        super().__init__(make_session_factory(engine), OutboxWriter(OUTBOX), producer=CONSUMER, clock=clock)


def record_effect(uow: SqlAlchemyUnitOfWork, envelope: Envelope) -> None:
    uow.session.execute(insert(EFFECTS).values(event_id=envelope.id, clinic_code=envelope.data["code"]))


def add_to_outbox(engine: Engine, envelopes: Iterable[Envelope]) -> None:
    writer = OutboxWriter(OUTBOX)
    with make_session_factory(engine)() as session:
        for envelope in envelopes:
            writer.add(session, envelope)
        session.commit()


def effect_counts(engine: Engine) -> dict[uuid.UUID, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(EFFECTS.c.event_id, func.count().label("n")).group_by(EFFECTS.c.event_id)
        ).all()
    return {row.event_id: row.n for row in rows}


def make_consumer(
    engine: Engine,
    amqp_url: str,
    clock: ManualClock,
    handlers: dict[str, Callable[[Any, Envelope], None]] | None = None,
    *,
    uow_factory: Callable[[], SqlAlchemyUnitOfWork] | None = None,
    **kwargs: Any,
) -> Consumer[Any]:
    kwargs.setdefault("backoff", Backoff(**FAST_BACKOFF))
    kwargs.setdefault("retry_backoff", Backoff(initial=0.01, cap=0.05))
    return Consumer(
        SUBSCRIPTION,
        handlers if handlers is not None else {EVENT_TYPE: record_effect},
        uow_factory or (lambda: TestUnitOfWork(engine, clock)),
        INBOX,
        amqp_url,
        clock=clock,
        **kwargs,
    )


class Outcomes:
    """Collects ``on_processed`` reports; ``wait`` blocks until a condition over them holds."""

    def __init__(self) -> None:
        self.items: list[tuple[Envelope | None, Outcome]] = []
        self._cond = threading.Condition()

    def __call__(self, envelope: Envelope | None, outcome: Outcome) -> None:
        with self._cond:
            self.items.append((envelope, outcome))
            self._cond.notify_all()

    def of(self, outcome: Outcome) -> list[Envelope | None]:
        with self._cond:
            return [envelope for envelope, o in self.items if o == outcome]

    def wait(self, predicate: Callable[[Outcomes], bool], timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out; outcomes so far: {[o for _, o in self.items]}")
                self._cond.wait(remaining)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for _, o in self.items if o == outcome)


@contextmanager
def blocking_channel(amqp_url: str) -> Iterator[Any]:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        yield connection.channel()
    finally:
        if connection.is_open:
            connection.close()


def drain_queue(amqp_url: str, queue: str, expected: int, timeout: float = 20) -> list[tuple[Any, bytes]]:
    """Consume (and ack) ``expected`` messages; returns (properties, body) pairs in arrival order."""
    received: list[tuple[Any, bytes]] = []
    deadline = time.monotonic() + timeout
    with blocking_channel(amqp_url) as channel:
        channel.basic_qos(prefetch_count=500)
        for method, properties, body in channel.consume(queue, inactivity_timeout=0.5):
            if method is not None:
                received.append((properties, body))
                channel.basic_ack(method.delivery_tag)
            if len(received) >= expected or time.monotonic() > deadline:
                break
        channel.cancel()
    return received


def publish_raw(
    amqp_url: str, bodies: Iterable[tuple[bytes, str | None]], routing_key: str = EVENT_TYPE
) -> None:
    """Publish bodies (with message ids) straight to the producer exchange, with confirms."""
    with blocking_channel(amqp_url) as channel:
        channel.confirm_delivery()
        for body, message_id in bodies:
            channel.basic_publish(
                EXCHANGE,
                routing_key,
                body,
                properties=pika.BasicProperties(delivery_mode=2, message_id=message_id),
                mandatory=True,
            )
