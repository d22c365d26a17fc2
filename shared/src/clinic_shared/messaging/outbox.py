"""Writing events to the outbox inside the caller's transaction."""

from __future__ import annotations

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from clinic_shared import tracing
from clinic_shared.events.envelope import CATALOG, Envelope, EventCatalog, dump_event


def exchange_for(producer: str) -> str:
    """Each producing service publishes to one topic exchange named after it."""
    return f"{producer}.events"


class OutboxWriter:
    """Adds events to the outbox table of the session's database; the caller commits."""

    def __init__(self, table: Table, catalog: EventCatalog = CATALOG) -> None:
        self._table = table
        self._catalog = catalog
        # One statement, values bound per call: SQLAlchemy reuses its compiled form instead of building,
        # keying and looking up a new INSERT ... VALUES for each event.
        self._insert = insert(table)

    def add(self, session: Session, envelope: Envelope) -> None:
        session.execute(
            self._insert,
            {
                "event_id": envelope.id,
                "exchange": exchange_for(envelope.producer),
                "routing_key": envelope.type,
                "body": dump_event(envelope, self._catalog),
                "created_at": envelope.occurred_at,
                "next_attempt_at": envelope.occurred_at,
                "attempts": 0,
                # The relay publishes later, from another process: it carries the writer's trace on.
                "trace_context": tracing.stored_context(),
            },
        )
