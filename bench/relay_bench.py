"""Outbox relay throughput against plain pika publishing, on the local PostgreSQL and RabbitMQ.

Creates a throw-away database and vhost, fills the outbox, and measures:

(a) ``OutboxRelay.publish_pending()``: confirmed events/s, from the start of draining until every row is
    marked sent (per batch size);
(b) plain unconfirmed ``BlockingConnection.basic_publish`` of the same bodies to the same exchange/queue;
(c) wait-per-confirm ``BlockingChannel.confirm_delivery()`` publishing of a subset.

Usage: ``.venv/bin/python bench/relay_bench.py [--events 20000] [--batch-sizes 500,1000,2000]``
"""

from __future__ import annotations

import argparse
import functools
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import pika
from sqlalchemy import Engine, MetaData, Table, func, insert, select

from clinic_shared.db import make_engine, make_session_factory
from clinic_shared.events import new_event
from clinic_shared.events.envelope import dump_event
from clinic_shared.messaging.outbox import exchange_for
from clinic_shared.messaging.relay import OutboxRelay
from clinic_shared.messaging.tables import define_outbox_table
from clinic_shared.messaging.topology import declare_exchange
from clinic_shared.testing.benchmarks import Figure, Throughput, record
from clinic_shared.testing.postgres import temporary_database
from clinic_shared.testing.rabbit import temporary_vhost

TARGET_RATIO = 0.4
PRODUCER = "scheduling"
EXCHANGE = exchange_for(PRODUCER)
EVENT_TYPE = "scheduling.clinic.changed"
QUEUE = "bench"


class _FixedClock:
    def __init__(self) -> None:
        self._now = datetime.now(UTC)

    def now(self) -> datetime:
        return self._now


def make_rows(n: int, clock: _FixedClock) -> list[dict[str, object]]:
    rows = []
    for i in range(n):
        envelope = new_event(
            EVENT_TYPE,
            {
                "clinic_id": uuid.uuid4(),
                "code": f"C{i % 100000:05d}",
                "name": f"Clinic number {i}",
                "timezone": "America/Toronto",
                "address": f"{i} Rue Sainte-Catherine Ouest, Montreal QC H3B 1A7",
                "phone": "+15145550100",
                "email": "front-desk@example.com",
                "currency": "CAD",
            },
            producer=PRODUCER,
            occurred_at=clock.now(),
        )
        rows.append(
            {
                "event_id": envelope.id,
                "exchange": EXCHANGE,
                "routing_key": envelope.type,
                "body": dump_event(envelope),
                "created_at": envelope.occurred_at,
                "next_attempt_at": envelope.occurred_at,
                "attempts": 0,
            }
        )
    return rows


def reset_outbox(engine: Engine, table: Table, rows: list[dict[str, object]]) -> None:
    with engine.begin() as conn:
        conn.execute(table.delete())
        conn.execute(insert(table), rows)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE outbox")


def purge(amqp_url: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        connection.channel().queue_purge(QUEUE)
    finally:
        connection.close()


def timed(label: str, n: int, fn: Callable[[], object]) -> Throughput:
    start = time.perf_counter()
    fn()
    return Throughput(label, n, time.perf_counter() - start)


def bench_relay(
    engine: Engine, table: Table, amqp_url: str, rows: list[dict[str, object]], batch: int, depth: int
) -> Throughput:
    reset_outbox(engine, table, rows)
    purge(amqp_url)
    relay = OutboxRelay(
        make_session_factory(engine),
        table,
        amqp_url,
        clock=_FixedClock(),
        batch_size=batch,
        pipeline_depth=depth,
    )
    relay.publish_pending(limit=0)  # opens the connection outside the timing
    try:
        label = f"relay publish_pending (batch {batch}, depth {depth})"
        result = timed(label, len(rows), relay.publish_pending)
    finally:
        relay.close()
    with engine.connect() as conn:
        unsent = conn.execute(select(func.count()).where(table.c.sent_at.is_(None))).scalar_one()
    if unsent:
        raise SystemExit(f"relay left {unsent} rows unsent")
    return result


def _properties(row: dict[str, object]) -> pika.BasicProperties:
    return pika.BasicProperties(
        content_type="application/json", delivery_mode=2, message_id=str(row["event_id"]), type=EVENT_TYPE
    )


def bench_plain(amqp_url: str, rows: Sequence[dict[str, object]], *, confirm: bool) -> Throughput:
    purge(amqp_url)
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    if confirm:
        channel.confirm_delivery()

    def publish() -> None:
        for row in rows:
            body = row["body"]
            assert isinstance(body, bytes)
            channel.basic_publish(EXCHANGE, EVENT_TYPE, body, properties=_properties(row), mandatory=True)
        connection.process_data_events(time_limit=0)

    try:
        label = "BlockingChannel wait-per-confirm" if confirm else "BlockingConnection unconfirmed"
        return timed(label, len(rows), publish)
    finally:
        connection.close()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch-sizes", default="500,1000,2000")
    parser.add_argument("--pipeline-depths", default="3", help="comma-separated OutboxRelay pipeline_depth")
    parser.add_argument("--confirm-subset", type=int, default=2_000)
    parser.add_argument("--queue-type", choices=("quorum", "classic"), default="quorum")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best is kept")
    args = parser.parse_args(argv)
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    depths = [int(d) for d in args.pipeline_depths.split(",")]

    clock = _FixedClock()
    rows = make_rows(args.events, clock)
    with temporary_database("bench") as pg_url, temporary_vhost("bench") as amqp_url:
        engine = make_engine(pg_url)
        metadata = MetaData()
        table = define_outbox_table(metadata)
        metadata.create_all(engine)
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        channel = connection.channel()
        declare_exchange(channel, EXCHANGE)
        channel.queue_declare(QUEUE, durable=True, arguments={"x-queue-type": args.queue_type})
        channel.queue_bind(QUEUE, EXCHANGE, "#")
        connection.close()

        def best(run: Callable[[], Throughput]) -> Throughput:
            return min((run() for _ in range(args.repeat)), key=lambda r: r.seconds)

        results: list[Throughput] = []
        plain = best(lambda: bench_plain(amqp_url, rows, confirm=False))
        results.append(plain)
        relay_results = [
            best(functools.partial(bench_relay, engine, table, amqp_url, rows, batch, depth))
            for batch in batch_sizes
            for depth in depths
        ]
        results.extend(relay_results)
        results.append(bench_plain(amqp_url, rows[: args.confirm_subset], confirm=True))
        engine.dispose()

    print(
        f"\n{args.events} events, {args.queue_type} queue, persistent, mandatory;"
        f" best of {args.repeat} runs (wait-per-confirm: one run)\n"
    )
    print(f"{'method':<46} {'messages':>9} {'seconds':>8} {'msg/s':>9} {'x unconfirmed':>14}")
    for result in results:
        print(
            f"{result.label:<46} {result.messages:>9} {result.seconds:>8.2f} {result.rate:>9.0f}"
            f" {result.rate / plain.rate:>14.2f}"
        )
    fastest = max(relay_results, key=lambda r: r.rate)
    ratio = fastest.rate / plain.rate
    verdict = "MET" if ratio >= TARGET_RATIO else "NOT met"
    print(f"\nbest relay / unconfirmed = {ratio:.2f} (target {TARGET_RATIO}): {verdict}")
    record(
        Figure(
            "outbox relay (confirmed, marked sent) / unconfirmed pika publishing",
            ratio,
            "x",
            f">= {TARGET_RATIO}",
            baseline=f"unconfirmed {plain.rate:,.0f} msg/s",
        )
    )


if __name__ == "__main__":
    main()
