"""The statements that store a send attempt's outcome, built once per dialect and set of changed columns
with their values bound at execution (a statement built per message costs more to compile and look up in the
cache than to run; billing's charge_statements do the same).

Finishing a claim is a compare-and-set: the delivery's row is updated only while it is still as claimed
(``sending``, with the claim's number of attempts), so a claim taken over meanwhile is never overwritten, and
the attempt the claim opened is finished with it. Only the columns the outcome changed are written. On
PostgreSQL both updates go in one statement (data-modifying CTEs: one round trip); elsewhere (SQLite, whose
writers are serialized anyway) in two.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Select, Update, bindparam, func, select, update

from notifications.adapters.orm import deliveries, delivery_attempts
from notifications.domain.deliveries import AttemptOutcome

# What the attempt's finish writes (DeliveryAttempt.finish sets them all), bound as ``attempt_<column>``.
ATTEMPT_COLUMNS = ("outcome", "finished_at", "provider_message_id", "detail")


def _bound(table: Any, column: str, name: str) -> Any:
    return bindparam(name, type_=table.c[column].type)


@functools.lru_cache(maxsize=64)
def finish_delivery(columns: tuple[str, ...]) -> Update:
    """Set ``columns`` (bound as ``new_<column>``) on the delivery ``claimed_id`` if it still has
    ``claimed_status`` and ``claimed_attempts``; its rowcount says whether it did."""
    t = deliveries
    return (
        update(t)
        .where(
            t.c.id == _bound(t, "id", "claimed_id"),
            t.c.status == _bound(t, "status", "claimed_status"),
            t.c.attempts == _bound(t, "attempts", "claimed_attempts"),
        )
        .values({column: _bound(t, column, f"new_{column}") for column in columns})
    )


@functools.cache
def finish_attempt() -> Update:
    """Finish the attempt ``attempt_id`` if it is still open (sending)."""
    t = delivery_attempts
    return (
        update(t)
        .where(t.c.id == _bound(t, "id", "attempt_id"), t.c.outcome == AttemptOutcome.SENDING)
        .values({column: _bound(t, column, f"attempt_{column}") for column in ATTEMPT_COLUMNS})
    )


@functools.lru_cache(maxsize=64)
def finish_claim_at_once(columns: tuple[str, ...]) -> Select[Any]:
    """PostgreSQL: ``finish_delivery`` and, if it matched, ``finish_attempt``, in one statement answering how
    many deliveries it finished (1, or 0 when the claim had been taken over)."""
    finished = finish_delivery(columns).returning(deliveries.c.id).cte("finished")
    attempt = delivery_attempts
    logged = (
        finish_attempt()
        .where(attempt.c.delivery_id.in_(select(finished.c.id)))
        .returning(attempt.c.id)
        .cte("finished_attempt")
    )
    return select(func.count()).select_from(finished).add_cte(logged)
