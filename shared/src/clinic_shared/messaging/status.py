"""How far behind an outbox is: unsent rows per event type, their oldest age, and the archive's depth.

An empty outbox (or one whose oldest unsent row is seconds old) is a health signal now that events nobody
consumes are archived instead of retried. From a shell, for monitoring or by hand::

    python -m clinic_shared.messaging.status scheduling [--stuck-after 300] [--database-url URL]

prints the figures and exits 1 when a row has been unsent for longer than ``--stuck-after`` seconds.
The database URL defaults to ``$<SERVICE>_DATABASE_URL``; with ``$AMQP_URL`` (or ``--amqp-url``) it also
prints how many events the service's archive queue holds.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, MetaData, Table, func, select

DEFAULT_STUCK_AFTER = timedelta(minutes=5)


@dataclass(frozen=True)
class PendingType:
    """Unsent rows of one event type."""

    event_type: str
    count: int
    oldest_age: timedelta
    max_attempts: int


@dataclass(frozen=True)
class OutboxStatus:
    """Unsent rows per event type, oldest first."""

    pending: tuple[PendingType, ...]

    @property
    def count(self) -> int:
        return sum(p.count for p in self.pending)

    @property
    def oldest_age(self) -> timedelta:
        return max((p.oldest_age for p in self.pending), default=timedelta(0))

    def stuck(self, after: timedelta) -> bool:
        return self.oldest_age > after


def outbox_status(connection: Connection, table: Table, now: datetime) -> OutboxStatus:
    """Read the unsent rows' figures (rows waiting for a retry included)."""
    t = table
    rows = connection.execute(
        select(
            t.c.routing_key,
            func.count().label("n"),
            func.min(t.c.created_at).label("oldest"),
            func.max(t.c.attempts).label("attempts"),
        )
        .where(t.c.sent_at.is_(None))
        .group_by(t.c.routing_key)
    ).all()
    pending = [
        PendingType(row.routing_key, row.n, max(now - row.oldest, timedelta(0)), row.attempts) for row in rows
    ]
    pending.sort(key=lambda p: (-p.oldest_age, p.event_type))
    return OutboxStatus(tuple(pending))


def format_status(service: str, status: OutboxStatus) -> list[str]:
    """Human-readable lines; one per pending event type."""
    if not status.pending:
        return [f"{service} outbox: nothing unsent"]
    lines = [f"{service} outbox: {status.count} unsent, oldest {status.oldest_age.total_seconds():.0f}s"]
    for p in status.pending:
        lines.append(
            f"  {p.event_type}: {p.count} unsent, oldest {p.oldest_age.total_seconds():.0f}s,"
            f" up to {p.max_attempts} attempt(s)"
        )
    return lines


def archive_depth(amqp_url: str, exchange: str) -> int | None:
    """Messages held by the exchange's archive queue, or None when it does not exist."""
    import pika
    import pika.exceptions

    from clinic_shared.messaging.connection import node_parameters
    from clinic_shared.messaging.topology import archive_queue_for

    connection = pika.BlockingConnection(
        node_parameters(amqp_url, heartbeat=0, connection_name="outbox-status")
    )
    try:
        channel = connection.channel()
        try:
            declared = channel.queue_declare(archive_queue_for(exchange), passive=True)
        except pika.exceptions.ChannelClosedByBroker as exc:
            if exc.reply_code == 404:
                return None
            raise
        return int(declared.method.message_count)
    finally:
        if connection.is_open:
            connection.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Print a service's outbox status; 1 when a row is older than ``--stuck-after``, else 0."""
    from clinic_shared.db import make_engine
    from clinic_shared.messaging.outbox import exchange_for
    from clinic_shared.messaging.tables import define_outbox_table

    parser = argparse.ArgumentParser(prog="python -m clinic_shared.messaging.status", description=__doc__)
    parser.add_argument("service", help="the producing service, e.g. scheduling")
    parser.add_argument("--database-url", help="default: $<SERVICE>_DATABASE_URL")
    parser.add_argument("--amqp-url", default=os.environ.get("AMQP_URL"), help="default: $AMQP_URL")
    parser.add_argument(
        "--stuck-after", type=float, default=DEFAULT_STUCK_AFTER.total_seconds(), metavar="SECONDS"
    )
    args = parser.parse_args(argv)
    database_url = args.database_url or os.environ.get(f"{args.service.upper()}_DATABASE_URL")
    if not database_url:
        parser.error(f"give --database-url or set {args.service.upper()}_DATABASE_URL")
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            status = outbox_status(connection, define_outbox_table(MetaData()), datetime.now(UTC))
    finally:
        engine.dispose()
    lines = format_status(args.service, status)
    if args.amqp_url:
        depth = archive_depth(args.amqp_url, exchange_for(args.service))
        held = "missing (run setup-broker)" if depth is None else f"{depth} event(s)"
        lines.append(f"{args.service} archive of unconsumed events: {held}")
    sys.stdout.write("".join(f"{line}\n" for line in lines))
    return 1 if status.stuck(timedelta(seconds=args.stuck_after)) else 0


if __name__ == "__main__":
    sys.exit(main())
