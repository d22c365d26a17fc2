"""A booking whose handler loses the race for its charge is still recorded in the inbox (issue 13).

The consumer claims the event's inbox row and runs the handler in one transaction that it, not the handler,
commits. Here a second delivery of the same booking (as from another worker) records the charge between
the handler's check and its insert: the unique (appointment, kind) key refuses the handler's charge, which
must undo that insert alone, keep the inbox row, and so let a redelivery be recognised as a duplicate.
Billing's real handlers and consumer wiring, on real PostgreSQL and RabbitMQ.

Competing workers also handle different events of one appointment at once (issue 15). The rolling-restart
test found a charge at (sequence 1, aborted): a reschedule had read the charge just after its lock found
none, unlocked, and wrote its sequence over the cancellation a rival committed meanwhile. The interleavings
below make each such moment happen; a handler must change only what it read under the charge's lock.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import pika
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.adapters import orm
from billing.adapters.repository import SqlAlchemyRepository
from billing.bootstrap import PRODUCER, Container, bootstrap
from billing.config import BillingSettings
from billing.domain.model import Charge, ChargeKind, ChargeStatus
from billing.entrypoints import handlers, worker
from billing.service_layer import charges
from billing.service_layer.unit_of_work import BillingUnitOfWork
from clinic_shared.events import Envelope
from clinic_shared.messaging.outbox import OutboxWriter
from clinic_shared.testing.tokens import TestIssuer

from .test_consumer import (
    STARTS_AT,
    WAIT,
    Harness,
    Outcomes,
    appointment_facts,
    booked,
    completed,
    later_event,
    no_show,
)

pytestmark = pytest.mark.integration


class Race:
    """The moment the handler adds its charge for ``appointment_id``, a rival delivery of the same booking
    records one in a transaction of its own and commits; the handler's insert then meets the rival's."""

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
            def add_charge_unless_taken(self, charge: Charge) -> bool:
                if charge.appointment_id == race.booking.appointment_id and race.rival_charge_id is None:
                    race.rival()
                return super().add_charge_unless_taken(charge)

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


# --- competing workers on one appointment's charge --------------------------------------------------------

MOVED_TO = STARTS_AT + timedelta(days=1)


class Rivals:
    """Other workers handling other events of one appointment, each in a transaction of its own that it
    commits, at the moments a handler is most exposed:

    - ``on_miss``: the handler has locked the appointment's charges and found none (it will insert one);
    - ``on_unlocked_read``: the handler reads the charge while holding no lock on it (it would then write
      over whatever a rival commits meanwhile: a handler must not).

    A rival runs in a thread of its own: should the handler hold a lock the rival needs, the rival waits
    for the handler's commit, as a real worker would, instead of deadlocking the test.
    """

    def __init__(self, container: Container, appointment_id: uuid.UUID, **moments: Envelope) -> None:
        self._rival_uow = container.uow
        self.appointment_id = appointment_id
        self.pending: dict[str, Envelope | None] = dict(moments)
        self.threads: list[threading.Thread] = []
        self.failures: list[BaseException] = []

    def rival(self, moment: str) -> None:
        event = self.pending.get(moment)
        if event is None:
            return
        self.pending[moment] = None
        thread = threading.Thread(target=self._handle, args=(event,), name=f"rival-{moment}", daemon=True)
        thread.start()
        self.threads.append(thread)
        thread.join(timeout=2.0)  # still running: it waits for a lock the handler holds

    def _handle(self, event: Envelope) -> None:
        try:
            with self._rival_uow() as uow:
                handlers.HANDLERS[event.type](uow, event)
                uow.commit()
        except BaseException as exc:  # reported by finish()
            self.failures.append(exc)

    def finish(self) -> None:
        """Wait for the rivals, then handle the events the handler gave no moment to, as a worker would."""
        for moment, event in self.pending.items():
            if event is not None:
                self.pending[moment] = None
                self._handle(event)
        for thread in self.threads:
            thread.join(timeout=WAIT)
            assert not thread.is_alive(), f"{thread.name} never finished"
        assert not self.failures, f"a rival failed: {self.failures!r}"

    def uow(self, container: Container) -> Callable[[], BillingUnitOfWork]:
        rivals = self

        class RacedRepository(SqlAlchemyRepository):
            holds_lock = False

            def lock_charges_of(self, appointment_id: uuid.UUID) -> Sequence[Charge]:
                found = super().lock_charges_of(appointment_id)
                if appointment_id == rivals.appointment_id:
                    self.holds_lock = bool(found)
                    if not found:
                        rivals.rival("on_miss")
                return found

            def charge_for(self, appointment_id: uuid.UUID, kind: ChargeKind) -> Charge | None:
                found = super().charge_for(appointment_id, kind)
                if (
                    appointment_id == rivals.appointment_id
                    and kind is ChargeKind.APPOINTMENT
                    and found is not None
                    and not self.holds_lock
                ):
                    rivals.rival("on_unlocked_read")
                return found

        def raced_uow() -> BillingUnitOfWork:
            return BillingUnitOfWork(
                container.session_factory,
                OutboxWriter(orm.outbox),
                producer=PRODUCER,
                clock=container.clock,
                id_factory=container.id_factory,
                repositories=RacedRepository,
            )

        return raced_uow


def rescheduled(facts: dict[str, Any], sequence: int = 1) -> Envelope:
    return later_event(
        "scheduling.appointment.rescheduled",
        facts | {"starts_at": MOVED_TO, "ends_at": MOVED_TO + timedelta(minutes=30)},
        sequence,
        previous_practitioner_id=facts["practitioner_id"],
        previous_starts_at=facts["starts_at"],
        previous_ends_at=facts["ends_at"],
    )


def cancelled_after_move(facts: dict[str, Any]) -> Envelope:
    return later_event(
        "scheduling.appointment.cancelled",
        facts | {"starts_at": MOVED_TO, "ends_at": MOVED_TO + timedelta(minutes=30)},
        2,
        cancelled_at=STARTS_AT,
        cancelled_by="patient",
        late=False,
    )


def interleavings() -> list[Any]:
    """(handled, rivals by moment, expected (sequence, status, starts_at) of the appointment's charge)."""
    return [
        pytest.param(
            rescheduled,
            {"on_miss": booked, "on_unlocked_read": cancelled_after_move},
            (2, ChargeStatus.ABORTED, MOVED_TO),
            id="reschedule-vs-booking-then-cancellation",
        ),
        pytest.param(
            cancelled_after_move,
            {"on_miss": booked},
            (2, ChargeStatus.ABORTED, MOVED_TO),
            id="cancel-vs-booking",
        ),
        pytest.param(
            lambda facts: completed(facts, 1),
            {"on_miss": booked},
            (1, ChargeStatus.BILLABLE, STARTS_AT),
            id="complete-vs-booking",
        ),
        pytest.param(
            lambda facts: no_show(facts),
            {"on_miss": booked},
            (2, ChargeStatus.ABORTED, STARTS_AT),
            id="no-show-vs-booking",
        ),
        pytest.param(
            rescheduled,
            {"on_miss": cancelled_after_move},
            (2, ChargeStatus.ABORTED, MOVED_TO),
            id="reschedule-vs-cancellation",
        ),
    ]


@pytest.mark.parametrize(("handled", "rival_events", "expected"), interleavings())
def test_a_handler_changes_a_charge_only_as_read_under_its_lock(
    container: Container,
    handled: Callable[[dict[str, Any]], Envelope],
    rival_events: dict[str, Callable[[dict[str, Any]], Envelope]],
    expected: tuple[int, ChargeStatus, datetime],
) -> None:
    """Whatever the order in which competing workers commit, the charge ends as if the appointment's events
    had been applied one after the other, and the handler applies its event in one go (no failed commit,
    no redelivery needed)."""
    facts = appointment_facts(uuid.uuid4(), uuid.uuid4(), STARTS_AT)
    event = handled(facts)
    rivals = Rivals(
        container, facts["appointment_id"], **{m: make(facts) for m, make in rival_events.items()}
    )

    with rivals.uow(container)() as uow:
        handlers.HANDLERS[event.type](uow, event)
        uow.commit()
    rivals.finish()

    with container.engine.connect() as conn:
        rows = conn.execute(
            select(orm.charges.c.appointment_sequence, orm.charges.c.status, orm.charges.c.starts_at).where(
                orm.charges.c.appointment_id == facts["appointment_id"],
                orm.charges.c.kind == ChargeKind.APPOINTMENT,
            )
        ).all()
    assert [tuple(row) for row in rows] == [expected]
