"""Names and declarations of exchanges and queues.

Producers publish to a durable topic exchange per service (``<producer>.events``) with the event type as
routing key. Each consumer owns one quorum queue named after it, bound to the events it wants, plus
``<consumer>.dead-letter`` for messages that can never succeed or exhausted their delivery limit.

The declaration helpers accept a pika ``BlockingChannel`` (each call waits for its ``*-Ok``) or an async
``pika.channel.Channel``: there the declarations are chained through callbacks, an error closes the
channel (watch it with ``add_on_close_callback``) and ``on_done`` runs after the last one succeeded.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from pika.adapters.blocking_connection import BlockingChannel
from pika.channel import Channel

DEAD_LETTER_EXCHANGE = "dead-letter"

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


def consumer_queue_arguments(consumer: str, *, delivery_limit: int) -> dict[str, Any]:
    """Quorum queue whose failures are dead-lettered at-least-once (which requires reject-publish)."""
    if delivery_limit < 0:
        raise ValueError("delivery_limit must be >= 0")
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": delivery_limit,
        "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
        "x-dead-letter-routing-key": consumer,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


def declare_exchange(channel: AnyChannel, name: str, *, on_done: Callable[[], None] | None = None) -> None:
    """Declare a producer's durable topic exchange."""
    _run(channel, [_exchange(name, "topic")], on_done)


def declare_consumer(
    channel: AnyChannel,
    subscription: Subscription,
    *,
    delivery_limit: int,
    on_done: Callable[[], None] | None = None,
) -> None:
    """Declare the source exchanges, the dead-letter path, the consumer's quorum queue and its bindings."""
    consumer = subscription.consumer
    ops: list[_Op] = [_exchange(exchange, "topic") for exchange in subscription.bindings]
    ops.append(_exchange(DEAD_LETTER_EXCHANGE, "direct"))
    ops.append(_queue(subscription.dead_letter_queue, {"x-queue-type": "quorum"}))
    ops.append(_bind(subscription.dead_letter_queue, DEAD_LETTER_EXCHANGE, consumer))
    ops.append(_queue(subscription.queue, consumer_queue_arguments(consumer, delivery_limit=delivery_limit)))
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
    amqp_url: str, *, producer: str, subscription: Subscription | None, delivery_limit: int
) -> None:
    """Declare a service's exchange and, if it consumes, its queues and bindings, over a short connection.

    Run at deploy time (``<service> setup-broker``) before any worker starts: a queue that does not exist
    yet when another service publishes would silently miss those events.
    """
    import pika

    from clinic_shared.messaging.connection import connection_parameters
    from clinic_shared.messaging.outbox import exchange_for

    connection = pika.BlockingConnection(
        connection_parameters(amqp_url, heartbeat=0, connection_name=f"setup:{producer}")
    )
    try:
        channel = connection.channel()
        declare_exchange(channel, exchange_for(producer))
        if subscription is not None:
            declare_consumer(channel, subscription, delivery_limit=delivery_limit)
    finally:
        connection.close()
