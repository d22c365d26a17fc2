"""Billing's worker against real RabbitMQ and PostgreSQL: scheduling's events in, charges and copies out.

One worker (outbox relay + consumer, wired exactly as `billing worker` wires them) runs for the whole
module on its own vhost and database; each test publishes events about fresh ids, as scheduling's relay
would (persistent, mandatory, confirmed), and waits for the consumer to report them.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pika
import pytest
from pika.adapters.blocking_connection import BlockingChannel
from sqlalchemy import func, select

from billing.adapters import orm
from billing.bootstrap import Container, bootstrap
from billing.config import BillingSettings
from billing.domain.model import (
    Charge,
    ChargeKind,
    ChargeStatus,
    Clinic,
    Patient,
    Practitioner,
    TreatmentType,
)
from billing.domain.money import Money
from billing.entrypoints import worker
from billing.entrypoints.handlers import SUBSCRIPTION
from billing.service_layer import services
from clinic_shared.events import Envelope, dump_event, new_event
from clinic_shared.messaging.consumer import Outcome
from clinic_shared.messaging.worker import run_worker
from clinic_shared.testing.tokens import TestIssuer

pytestmark = pytest.mark.integration

EXCHANGE = "scheduling.events"
WAIT = 15.0


class Outcomes:
    """Collects the consumer's ``on_processed`` reports; ``wait`` blocks until a condition over them holds."""

    def __init__(self) -> None:
        self.items: list[tuple[Envelope | None, Outcome]] = []
        self._cond = threading.Condition()

    def __call__(self, envelope: Envelope | None, outcome: Outcome) -> None:
        with self._cond:
            self.items.append((envelope, outcome))
            self._cond.notify_all()

    def of(self, event_id: uuid.UUID) -> list[Outcome]:
        return [
            outcome for envelope, outcome in self.items if envelope is not None and envelope.id == event_id
        ]

    def wait(self, predicate: Callable[[], bool], timeout: float = WAIT) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out; outcomes so far: {[o for _, o in self.items]}")
                self._cond.wait(remaining)


class Harness:
    """The running worker, a publisher playing scheduling's relay, and ways to wait and look."""

    def __init__(self, container: Container, outcomes: Outcomes, channel: BlockingChannel) -> None:
        self.container = container
        self.outcomes = outcomes
        self.channel = channel

    def publish(self, envelope: Envelope) -> None:
        self.publish_raw(envelope.type, dump_event(envelope), str(envelope.id))

    def publish_raw(self, routing_key: str, body: bytes, message_id: str) -> None:
        properties = pika.BasicProperties(
            content_type="application/json",
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=message_id,
            type=routing_key,
        )
        self.channel.basic_publish(EXCHANGE, routing_key, body, properties=properties, mandatory=True)

    def deliver(self, *envelopes: Envelope) -> None:
        """Publish the envelopes in order, waiting for each to be processed before the next."""
        for envelope in envelopes:
            seen = len(self.outcomes.of(envelope.id))
            self.publish(envelope)
            self.outcomes.wait(lambda envelope=envelope, seen=seen: len(self.outcomes.of(envelope.id)) > seen)

    def charges_for(self, appointment_id: uuid.UUID) -> list[Charge]:
        with self.container.uow() as uow:
            query = select(Charge).where(orm.charges.c.appointment_id == appointment_id)
            return list(uow.session.scalars(query).all())

    def get(self, cls: type[Any], entity_id: uuid.UUID) -> Any:
        with self.container.uow() as uow:
            return uow.repo.get(cls, entity_id)

    def dead_letters(self) -> int:
        declared = self.channel.queue_declare(SUBSCRIPTION.dead_letter_queue, passive=True)
        return declared.method.message_count

    def set_price(self, clinic_id: uuid.UUID, treatment_type_id: uuid.UUID, cents: int) -> None:
        with self.container.uow() as uow:
            services.set_price(
                uow, services.SetPrice(clinic_id, treatment_type_id, cents, "CAD", date(2020, 1, 1))
            )


@pytest.fixture(scope="module")
def harness(pg_url: str, amqp_url: str) -> Iterator[Harness]:
    settings = BillingSettings.from_env({"BILLING_DATABASE_URL": pg_url, "AMQP_URL": amqp_url})
    container = bootstrap(settings, verifier=TestIssuer().verifier())
    outcomes = Outcomes()
    consumer = worker.build_consumer(container, on_processed=outcomes)
    stop = threading.Event()
    exit_codes: list[int] = []
    thread = threading.Thread(
        target=lambda: exit_codes.append(
            run_worker(worker.build_relay(container), consumer, stop=stop, install_signal_handlers=False)
        ),
        name="billing-worker",
        daemon=True,
    )
    thread.start()
    connection = None
    try:
        assert consumer.ready.wait(WAIT), "the consumer did not start"
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        channel = connection.channel()
        channel.confirm_delivery()
        yield Harness(container, outcomes, channel)
    finally:
        if connection is not None and connection.is_open:
            connection.close()
        stop.set()
        thread.join(timeout=30)
        container.engine.dispose()
    assert not thread.is_alive(), "the worker did not stop"
    assert exit_codes == [0]


# --- building scheduling's events ----------------------------------------------------------------------


def event(event_type: str, data: dict[str, Any], *, occurred_at: datetime | None = None) -> Envelope:
    return new_event(event_type, data, producer="scheduling", occurred_at=occurred_at or datetime.now(UTC))


def clinic_changed(clinic_id: uuid.UUID, timezone: str = "America/Vancouver") -> Envelope:
    return event(
        "scheduling.clinic.changed",
        {
            "clinic_id": clinic_id,
            "code": "VAN",
            "name": "Demo IMS Clinic",
            "timezone": timezone,
            "address": "100 Main St, Vancouver BC",
            "phone": "+16045550199",
            "email": "front@demo.clinic",
            "currency": "CAD",
        },
    )


def appointment_facts(
    clinic_id: uuid.UUID, treatment_type_id: uuid.UUID, starts_at: datetime
) -> dict[str, Any]:
    return {
        "appointment_id": uuid.uuid4(),
        "clinic_id": clinic_id,
        "practitioner_id": uuid.uuid4(),
        "patient_id": uuid.uuid4(),
        "treatment_type_id": treatment_type_id,
        "kind": "treatment",
        "starts_at": starts_at,
        "ends_at": starts_at + timedelta(minutes=30),
        "sequence": 0,
    }


def booked(facts: dict[str, Any]) -> Envelope:
    return event("scheduling.appointment.booked", facts)


def cancelled(facts: dict[str, Any], *, late: bool) -> Envelope:
    return event(
        "scheduling.appointment.cancelled",
        facts
        | {
            "sequence": 1,
            "cancelled_at": facts["starts_at"] - timedelta(hours=3),
            "cancelled_by": "patient",
            "late": late,
        },
    )


# 05:30 UTC is still the previous day in Vancouver.
STARTS_AT = datetime(2030, 6, 1, 5, 30, tzinfo=UTC)


# --- tests ---------------------------------------------------------------------------------------------


def test_a_booking_plans_one_charge_at_the_clinics_price(harness: Harness) -> None:
    clinic_id, treatment_id = uuid.uuid4(), uuid.uuid4()
    harness.deliver(clinic_changed(clinic_id))
    harness.set_price(clinic_id, treatment_id, 12000)
    facts = appointment_facts(clinic_id, treatment_id, STARTS_AT)
    envelope = booked(facts)

    harness.deliver(envelope)

    assert harness.outcomes.of(envelope.id) == ["applied"]
    [charge] = harness.charges_for(facts["appointment_id"])
    assert charge.status is ChargeStatus.PLANNED
    assert charge.kind is ChargeKind.APPOINTMENT
    assert charge.amount == Money(12000, "CAD")
    assert charge.service_date == date(2030, 5, 31)
    assert charge.patient_id == facts["patient_id"]


def test_the_same_booking_delivered_twice_makes_one_charge(harness: Harness) -> None:
    facts = appointment_facts(uuid.uuid4(), uuid.uuid4(), STARTS_AT)
    envelope = booked(facts)

    harness.publish(envelope)
    harness.publish(envelope)
    harness.outcomes.wait(lambda: len(harness.outcomes.of(envelope.id)) == 2)

    assert sorted(harness.outcomes.of(envelope.id)) == ["applied", "duplicate"]
    assert len(harness.charges_for(facts["appointment_id"])) == 1


def test_a_booking_republished_under_a_new_event_id_still_makes_one_charge(harness: Harness) -> None:
    facts = appointment_facts(uuid.uuid4(), uuid.uuid4(), STARTS_AT)
    first, second = booked(facts), booked(facts)

    harness.deliver(first, second)

    # The inbox cannot know the second is the same booking; the unique (appointment, kind) key does.
    assert harness.outcomes.of(first.id) == ["applied"]
    assert harness.outcomes.of(second.id) == ["applied"]
    assert len(harness.charges_for(facts["appointment_id"])) == 1


def test_a_cancellation_aborts_the_charge_and_keeps_the_late_flag(harness: Harness) -> None:
    facts = appointment_facts(uuid.uuid4(), uuid.uuid4(), STARTS_AT)

    harness.deliver(booked(facts), cancelled(facts, late=True))

    [charge] = harness.charges_for(facts["appointment_id"])
    assert charge.status is ChargeStatus.ABORTED
    assert charge.late_cancellation
    assert charge.aborted_at == STARTS_AT - timedelta(hours=3)


def test_a_cancellation_that_overtakes_its_booking_ends_aborted(harness: Harness) -> None:
    clinic_id, treatment_id = uuid.uuid4(), uuid.uuid4()
    harness.set_price(clinic_id, treatment_id, 9000)
    facts = appointment_facts(clinic_id, treatment_id, STARTS_AT)
    late_booking = booked(facts)

    harness.deliver(cancelled(facts, late=False), late_booking)

    assert harness.outcomes.of(late_booking.id) == ["applied"]
    [charge] = harness.charges_for(facts["appointment_id"])
    assert charge.status is ChargeStatus.ABORTED
    assert not charge.late_cancellation
    assert charge.amount == Money(9000, "CAD")


def test_a_booking_without_a_price_is_flagged_not_dead_lettered(harness: Harness) -> None:
    dead_before = harness.dead_letters()
    facts = appointment_facts(uuid.uuid4(), uuid.uuid4(), STARTS_AT)
    envelope = booked(facts)

    harness.deliver(envelope)

    assert harness.outcomes.of(envelope.id) == ["applied"]
    [charge] = harness.charges_for(facts["appointment_id"])
    assert charge.needs_price
    assert charge.amount is None
    assert charge.status is ChargeStatus.PLANNED
    assert harness.dead_letters() == dead_before


def test_a_malformed_booking_is_dead_lettered_without_a_charge(harness: Harness) -> None:
    dead_before = harness.dead_letters()
    facts = appointment_facts(uuid.uuid4(), uuid.uuid4(), STARTS_AT)
    good = dump_event(booked(facts))
    broken = good.replace(b'"sequence":0', b'"sequence":"zero"')
    assert broken != good

    harness.publish_raw("scheduling.appointment.booked", broken, str(uuid.uuid4()))

    deadline = time.monotonic() + WAIT
    while harness.dead_letters() == dead_before:
        assert time.monotonic() < deadline, "the malformed event was not dead-lettered"
        time.sleep(0.05)
    assert harness.charges_for(facts["appointment_id"]) == []


def test_copies_of_scheduling_records_follow_its_events(harness: Harness) -> None:
    clinic_id, practitioner_id, treatment_id, patient_id = (uuid.uuid4() for _ in range(4))
    registered_at = datetime.now(UTC) - timedelta(minutes=5)
    contact = {
        "patient_id": patient_id,
        "last_name": "Demo",
        "email": "pat@example.com",
        "phone": "+16045550100",
        "language": "en",
    }
    harness.deliver(
        clinic_changed(clinic_id, "America/Toronto"),
        event(
            "scheduling.practitioner.changed",
            {
                "practitioner_id": practitioner_id,
                "clinic_id": clinic_id,
                "display_name": "Dr. Ida Needham",
                "registration_number": "PT-1001",
                "active": True,
            },
        ),
        event(
            "scheduling.treatment_type.changed",
            {
                "treatment_type_id": treatment_id,
                "clinic_id": clinic_id,
                "code": "IMS30",
                "name": "IMS session, 30 min",
                "kind": "treatment",
                "duration_minutes": 30,
                "active": True,
            },
        ),
        event("scheduling.patient.updated", contact | {"first_name": "Patricia"}),
        # The registration, delivered after the update it precedes, must not undo it.
        event("scheduling.patient.registered", contact | {"first_name": "Pat"}, occurred_at=registered_at),
    )

    clinic = harness.get(Clinic, clinic_id)
    assert clinic.timezone == "America/Toronto"
    assert harness.get(Practitioner, practitioner_id).registration_number == "PT-1001"
    assert harness.get(TreatmentType, treatment_id).duration_minutes == 30
    assert harness.get(Patient, patient_id).first_name == "Patricia"


def test_every_applied_event_is_recorded_in_the_inbox(harness: Harness) -> None:
    envelope = booked(appointment_facts(uuid.uuid4(), uuid.uuid4(), STARTS_AT))

    harness.deliver(envelope)

    with harness.container.engine.connect() as conn:
        query = select(func.count()).where(
            orm.inbox.c.event_id == envelope.id, orm.inbox.c.consumer == "billing"
        )
        assert conn.execute(query).scalar_one() == 1
