"""Wake the outbox relay as soon as rows are committed, instead of at its next poll.

The relay runs in the worker process, while most outbox rows are written by gunicorn's processes: without
a signal, an event waits for the relay's next poll (0.2 s; half of it on average, on every hop of a chain
of events). On PostgreSQL each outbox table has a statement trigger that sends ``NOTIFY <table>_rows`` when
rows are inserted; PostgreSQL delivers it at commit, once per transaction, and only if the transaction
commits. ``OutboxWakeup`` listens on a connection of its own and calls the relay's ``wake``.

It is only a shortcut: the relay still polls, so a lost connection or a missed notification delays events by
at most one poll interval. The loop reconnects with backoff and never stops the worker.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg
from psycopg import sql
from sqlalchemy import Engine

from clinic_shared.messaging.connection import Backoff

log = logging.getLogger(__name__)

_LISTEN_SLICE = 0.5  # how often the loop looks at ``stop`` while no notification comes


def channel_for(table_name: str) -> str:
    return f"{table_name}_rows"


def notify_trigger_ddl(table_name: str) -> list[str]:
    """PostgreSQL statements creating (or replacing) the trigger that announces new rows of ``table_name``."""
    function = f"{table_name}_announce_rows"
    return [
        f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$"
        f" BEGIN PERFORM pg_notify('{channel_for(table_name)}', ''); RETURN NULL; END $$",
        f"DROP TRIGGER IF EXISTS {function} ON {table_name}",
        f"CREATE TRIGGER {function} AFTER INSERT ON {table_name}"
        f" FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
    ]


def drop_notify_trigger_ddl(table_name: str) -> list[str]:
    function = f"{table_name}_announce_rows"
    return [f"DROP TRIGGER IF EXISTS {function} ON {table_name}", f"DROP FUNCTION IF EXISTS {function}()"]


class OutboxWakeup:
    """``run(stop)``: LISTEN on the outbox's channel and call ``wake`` for each notification."""

    def __init__(
        self, engine: Engine, table_name: str, wake: Callable[[], None], *, backoff: Backoff | None = None
    ) -> None:
        # psycopg's own connection string, from the engine's URL (same host, database and credentials).
        self._dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._channel = channel_for(table_name)
        self._wake = wake
        self._backoff = backoff or Backoff(initial=1.0, cap=30.0)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self._listen(stop)
            except psycopg.Error as exc:
                log.warning(
                    "outbox wake-up: database error (%s); polling only until it reconnects",
                    type(exc).__name__,
                )
                self._backoff.wait(stop)

    def _listen(self, stop: threading.Event) -> None:
        with psycopg.connect(self._dsn, autocommit=True) as connection:
            connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
            self._backoff.reset()
            self._wake()  # rows committed while nobody listened
            while not stop.is_set():
                for _ in connection.notifies(timeout=_LISTEN_SLICE, stop_after=1):
                    self._wake()
