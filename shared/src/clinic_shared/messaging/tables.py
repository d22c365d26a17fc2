"""Outbox and inbox tables, defined onto each service's own MetaData (each service owns its database)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
    event,
    text,
)
from sqlalchemy.schema import DDL

from clinic_shared.db import UTCDateTime
from clinic_shared.messaging.outbox_wakeup import notify_trigger_ddl


def define_outbox_table(metadata: MetaData) -> Table:
    """Events waiting to be published; written in the same transaction as the state they describe.

    On PostgreSQL, inserting rows notifies the relay (``outbox_wakeup``); the services' migrations create
    the same trigger that ``create_all`` does here.
    """
    table = Table(
        "outbox",
        metadata,
        # Monotonic position keeps publication in commit order per producer.
        Column(
            "position", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
        Column("event_id", Uuid, nullable=False, unique=True),
        Column("exchange", String(100), nullable=False),
        Column("routing_key", String(200), nullable=False),
        Column("body", LargeBinary, nullable=False),
        Column("created_at", UTCDateTime, nullable=False),
        Column("next_attempt_at", UTCDateTime, nullable=False),
        Column("attempts", Integer, nullable=False, server_default=text("0")),
        Column("last_error", Text, nullable=True),
        Column("sent_at", UTCDateTime, nullable=True),
        # W3C trace context (JSON: traceparent, tracestate) of the span that wrote the row; null untraced.
        Column("trace_context", Text, nullable=True),
        Index(
            "ix_outbox_pending",
            "next_attempt_at",
            "position",
            postgresql_where=text("sent_at IS NULL"),
            sqlite_where=text("sent_at IS NULL"),
        ),
    )
    for statement in notify_trigger_ddl(table.name):
        event.listen(table, "after_create", DDL(statement).execute_if(dialect="postgresql"))
    return table


def define_inbox_table(metadata: MetaData) -> Table:
    """Events a consumer has already applied; the primary key makes a second application impossible."""
    return Table(
        "inbox",
        metadata,
        Column("consumer", String(100), primary_key=True),
        Column("event_id", Uuid, primary_key=True),
        Column("event_type", String(200), nullable=False),
        Column("processed_at", UTCDateTime, nullable=False),
    )
