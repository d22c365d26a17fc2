"""The consumer's inbox: a row per event a consumer applied, written in the transaction that applies it.

Claiming an event inserts its row; a row already there (the key is consumer and event id) means the event
was applied before, so a redelivery is recognised as a duplicate. A batch of events is claimed in one
statement.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Table, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from clinic_shared.db import is_conflict
from clinic_shared.events.envelope import Envelope


class InboxClaimLost(RuntimeError):
    """A handler rolled back the consumer's transaction, taking the event's inbox row with it."""


def claim(
    session: Session, inbox: Table, consumer: str, envelopes: Sequence[Envelope], now: datetime
) -> set[uuid.UUID]:
    """Insert the inbox rows of ``envelopes`` (distinct events); the ids of those claimed now, that is not
    applied by this consumer before."""
    if not envelopes:
        return set()

    def row(envelope: Envelope) -> dict[str, object]:
        return {
            "consumer": consumer,
            "event_id": envelope.id,
            "event_type": envelope.type,
            "processed_at": now,
        }

    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        insert_ = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = (
            insert_(inbox)
            .values([row(envelope) for envelope in envelopes])
            .on_conflict_do_nothing(index_elements=[c.name for c in inbox.primary_key])
            .returning(inbox.c.event_id)
        )
        # RETURNING rather than rowcount, which SQLAlchemy does not keep for INSERT by default.
        return {event_id for event_id in session.execute(stmt).scalars() if isinstance(event_id, uuid.UUID)}
    claimed: set[uuid.UUID] = set()
    for envelope in envelopes:
        try:
            with session.begin_nested():
                session.execute(insert(inbox).values(**row(envelope)))
        except IntegrityError as exc:
            if not is_conflict(exc):
                raise
        else:
            claimed.add(envelope.id)
    return claimed


def check_claim_kept(
    session: Session, inbox: Table, consumer: str, envelope: Envelope, claimed_in: object
) -> None:
    """Refuse to ack an event whose inbox row the handler rolled back.

    The consumer owns the transaction; a handler only adds to it (a lost race is rolled back to a
    savepoint, see ``SqlAlchemyUnitOfWork.conflicts_as``). A handler that ended the transaction itself
    either committed the row with its work or threw it away: the latter must not be acked as applied
    with no record, so it is retried instead, and the redelivery runs the handler again.
    """
    if session.get_transaction() is claimed_in:
        return
    recorded = session.execute(
        select(inbox.c.event_id).where(inbox.c.consumer == consumer, inbox.c.event_id == envelope.id)
    ).first()
    if recorded is None:
        raise InboxClaimLost(
            f"the handler of {envelope.type} rolled back the consumer's transaction and its inbox row"
        )
