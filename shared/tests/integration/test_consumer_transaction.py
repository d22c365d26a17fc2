"""The consumer owns the transaction that holds an event's inbox row and the handler's effect (issue 13).

A handler that loses a race to a unique key does so inside ``uow.conflicts_as``: only that savepoint is
rolled back, the inbox row stays, and a redelivery is a duplicate. A handler that rolls back the whole
transaction (the inbox row with it) is not acked as applied: the event is retried. On PostgreSQL and SQLite,
against the real local RabbitMQ.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from reliable_messaging_support import (
    CONSUMER,
    EVENT_TYPE,
    INBOX,
    METADATA,
    START,
    ManualClock,
    Outcomes,
    clinic_changed,
    effect_counts,
    make_consumer,
    publish_raw,
    record_effect,
    running,
    wait_until,
)
from sqlalchemy import Column, Engine, MetaData, String, Table, Uuid, insert, select

from clinic_shared.db import make_engine
from clinic_shared.events import Envelope
from clinic_shared.events.envelope import dump_event
from clinic_shared.uow import SqlAlchemyUnitOfWork

pytestmark = pytest.mark.integration

# A business key of its own, as billing's one charge per (appointment, kind).
KEYS = MetaData()
CLINIC_CODES = Table(
    "clinic_codes",
    KEYS,
    Column("code", String(10), primary_key=True),
    Column("event_id", Uuid, nullable=False),
)


class CodeTaken(Exception):
    """The domain's name for the lost race."""


@pytest.fixture(params=["postgresql", "sqlite"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = (
        request.getfixturevalue("pg_url")
        if request.param == "postgresql"
        else f"sqlite:///{tmp_path}/db.sqlite"
    )
    engine = make_engine(url)
    METADATA.create_all(engine)
    KEYS.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


def inbox_rows(engine: Engine, event_id: uuid.UUID) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(INBOX.c.consumer).where(INBOX.c.event_id == event_id)))


def publish_and_wait(amqp_url: str, outcomes: Outcomes, envelope: Envelope) -> None:
    seen = len(outcomes.items)
    publish_raw(amqp_url, [(dump_event(envelope), str(envelope.id))])
    outcomes.wait(lambda o: len(o.items) > seen)


def test_a_handler_that_loses_a_race_keeps_the_inbox_row_and_a_redelivery_is_a_duplicate(
    engine: Engine, amqp_url: str, clock: ManualClock
) -> None:
    event = clinic_changed(clock, 3)
    with engine.begin() as conn:  # another writer took the key first
        conn.execute(insert(CLINIC_CODES).values(code=event.data["code"], event_id=uuid.uuid4()))
    lost: list[uuid.UUID] = []

    def handler(uow: SqlAlchemyUnitOfWork, envelope: Envelope) -> None:
        record_effect(uow, envelope)  # written before the race: kept
        try:
            with uow.conflicts_as(CodeTaken):
                uow.session.execute(
                    insert(CLINIC_CODES).values(code=envelope.data["code"], event_id=envelope.id)
                )
        except CodeTaken:
            lost.append(envelope.id)

    outcomes = Outcomes()
    consumer = make_consumer(engine, amqp_url, clock, {EVENT_TYPE: handler}, on_processed=outcomes)
    with running(consumer.run, "consumer"):
        wait_until(consumer.ready.is_set)
        publish_and_wait(amqp_url, outcomes, event)
        assert [row.consumer for row in inbox_rows(engine, event.id)] == [CONSUMER]
        publish_and_wait(amqp_url, outcomes, event)

    assert [o for _, o in outcomes.items] == ["applied", "duplicate"]
    assert lost == [event.id], "the handler lost the race once and was not run again"
    assert effect_counts(engine) == {event.id: 1}


def test_a_handler_that_rolls_back_the_consumers_transaction_is_retried_not_acked(
    engine: Engine, amqp_url: str, clock: ManualClock
) -> None:
    event = clinic_changed(clock, 5)
    attempts: list[uuid.UUID] = []

    def handler(uow: SqlAlchemyUnitOfWork, envelope: Envelope) -> None:
        attempts.append(envelope.id)
        if len(attempts) == 1:
            uow.rollback()  # not the handler's to do: the inbox row goes with it
        record_effect(uow, envelope)

    outcomes = Outcomes()
    consumer = make_consumer(engine, amqp_url, clock, {EVENT_TYPE: handler}, on_processed=outcomes)
    with running(consumer.run, "consumer"):
        wait_until(consumer.ready.is_set)
        publish_raw(amqp_url, [(dump_event(event), str(event.id))])
        outcomes.wait(lambda o: o.count("applied") == 1)
        publish_and_wait(amqp_url, outcomes, event)

    assert [o for _, o in outcomes.items] == ["retry", "applied", "duplicate"]
    assert effect_counts(engine) == {event.id: 1}, "the effect after the rollback was not committed alone"
    assert [row.consumer for row in inbox_rows(engine, event.id)] == [CONSUMER]


def test_a_handler_that_commits_keeps_the_inbox_row_it_committed(
    engine: Engine, amqp_url: str, clock: ManualClock
) -> None:
    """Services that still commit inside a handler commit the inbox row with their work: no retry."""
    event = clinic_changed(clock, 6)

    def handler(uow: SqlAlchemyUnitOfWork, envelope: Envelope) -> None:
        record_effect(uow, envelope)
        uow.commit()

    outcomes = Outcomes()
    consumer = make_consumer(engine, amqp_url, clock, {EVENT_TYPE: handler}, on_processed=outcomes)
    with running(consumer.run, "consumer"):
        wait_until(consumer.ready.is_set)
        publish_and_wait(amqp_url, outcomes, event)
        publish_and_wait(amqp_url, outcomes, event)

    assert [o for _, o in outcomes.items] == ["applied", "duplicate"]
    assert effect_counts(engine) == {event.id: 1}
