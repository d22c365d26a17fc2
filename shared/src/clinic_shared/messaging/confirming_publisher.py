"""A confirm-mode publisher for the outbox relay: one connection and channel, publishing batches back to back
and settling each message as the broker's confirms (``multiple=True`` acks included) and returns arrive.

The connection is a pika ``SelectConnection`` driven synchronously from the thread that opened it (the same
poll/process_timeouts loop ``BlockingConnection`` is built on), so publishing is pipelined without a second
thread. It is never shared across threads.
"""

from __future__ import annotations

import collections
import functools
import logging
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any

import pika
import pika.channel
import pika.exceptions
import pika.frame
import pika.spec
from pika.adapters.select_connection import IOLoop

from clinic_shared import tracing
from clinic_shared.logging import describe_error
from clinic_shared.messaging.topology import declare_exchange

log = logging.getLogger(__name__)

_PENDING: Any = object()  # no confirm yet
_IDLE_SLICE = 0.05
_FLUSH_EVERY = 100
_CLOSE_TIMEOUT = 5.0


class RelayInterrupted(Exception):
    """Publishing stopped before every message was confirmed; unconfirmed rows stay pending."""


class Batch:
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


class ConfirmingPublisher:
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
        self._in_flight: collections.deque[Batch] = collections.deque()
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

    def prepare(self, rows: Sequence[Any]) -> Batch:
        """Declare the rows' exchanges and register a batch for the delivery tags they will get."""
        self.declare({row.exchange for row in rows})
        batch = Batch(self._next_tag, [str(row.event_id) for row in rows])
        self._in_flight.append(batch)
        return batch

    def send(self, batch: Batch, rows: Sequence[Any]) -> None:
        """Publish the prepared batch without waiting; its results fill in as confirms arrive."""
        assert self._channel is not None
        assert batch.first_tag == self._next_tag
        publish = self._channel.basic_publish
        traced = tracing.enabled()  # once per batch: untraced publishing pays nothing per message
        try:
            for row, message_id in zip(rows, batch.message_ids, strict=True):
                if traced:
                    self._publish_traced(row, message_id)
                else:
                    properties = _properties(row, message_id, None)
                    publish(row.exchange, row.routing_key, row.body, properties=properties, mandatory=True)
                self._next_tag += 1
                if self._next_tag % _FLUSH_EVERY == 0:
                    # Let the broker start on (and confirm) the batch while the rest is being framed.
                    self._poll_once()
        except pika.exceptions.AMQPError as exc:
            self._lost = self._lost or exc
            raise RelayInterrupted(describe_error(exc)) from exc

    def _publish_traced(self, row: Any, message_id: str) -> None:
        """Publish in a PRODUCER span of the trace stored with the row (the request or handler that wrote
        it); the span's context goes in the message headers, for the consumer's span to continue."""
        assert self._channel is not None
        parent = tracing.headers_of(row.trace_context)
        attributes = tracing.messaging_attributes("send", row.exchange, row.routing_key, message_id)
        kind = tracing.SpanKind.PRODUCER
        with tracing.span(f"publish {row.routing_key}", kind=kind, parent=parent, attributes=attributes):
            properties = _properties(row, message_id, tracing.inject())
            self._channel.basic_publish(
                row.exchange, row.routing_key, row.body, properties=properties, mandatory=True
            )

    def wait(self, batch: Batch) -> None:
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
            raise RelayInterrupted(describe_error(self._lost)) from self._lost

    def _pump(self, done: Callable[[], bool], timeout: float, *, raise_on_loss: bool = True) -> bool:
        ioloop = self._ioloop
        assert ioloop is not None
        deadline = time.monotonic() + timeout
        while True:
            if done():
                return True
            if raise_on_loss and self._lost is not None:
                raise RelayInterrupted(describe_error(self._lost)) from self._lost
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


def _properties(row: Any, message_id: str, headers: dict[str, str] | None) -> pika.BasicProperties:
    return pika.BasicProperties(
        content_type="application/json",
        delivery_mode=pika.DeliveryMode.Persistent,
        message_id=message_id,
        type=row.routing_key,
        headers=headers or None,
    )


def _noop() -> None:
    pass
