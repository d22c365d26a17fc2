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
from billing.domain.billing_policy import FeeMode
from billing.domain.model import (
    Charge,
    ChargeKind,
    ChargeStatus,
    Clinic,
    Package,
    Patient,
    Practitioner,
    TreatmentType,
)
from billing.domain.money import Money
from billing.domain.payments import PaymentMethod
from billing.entrypoints import worker
from billing.entrypoints.handlers import SUBSCRIPTION
from billing.service_layer import billing_policy, invoices, packages, payments, prices
from clinic_shared.events import Envelope, dump_event, load_event, new_event
from clinic_shared.messaging.consumer import Outcome
from clinic_shared.messaging.worker import run_worker
from clinic_shared.testing.tokens import TestIssuer
from clinic_shared.tokens import Principal

pytestmark = pytest.mark.integration

EXCHANGE = "scheduling.events"
STAFF = Principal(account_id=uuid.uuid4(), roles=frozenset({"billing"}))
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
            prices.set_price(
                uow, prices.SetPrice(clinic_id, treatment_type_id, cents, "CAD", date(2020, 1, 1))
            )
            uow.commit()


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


# --- the charge lifecycle after booking ----------------------------------------------------------------


def later_event(event_type: str, facts: dict[str, Any], sequence: int, **extra: Any) -> Envelope:
    return event(event_type, facts | {"sequence": sequence} | extra)


def completed(facts: dict[str, Any], sequence: int = 3) -> Envelope:
    return later_event("scheduling.appointment.completed", facts, sequence, completed_at=facts["ends_at"])


def no_show(facts: dict[str, Any], *, fee_waived: bool = False) -> Envelope:
    return later_event(
        "scheduling.appointment.no_show", facts, 2, marked_at=facts["ends_at"], fee_waived=fee_waived
    )


def set_policy(harness: Harness, clinic_id: uuid.UUID, **rules: Any) -> None:
    with harness.container.uow() as uow:
        billing_policy.set_billing_policy(
            uow,
            STAFF,
            billing_policy.SetBillingPolicy(
                clinic_id=clinic_id,
                currency="CAD",
                late_cancel_fee_mode=rules.get("late_mode"),
                late_cancel_fee_value=rules.get("late_value", 0),
                no_show_fee_mode=rules.get("no_show_mode"),
                no_show_fee_value=rules.get("no_show_value", 0),
                fee_tax_rate_bp=rules.get("fee_tax", 0),
                treatment_tax_rate_bp=0,
                payment_terms_days=30,
            ),
        )
        uow.commit()


def test_a_completed_appointment_makes_its_charge_billable_once(harness: Harness) -> None:
    facts = appointment_facts(uuid.uuid4(), uuid.uuid4(), STARTS_AT)
    first, again = completed(facts), completed(facts)

    harness.deliver(booked(facts), first, again)

    assert harness.outcomes.of(again.id) == ["applied"]
    [charge] = harness.charges_for(facts["appointment_id"])
    assert charge.status is ChargeStatus.BILLABLE


def test_a_late_cancellation_adds_one_fixed_fee_even_when_redelivered(harness: Harness) -> None:
    clinic_id = uuid.uuid4()
    set_policy(harness, clinic_id, late_mode=FeeMode.FIXED, late_value=4000, fee_tax=500)
    facts = appointment_facts(clinic_id, uuid.uuid4(), STARTS_AT)
    cancellation = cancelled(facts, late=True)

    harness.deliver(booked(facts), cancellation, cancelled(facts, late=True))
    harness.publish(cancellation)
    harness.outcomes.wait(lambda: len(harness.outcomes.of(cancellation.id)) == 2)

    charges = {c.kind: c for c in harness.charges_for(facts["appointment_id"])}
    assert set(charges) == {ChargeKind.APPOINTMENT, ChargeKind.LATE_CANCEL_FEE}
    fee = charges[ChargeKind.LATE_CANCEL_FEE]
    assert (fee.status, fee.amount, fee.tax_rate_bp) == (ChargeStatus.BILLABLE, Money(4000, "CAD"), 500)
    assert charges[ChargeKind.APPOINTMENT].status is ChargeStatus.ABORTED


def test_a_waived_or_timely_cancellation_charges_no_fee(harness: Harness) -> None:
    clinic_id = uuid.uuid4()
    set_policy(harness, clinic_id, late_mode=FeeMode.FIXED, late_value=4000)
    waived = appointment_facts(clinic_id, uuid.uuid4(), STARTS_AT)
    timely = appointment_facts(clinic_id, uuid.uuid4(), STARTS_AT)

    harness.deliver(
        booked(waived),
        event("scheduling.appointment.cancelled", cancelled(waived, late=True).data | {"fee_waived": True}),
        booked(timely),
        cancelled(timely, late=False),
    )

    assert [c.kind for c in harness.charges_for(waived["appointment_id"])] == [ChargeKind.APPOINTMENT]
    assert [c.kind for c in harness.charges_for(timely["appointment_id"])] == [ChargeKind.APPOINTMENT]


def test_a_no_show_charges_a_percentage_of_the_visit_instead_of_the_visit(harness: Harness) -> None:
    clinic_id, treatment_id = uuid.uuid4(), uuid.uuid4()
    harness.set_price(clinic_id, treatment_id, 12001)
    set_policy(harness, clinic_id, no_show_mode=FeeMode.PERCENT, no_show_value=5000)
    facts = appointment_facts(clinic_id, treatment_id, STARTS_AT)

    harness.deliver(booked(facts), no_show(facts), no_show(facts))

    charges = {c.kind: c for c in harness.charges_for(facts["appointment_id"])}
    assert set(charges) == {ChargeKind.APPOINTMENT, ChargeKind.NO_SHOW_FEE}
    assert charges[ChargeKind.NO_SHOW_FEE].amount == Money(6001, "CAD")
    assert charges[ChargeKind.APPOINTMENT].status is ChargeStatus.ABORTED


def test_a_waived_no_show_charges_nothing(harness: Harness) -> None:
    clinic_id = uuid.uuid4()
    set_policy(harness, clinic_id, no_show_mode=FeeMode.FIXED, no_show_value=5000)
    facts = appointment_facts(clinic_id, uuid.uuid4(), STARTS_AT)

    harness.deliver(booked(facts), no_show(facts, fee_waived=True))

    assert [c.kind for c in harness.charges_for(facts["appointment_id"])] == [ChargeKind.APPOINTMENT]


def test_a_rescheduled_charge_follows_the_new_date_and_its_price(harness: Harness) -> None:
    clinic_id, treatment_id = uuid.uuid4(), uuid.uuid4()
    harness.deliver(clinic_changed(clinic_id))
    with harness.container.uow() as uow:
        prices.set_price(uow, prices.SetPrice(clinic_id, treatment_id, 10000, "CAD", date(2020, 1, 1)))
        uow.commit()
    with harness.container.uow() as uow:
        prices.set_price(uow, prices.SetPrice(clinic_id, treatment_id, 11000, "CAD", date(2030, 7, 1)))
        uow.commit()
    facts = appointment_facts(clinic_id, treatment_id, STARTS_AT)
    new_start = datetime(2030, 7, 2, 17, 0, tzinfo=UTC)
    moved = later_event(
        "scheduling.appointment.rescheduled",
        facts | {"starts_at": new_start, "ends_at": new_start + timedelta(minutes=30)},
        1,
        previous_practitioner_id=facts["practitioner_id"],
        previous_starts_at=facts["starts_at"],
        previous_ends_at=facts["ends_at"],
    )

    harness.deliver(booked(facts), moved)

    [charge] = harness.charges_for(facts["appointment_id"])
    assert (charge.service_date, charge.starts_at, charge.amount) == (
        date(2030, 7, 2),
        new_start,
        Money(11000, "CAD"),
    )
    assert charge.status is ChargeStatus.PLANNED


def test_a_late_reschedule_does_not_touch_a_completed_charge(harness: Harness) -> None:
    clinic_id, treatment_id = uuid.uuid4(), uuid.uuid4()
    harness.set_price(clinic_id, treatment_id, 10000)
    facts = appointment_facts(clinic_id, treatment_id, STARTS_AT)
    new_start = STARTS_AT + timedelta(days=7)
    stale = later_event(
        "scheduling.appointment.rescheduled",
        facts | {"starts_at": new_start, "ends_at": new_start + timedelta(minutes=30)},
        1,
        previous_practitioner_id=facts["practitioner_id"],
        previous_starts_at=facts["starts_at"],
        previous_ends_at=facts["ends_at"],
    )

    harness.deliver(booked(facts), completed(facts), stale)

    [charge] = harness.charges_for(facts["appointment_id"])
    assert (charge.status, charge.starts_at) == (ChargeStatus.BILLABLE, STARTS_AT)


# --- billing's own events leave through the outbox ----------------------------------------------------


def test_issuing_an_invoice_and_taking_a_payment_publish_billings_events(harness: Harness) -> None:
    channel = harness.channel
    channel.exchange_declare("billing.events", exchange_type="topic", durable=True)
    queue = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind(queue, "billing.events", routing_key="billing.#")
    clinic_id = uuid.uuid4()
    harness.set_price(clinic_id, treatment_id := uuid.uuid4(), 12000)
    facts = appointment_facts(clinic_id, treatment_id, STARTS_AT)
    harness.deliver(clinic_changed(clinic_id), booked(facts), completed(facts))
    with harness.container.uow() as uow:
        draft = invoices.draft_invoice(uow, STAFF, invoices.DraftInvoice(clinic_id, facts["patient_id"]))
        uow.commit()
    with harness.container.uow() as uow:
        issued = invoices.issue_invoice(uow, STAFF, draft.id, harness.container.links)
        uow.commit()
    with harness.container.uow() as uow:
        payments.record_payment(
            uow,
            STAFF,
            payments.RecordPayment(
                clinic_id,
                facts["patient_id"],
                12000,
                "CAD",
                PaymentMethod.CASH,
                [payments.AllocationRequest(draft.id, 12000)],
            ),
        )
        uow.commit()

    received: dict[str, Envelope] = {}
    deadline = time.monotonic() + WAIT
    while len(received) < 2:
        assert time.monotonic() < deadline, f"billing's events did not arrive; got {sorted(received)}"
        method, _properties, body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            time.sleep(0.05)
            continue
        envelope = load_event(body)
        received[envelope.type] = envelope
    assert received["billing.invoice.issued"].data["number"] == issued.number
    assert received["billing.invoice.issued"].data["balance_cents"] == 12000
    assert received["billing.payment.received"].data["allocations"] == [
        {"invoice_id": draft.id, "amount_cents": 12000}
    ]


def test_completed_sessions_draw_down_a_prepaid_package_exactly_once_each(harness: Harness) -> None:
    clinic_id, treatment_id, patient_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    harness.deliver(clinic_changed(clinic_id))
    harness.set_price(clinic_id, treatment_id, 12000)
    with harness.container.uow() as uow:
        sold = packages.sell_package(
            uow, STAFF, packages.SellPackage(clinic_id, patient_id, treatment_id, 2, 20000, "CAD")
        )
        uow.commit()
    visits = [
        appointment_facts(clinic_id, treatment_id, STARTS_AT) | {"patient_id": patient_id} for _ in range(3)
    ]

    for facts in visits:
        harness.deliver(booked(facts), completed(facts), completed(facts))

    statuses = [harness.charges_for(facts["appointment_id"])[0].status for facts in visits]
    assert statuses == [ChargeStatus.PREPAID, ChargeStatus.PREPAID, ChargeStatus.BILLABLE]
    assert harness.get(Package, sold.id).sessions_used == 2
