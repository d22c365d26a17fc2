"""An event of a new appointment whose handler loses the race for the appointment's copy is still applied
once and recorded in the inbox (issue 13).

Competing consumers may handle two events of one new appointment at once. Here, the moment the handler of
the reschedule finds no copy of the appointment (and is about to insert one), another worker handles the
booking and commits its copy and messages. The handler's insert then fails on the copy's primary key: that
must undo the insert alone (a savepoint), keep the consumer's inbox row, and decide again from what the
booking recorded, so that the reschedule is applied in this one delivery, exactly as if the two events had
been handled one after the other, and a redelivery is recognised as a duplicate. On the old code the lost
race failed the whole transaction, inbox row included, and the event was requeued.
Notifications' real handlers and consumer wiring, on real PostgreSQL and RabbitMQ.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pika
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from clinic_shared.events import Envelope, dump_event
from clinic_shared.testing.tokens import TestIssuer
from notifications.adapters import orm
from notifications.adapters.repository import SqlAlchemyRepository
from notifications.bootstrap import Container, bootstrap
from notifications.config import NotificationsSettings
from notifications.domain.appointments import AppointmentCopy
from notifications.domain.deliveries import Delivery
from notifications.entrypoints import handlers, worker
from notifications.service_layer.unit_of_work import NotificationsUnitOfWork

pytestmark = pytest.mark.integration

EXCHANGE = "scheduling.events"
WAIT = 15.0
STARTS_AT = datetime(2025, 3, 10, 16, 0, tzinfo=UTC)
MOVED_TO = STARTS_AT + timedelta(days=1)


class Outcomes:
    """The consumer's ``on_processed`` reports, per event."""

    def __init__(self) -> None:
        self.items: list[tuple[Envelope | None, str]] = []
        self._cond = threading.Condition()

    def __call__(self, envelope: Envelope | None, outcome: str) -> None:
        with self._cond:
            self.items.append((envelope, outcome))
            self._cond.notify_all()

    def of(self, event_id: uuid.UUID) -> list[str]:
        with self._cond:
            return [o for e, o in self.items if e is not None and e.id == event_id]

    def wait_for_more(self, event_id: uuid.UUID, seen: int) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.of(event_id)) > seen, WAIT):
                raise AssertionError(f"timed out; outcomes so far: {[o for _, o in self.items]}")


class Race:
    """Rival workers that handle other events of ``appointment_id``, each in a transaction of its own that
    it commits, at the moments a handler is most exposed:

    - ``on_miss``: the moment the handler, having found no copy under lock, has locked the appointment's
      messages (there are none yet) and is about to insert the copy;
    - ``on_unlocked_read``: the moment the handler reads the copy without its lock (it would then write
      what it read: a handler must not).
    """

    def __init__(
        self,
        container: Container,
        appointment_id: uuid.UUID,
        *,
        on_miss: Envelope,
        on_unlocked_read: Envelope | None = None,
    ) -> None:
        self._rival_uow = container.uow
        self.appointment_id = appointment_id
        self.pending = {"miss": on_miss, "unlocked read": on_unlocked_read}
        self.ran: list[str] = []

    def rival(self, moment: str) -> None:
        event = self.pending.get(moment)
        if event is None:
            return
        self.pending[moment] = None
        self.ran.append(moment)
        with self._rival_uow() as uow:
            handlers.HANDLERS[event.type](uow, event)
            uow.commit()

    def not_run(self) -> list[Envelope]:
        """The rivals' events that the handler gave no moment to (a worker would handle them later)."""
        return [event for event in self.pending.values() if event is not None]

    def repositories(self) -> Callable[[Session], SqlAlchemyRepository]:
        race = self

        class RacedRepository(SqlAlchemyRepository):
            missed = False

            def appointment(
                self, appointment_id: uuid.UUID, *, for_update: bool = False
            ) -> AppointmentCopy | None:
                found = super().appointment(appointment_id, for_update=for_update)
                if appointment_id == race.appointment_id:
                    if for_update:
                        self.missed = found is None
                    elif found is not None:
                        race.rival("unlocked read")
                return found

            def deliveries_for_appointment(
                self, appointment_id: uuid.UUID, *, for_update: bool = False
            ) -> Sequence[Delivery]:
                found = super().deliveries_for_appointment(appointment_id, for_update=for_update)
                if appointment_id == race.appointment_id and for_update and self.missed:
                    race.rival("miss")
                return found

        return RacedRepository

    def uow(self, container: Container) -> Callable[[], NotificationsUnitOfWork]:
        raced_repositories = self.repositories()

        def raced_uow() -> NotificationsUnitOfWork:
            uow = Container.uow(container)
            uow._repository_factory = raced_repositories
            return uow

        return raced_uow


@pytest.fixture
def container(
    pg_url: str,
    amqp_url: str,
    make_settings: Callable[..., NotificationsSettings],
    clock: Any,
    issuer: TestIssuer,
    transport: Any,
) -> Iterator[Container]:
    c = bootstrap(
        make_settings(pg_url, AMQP_URL=amqp_url),
        clock=clock,
        verifier=issuer.verifier(),
        mailer=transport,
        sms=transport,
    )
    yield c
    c.engine.dispose()


def apply(container: Container, *events: Envelope) -> None:
    for event in events:
        with container.uow() as uow:
            handlers.HANDLERS[event.type](uow, event)
            uow.commit()


def messages_of(container: Container, appointment_id: uuid.UUID) -> list[tuple[Any, ...]]:
    """The appointment's messages, without their ids and keys (which name the appointment)."""
    with container.uow() as uow:
        return sorted(
            (d.kind.value, d.channel.value, d.sequence, d.status.value, d.next_attempt_at, d.last_error)
            for d in uow.repo.deliveries_for_appointment(appointment_id)
        )


def publish(channel: Any, envelope: Envelope) -> None:
    properties = pika.BasicProperties(
        content_type="application/json",
        delivery_mode=pika.DeliveryMode.Persistent,
        message_id=str(envelope.id),
        type=envelope.type,
    )
    channel.basic_publish(
        EXCHANGE, envelope.type, dump_event(envelope), properties=properties, mandatory=True
    )


def test_a_handler_that_loses_the_race_for_a_new_appointments_copy_applies_its_event_once(
    container: Container, events: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    apply(container, *events.catalogue())
    # What handling the booking and then the reschedule one after the other records, for another appointment.
    serial = uuid.uuid4()
    apply(
        container,
        events.booked(starts_at=STARTS_AT, appointment_id=serial),
        events.rescheduled(starts_at=MOVED_TO, previous_starts_at=STARTS_AT, appointment_id=serial),
    )
    booking = events.booked(starts_at=STARTS_AT)
    reschedule = events.rescheduled(starts_at=MOVED_TO, previous_starts_at=STARTS_AT)
    race = Race(container, events.appointment_id, on_miss=booking)
    handled: list[uuid.UUID] = []

    def record_reschedule(uow: NotificationsUnitOfWork, event: Envelope) -> None:
        handled.append(event.id)
        handlers.record_reschedule(uow, event)

    monkeypatch.setitem(handlers.HANDLERS, reschedule.type, record_reschedule)
    monkeypatch.setattr(container, "uow", race.uow(container))
    outcomes = Outcomes()
    consumer = worker.build_consumer(container, on_processed=outcomes)

    stop = threading.Event()
    thread = threading.Thread(target=consumer.run, args=(stop,), name="notifications-consumer", daemon=True)
    thread.start()
    connection = None
    try:
        assert consumer.ready.wait(WAIT), "the consumer did not start"
        connection = pika.BlockingConnection(pika.URLParameters(container.settings.common.amqp_url))
        channel = connection.channel()
        channel.confirm_delivery()

        publish(channel, reschedule)
        outcomes.wait_for_more(reschedule.id, 0)

        assert race.ran == ["miss"], "the rival worker did not run"
        assert outcomes.of(reschedule.id) == ["applied"], "the lost race failed the event"
        with container.engine.connect() as conn:
            inbox = conn.execute(select(orm.inbox.c.consumer).where(orm.inbox.c.event_id == reschedule.id))
            assert [row.consumer for row in inbox] == ["notifications"], "the lost race lost the inbox row"

        publish(channel, reschedule)  # the broker delivers it again (say, the ack was lost)
        outcomes.wait_for_more(reschedule.id, 1)

        assert outcomes.of(reschedule.id) == ["applied", "duplicate"]
        assert handled == [reschedule.id], "the redelivery ran the handler again"
    finally:
        if connection is not None and connection.is_open:
            connection.close()
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive(), "the consumer did not stop"

    with Container.uow(container) as uow:
        copy = uow.repo.appointment(events.appointment_id)
        assert copy is not None
        assert (copy.sequence, copy.starts_at, copy.cancelled) == (1, MOVED_TO, False)
    # Decided from what the booking recorded: as if the two events had been handled one after the other.
    assert messages_of(container, events.appointment_id) == messages_of(container, serial)


def test_a_handler_writes_only_what_it_read_under_the_copys_lock(container: Container, events: Any) -> None:
    """Three workers, three events of one new appointment. The reschedule's handler finds no copy under
    lock; a rival commits the booking's copy at that moment, and, should the handler then read that copy
    without its lock, another rival commits the cancellation before the handler writes. A handler that
    wrote what it read unlocked would put the copy back to the reschedule's version while keeping the
    cancellation's flag (the rolling-restart test found a copy so: sequence 1, cancelled, in notifications
    against sequence 2 in scheduling)."""
    apply(container, *events.catalogue())
    serial = uuid.uuid4()
    apply(
        container,
        events.booked(starts_at=STARTS_AT, appointment_id=serial),
        events.rescheduled(starts_at=MOVED_TO, previous_starts_at=STARTS_AT, appointment_id=serial),
        events.cancelled(starts_at=MOVED_TO, sequence=2, appointment_id=serial),
    )
    booking = events.booked(starts_at=STARTS_AT)
    reschedule = events.rescheduled(starts_at=MOVED_TO, previous_starts_at=STARTS_AT)
    cancellation = events.cancelled(starts_at=MOVED_TO, sequence=2)
    race = Race(container, events.appointment_id, on_miss=booking, on_unlocked_read=cancellation)

    with race.uow(container)() as uow:
        handlers.HANDLERS[reschedule.type](uow, reschedule)
        uow.commit()
    assert race.ran[:1] == ["miss"], "the rival worker did not run"
    apply(container, *race.not_run())

    with Container.uow(container) as uow:
        copy = uow.repo.appointment(events.appointment_id)
        assert copy is not None
        assert (copy.sequence, copy.starts_at, copy.cancelled) == (2, MOVED_TO, True)
    assert messages_of(container, events.appointment_id) == messages_of(container, serial)
