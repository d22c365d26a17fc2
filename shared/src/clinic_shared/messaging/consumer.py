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
* the messages already waiting (up to ``batch_size``) are applied together in that way, one transaction
  for all, in delivery order: their inbox rows in one statement, then each handler, one commit, then the
  acks (``applying.py``). A handler that fails there rolls the batch back: its message has had its try,
  the others are applied again without it. Anything else that fails (the database, the commit) rolls it
  back too, and each message is then applied alone. A failing message only ever costs its own retries;
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
import functools
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Generic

import pika
import pika.exceptions
import pika.spec
from pika.adapters.blocking_connection import BlockingChannel
from sqlalchemy import Table

from clinic_shared.clock import Clock
from clinic_shared.events.envelope import CATALOG, Envelope, EventCatalog
from clinic_shared.messaging import metrics
from clinic_shared.messaging.applying import Applier, Outcome, Result, UoWT, Verdict
from clinic_shared.messaging.connection import AmqpNodes, Backoff, node_parameters
from clinic_shared.messaging.topology import Subscription, declare_consumer

__all__ = ["Consumer", "Outcome"]

log = logging.getLogger(__name__)

_PUMP_INTERVAL = 0.2


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


class Consumer(Generic[UoWT]):
    """Consumes a subscription's queue and applies events exactly once through the inbox.

    ``on_processed(envelope, outcome)`` is called on the connection thread after the ack/nack was sent
    (``envelope`` is None when the message could not be parsed). ``ready`` is set while consuming.
    ``backoff`` paces reconnects; ``retry_backoff`` delays the requeue of a failed message by its
    ``x-delivery-count``. ``batch_size`` bounds the waiting messages applied in one transaction.
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
        batch_size: int = 20,
        on_processed: Callable[[Envelope | None, Outcome], None] | None = None,
    ) -> None:
        if handler_threads < 1 or batch_size < 1:
            raise ValueError("a consumer needs at least one handler thread and batches of one or more")
        self._subscription = subscription
        # A list of cluster nodes: each (re)connect tries them all, starting one further each time.
        name = f"consumer:{subscription.consumer}"
        self._nodes = AmqpNodes(node_parameters(amqp_url, heartbeat=heartbeat, connection_name=name))
        self._prefetch = prefetch
        self._delivery_limit = delivery_limit
        self._backoff = backoff or Backoff()
        self._retry_backoff = retry_backoff or Backoff()
        self._shutdown_timeout = shutdown_timeout
        self._on_processed = on_processed
        self._handler_threads = handler_threads
        self._batch_size = batch_size
        self._applier = Applier(
            subscription.consumer,
            subscription.queue,
            handlers,
            uow_factory,
            inbox_table,
            clock=clock,
            catalog=catalog,
            backoff=self._backoff,
            db_retries=db_retries,
            delivery_limit=delivery_limit,
            sleep=self._sleep,
        )
        self._stop = threading.Event()
        self._stopping: Callable[[], bool] = self._stop.is_set
        self.ready = threading.Event()
        # Bumped on every (re)connect: deliveries and verdicts of an older channel are dropped.
        self._generation = 0
        self._accepting = True
        self._in_hand = 0  # messages a handler thread is working on
        self._in_hand_lock = threading.Lock()
        self._work: queue.Queue[_Delivery | None] = queue.Queue()
        # The current channel's delivery tags not yet acked or nacked (read and written on the connection
        # thread only): a batch is acked in one frame when no other message is pending below it.
        self._unsettled: set[int] = set()

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
            self._unsettled = set()
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
        self._unsettled.add(method.delivery_tag)
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
        while batch := self._next_batch():
            with self._in_hand_lock:
                if not self._accepting:
                    continue
                batch = [delivery for delivery in batch if delivery.generation == self._generation]
                self._in_hand += len(batch)
            if not batch:
                continue
            started = time.perf_counter()
            try:
                try:
                    results = self._applier.results(list(batch))
                except Exception as exc:  # noqa: BLE001 - keep the worker alive; the batch is retried
                    log.error("consumer %s: unexpected error (%s)", self.name, type(exc).__name__)
                    results = [Result(Verdict.REQUEUE, "retry") for _ in batch]
                each = (time.perf_counter() - started) / len(batch)
                for result in results:
                    metrics.observe_handling(self.name, _type_of(result), each)
                self._send_verdicts(batch, results)
            finally:
                with self._in_hand_lock:
                    self._in_hand -= len(batch)

    def _next_batch(self) -> list[_Delivery]:
        """The next message (waiting for it) and those already waiting behind it, up to ``batch_size``;
        empty when the worker is to stop."""
        first = self._work.get()
        if first is None:
            return []
        batch = [first]
        while len(batch) < self._batch_size:
            try:
                delivery = self._work.get_nowait()
            except queue.Empty:
                break
            if delivery is None:
                self._work.put(None)  # this batch is handled first, then the worker stops
                break
            batch.append(delivery)
        return batch

    def _send_verdicts(self, batch: list[_Delivery], results: list[Result]) -> None:
        """Hand a batch's verdicts to the connection's thread in one call (a requeue after its backoff)."""
        verdicts = [
            (delivery, result, self._retry_delay(delivery, result))
            for delivery, result in zip(batch, results, strict=True)
            if result.verdict is not Verdict.LEAVE
        ]
        if not verdicts:
            return
        # If the connection is gone the broker redelivers and the inbox turns each into a duplicate.
        with contextlib.suppress(pika.exceptions.AMQPError):
            batch[0].connection.add_callback_threadsafe(functools.partial(self._settle_all, verdicts))

    def _retry_delay(self, delivery: _Delivery, result: Result) -> float:
        if result.verdict is Verdict.REQUEUE:
            return self._retry_backoff.delay(delivery.delivery_count)
        return 0.0

    def _settle_all(self, verdicts: list[tuple[_Delivery, Result, float]]) -> None:
        acked_together = self._ack_together([d for d, result, _ in verdicts if result.verdict is Verdict.ACK])
        for delivery, result, delay in verdicts:
            if delay > 0 and delivery.connection.is_open:
                delivery.connection.call_later(delay, functools.partial(self._settle, delivery, result))
            else:
                self._settle(delivery, result, sent=delivery.delivery_tag in acked_together)

    def _ack_together(self, acks: list[_Delivery]) -> set[int]:
        """Ack these in one frame (``multiple=True``) when that acks nothing else; the tags acked."""
        if len(acks) < 2 or any(d.generation != self._generation for d in acks):
            return set()
        tags = {delivery.delivery_tag for delivery in acks}
        top = acks_at_once(tags, self._unsettled)
        channel = acks[0].channel
        if top is None or not channel.is_open:
            return set()
        try:
            channel.basic_ack(top, multiple=True)
        except pika.exceptions.AMQPError as exc:
            log.debug("consumer %s: could not ack a batch: %r", self.name, exc)
            return set()
        return tags

    def _settle(self, delivery: _Delivery, result: Result, *, sent: bool = False) -> None:
        """Ack or nack the delivery (``sent``: acked already, with its batch) and count it."""
        if delivery.generation != self._generation or not delivery.channel.is_open:
            return
        try:
            if result.verdict is not Verdict.ACK:
                delivery.channel.basic_nack(delivery.delivery_tag, requeue=result.verdict is Verdict.REQUEUE)
            elif not sent:
                delivery.channel.basic_ack(delivery.delivery_tag)
        except pika.exceptions.AMQPError as exc:
            log.debug("consumer %s: could not settle message %s: %r", self.name, delivery.message_id, exc)
            return
        self._unsettled.discard(delivery.delivery_tag)
        # A nack of its last allowed delivery sends it to the dead-letter queue (x-delivery-limit).
        last = delivery.delivery_count >= self._delivery_limit
        metrics.count_consumed(self.name, _type_of(result), result.outcome, last_delivery=last)
        if self._on_processed is not None:
            try:
                self._on_processed(result.envelope, result.outcome)
            except Exception as exc:  # noqa: BLE001 - an observer must not break consumption
                log.error("consumer %s: on_processed failed (%s)", self.name, type(exc).__name__)


def acks_at_once(tags: set[int], unsettled: set[int]) -> int | None:
    """The tag to ack with ``multiple=True`` so as to ack exactly ``tags``: their highest, when every
    message pending at or below it is one of them (not another thread's, not one waiting to be requeued);
    else None."""
    top = max(tags)
    if all(tag in tags for tag in unsettled if tag <= top) and tags <= unsettled:
        return top
    return None


def _type_of(result: Result) -> str | None:
    """The event type as a metric label: only from an envelope the catalog accepted (a bounded set)."""
    return result.envelope.type if result.envelope is not None else None
