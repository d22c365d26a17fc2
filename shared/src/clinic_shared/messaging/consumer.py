"""The idempotent consumer: applies each event once, in the same transaction as its inbox row.

One ``BlockingConnection`` lives in the thread that calls ``run``; handlers run in worker threads so a long
handler never starves heartbeats, and the verdict goes back through ``add_callback_threadsafe`` (the only
thread-safe pika call). With ``handler_threads`` above one, several messages of the prefetch are handled at
once, as competing consumers in several processes would handle them: a handler must already tolerate
another event of the same aggregate being handled meanwhile (row locks, savepoints), so threads add no new
interleaving. Per message:

* not JSON, a broken envelope, a bad data schema, an unknown type/version for which a handler exists, or a
  handler raising ``EventContractError``: ``nack(requeue=False)``, dead-lettered at once;
* a type with no handler: ack and ignore;
* otherwise, in one unit of work: insert the inbox row (a conflict means it was applied before: ack as a
  duplicate), call the handler, commit, then ack. The consumer owns that transaction: the handler neither
  commits nor rolls it back (a lost race is undone in a savepoint, ``SqlAlchemyUnitOfWork.conflicts_as``);
  a handler that rolled it back, inbox row included, counts as a failure, never as applied;
* any other handler failure: nack with requeue after a backoff; the quorum queue's ``x-delivery-limit``
  bounds the attempts and then dead-letters the message, so a poison message never blocks the queue;
* the database unreachable (connection lost or refused, server shutting down): not the message's fault,
  so it is held and retried with backoff rather than spending its delivery limit during an outage.

A connection lost mid-handler loses only the ack: the broker redelivers and the inbox turns the redelivery
into a duplicate. Each settled message is counted by outcome, and its handling timed (``metrics.py``); its
handling is a CONSUMER span continuing the publisher's trace (``clinic_shared.tracing``, docs/TRACING.md).
"""

from __future__ import annotations

import contextlib
import enum
import functools
import json
import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

import pika
import pika.exceptions
import pika.spec
from pika.adapters.blocking_connection import BlockingChannel
from sqlalchemy import Table, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from clinic_shared import tracing
from clinic_shared.clock import Clock
from clinic_shared.db import is_conflict, is_retryable, sqlstate
from clinic_shared.events.envelope import CATALOG, Envelope, EventCatalog, EventContractError, load_event
from clinic_shared.messaging import metrics
from clinic_shared.messaging.connection import AmqpNodes, Backoff, node_parameters
from clinic_shared.messaging.topology import Subscription, declare_consumer
from clinic_shared.uow import SqlAlchemyUnitOfWork, current_correlation_id

log = logging.getLogger(__name__)

Outcome = Literal["applied", "duplicate", "ignored", "dead-lettered", "retry"]
UoWT = TypeVar("UoWT", bound=SqlAlchemyUnitOfWork)

_PUMP_INTERVAL = 0.2
_MAX_REASON = 300


class InboxClaimLost(RuntimeError):
    """A handler rolled back the consumer's transaction, taking the event's inbox row with it."""


class _Verdict(enum.Enum):
    ACK = "ack"
    DEAD_LETTER = "dead-letter"
    REQUEUE = "requeue"
    # Shutting down while the database is unreachable: send nothing, the channel close requeues it.
    LEAVE = "leave"


@dataclass(frozen=True)
class _Delivery:
    connection: pika.BlockingConnection
    channel: BlockingChannel
    generation: int
    delivery_tag: int
    message_id: str | None
    delivery_count: int
    body: bytes
    routing_key: str = ""
    # The publisher's trace context (traceparent, tracestate) is read from the message headers.
    headers: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class _Result:
    verdict: _Verdict
    outcome: Outcome
    envelope: Envelope | None = None


class Consumer(Generic[UoWT]):
    """Consumes a subscription's queue and applies events exactly once through the inbox.

    ``on_processed(envelope, outcome)`` is called on the connection thread after the ack/nack was sent
    (``envelope`` is None when the message could not be parsed). ``ready`` is set while consuming.
    ``backoff`` paces reconnects; ``retry_backoff`` delays the requeue of a failed message by its
    ``x-delivery-count``.
    """

    def __init__(
        self,
        subscription: Subscription,
        handlers: Mapping[str, Callable[[UoWT, Envelope], None]],
        uow_factory: Callable[[], UoWT],
        inbox_table: Table,
        amqp_url: str,
        *,
        clock: Clock,
        prefetch: int = 20,
        delivery_limit: int = 5,
        catalog: EventCatalog = CATALOG,
        heartbeat: int = 30,
        backoff: Backoff | None = None,
        retry_backoff: Backoff | None = None,
        db_retries: int = 3,
        shutdown_timeout: float = 30.0,
        handler_threads: int = 1,
        on_processed: Callable[[Envelope | None, Outcome], None] | None = None,
    ) -> None:
        if handler_threads < 1:
            raise ValueError("a consumer needs at least one handler thread")
        self._subscription = subscription
        self._handlers = dict(handlers)
        self._uow_factory = uow_factory
        self._inbox = inbox_table
        # A list of cluster nodes: each (re)connect tries them all, starting one further each time.
        name = f"consumer:{subscription.consumer}"
        self._nodes = AmqpNodes(node_parameters(amqp_url, heartbeat=heartbeat, connection_name=name))
        self._clock = clock
        self._prefetch = prefetch
        self._delivery_limit = delivery_limit
        self._catalog = catalog
        self._backoff = backoff or Backoff()
        self._retry_backoff = retry_backoff or Backoff()
        self._db_retries = db_retries
        self._shutdown_timeout = shutdown_timeout
        self._on_processed = on_processed
        self._handler_threads = handler_threads
        self._stop = threading.Event()
        self._stopping: Callable[[], bool] = self._stop.is_set
        self.ready = threading.Event()
        # Bumped on every (re)connect: deliveries and verdicts of an older channel are dropped.
        self._generation = 0
        self._accepting = True
        self._in_hand = 0  # messages a handler thread is working on
        self._in_hand_lock = threading.Lock()
        self._work: queue.Queue[_Delivery | None] = queue.Queue()

    @property
    def name(self) -> str:
        return self._subscription.consumer

    def stop(self) -> None:
        """Ask ``run`` to finish the message in hand, close the connection and return (thread-safe)."""
        self._stop.set()

    def run(self, stop: threading.Event | None = None) -> None:
        """Consume until ``stop`` (or ``self.stop()``) is set, reconnecting with backoff."""

        def stopping() -> bool:
            return self._stop.is_set() or (stop is not None and stop.is_set())

        self._stopping = stopping
        self._work = queue.Queue()
        self._accepting = True
        workers = [
            threading.Thread(target=self._work_loop, name=f"{self.name}-handler-{n}", daemon=True)
            for n in range(self._handler_threads)
        ]
        for worker in workers:
            worker.start()
        try:
            while not stopping():
                if not self._consume_once(stopping):
                    self._wait(self._backoff.next_delay(), stopping)
        finally:
            self._generation += 1
            for _ in workers:
                self._work.put(None)
            # _drain already waited for the messages in hand; a handler still running past that is left
            # to die with the process (daemon thread) and its message is redelivered.
            for worker in workers:
                worker.join(timeout=1.0)

    def _consume_once(self, stopping: Callable[[], bool]) -> bool:
        """One connection's lifetime; False when it failed and the caller should back off."""
        connection: pika.BlockingConnection | None = None
        try:
            connection = pika.BlockingConnection(self._nodes.in_turn())
            channel = connection.channel()
            declare_consumer(channel, self._subscription)
            channel.basic_qos(prefetch_count=self._prefetch)
            self._generation += 1
            on_message = functools.partial(self._on_message, connection, self._generation)
            consumer_tag = channel.basic_consume(self._subscription.queue, on_message)
            self.ready.set()
            log.info("consumer %s: consuming", self.name)
            self._backoff.reset()
            while not stopping():
                connection.process_data_events(time_limit=_PUMP_INTERVAL)
                if channel.is_closed:
                    raise pika.exceptions.ChannelClosed(0, "consumer channel closed")
            self._drain(connection, channel, consumer_tag)
            return True
        except (pika.exceptions.AMQPError, OSError) as exc:
            log.warning("consumer %s: broker connection failed (%r); reconnecting", self.name, exc)
            return False
        finally:
            self.ready.clear()
            self._generation += 1
            if connection is not None and connection.is_open:
                try:
                    connection.close()
                except pika.exceptions.AMQPError as exc:
                    log.debug("consumer %s: error while closing: %r", self.name, exc)

    def _drain(
        self, connection: pika.BlockingConnection, channel: BlockingChannel, consumer_tag: str
    ) -> None:
        """Stop taking messages, let those in hand finish and flush their acks; the rest are requeued."""
        with self._in_hand_lock:  # a handler thread either counted its message already or will skip it
            self._accepting = False
        channel.basic_cancel(consumer_tag)
        deadline = time.monotonic() + self._shutdown_timeout
        while self._in_hand > 0 and time.monotonic() < deadline:
            connection.process_data_events(time_limit=0.05)
        connection.process_data_events(time_limit=0)

    def _wait(self, seconds: float, stopping: Callable[[], bool]) -> None:
        deadline = time.monotonic() + seconds
        while not stopping() and (remaining := deadline - time.monotonic()) > 0:
            self._stop.wait(min(remaining, _PUMP_INTERVAL))

    def _sleep(self, seconds: float) -> bool:
        """Sleep in the worker unless a stop is requested; True when stopping."""
        self._wait(seconds, self._stopping)
        return self._stopping()

    def _on_message(
        self,
        connection: pika.BlockingConnection,
        generation: int,
        channel: BlockingChannel,
        method: pika.spec.Basic.Deliver,
        properties: pika.BasicProperties,
        body: bytes,
    ) -> None:
        headers = properties.headers or {}
        count = headers.get("x-delivery-count", 0)
        self._work.put(
            _Delivery(
                connection=connection,
                channel=channel,
                generation=generation,
                delivery_tag=method.delivery_tag,
                message_id=properties.message_id,
                delivery_count=count if isinstance(count, int) else 0,
                body=body,
                routing_key=method.routing_key,
                headers=headers,
            )
        )

    def _work_loop(self) -> None:
        while (delivery := self._work.get()) is not None:
            with self._in_hand_lock:
                if delivery.generation != self._generation or not self._accepting:
                    continue
                self._in_hand += 1
            started = time.perf_counter()
            try:
                result = self._process_traced(delivery)
                metrics.observe_handling(self.name, _type_of(result), time.perf_counter() - started)
                self._send_verdict(delivery, result)
            finally:
                with self._in_hand_lock:
                    self._in_hand -= 1

    def _process_traced(self, delivery: _Delivery) -> _Result:
        """``_process`` in a CONSUMER span, child of the publisher's (its context is in the message headers):
        the handler's logs and the events it emits (outbox rows store the current context) join its trace."""
        attributes = tracing.messaging_attributes(
            "process", self._subscription.queue, delivery.routing_key, delivery.message_id, consumer=self.name
        )
        kind = tracing.SpanKind.CONSUMER
        name = f"process {delivery.routing_key}"
        with tracing.span(name, kind=kind, parent=delivery.headers, attributes=attributes) as span:
            try:
                result = self._process(delivery)
            except BaseException as exc:  # noqa: BLE001 - _process handles failures; keep the worker alive
                log.error("consumer %s: unexpected error (%s)", self.name, type(exc).__name__)
                result = _Result(_Verdict.REQUEUE, "retry")
            span.set_attribute("messaging.clinic.outcome", result.outcome)
            if result.verdict in (_Verdict.REQUEUE, _Verdict.DEAD_LETTER):
                tracing.mark_failed(span, result.outcome)
        return result

    def _send_verdict(self, delivery: _Delivery, result: _Result) -> None:
        if result.verdict is _Verdict.LEAVE:
            return
        delay = 0.0
        if result.verdict is _Verdict.REQUEUE:
            delay = self._retry_backoff.delay(delivery.delivery_count)
        # If the connection is gone the broker redelivers and the inbox turns it into a duplicate.
        with contextlib.suppress(pika.exceptions.AMQPError):
            delivery.connection.add_callback_threadsafe(
                functools.partial(self._settle_later, delivery, result, delay)
            )

    def _settle_later(self, delivery: _Delivery, result: _Result, delay: float) -> None:
        if delay > 0 and delivery.connection.is_open:
            delivery.connection.call_later(delay, functools.partial(self._settle, delivery, result))
        else:
            self._settle(delivery, result)

    def _settle(self, delivery: _Delivery, result: _Result) -> None:
        if delivery.generation != self._generation or not delivery.channel.is_open:
            return
        try:
            if result.verdict is _Verdict.ACK:
                delivery.channel.basic_ack(delivery.delivery_tag)
            else:
                delivery.channel.basic_nack(delivery.delivery_tag, requeue=result.verdict is _Verdict.REQUEUE)
        except pika.exceptions.AMQPError as exc:
            log.debug("consumer %s: could not settle message %s: %r", self.name, delivery.message_id, exc)
            return
        # A nack of its last allowed delivery sends it to the dead-letter queue (x-delivery-limit).
        last = delivery.delivery_count >= self._delivery_limit
        metrics.count_consumed(self.name, _type_of(result), result.outcome, last_delivery=last)
        if self._on_processed is not None:
            try:
                self._on_processed(result.envelope, result.outcome)
            except Exception as exc:  # noqa: BLE001 - an observer must not break consumption
                log.error("consumer %s: on_processed failed (%s)", self.name, type(exc).__name__)

    def _process(self, delivery: _Delivery) -> _Result:
        try:
            raw = json.loads(delivery.body)
        except (UnicodeDecodeError, ValueError):
            return self._reject(delivery, None, None, "body is not JSON")
        event_type = raw.get("type") if isinstance(raw, dict) else None
        if not isinstance(event_type, str):
            return self._reject(delivery, None, None, "no event type")
        handler = self._handlers.get(event_type)
        if handler is None:
            log.debug("consumer %s: ignoring %s %s", self.name, event_type, delivery.message_id)
            return _Result(_Verdict.ACK, "ignored")
        try:
            envelope = load_event(raw, self._catalog)
        except EventContractError as exc:
            return self._reject(delivery, None, event_type, str(exc))
        token = current_correlation_id.set(envelope.correlation_id)
        try:
            return self._apply(handler, envelope, delivery)
        finally:
            current_correlation_id.reset(token)

    def _apply(
        self, handler: Callable[[UoWT, Envelope], None], envelope: Envelope, delivery: _Delivery
    ) -> _Result:
        attempt = 0
        outage = Backoff(self._backoff.initial, self._backoff.cap)
        while True:
            try:
                with self._uow_factory() as uow:
                    if not self._claim(uow, envelope):
                        log.info("consumer %s: %s %s already applied", self.name, envelope.type, envelope.id)
                        return _Result(_Verdict.ACK, "duplicate", envelope)
                    claimed_in = uow.session.get_transaction()
                    handler(uow, envelope)
                    self._check_claim_kept(uow, envelope, claimed_in)
                    uow.commit()
                log.debug("consumer %s: applied %s %s", self.name, envelope.type, envelope.id)
                return _Result(_Verdict.ACK, "applied", envelope)
            except EventContractError as exc:
                return self._reject(delivery, envelope, envelope.type, str(exc))
            except DBAPIError as exc:
                if is_retryable(exc) and attempt < self._db_retries:
                    attempt += 1
                    time.sleep(random.uniform(0.02, 0.1) * attempt)
                    continue
                if _database_unavailable(exc):
                    # Not the message's fault: hold it (and the queue) instead of spending its deliveries.
                    delay = outage.next_delay()
                    log.warning(
                        "consumer %s: database unavailable (%s) while handling %s; retrying in %.1fs",
                        self.name,
                        type(exc.orig).__name__,
                        envelope.id,
                        delay,
                    )
                    if self._sleep(delay):
                        return _Result(_Verdict.LEAVE, "retry", envelope)
                    continue
                return self._requeue(delivery, envelope, exc)
            except Exception as exc:  # noqa: BLE001 - any handler failure is retried, then dead-lettered
                return self._requeue(delivery, envelope, exc)

    def _check_claim_kept(self, uow: UoWT, envelope: Envelope, claimed_in: object) -> None:
        """Refuse to ack an event whose inbox row the handler rolled back.

        The consumer owns the transaction; a handler only adds to it (a lost race is rolled back to a
        savepoint, see ``SqlAlchemyUnitOfWork.conflicts_as``). A handler that ended the transaction itself
        either committed the row with its work or threw it away: the latter must not be acked as applied
        with no record, so it is retried instead, and the redelivery runs the handler again.
        """
        if uow.session.get_transaction() is claimed_in:
            return
        recorded = uow.session.execute(
            select(self._inbox.c.event_id).where(
                self._inbox.c.consumer == self.name, self._inbox.c.event_id == envelope.id
            )
        ).first()
        if recorded is None:
            raise InboxClaimLost(
                f"the handler of {envelope.type} rolled back the consumer's transaction and its inbox row"
            )

    def _claim(self, uow: UoWT, envelope: Envelope) -> bool:
        """Insert the inbox row; False when this consumer already applied the event."""
        session = uow.session
        values = {
            "consumer": self.name,
            "event_id": envelope.id,
            "event_type": envelope.type,
            "processed_at": self._clock.now(),
        }
        dialect = session.get_bind().dialect.name
        if dialect in ("postgresql", "sqlite"):
            insert_ = postgresql.insert if dialect == "postgresql" else sqlite.insert
            stmt = (
                insert_(self._inbox)
                .values(**values)
                .on_conflict_do_nothing(index_elements=[c.name for c in self._inbox.primary_key])
                .returning(self._inbox.c.event_id)
            )
            # RETURNING rather than rowcount, which SQLAlchemy does not keep for INSERT by default.
            return session.execute(stmt).first() is not None
        try:
            with session.begin_nested():
                session.execute(insert(self._inbox).values(**values))
        except IntegrityError as exc:
            if is_conflict(exc):
                return False
            raise
        return True

    def _reject(
        self, delivery: _Delivery, envelope: Envelope | None, event_type: str | None, reason: str
    ) -> _Result:
        log.warning(
            "consumer %s: dead-lettering message %s (%s): %s",
            self.name,
            delivery.message_id,
            event_type or "unknown type",
            reason[:_MAX_REASON],
        )
        return _Result(_Verdict.DEAD_LETTER, "dead-lettered", envelope)

    def _requeue(self, delivery: _Delivery, envelope: Envelope, exc: Exception) -> _Result:
        log.warning(
            "consumer %s: handling %s %s failed (%s), delivery %d of at most %d; requeueing",
            self.name,
            envelope.type,
            envelope.id,
            type(exc).__name__,
            delivery.delivery_count + 1,
            self._delivery_limit + 1,
        )
        # The traceback may quote data from the event, so it is only logged at debug level.
        log.debug("consumer %s: failure of %s", self.name, envelope.id, exc_info=exc)
        return _Result(_Verdict.REQUEUE, "retry", envelope)


def _type_of(result: _Result) -> str | None:
    """The event type as a metric label: only from an envelope the catalog accepted (a bounded set)."""
    return result.envelope.type if result.envelope is not None else None


_CONNECTION_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})


def _database_unavailable(exc: DBAPIError) -> bool:
    """True when the database itself is unreachable (lost connection, shutdown), not the statement."""
    if exc.connection_invalidated:
        return True
    if not isinstance(exc, OperationalError):
        return False
    state = sqlstate(exc)
    return state is None or state.startswith("08") or state in _CONNECTION_SQLSTATES
