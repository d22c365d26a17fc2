"""Names and declarations of exchanges and queues.

Producers publish to a durable topic exchange per service (``<producer>.events``) with the event type as
routing key. Each consumer owns one quorum queue named after it, bound to the events it wants, plus
``<consumer>.dead-letter`` for messages that can never succeed or exhausted their delivery limit.

Event types no service consumes (see ``subscriptions.CONSUMED``) are bound, type by type, to the producer's
archive queue ``<producer>.events.unconsumed``: publishing them is confirmed, not returned, and the archive
keeps the latest ``ARCHIVE_MAX_LENGTH`` of them (``drop-head``), so it never grows without bound. A consumed
type is never bound there, so if its consumer's queue goes missing the mandatory publish still comes back
``312 NO_ROUTE`` and the relay keeps the row pending and says so.

Why bindings and not an ``alternate-exchange``: with an AE on the events exchange every unroutable message is
taken, so a consumed type whose queue vanished would be archived in silence; keeping it visible would need
the AE's own bindings to list the unconsumed types anyway, which is what the archive's bindings do here. And
an AE set as an exchange argument cannot be added to an existing ``<producer>.events`` (redeclaring it fails
with ``406 PRECONDITION_FAILED``, closing the channel of every relay and consumer that declares it), while
an AE policy needs the management API or ``rabbitmqctl`` outside ``setup-broker`` and yields to any other
policy of higher priority. Bindings are plain AMQP: ``setup-broker`` adds and removes them on every deploy,
so an existing broker converges with no deletion.

The declaration helpers accept a pika ``BlockingChannel`` (each call waits for its ``*-Ok``) or an async
``pika.channel.Channel``: there the declarations are chained through callbacks, an error closes the
channel (watch it with ``add_on_close_callback``) and ``on_done`` runs after the last one succeeded.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from pika.adapters.blocking_connection import BlockingChannel
from pika.channel import Channel

DEAD_LETTER_EXCHANGE = "dead-letter"
# Enough to look at recent unconsumed events; the oldest are dropped beyond it.
ARCHIVE_MAX_LENGTH = 10_000

AnyChannel: TypeAlias = BlockingChannel | Channel


@dataclass(frozen=True)
class Subscription:
    """A consumer and the routing keys (or ``*``/``#`` patterns) it binds, per producer exchange."""

    consumer: str
    bindings: Mapping[str, Sequence[str]]

    @property
    def queue(self) -> str:
        return self.consumer

    @property
    def dead_letter_queue(self) -> str:
        return dead_letter_queue_for(self.consumer)


def dead_letter_queue_for(consumer: str) -> str:
    return f"{consumer}.dead-letter"


def archive_queue_for(exchange: str) -> str:
    """The queue that keeps a producer's events no service consumes."""
    return f"{exchange}.unconsumed"


def archive_queue_arguments(max_length: int) -> dict[str, Any]:
    """A bounded classic queue: past ``max_length`` messages the oldest are dropped, publishes never refused.

    Queue arguments cannot change once declared: to lower the bound of an existing archive apply a
    ``max-length`` policy (the lower of policy and argument applies) or delete the queue; it only holds
    events nobody consumes.
    """
    if max_length < 1:
        raise ValueError("max_length must be >= 1")
    return {"x-queue-type": "classic", "x-max-length": max_length, "x-overflow": "drop-head"}


def consumer_queue_arguments(consumer: str) -> dict[str, Any]:
    """Only what never changes: the quorum type and where its dead letters go (the dead-letter exchange, with
    the consumer's name as routing key; RabbitMQ refuses a routing key argument without the exchange one).

    The delivery limit, the dead-letter strategy and the overflow behaviour come from the vhost's policy
    (``policies.consumer_queue_policy``), so changing them needs no queue recreated.
    """
    return {
        "x-queue-type": "quorum",
        "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
        "x-dead-letter-routing-key": consumer,
    }


def declare_exchange(channel: AnyChannel, name: str, *, on_done: Callable[[], None] | None = None) -> None:
    """Declare a producer's durable topic exchange."""
    _run(channel, [_exchange(name, "topic")], on_done)


def declare_archive(
    channel: AnyChannel,
    exchange: str,
    *,
    event_types: Iterable[str],
    consumed: Collection[str],
    max_length: int = ARCHIVE_MAX_LENGTH,
    on_done: Callable[[], None] | None = None,
) -> None:
    """Bind the exchange's unconsumed ``event_types`` to its archive and unbind the consumed ones.

    Unbinding converges a broker where a type gained a consumer since the last deploy (unbinding a binding
    that does not exist is a no-op); without it that type would keep being archived if its queue vanished.
    """
    archive = archive_queue_for(exchange)
    ops: list[_Op] = [_exchange(exchange, "topic"), _queue(archive, archive_queue_arguments(max_length))]
    for event_type in sorted(set(event_types)):
        op = _unbind if event_type in consumed else _bind
        ops.append(op(archive, exchange, event_type))
    _run(channel, ops, on_done)


def declare_consumer(
    channel: AnyChannel,
    subscription: Subscription,
    *,
    on_done: Callable[[], None] | None = None,
) -> None:
    """Declare the source exchanges, the dead-letter path, the consumer's quorum queue and its bindings."""
    consumer = subscription.consumer
    ops: list[_Op] = [_exchange(exchange, "topic") for exchange in subscription.bindings]
    ops.append(_exchange(DEAD_LETTER_EXCHANGE, "direct"))
    ops.append(_queue(subscription.dead_letter_queue, {"x-queue-type": "quorum"}))
    ops.append(_bind(subscription.dead_letter_queue, DEAD_LETTER_EXCHANGE, consumer))
    ops.append(_queue(subscription.queue, consumer_queue_arguments(consumer)))
    for exchange, routing_keys in subscription.bindings.items():
        if isinstance(routing_keys, str):
            raise TypeError(f"bindings[{exchange!r}] must be a sequence of routing keys, not a string")
        for routing_key in routing_keys:
            ops.append(_bind(subscription.queue, exchange, routing_key))
    _run(channel, ops, on_done)


_Op = tuple[str, dict[str, Any]]


def _exchange(name: str, kind: str) -> _Op:
    return ("exchange_declare", {"exchange": name, "exchange_type": kind, "durable": True})


def _queue(name: str, arguments: dict[str, Any]) -> _Op:
    return ("queue_declare", {"queue": name, "durable": True, "arguments": arguments})


def _bind(queue: str, exchange: str, routing_key: str) -> _Op:
    return ("queue_bind", {"queue": queue, "exchange": exchange, "routing_key": routing_key})


def _unbind(queue: str, exchange: str, routing_key: str) -> _Op:
    return ("queue_unbind", {"queue": queue, "exchange": exchange, "routing_key": routing_key})


def _run(channel: AnyChannel, ops: Sequence[_Op], on_done: Callable[[], None] | None) -> None:
    if isinstance(channel, BlockingChannel):
        for method, kwargs in ops:
            getattr(channel, method)(**kwargs)
        if on_done is not None:
            on_done()
        return

    def step(index: int, _frame: object = None) -> None:
        if index == len(ops):
            if on_done is not None:
                on_done()
            return
        method, kwargs = ops[index]
        getattr(channel, method)(**kwargs, callback=functools.partial(step, index + 1))

    step(0)


def setup_broker(
    amqp_url: str,
    *,
    producer: str,
    subscription: Subscription | None,
    archive_max_length: int = ARCHIVE_MAX_LENGTH,
    registry: Mapping[str, frozenset[str]] | None = None,
) -> None:
    """Declare a service's exchange and archive and, if it consumes, its queues and bindings.

    Run at deploy time (``<service> setup-broker``) before any worker starts: a queue that does not exist
    yet when another service publishes would silently miss those events. ``registry`` (default
    ``subscriptions.CONSUMED``) says which of the producer's event types are consumed; ``subscription`` must
    be the one it lists. A consumer queue declared by an older release with other arguments is converted
    (``_convert_queue``); its limits come from the vhost's policy (``policies``), set by ``broker_users``.
    """
    import pika

    from clinic_shared.events import CATALOG
    from clinic_shared.messaging.connection import node_parameters
    from clinic_shared.messaging.outbox import exchange_for
    from clinic_shared.messaging.subscriptions import CONSUMED, check_subscription, consumed_types

    registry = CONSUMED if registry is None else registry
    if subscription is not None:
        check_subscription(subscription, registry)
    own_types = [event_type for event_type, _ in CATALOG.entries() if event_type.startswith(f"{producer}.")]
    connection = pika.BlockingConnection(
        node_parameters(amqp_url, heartbeat=0, connection_name=f"setup:{producer}")
    )
    try:
        channel = connection.channel()
        declare_exchange(channel, exchange_for(producer))
        declare_archive(
            channel,
            exchange_for(producer),
            event_types=own_types,
            consumed=consumed_types(registry),
            max_length=archive_max_length,
        )
        if subscription is not None:
            try:
                declare_consumer(channel, subscription)
            except pika.exceptions.ChannelClosedByBroker as refused:
                if refused.reply_code != 406 or "inequivalent arg" not in refused.reply_text:
                    raise
                _convert_queue(connection.channel(), subscription, refused.reply_text)
                declare_consumer(connection.channel(), subscription)
    finally:
        connection.close()


class QueueNotConvertible(RuntimeError):
    """A consumer queue declared with other arguments is in use: it cannot be replaced yet."""


def _convert_queue(channel: BlockingChannel, subscription: Subscription, refusal: str) -> None:
    """Delete a consumer queue declared with other arguments (an older release's) so it can be declared again.

    Quorum queues refuse ``if-empty`` deletes, so the queue is first unbound: from then on a publish of an
    event it consumed comes back ``NO_ROUTE`` and the relay keeps the row and retries, nothing is lost. It
    is deleted only if then it holds no message and no consumer (a consumer's unacknowledged messages would
    go with it); otherwise its bindings are put back and the operator is told what to do.
    """
    queue = subscription.queue
    bindings = [(exchange, key) for exchange, keys in subscription.bindings.items() for key in keys]
    for exchange, routing_key in bindings:
        channel.queue_unbind(queue, exchange, routing_key)
    state = channel.queue_declare(queue, passive=True).method
    if state.message_count == 0 and state.consumer_count == 0:
        channel.queue_delete(queue)
        return
    for exchange, routing_key in bindings:
        channel.queue_bind(queue, exchange, routing_key)
    raise QueueNotConvertible(
        f"queue {queue!r} was declared with other arguments ({refusal}) and is in use (ready messages: "
        f"{state.message_count}, consumers: {state.consumer_count}): stop its workers, let it be drained "
        "(start one worker of the previous release without new publishes) and run setup-broker again"
    )
