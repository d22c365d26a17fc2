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

The connection is a pika ``SelectConnection`` driven synchronously from the thread that uses the relay
(the same poll/process_timeouts loop ``BlockingConnection`` is built on), so publishing is pipelined
without a second thread. It is never shared across threads.
"""

from __future__ import annotations

import collections
import functools
import logging
import threading
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import pika
import pika.channel
import pika.exceptions
import pika.frame
import pika.spec
from pika.adapters.select_connection import IOLoop
from sqlalchemy import BigInteger, Table, any_, bindparam, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session

from clinic_shared.clock import Clock
from clinic_shared.events import CATALOG, EventCatalog
from clinic_shared.messaging.connection import AmqpNodes, Backoff, node_parameters
from clinic_shared.messaging.status import DEFAULT_STUCK_AFTER
from clinic_shared.messaging.subscriptions import consumed_types as _consumed_types
from clinic_shared.messaging.topology import declare_exchange

log = logging.getLogger(__name__)

_PENDING: Any = object()
_IDLE_SLICE = 0.05
_FLUSH_EVERY = 100
_CLOSE_TIMEOUT = 5.0


class RelayInterrupted(Exception):
    """Publishing stopped before every message was confirmed; unconfirmed rows stay pending."""


class _Batch:
    """Confirm bookkeeping for messages published with consecutive delivery tags."""

    def __init__(self, first_tag: int, message_ids: Sequence[str]) -> None:
        self.first_tag = first_tag
        self.message_ids = message_ids
        # None = delivered, str = why not, _PENDING = no confirm yet.
        self.results: list[Any] = [_PENDING] * len(message_ids)
        self.settled = 0
        self._low = 0

    @property
    def done(self) -> bool:
        return self.settled == len(self.results)

    def settle(self, tag: int, multiple: bool, acked: bool, returned: dict[str, str]) -> None:
        index = tag - self.first_tag
        if index < 0:
            return
        if multiple:
            indexes: Iterable[int] = range(self._low, min(index, len(self.results) - 1) + 1)
        elif index < len(self.results):
            indexes = (index,)
        else:
            return
        for i in indexes:
            if self.results[i] is _PENDING:
                # A basic.return precedes the ack of an unroutable mandatory message.
                reason = returned.pop(self.message_ids[i], None)
                self.results[i] = reason if acked else "nacked by the broker"
                self.settled += 1
        while self._low < len(self.results) and self.results[self._low] is not _PENDING:
            self._low += 1


class _ConfirmingPublisher:
    """One connection and confirm-mode channel, pumped by the thread that opened it."""

    def __init__(
        self, params: pika.URLParameters, *, confirm_timeout: float, consumed: Collection[str]
    ) -> None:
        self._params = params
        self._confirm_timeout = confirm_timeout
        self._consumed = consumed
        self._unarchived: set[str] = set()
        self._open_timeout = float(params.stack_timeout or 15) + 1
        self._ioloop: IOLoop | None = None
        self._connection: pika.SelectConnection | None = None
        self._channel: pika.channel.Channel | None = None
        self._lost: BaseException | None = None
        self._opened = False
        self._next_tag = 1
        self._in_flight: collections.deque[_Batch] = collections.deque()
        self._returned: dict[str, str] = {}
        self._declared: set[str] = set()

    def open(self, exchanges: Iterable[str]) -> None:
        # As BlockingConnection does: an activated IOLoop that this thread polls itself.
        self._ioloop = IOLoop()
        self._ioloop.activate_poller()
        self._connection = pika.SelectConnection(
            self._params,
            on_open_callback=self._on_connection_open,
            on_open_error_callback=self._on_connection_lost,
            on_close_callback=self._on_connection_lost,
            custom_ioloop=self._ioloop,
        )
        self._pump_or_fail(lambda: self._opened, self._open_timeout, "connection open")
        opened: list[pika.channel.Channel] = []
        self._connection.channel(on_open_callback=opened.append)
        self._pump_or_fail(lambda: bool(opened), self._open_timeout, "channel open")
        channel = opened[0]
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_return_callback(self._on_return)
        selected: list[object] = []
        channel.confirm_delivery(self._on_confirm, callback=selected.append)
        self._pump_or_fail(lambda: bool(selected), self._open_timeout, "confirm.select")
        self._channel = channel
        self.declare(exchanges)

    def declare(self, exchanges: Iterable[str]) -> None:
        missing = sorted(set(exchanges) - self._declared)
        if not missing:
            return
        assert self._channel is not None
        done: list[str] = []
        for name in missing:
            declare_exchange(self._channel, name, on_done=functools.partial(done.append, name))
        self._pump_or_fail(lambda: len(done) == len(missing), self._open_timeout, "exchange declare")
        self._declared.update(missing)

    def prepare(self, rows: Sequence[Any]) -> _Batch:
        """Declare the rows' exchanges and register a batch for the delivery tags they will get."""
        self.declare({row.exchange for row in rows})
        batch = _Batch(self._next_tag, [str(row.event_id) for row in rows])
        self._in_flight.append(batch)
        return batch

    def send(self, batch: _Batch, rows: Sequence[Any]) -> None:
        """Publish the prepared batch without waiting; its results fill in as confirms arrive."""
        assert self._channel is not None
        assert batch.first_tag == self._next_tag
        publish = self._channel.basic_publish
        try:
            for row, message_id in zip(rows, batch.message_ids, strict=True):
                properties = pika.BasicProperties(
                    content_type="application/json",
                    delivery_mode=pika.DeliveryMode.Persistent,
                    message_id=message_id,
                    type=row.routing_key,
                )
                publish(row.exchange, row.routing_key, row.body, properties=properties, mandatory=True)
                self._next_tag += 1
                if self._next_tag % _FLUSH_EVERY == 0:
                    # Let the broker start on (and confirm) the batch while the rest is being framed.
                    self._poll_once()
        except pika.exceptions.AMQPError as exc:
            self._lost = self._lost or exc
            raise RelayInterrupted(_describe(exc)) from exc

    def wait(self, batch: _Batch) -> None:
        """Wait until every message of the batch is confirmed; raises RelayInterrupted on loss or timeout."""
        try:
            self._pump_or_fail(lambda: batch.done, self._confirm_timeout, "publisher confirms")
        finally:
            if batch.done:
                self._in_flight.remove(batch)

    def idle(self, seconds: float, until: Callable[[], bool]) -> None:
        """Keep the connection serviced (heartbeats, close detection) for up to ``seconds``."""
        deadline = time.monotonic() + seconds
        while not until():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._pump(lambda: False, min(remaining, _IDLE_SLICE))

    def close(self) -> None:
        connection, ioloop = self._connection, self._ioloop
        self._channel = None
        if ioloop is None:
            return
        try:
            if connection is not None and not (connection.is_closed or connection.is_closing):
                connection.close()
            if connection is not None:
                self._pump(lambda: connection.is_closed, _CLOSE_TIMEOUT, raise_on_loss=False)
        except Exception as exc:  # noqa: BLE001 - closing is best effort; the socket goes with the ioloop
            log.debug("outbox relay: error while closing the connection: %r", exc)
        finally:
            self._connection = self._ioloop = None
            ioloop.close()

    def _pump_or_fail(self, done: Callable[[], bool], timeout: float, what: str) -> None:
        if not self._pump(done, timeout):
            raise RelayInterrupted(f"timed out after {timeout:.0f}s waiting for {what}")

    def _poll_once(self) -> None:
        ioloop = self._ioloop
        assert ioloop is not None
        timer = ioloop.call_later(0, _noop)
        try:
            ioloop.poll()
            ioloop.process_timeouts()
        finally:
            ioloop.remove_timeout(timer)
        if self._lost is not None:
            raise RelayInterrupted(_describe(self._lost)) from self._lost

    def _pump(self, done: Callable[[], bool], timeout: float, *, raise_on_loss: bool = True) -> bool:
        ioloop = self._ioloop
        assert ioloop is not None
        deadline = time.monotonic() + timeout
        while True:
            if done():
                return True
            if raise_on_loss and self._lost is not None:
                raise RelayInterrupted(_describe(self._lost)) from self._lost
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            timer = ioloop.call_later(remaining, _noop)
            try:
                ioloop.poll()
                ioloop.process_timeouts()
            finally:
                ioloop.remove_timeout(timer)

    def _on_connection_open(self, _connection: object) -> None:
        self._opened = True

    def _on_connection_lost(self, _connection: object, exc: BaseException) -> None:
        self._lost = self._lost or exc

    def _on_channel_closed(self, _channel: object, exc: BaseException) -> None:
        self._lost = self._lost or exc
        connection = self._connection
        if connection is not None and connection.is_open:
            connection.close()

    def _on_return(
        self,
        _channel: object,
        method: pika.spec.Basic.Return,
        properties: pika.BasicProperties,
        _body: bytes,
    ) -> None:
        if not properties.message_id:
            return
        if method.reply_code == pika.spec.NO_ROUTE and method.routing_key not in self._consumed:
            # Nobody subscribes to it: delivered as far as anyone can want it (the ack follows).
            if method.routing_key not in self._unarchived:
                self._unarchived.add(method.routing_key)
                log.warning(
                    "outbox relay: no queue takes %s on %s (no consumer, no archive: run setup-broker);"
                    " marking such events sent",
                    method.routing_key,
                    method.exchange,
                )
            return
        self._returned[properties.message_id] = f"unroutable: {method.reply_code} {method.reply_text}"

    def _on_confirm(self, frame: pika.frame.Method) -> None:
        method = frame.method
        acked = isinstance(method, pika.spec.Basic.Ack)
        for batch in self._in_flight:
            if batch.first_tag > method.delivery_tag:
                break
            batch.settle(method.delivery_tag, method.multiple, acked, self._returned)


class _InFlight:
    """A published batch and the transaction that holds its rows until the confirms are recorded."""

    def __init__(self, session: Session, rows: Sequence[Any], batch: _Batch) -> None:
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
    is an error; a refused row older than ``stuck_after`` is reported at warning level.
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
        self._publisher: _ConfirmingPublisher | None = None
        self._owner: int | None = None
        self._wake = threading.Event()
        self._row_locks: bool | None = None
        self._secret_types = catalog.secret_types()
        self._consumed = frozenset(_consumed_types() if consumed_types is None else consumed_types)
        self._stuck_after = stuck_after

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
                    log.warning("outbox relay: broker unavailable (%s); reconnecting", _describe(exc))
                    self._close_publisher()
                    self._backoff.wait(stop)
                except SQLAlchemyError as exc:
                    log.warning("outbox relay: database error (%s); retrying", _describe(exc))
                    self._close_publisher()
                    self._backoff.wait(stop)
        finally:
            self._close_publisher()

    def wake(self) -> None:
        """Ask a running relay to poll now (thread-safe); e.g. after a commit that added outbox rows."""
        self._wake.set()

    def close(self) -> None:
        """Close the connection opened by ``publish_pending``, from the thread that called it."""
        if self._publisher is not None and self._owner != threading.get_ident():
            raise RuntimeError("an OutboxRelay connection belongs to the thread that opened it")
        self._close_publisher()

    def _ensure_publisher(self) -> _ConfirmingPublisher:
        me = threading.get_ident()
        if self._publisher is not None:
            if self._owner != me:
                raise RuntimeError("an OutboxRelay connection belongs to the thread that opened it")
            return self._publisher
        params = self._nodes.next_node()
        publisher = _ConfirmingPublisher(
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
        self, publisher: _ConfirmingPublisher, limit: int | None, stopping: Callable[[], bool]
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
            return confirmed
        finally:
            entry.session.close()

    def _abandon(self, in_flight: Iterable[_InFlight]) -> None:
        """Record the confirms that did arrive for batches cut short; their other rows stay pending."""
        for entry in in_flight:
            try:
                self._finish(entry)
            except SQLAlchemyError as exc:
                log.warning("outbox relay: could not record confirms (%s)", _describe(exc))

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


def _noop() -> None:
    pass


def _describe(exc: BaseException) -> str:
    """Exception summary without SQL parameters (which may carry personal data)."""
    if isinstance(exc, DBAPIError):
        state = getattr(exc.orig, "sqlstate", None)
        return f"{type(exc).__name__}({type(exc.orig).__name__}, sqlstate={state})"
    if isinstance(exc, SQLAlchemyError):
        return type(exc).__name__
    if isinstance(exc, pika.exceptions.AMQPError):
        return repr(exc)
    return f"{type(exc).__name__}: {exc}"
