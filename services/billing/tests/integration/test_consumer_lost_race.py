"""A booking whose handler loses the race for its charge is still recorded in the inbox (issue 13).

The consumer claims the event's inbox row and runs the handler in one transaction that it, not the handler,
commits. Here a second delivery of the same booking (as from another worker) records the charge between
the handler's check and its insert: the unique (appointment, kind) key refuses the handler's charge, which
must undo that insert alone, keep the inbox row, and so let a redelivery be recognised as a duplicate.
Billing's real handlers and consumer wiring, on real PostgreSQL and RabbitMQ.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Callable, Iterator

import pika
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.adapters import orm
from billing.adapters.repository import SqlAlchemyRepository
from billing.bootstrap import PRODUCER, Container, bootstrap
from billing.config import BillingSettings
from billing.domain.model import Charge, ChargeKind
from billing.entrypoints import handlers, worker
from billing.service_layer import charges
from billing.service_layer.unit_of_work import BillingUnitOfWork
from clinic_shared.events import Envelope
from clinic_shared.messaging.outbox import OutboxWriter
from clinic_shared.testing.tokens import TestIssuer

from .test_consumer import STARTS_AT, WAIT, Harness, Outcomes, appointment_facts, booked

pytestmark = pytest.mark.integration


class Race:
    """The moment the handler finds no charge for ``appointment_id``, a rival delivery of the same booking
    records it in a transaction of its own and commits; the handler then goes on with its stale answer."""

    def __init__(self, container: Container, booking: charges.PlanCharge) -> None:
        self._rival_uow = container.uow
        self.booking = booking
        self.rival_charge_id: uuid.UUID | None = None

    def rival(self) -> None:
        with self._rival_uow() as uow:
            charge = charges.plan_charge(uow, self.booking)
            uow.commit()
        self.rival_charge_id = charge.id

    def repositories(self) -> Callable[[Session], SqlAlchemyRepository]:
        race = self

        class RacedRepository(SqlAlchemyRepository):
            def charge_for(self, appointment_id: uuid.UUID, kind: ChargeKind) -> Charge | None:
                found = super().charge_for(appointment_id, kind)
                if (
                    found is None
                    and race.rival_charge_id is None
                    and appointment_id == race.booking.appointment_id
                ):
                    race.rival()
                return found

        return RacedRepository


@pytest.fixture
def container(pg_url: str, amqp_url: str) -> Iterator[Container]:
    settings = BillingSettings.from_env({"BILLING_DATABASE_URL": pg_url, "AMQP_URL": amqp_url})
    c = bootstrap(settings, verifier=TestIssuer().verifier())
    yield c
    c.engine.dispose()


def test_a_handler_that_loses_the_race_keeps_its_inbox_row_and_a_redelivery_is_a_duplicate(
    container: Container, amqp_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    facts = appointment_facts(uuid.uuid4(), uuid.uuid4(), STARTS_AT)
    race = Race(
        container,
        charges.PlanCharge(**{f.name: facts[f.name] for f in dataclasses.fields(charges.PlanCharge)}),
    )
    raced_repositories = race.repositories()

    def raced_uow() -> BillingUnitOfWork:
        return BillingUnitOfWork(
            container.session_factory,
            OutboxWriter(orm.outbox),
            producer=PRODUCER,
            clock=container.clock,
            id_factory=container.id_factory,
            repositories=raced_repositories,
        )

    handled: list[uuid.UUID] = []

    def appointment_booked(uow: BillingUnitOfWork, event: Envelope) -> None:
        handled.append(event.id)
        handlers.appointment_booked(uow, event)

    monkeypatch.setitem(handlers.HANDLERS, "scheduling.appointment.booked", appointment_booked)
    container.uow = raced_uow  # type: ignore[method-assign]
    outcomes = Outcomes()
    consumer = worker.build_consumer(container, on_processed=outcomes)
    envelope = booked(facts)

    stop = threading.Event()
    thread = threading.Thread(target=consumer.run, args=(stop,), name="billing-consumer", daemon=True)
    thread.start()
    connection = None
    try:
        assert consumer.ready.wait(WAIT), "the consumer did not start"
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        channel = connection.channel()
        channel.confirm_delivery()
        harness = Harness(container, outcomes, channel)

        harness.deliver(envelope)

        assert race.rival_charge_id is not None, "the rival delivery did not run"
        assert outcomes.of(envelope.id) == ["applied"]
        with container.engine.connect() as conn:
            inbox = conn.execute(
                select(orm.inbox.c.consumer).where(orm.inbox.c.event_id == envelope.id)
            ).all()
        assert [row.consumer for row in inbox] == ["billing"], "the lost race threw the inbox row away"

        harness.deliver(envelope)  # the broker delivers it again (say, the ack was lost)

        assert outcomes.of(envelope.id) == ["applied", "duplicate"]
        assert handled == [envelope.id], "the redelivery ran the handler again"
    finally:
        if connection is not None and connection.is_open:
            connection.close()
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive(), "the consumer did not stop"
    with container.engine.connect() as conn:
        charge_rows = conn.execute(
            select(orm.charges.c.id).where(orm.charges.c.appointment_id == facts["appointment_id"])
        ).all()
        # This module's database holds this test's rows only.
        planned = conn.execute(
            select(orm.audit_entries.c.entity_id).where(orm.audit_entries.c.action == "planned")
        ).all()
    assert [row.id for row in charge_rows] == [race.rival_charge_id]
    assert [row.entity_id for row in planned] == [race.rival_charge_id], "the loser's audit entry was kept"
