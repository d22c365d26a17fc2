"""Billing's event consumer applying booked events, against a bare pika consumer (local broker, PostgreSQL).

Creates a throw-away database (billing's migrations) and vhost (billing's queues declared by ``setup_broker``,
as ``billing setup-broker`` does), gives billing the clinic, practitioner, treatment type, patients and price
a booking needs (through its own handlers and service layer), then, from the same pre-filled quorum queue,
with the same prefetch and database, measures messages/s of:

(a) billing's consumer, built as ``billing worker`` builds it (``worker.build_consumer``): each
    ``scheduling.appointment.booked`` event is parsed, claimed in the inbox, planned as a charge (priced,
    audited) and committed, then acked;
(b) a bare pika consumer that inserts one row per message (psycopg, one connection) and acks after commit.

Target: (a) >= 0.5x (b).
Usage: ``.venv/bin/python bench/consumer_bench.py [--events 3000] [--prefetch 20] [--repeat 2]``
"""

from __future__ import annotations

import argparse
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pika
import psycopg
from sqlalchemy import func, select

from billing.adapters import orm
from billing.bootstrap import Container, bootstrap
from billing.config import BillingSettings
from billing.entrypoints import worker
from billing.entrypoints.cli import MIGRATIONS
from billing.entrypoints.handlers import HANDLERS, SUBSCRIPTION
from billing.service_layer import prices
from clinic_shared.events import Envelope, dump_event, new_event
from clinic_shared.messaging.outbox import exchange_for
from clinic_shared.messaging.topology import setup_broker
from clinic_shared.migrations import upgrade
from clinic_shared.testing.benchmarks import Figure, Throughput, record
from clinic_shared.testing.postgres import temporary_database
from clinic_shared.testing.rabbit import temporary_vhost
from clinic_shared.testing.tokens import TestIssuer

TARGET_RATIO = 0.5
EXCHANGE = exchange_for("scheduling")
BOOKED = "scheduling.appointment.booked"
PATIENTS = 20
TIMEOUT = 300.0


@dataclass(frozen=True)
class Catalogue:
    clinic_id: uuid.UUID
    practitioner_id: uuid.UUID
    treatment_type_id: uuid.UUID
    patient_ids: list[uuid.UUID]


def event(event_type: str, data: dict[str, Any]) -> Envelope:
    return new_event(event_type, data, producer="scheduling", occurred_at=datetime.now(UTC))


def reference_events(catalogue: Catalogue) -> list[Envelope]:
    """What scheduling announces before any booking: the clinic, practitioner, treatment and patients."""
    events = [
        event(
            "scheduling.clinic.changed",
            {
                "clinic_id": catalogue.clinic_id,
                "code": "BENCH",
                "name": "Bench IMS",
                "timezone": "America/Vancouver",
                "address": "1 Main St, Vancouver BC",
                "phone": "+16045550100",
                "email": "front@bench.test",
                "currency": "CAD",
            },
        ),
        event(
            "scheduling.practitioner.changed",
            {
                "practitioner_id": catalogue.practitioner_id,
                "clinic_id": catalogue.clinic_id,
                "display_name": "Dr. Bench",
                "registration_number": "PT-1",
                "active": True,
            },
        ),
        event(
            "scheduling.treatment_type.changed",
            {
                "treatment_type_id": catalogue.treatment_type_id,
                "clinic_id": catalogue.clinic_id,
                "code": "IMS30",
                "name": "IMS session, 30 min",
                "kind": "treatment",
                "duration_minutes": 30,
                "active": True,
            },
        ),
    ]
    for n, patient_id in enumerate(catalogue.patient_ids):
        contact = {"first_name": f"Pat{n}", "last_name": "Bench", "email": f"pat{n}@bench.test"}
        events.append(
            event(
                "scheduling.patient.registered",
                {"patient_id": patient_id, **contact, "phone": "+16045550100", "language": "en"},
            )
        )
    return events


def booked_events(catalogue: Catalogue, n: int) -> list[Envelope]:
    """``n`` bookings, each its own appointment half an hour after the previous one."""
    first = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=7)
    events = []
    for i in range(n):
        starts_at = first + timedelta(minutes=30 * i)
        facts = {
            "appointment_id": uuid.uuid4(),
            "clinic_id": catalogue.clinic_id,
            "practitioner_id": catalogue.practitioner_id,
            "patient_id": catalogue.patient_ids[i % len(catalogue.patient_ids)],
            "treatment_type_id": catalogue.treatment_type_id,
            "kind": "treatment",
            "starts_at": starts_at,
            "ends_at": starts_at + timedelta(minutes=30),
            "sequence": 0,
        }
        events.append(event(BOOKED, facts))
    return events


def prepare_billing(container: Container, catalogue: Catalogue) -> None:
    """Apply the reference events through billing's handlers (as its consumer would) and set a price."""
    for envelope in reference_events(catalogue):
        with container.uow() as uow:
            HANDLERS[envelope.type](uow, envelope)
            uow.commit()
    with container.uow() as uow:
        prices.set_price(
            uow,
            prices.SetPrice(catalogue.clinic_id, catalogue.treatment_type_id, 9000, "CAD", date(2020, 1, 1)),
        )
        uow.commit()


def fill_queue(amqp_url: str, events: Sequence[Envelope]) -> None:
    """Publish as scheduling's relay would (persistent, to its exchange) and wait until all are queued."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        for envelope in events:
            properties = pika.BasicProperties(
                content_type="application/json",
                delivery_mode=pika.DeliveryMode.Persistent,
                message_id=str(envelope.id),
                type=envelope.type,
            )
            channel.basic_publish(EXCHANGE, envelope.type, dump_event(envelope), properties=properties)
        deadline = time.monotonic() + TIMEOUT
        while channel.queue_declare(SUBSCRIPTION.queue, passive=True).method.message_count < len(events):
            if time.monotonic() > deadline:
                raise SystemExit("the queue was not filled in time")
            time.sleep(0.1)
    finally:
        connection.close()


class Counter:
    """Counts the consumer's reports and wakes the waiter at ``target``."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.outcomes: dict[str, int] = {}
        self.done = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, _envelope: Envelope | None, outcome: str) -> None:
        with self._lock:
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
            if sum(self.outcomes.values()) >= self.target:
                self.done.set()


def bench_billing(container: Container, amqp_url: str, events: Sequence[Envelope]) -> Throughput:
    fill_queue(amqp_url, events)
    counter = Counter(len(events))
    consumer = worker.build_consumer(container, on_processed=counter)
    stop = threading.Event()
    thread = threading.Thread(target=consumer.run, args=(stop,), name="billing-consumer", daemon=True)
    started = time.perf_counter()  # connecting is inside the timing, as for the bare consumer
    thread.start()
    try:
        if not counter.done.wait(TIMEOUT):
            raise SystemExit(f"billing's consumer did not finish: {counter.outcomes}")
        seconds = time.perf_counter() - started
    finally:
        stop.set()
        thread.join(timeout=30)
    if counter.outcomes != {"applied": len(events)}:
        raise SystemExit(f"billing's consumer reported {counter.outcomes}, not {len(events)} applied")
    appointment_ids = [envelope.data["appointment_id"] for envelope in events]
    with container.engine.connect() as conn:
        charged = conn.execute(
            select(func.count()).where(orm.charges.c.appointment_id.in_(appointment_ids))
        ).scalar_one()
    if charged != len(events):
        raise SystemExit(f"{charged} charges for {len(events)} bookings")
    return Throughput("billing consumer (inbox + charge + audit)", len(events), seconds)


def bench_bare(dsn: str, amqp_url: str, events: Sequence[Envelope], prefetch: int) -> Throughput:
    fill_queue(amqp_url, events)
    with psycopg.connect(dsn) as db:
        db.execute("TRUNCATE bare_events")
        db.commit()
        started = time.perf_counter()
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        try:
            channel = connection.channel()
            channel.basic_qos(prefetch_count=prefetch)
            received = 0

            def on_message(
                ch: Any, method: pika.spec.Basic.Deliver, properties: pika.BasicProperties, body: bytes
            ) -> None:
                nonlocal received
                db.execute(
                    "INSERT INTO bare_events (event_id, body) VALUES (%s, %s)",
                    (properties.message_id, body),
                )
                db.commit()
                ch.basic_ack(method.delivery_tag)
                received += 1

            channel.basic_consume(SUBSCRIPTION.queue, on_message)
            deadline = time.monotonic() + TIMEOUT
            while received < len(events):
                if time.monotonic() > deadline:
                    raise SystemExit(f"the bare consumer did not finish ({received} of {len(events)})")
                connection.process_data_events(time_limit=0.2)
            seconds = time.perf_counter() - started
        finally:
            connection.close()
    return Throughput("bare pika consumer (INSERT, commit, ack)", len(events), seconds)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=3000, help="booked events per run")
    parser.add_argument(
        "--prefetch", type=int, default=20, help="both consumers' prefetch (billing's default)"
    )
    parser.add_argument("--repeat", type=int, default=2, help="runs of each, alternating; the best is kept")
    parser.add_argument(
        "--threads", type=int, default=None, help="billing's handler threads (default: CONSUMER_THREADS's)"
    )
    parser.add_argument("--batch", type=int, default=None, help="billing's batch (default: CONSUMER_BATCH's)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    catalogue = Catalogue(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), [uuid.uuid4() for _ in range(PATIENTS)])
    with temporary_database("bench_consumer") as pg_url, temporary_vhost("bench") as amqp_url:
        upgrade(pg_url, MIGRATIONS)
        dsn = "postgresql://" + pg_url.split("://", 1)[1]
        with psycopg.connect(dsn) as db:
            db.execute("CREATE TABLE bare_events (event_id uuid PRIMARY KEY, body bytea NOT NULL)")
        setup_broker(amqp_url, producer="billing", subscription=SUBSCRIPTION)
        environ = {
            "BILLING_DATABASE_URL": pg_url,
            "AMQP_URL": amqp_url,
            "VAR_DIR": "/nonexistent",
            "CONSUMER_PREFETCH": str(args.prefetch),
        } | ({"CONSUMER_THREADS": str(args.threads)} if args.threads is not None else {})
        environ |= {"CONSUMER_BATCH": str(args.batch)} if args.batch is not None else {}
        container = bootstrap(
            BillingSettings.from_env(environ),
            verifier=TestIssuer().verifier(),
            pre_ping=False,  # as `billing worker`
        )
        try:
            prepare_billing(container, catalogue)
            runs: dict[str, list[Throughput]] = {"billing": [], "bare": []}
            for _ in range(args.repeat):
                # Fresh appointments each run: a replayed booking would be a duplicate, not a new charge.
                runs["bare"].append(
                    bench_bare(dsn, amqp_url, booked_events(catalogue, args.events), args.prefetch)
                )
                runs["billing"].append(
                    bench_billing(container, amqp_url, booked_events(catalogue, args.events))
                )
        finally:
            container.engine.dispose()

    best: Callable[[list[Throughput]], Throughput] = lambda results: min(results, key=lambda r: r.seconds)  # noqa: E731
    bare, billing = best(runs["bare"]), best(runs["billing"])
    ratio = billing.rate / bare.rate
    print(
        f"\n{args.events} scheduling.appointment.booked events from a pre-filled quorum queue, prefetch"
        f" {args.prefetch}; best of {args.repeat} runs each\n"
    )
    print(f"{'consumer':<44} {'messages':>9} {'seconds':>8} {'msg/s':>8} {'x bare':>7}")
    for result in (bare, billing):
        print(
            f"{result.label:<44} {result.messages:>9} {result.seconds:>8.2f} {result.rate:>8.0f}"
            f" {result.rate / bare.rate:>7.2f}"
        )
    verdict = "met" if ratio >= TARGET_RATIO else "MISSED"
    print(f"\nbilling consumer / bare consumer = {ratio:.2f} (target >= {TARGET_RATIO}): {verdict}")
    baseline = f"bare pika consumer {bare.rate:,.0f} msg/s"
    record(Figure("billing consumer, booked events applied", billing.rate, "msg/s", baseline=baseline))
    record(Figure("bare pika consumer, INSERT + ack after commit", bare.rate, "msg/s"))
    record(
        Figure("billing consumer / bare pika consumer", ratio, "x", f">= {TARGET_RATIO}", baseline=baseline)
    )


if __name__ == "__main__":
    main()
