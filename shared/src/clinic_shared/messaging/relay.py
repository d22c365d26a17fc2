"""The outbox relay: publishes committed outbox rows to RabbitMQ and marks them sent after the broker's ack.

Rows are read in batches (on PostgreSQL ``FOR UPDATE SKIP LOCKED``, each batch in its own transaction, so
two relays never publish the same row concurrently) and published back to back on a confirm-mode channel.
Up to ``pipeline_depth`` batches are in flight at once: while the broker confirms one batch the next is
already being read and published. When every confirm of the oldest batch has arrived (``multiple=True``
acks included), one UPDATE marks its acked rows sent and its transaction commits. Nacked or returned
(unroutable, ``mandatory``) rows are rescheduled with a capped backoff and keep their ``last_error``; rows
whose confirm never arrived (connection lost) stay pending untouched. A crash between confirm and mark
republishes a row later: consumers deduplicate, nothing is lost.

An event type no service consumes (``subscriptions.CONSUMED``) is not an error: ``setup-broker`` binds it to
the producer's bounded archive queue, so its publish is confirmed like any other. Should the archive be
missing, its ``312 NO_ROUTE`` return is still taken as delivered (with one warning per type and connection)
rather than retried forever. A consumed type that comes back unroutable means its consumer's queue is
missing: that row is retried, and once it has been pending longer than ``stuck_after`` each refusal logs a
warning naming the oldest such event (id, type, age; never its data). ``status.outbox_status`` gives the same
figures on demand (``python -m clinic_shared.messaging.status``).

Sent rows are kept (with their body) as a record of what was published, except rows of event types the
catalog marks ``carries_secret`` (e.g. a password-reset token): the UPDATE that marks them sent also empties
their body, so the credential does not stay stored in clear once the broker has it.

A retried row can overtake rows published after it, so consumers must not rely on strict ordering
(events carry a ``sequence`` where order matters).

Publishing and confirm bookkeeping live in ``confirming_publisher.py``: one connection, used only by the
thread that runs the relay. Each batch's confirms, once recorded, are counted per event type and failure
reason (``metrics.py``: ``outbox_published_total``, ``outbox_publish_failures_total``). Each publish is a
PRODUCER span in the trace stored with its row (``trace_context``), whose context the message headers carry.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import pika
import pika.channel
import pika.exceptions
import pika.frame
import pika.spec
from sqlalchemy import BigInteger, Engine, Table, any_, bindparam, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from clinic_shared.clock import Clock
from clinic_shared.events import CATALOG, EventCatalog
from clinic_shared.logging import describe_error
from clinic_shared.messaging.confirming_publisher import Batch, ConfirmingPublisher, RelayInterrupted
from clinic_shared.messaging.connection import AmqpNodes, Backoff, node_parameters
from clinic_shared.messaging.metrics import count_publishes
from clinic_shared.messaging.outbox_wakeup import OutboxWakeup
from clinic_shared.messaging.status import DEFAULT_STUCK_AFTER
from clinic_shared.messaging.subscriptions import consumed_types as _consumed_types

log = logging.getLogger(__name__)


class _InFlight:
    """A published batch and the transaction that holds its rows until the confirms are recorded."""

    def __init__(self, session: Session, rows: Sequence[Any], batch: Batch) -> None:
        self.session = session
        self.rows = rows
        self.batch = batch


class OutboxRelay:
    """Publishes pending outbox rows with publisher confirms; ``run`` loops, ``publish_pending`` drains once.

    ``exchanges`` are declared on connect; any other exchange found in a row is declared before its first
    publish on a connection. ``backoff`` paces reconnects; ``retry_backoff`` schedules rows the broker
    refused (indexed by the row's attempts so far). At most ``batch_size * pipeline_depth`` messages are
    awaiting confirms at any time. Rows of the ``catalog``'s secret-carrying types lose their body once sent.
    ``consumed_types`` (default: every type in ``subscriptions.CONSUMED``) are the types whose ``NO_ROUTE``
    is an error; a refused row older than ``stuck_after`` is reported at warning level. With ``wake_on``
    (a PostgreSQL engine) ``run`` also listens for the outbox's insert notifications and polls at once
    (``outbox_wakeup``) rather than waiting up to ``poll_interval``.
    """

    def __init__(
        self,
        session_factory: Callable[[], Session],
        outbox_table: Table,
        amqp_url: str,
        *,
        clock: Clock,
        batch_size: int = 500,
        pipeline_depth: int = 3,
        poll_interval: float = 0.2,
        exchanges: Sequence[str] = (),
        heartbeat: int = 30,
        confirm_timeout: float = 30.0,
        backoff: Backoff | None = None,
        retry_backoff: Backoff | None = None,
        catalog: EventCatalog = CATALOG,
        consumed_types: Collection[str] | None = None,
        stuck_after: timedelta = DEFAULT_STUCK_AFTER,
        wake_on: Engine | None = None,
    ) -> None:
        if batch_size < 1 or pipeline_depth < 1:
            raise ValueError("batch_size and pipeline_depth must be >= 1")
        self._session_factory = session_factory
        self._table = outbox_table
        # A list of cluster nodes: each (re)connect goes to the next one.
        nodes = node_parameters(amqp_url, heartbeat=heartbeat, connection_name="outbox-relay")
        self._nodes = AmqpNodes(nodes)
        self._clock = clock
        self._batch_size = batch_size
        self._depth = pipeline_depth
        self._poll_interval = poll_interval
        self._exchanges = tuple(exchanges)
        self._confirm_timeout = confirm_timeout
        self._backoff = backoff or Backoff()
        self._retry_backoff = retry_backoff or Backoff()
        self._publisher: ConfirmingPublisher | None = None
        self._owner: int | None = None
        self._wake = threading.Event()
        self._row_locks: bool | None = None
        self._secret_types = catalog.secret_types()
        self._consumed = frozenset(_consumed_types() if consumed_types is None else consumed_types)
        self._stuck_after = stuck_after
        self._wakeup = None if wake_on is None else OutboxWakeup(wake_on, outbox_table.name, self.wake)

    def publish_pending(self, limit: int | None = None) -> int:
        """Publish due rows (at most ``limit``) until none remain; returns how many the broker confirmed.

        Raises RelayInterrupted (or a database error) when the broker or database fails; the connection is
        then closed and reopened by the next call.
        """
        confirmed = 0
        attempted = 0
        try:
            publisher = self._ensure_publisher()
            while limit is None or attempted < limit:
                room = None if limit is None else limit - attempted
                sent, fetched = self._drain(publisher, room, lambda: False)
                confirmed += sent
                attempted += fetched
                if fetched == 0:
                    break
        except BaseException:
            self._close_publisher()
            raise
        return confirmed

    def run(self, stop: threading.Event) -> None:
        """Relay until ``stop`` is set, surviving broker and database outages."""
        listener = None
        if self._wakeup is not None:
            listener = threading.Thread(
                target=self._wakeup.run, args=(stop,), name="outbox-wakeup", daemon=True
            )
            listener.start()
        try:
            while not stop.is_set():
                try:
                    publisher = self._ensure_publisher()
                    _, fetched = self._drain(publisher, None, stop.is_set)
                    self._backoff.reset()
                    if fetched == 0:
                        publisher.idle(self._poll_interval, lambda: stop.is_set() or self._wake.is_set())
                        self._wake.clear()
                except (RelayInterrupted, pika.exceptions.AMQPError, OSError) as exc:
                    log.warning("outbox relay: broker unavailable (%s); reconnecting", describe_error(exc))
                    self._close_publisher()
                    self._backoff.wait(stop)
                except SQLAlchemyError as exc:
                    log.warning("outbox relay: database error (%s); retrying", describe_error(exc))
                    self._close_publisher()
                    self._backoff.wait(stop)
        finally:
            self._close_publisher()
            if listener is not None:
                listener.join(timeout=5)

    def wake(self) -> None:
        """Ask a running relay to poll now (thread-safe); e.g. after a commit that added outbox rows."""
        self._wake.set()

    def close(self) -> None:
        """Close the connection opened by ``publish_pending``, from the thread that called it."""
        if self._publisher is not None and self._owner != threading.get_ident():
            raise RuntimeError("an OutboxRelay connection belongs to the thread that opened it")
        self._close_publisher()

    def _ensure_publisher(self) -> ConfirmingPublisher:
        me = threading.get_ident()
        if self._publisher is not None:
            if self._owner != me:
                raise RuntimeError("an OutboxRelay connection belongs to the thread that opened it")
            return self._publisher
        params = self._nodes.next_node()
        publisher = ConfirmingPublisher(
            params, confirm_timeout=self._confirm_timeout, consumed=self._consumed
        )
        try:
            publisher.open(self._exchanges)
        except BaseException:
            publisher.close()
            raise
        log.info("outbox relay: connected to the broker at %s:%s", params.host, params.port)
        self._publisher, self._owner = publisher, me
        return publisher

    def _close_publisher(self) -> None:
        publisher, self._publisher = self._publisher, None
        self._owner = None
        if publisher is not None:
            publisher.close()

    def _drain(
        self, publisher: ConfirmingPublisher, limit: int | None, stopping: Callable[[], bool]
    ) -> tuple[int, int]:
        """Publish due rows, keeping up to ``pipeline_depth`` batches in flight; returns (confirmed, fetched).

        Later batches only read rows after the last one fetched, so an in-flight row is never read twice
        even without row locks (SQLite); rows committed meanwhile with a lower position wait for the next
        drain.
        """
        in_flight: collections.deque[_InFlight] = collections.deque()
        confirmed = fetched = 0
        after: int | None = None
        exhausted = False
        try:
            while True:
                room = None if limit is None else limit - fetched
                if not exhausted and len(in_flight) < self._depth and room != 0 and not stopping():
                    size = self._batch_size if room is None else min(self._batch_size, room)
                    session = self._session_factory()
                    try:
                        rows = self._fetch(session, size, after)
                    except BaseException:
                        session.close()
                        raise
                    exhausted = len(rows) < size
                    if not rows:
                        session.close()
                        continue
                    fetched += len(rows)
                    after = rows[-1].position
                    try:
                        batch = publisher.prepare(rows)
                    except BaseException:
                        session.close()
                        raise
                    # Tracked before publishing so a failure mid-batch still records the confirms it got.
                    in_flight.append(_InFlight(session, rows, batch))
                    publisher.send(batch, rows)
                    continue
                if not in_flight:
                    return confirmed, fetched
                entry = in_flight[0]
                publisher.wait(entry.batch)
                in_flight.popleft()
                confirmed += self._finish(entry)
        except BaseException:
            self._abandon(in_flight)
            raise

    def _fetch(self, session: Session, size: int, after: int | None) -> Sequence[Any]:
        t = self._table
        row_locks = self._uses_row_locks(session)
        stmt = (
            select(
                t.c.position,
                t.c.event_id,
                t.c.exchange,
                t.c.routing_key,
                t.c.body,
                t.c.attempts,
                t.c.created_at,
                t.c.trace_context,
            )
            .where(t.c.sent_at.is_(None), t.c.next_attempt_at <= self._clock.now())
            .order_by(t.c.position)
            .limit(size)
        )
        if after is not None:
            stmt = stmt.where(t.c.position > after)
        if row_locks:
            stmt = stmt.with_for_update(skip_locked=True)
        rows = session.connection().execute(stmt).all()
        if not row_locks:
            # SQLite transactions take the write lock (BEGIN IMMEDIATE): release it while publishing.
            session.commit()
        return rows

    def _finish(self, entry: _InFlight) -> int:
        try:
            confirmed = self._record(entry.session, entry.rows, entry.batch.results)
            entry.session.commit()
            # Counted once recorded: outbox_published_total / outbox_publish_failures_total (metrics.py).
            count_publishes(entry.rows, entry.batch.results)
            return confirmed
        finally:
            entry.session.close()

    def _abandon(self, in_flight: Iterable[_InFlight]) -> None:
        """Record the confirms that did arrive for batches cut short; their other rows stay pending."""
        for entry in in_flight:
            try:
                self._finish(entry)
            except SQLAlchemyError as exc:
                log.warning("outbox relay: could not record confirms (%s)", describe_error(exc))

    def _record(self, session: Session, rows: Sequence[Any], results: Sequence[Any]) -> int:
        t = self._table
        now = self._clock.now()
        sent = [row.position for row, result in zip(rows, results, strict=True) if result is None]
        refused = [
            (row, result) for row, result in zip(rows, results, strict=True) if isinstance(result, str)
        ]
        if sent:
            if self._row_locks:
                # One array parameter instead of an expanded IN list keeps large batches cheap on PostgreSQL.
                positions = bindparam("b_sent", value=sent, type_=postgresql.ARRAY(BigInteger))
                is_sent = t.c.position == any_(positions)
            else:
                is_sent = t.c.position.in_(sent)
            session.connection().execute(update(t).where(is_sent).values(sent_at=now))
            secret = [
                row.position
                for row, result in zip(rows, results, strict=True)
                if result is None and row.routing_key in self._secret_types
            ]
            if secret:
                # The broker has it now: the stored copy of a credential goes (event id and times stay).
                session.connection().execute(update(t).where(t.c.position.in_(secret)).values(body=b""))
        if refused:
            stmt = (
                update(t)
                .where(t.c.position == bindparam("b_position"))
                .values(
                    attempts=bindparam("b_attempts"),
                    last_error=bindparam("b_error"),
                    next_attempt_at=bindparam("b_next"),
                )
            )
            session.connection().execute(
                stmt,
                [
                    {
                        "b_position": row.position,
                        "b_attempts": row.attempts + 1,
                        "b_error": reason,
                        "b_next": now + timedelta(seconds=self._retry_backoff.delay(row.attempts)),
                    }
                    for row, reason in refused
                ],
            )
            self._report_refused(refused, now)
        return len(sent)

    def _report_refused(self, refused: Sequence[tuple[Any, str]], now: datetime) -> None:
        stuck = [(row, reason) for row, reason in refused if now - row.created_at >= self._stuck_after]
        if not stuck:
            first_row, first_reason = refused[0]
            log.warning(
                "outbox relay: broker refused %d event(s), rescheduled; first event_id=%s: %s",
                len(refused),
                first_row.event_id,
                first_reason,
            )
            return
        # Ids, types, ages and the broker's reason only: the body may carry patient data.
        oldest, reason = min(stuck, key=lambda item: item[0].created_at)
        per_type = collections.Counter(row.routing_key for row, _ in stuck)
        log.warning(
            "outbox relay: %d event(s) undelivered for over %ds (%s); oldest event_id=%s type=%s age=%ds"
            " attempts=%d: %s",
            len(stuck),
            self._stuck_after.total_seconds(),
            ", ".join(f"{event_type}: {n}" for event_type, n in sorted(per_type.items())),
            oldest.event_id,
            oldest.routing_key,
            (now - oldest.created_at).total_seconds(),
            oldest.attempts + 1,
            reason,
        )

    def _uses_row_locks(self, session: Session) -> bool:
        if self._row_locks is None:
            self._row_locks = session.get_bind().dialect.name == "postgresql"
        return self._row_locks
