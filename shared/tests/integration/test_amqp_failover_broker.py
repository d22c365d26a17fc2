"""A node list with dead nodes in it, against the local broker: the relay and consumer reach the live node.

The dead nodes are ports nothing listens on (connection refused); nothing here stops the shared broker.
"""

from __future__ import annotations

import random
from urllib.parse import urlsplit, urlunsplit

import pika
import pytest
from reliable_messaging_support import (
    EXCHANGE,
    FAST_BACKOFF,
    OUTBOX,
    START,
    ManualClock,
    add_to_outbox,
    clinic_changed,
    effect_counts,
    make_consumer,
    running,
    wait_until,
)
from sqlalchemy import Engine

from clinic_shared.db import make_session_factory
from clinic_shared.messaging.connection import AmqpNodes, Backoff, node_parameters
from clinic_shared.messaging.relay import OutboxRelay
from clinic_shared.testing.ports import free_port

pytestmark = pytest.mark.integration


def with_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    userinfo, _, _ = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{userinfo}@127.0.0.1:{port}"))


def node_list(amqp_url: str) -> tuple[str, int]:
    """``amqp_url`` between two dead nodes, and the live port."""
    dead = [with_port(amqp_url, free_port()) for _ in range(2)]
    return ",".join([dead[0], amqp_url, dead[1]]), urlsplit(amqp_url).port or 5672


def test_a_blocking_connection_reaches_the_live_node_whichever_node_it_starts_at(amqp_url: str) -> None:
    url, live = node_list(amqp_url)
    nodes = AmqpNodes(node_parameters(url, stack_timeout=5), rng=random.Random(0))
    for _ in range(3):
        connection = pika.BlockingConnection(nodes.in_turn())
        try:
            assert connection._impl.params.port == live
        finally:
            connection.close()


def test_relay_and_consumer_given_dead_nodes_deliver_every_event_once(amqp_url: str, engine: Engine) -> None:
    url, _ = node_list(amqp_url)
    clock = ManualClock(START)
    relay = OutboxRelay(
        make_session_factory(engine),
        OUTBOX,
        url,
        clock=clock,
        poll_interval=0.05,
        backoff=Backoff(**FAST_BACKOFF),
        exchanges=[EXCHANGE],
    )
    consumer = make_consumer(engine, url, clock)
    events = [clinic_changed(clock, i) for i in range(20)]
    with running(consumer.run, "consumer"):
        wait_until(consumer.ready.is_set, timeout=20)
        add_to_outbox(engine, events)
        with running(relay.run, "relay"):
            wait_until(lambda: len(effect_counts(engine)) == len(events), timeout=30)
    assert effect_counts(engine) == {event.id: 1 for event in events}
