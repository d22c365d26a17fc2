"""The shared relay and consumers on a real 3-node RabbitMQ cluster, losing one node and then another.

A private cluster (``clinic_shared.testing.rabbit_cluster``: own node names, ports, data and cookie; the main
broker is never touched) holds the topology's quorum queue, replicated on all three nodes. The relay
(publisher confirms) and two competing consumers are given the list of node URLs. All three clients are
made to start on the node that leads the queue, so that every fault below hits each of them. While a steady
stream of events flows through a fresh PostgreSQL outbox/inbox:

1. that node is stopped (``rabbitmqctl stop_app``): the clients fail over, the queue elects a new leader;
2. it is started again and, once the queue has all three members online, the node the relay moved to is
   killed (SIGKILL of its Erlang VM);
3. the killed node is booted again on its own data and rejoins.

Then every event has been applied exactly once (inbox + effects, which have no unique key so a double
application would show), every outbox row was confirmed, and confirms kept arriving in every phase.
It boots three Erlang VMs and kills one, so it is marked disruptive and runs alone.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pika
import pytest
from reliable_messaging_support import (
    EXCHANGE,
    FAST_BACKOFF,
    INBOX,
    METADATA,
    OUTBOX,
    SUBSCRIPTION,
    add_to_outbox,
    clinic_changed,
    effect_counts,
    make_consumer,
    running,
    wait_until,
)
from sqlalchemy import Engine, func, select

from clinic_shared.clock import SystemClock
from clinic_shared.db import make_engine, make_session_factory
from clinic_shared.messaging.connection import Backoff, node_parameters
from clinic_shared.messaging.policies import broker_policies
from clinic_shared.messaging.relay import OutboxRelay
from clinic_shared.messaging.topology import declare_consumer, declare_exchange
from clinic_shared.testing.postgres import temporary_database
from clinic_shared.testing.rabbit_cluster import RabbitCluster, RabbitNode
from clinic_shared.testing.reporting import say

pytestmark = [pytest.mark.integration, pytest.mark.disruptive]

CHUNK = 20
PACE = 0.3  # seconds between chunks (~65 events/s), from before the first fault to after the last
MAX_EVENTS = 5000
PHASE = 6.0  # seconds each of the first two faults lasts at least


@pytest.fixture
def engine() -> Iterator[Engine]:
    with temporary_database("cluster") as url:
        engine = make_engine(url)
        METADATA.create_all(engine)
        yield engine
        engine.dispose()


def queue_info(cluster: RabbitCluster, queue: str) -> dict[str, Any]:
    out = cluster.ctl(
        cluster.running_node(), "list_queues", "name", "type", "leader", "members", "online", "messages",
        "--formatter", "json",
    )  # fmt: skip
    for row in json.loads(out):
        if row["name"] == queue:
            return dict(row)
    raise AssertionError(f"queue {queue} not found: {out}")


def client_nodes(cluster: RabbitCluster) -> dict[str, list[str]]:
    """Which node each client connection is on, from the broker's side (its AMQP port names the node)."""
    out = cluster.ctl(
        cluster.running_node(), "list_connections", "port", "client_properties", "--formatter", "json"
    )
    names = {node.amqp_port: short(node) for node in cluster.nodes}
    found: dict[str, list[str]] = {}
    for row in json.loads(out):
        match = re.search(r"(outbox-relay|consumer:[\w.-]+)", json.dumps(row["client_properties"]))
        found.setdefault(match.group(1) if match else "?", []).append(names.get(row["port"], "?"))
    return found


def await_failover(cluster: RabbitCluster, victim: RabbitNode, timeout: float = 20) -> dict[str, list[str]]:
    """Wait until the relay and both consumers are connected, none of them to ``victim``; their placement."""
    deadline = time.monotonic() + timeout
    while True:
        placement = client_nodes(cluster)
        clients = placement.get("outbox-relay", []) + placement.get(f"consumer:{SUBSCRIPTION.consumer}", [])
        if len(clients) == 3 and short(victim) not in clients:
            return placement
        if time.monotonic() > deadline:
            raise AssertionError(f"the clients did not leave {victim.name}: {placement}")
        time.sleep(1)


def short(node: RabbitNode) -> str:
    return node.name.split("@")[0]


class ConnectionLog(logging.Handler):
    """The relay's and consumers' (re)connections, from their log lines (the relay's name the port)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.relay_ports: list[int] = []
        self.consumer_connects = 0
        self.losses = 0

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        relay = re.search(r"outbox relay: connected to the broker at [^:]+:(\d+)", message)
        if relay:
            self.relay_ports.append(int(relay.group(1)))
        elif message.startswith("consumer ") and message.endswith(": consuming"):
            self.consumer_connects += 1
        elif "reconnecting" in message:
            self.losses += 1


class ConfirmWatch:
    """Samples how many outbox rows the relay has marked sent (confirmed)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.samples: list[tuple[float, int]] = []

    def sent(self) -> tuple[int, int]:
        with self.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(OUTBOX)).scalar_one()
            sent = conn.execute(
                select(func.count()).select_from(OUTBOX).where(OUTBOX.c.sent_at.is_not(None))
            ).scalar_one()
        return int(sent), int(total)

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(0.25):
            self.samples.append((time.monotonic(), self.sent()[0]))

    def confirmed_between(self, start: float, end: float) -> int:
        inside = [sent for at, sent in self.samples if start <= at <= end]
        return inside[-1] - inside[0] if len(inside) > 1 else 0


def test_relay_and_consumers_lose_nothing_and_double_nothing_while_cluster_nodes_stop_and_die(
    cluster: RabbitCluster, engine: Engine
) -> None:
    started = time.monotonic()
    clock = SystemClock()

    for policy in broker_policies():  # as broker_users sets them on a deployment's vhost
        cluster.ctl(cluster.nodes[0], *policy.set_policy_args("/"))
    with pika.BlockingConnection(node_parameters(cluster.amqp_url, heartbeat=0)) as conn:
        channel = conn.channel()
        declare_exchange(channel, EXCHANGE)
        declare_consumer(channel, SUBSCRIPTION)
    info = queue_info(cluster, SUBSCRIPTION.queue)
    assert info["type"] == "quorum"
    assert set(info["members"]) == {node.name for node in cluster.nodes}, f"replicated on every node: {info}"
    leader = next(i for i, node in enumerate(cluster.nodes) if node.name == info["leader"])
    # The clients' list starts with the leader's node, and they are made to start at the head of the list
    # (instead of a random node): every fault below then hits all three of them.
    url = ",".join(cluster.urls[leader:] + cluster.urls[:leader])

    relay = OutboxRelay(
        make_session_factory(engine),
        OUTBOX,
        url,
        clock=clock,
        poll_interval=0.05,
        batch_size=100,
        backoff=Backoff(**FAST_BACKOFF),
        retry_backoff=Backoff(initial=0.05, cap=0.5),
        confirm_timeout=15,
        exchanges=[EXCHANGE],
    )
    consumers = [make_consumer(engine, url, clock, prefetch=50) for _ in range(2)]  # type: ignore[arg-type]
    for nodes in (relay._nodes, consumers[0]._nodes, consumers[1]._nodes):
        nodes._next = 0
    connections = ConnectionLog()
    messaging_log = logging.getLogger("clinic_shared.messaging")
    messaging_log.addHandler(connections)
    level = messaging_log.level
    messaging_log.setLevel(logging.INFO)

    events: list[Any] = []

    def produce(stop: threading.Event) -> None:
        while len(events) < MAX_EVENTS and not stop.wait(PACE):
            chunk = [clinic_changed(clock, len(events) + i) for i in range(CHUNK)]  # type: ignore[arg-type]
            add_to_outbox(engine, chunk)
            events.extend(chunk)
            relay.wake()

    watch = ConfirmWatch(engine)
    phases: list[tuple[str, float, float]] = []
    placements: list[tuple[str, dict[str, list[str]]]] = []
    by_port = {node.amqp_port: node for node in cluster.nodes}
    try:
        with (
            running(watch.run, "confirm-watch"),
            running(consumers[0].run, "consumer-1"),
            running(consumers[1].run, "consumer-2"),
            running(relay.run, "relay"),
        ):
            wait_until(
                lambda: all(c.ready.is_set() for c in consumers) and connections.relay_ports, timeout=30
            )
            with running(produce, "producer"):
                time.sleep(3)
                placements.append(("before", client_nodes(cluster)))
                first_victim = by_port[connections.relay_ports[-1]]
                assert first_victim is cluster.nodes[leader]

                t = time.monotonic()
                cluster.stop_app(first_victim)
                time.sleep(PHASE)
                placements.append((f"{short(first_victim)} stopped", await_failover(cluster, first_victim)))
                phases.append((f"{short(first_victim)} stopped (stop_app)", t, time.monotonic()))

                t = time.monotonic()
                cluster.start_app(first_victim)
                wait_until(lambda: len(queue_info(cluster, SUBSCRIPTION.queue)["online"]) == 3, timeout=60)
                second_victim = by_port[connections.relay_ports[-1]]
                assert second_victim.name != first_victim.name, "the relay moved off the stopped node"
                cluster.kill(second_victim)
                time.sleep(PHASE)
                placements.append((f"{short(second_victim)} killed", await_failover(cluster, second_victim)))
                phases.append(
                    (f"{short(first_victim)} back, {short(second_victim)} killed", t, time.monotonic())
                )

                t = time.monotonic()
                cluster.restart(second_victim)
                cluster.await_cluster(timeout=60)
                phases.append((f"{short(second_victim)} rebooted", t, time.monotonic()))
                time.sleep(2)
            expected = len(events)
            wait_until(lambda: watch.sent() == (expected, expected), timeout=90, interval=0.5)
            wait_until(lambda: sum(effect_counts(engine).values()) >= expected, timeout=90, interval=0.5)
            time.sleep(2)  # anything redelivered late would show up as a second effect
    finally:
        messaging_log.removeHandler(connections)
        messaging_log.setLevel(level)

    counts = effect_counts(engine)
    with engine.connect() as conn:
        inbox_rows = conn.execute(select(func.count()).select_from(INBOX)).scalar_one()
    sent, total = watch.sent()
    final = queue_info(cluster, SUBSCRIPTION.queue)
    dead_letter = queue_info(cluster, SUBSCRIPTION.dead_letter_queue)
    relay_nodes = [short(by_port[port]) for port in connections.relay_ports]

    say(
        f"\ncluster figures: published={total} confirmed={sent} applied={sum(counts.values())} "
        f"unique={len(counts)} duplicates={sum(n - 1 for n in counts.values())} inbox={inbox_rows} "
        f"relay-nodes={relay_nodes} consumer-connects={connections.consumer_connects} "
        f"connection-losses={connections.losses} leader {info['leader']} -> {final['leader']} "
        f"duration={time.monotonic() - started:.1f}s"
    )
    for name, placement in placements:
        say(f"  clients {name}: {placement}")
    for name, start, end in phases:
        say(f"  phase {name}: {end - start:.1f}s, confirmed {watch.confirmed_between(start, end)}")

    assert 0 < total == len(events) < MAX_EVENTS
    assert sent == total, "every outbox row confirmed"
    assert set(counts) == {e.id for e in events}, "none lost"
    assert set(counts.values()) == {1}, "none applied twice"
    assert inbox_rows == len(events)
    for name, start, end in phases:
        assert watch.confirmed_between(start, end) > 0, f"publishers kept confirming while {name}"
    assert len(set(relay_nodes)) >= 3, "the relay moved to a second and then a third node"
    assert connections.consumer_connects >= 4, "both consumers moved off the stopped node"
    assert int(dead_letter.get("messages", 0) or 0) == 0
    assert set(final["members"]) == {node.name for node in cluster.nodes}
