"""A worker's metrics over HTTP (issue 15): the relay and the consumer run as ``run_worker`` runs them,
against the real PostgreSQL and RabbitMQ, and a scrape of the worker's port shows the event published and
consumed."""

from __future__ import annotations

import threading
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families
from reliable_messaging_support import (
    CONSUMER,
    EVENT_TYPE,
    EXCHANGE,
    FAST_BACKOFF,
    OUTBOX,
    START,
    ManualClock,
    add_to_outbox,
    clinic_changed,
    effect_counts,
    make_consumer,
    publish_raw,
    running,
    wait_until,
)
from sqlalchemy import Engine

from clinic_shared.db import make_session_factory
from clinic_shared.messaging.connection import Backoff
from clinic_shared.messaging.relay import OutboxRelay
from clinic_shared.messaging.worker import run_worker
from clinic_shared.testing.ports import free_port

pytestmark = pytest.mark.integration


def scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_a_worker_counts_the_event_it_published_and_consumed_and_serves_the_counts_on_its_port(
    engine: Engine, amqp_url: str
) -> None:
    clock = ManualClock(START)
    consumer = make_consumer(engine, amqp_url, clock)
    relay = OutboxRelay(
        make_session_factory(engine),
        OUTBOX,
        amqp_url,
        clock=clock,
        poll_interval=0.05,
        backoff=Backoff(**FAST_BACKOFF),
        exchanges=[EXCHANGE],
    )
    port = free_port()
    published = ("outbox_published_total", frozenset({("event_type", EVENT_TYPE)}))
    labels = {("consumer", CONSUMER), ("event_type", EVENT_TYPE)}
    applied = ("events_consumed_total", frozenset(labels | {("outcome", "applied")}))
    handled = ("event_handling_duration_seconds_count", frozenset(labels))
    unknown = {("consumer", CONSUMER), ("event_type", "unknown"), ("outcome", "dead_lettered")}
    rejected = ("events_consumed_total", frozenset(unknown))

    def worker(stop: threading.Event) -> None:
        assert run_worker(relay, consumer, stop=stop, install_signal_handlers=False, metrics_port=port) == 0

    with running(worker, "worker"):
        wait_until(consumer.ready.is_set)
        before = scrape(port)
        event = clinic_changed(clock, 1)
        add_to_outbox(engine, [event])
        relay.wake()
        publish_raw(amqp_url, [(b"not an event", "m-1")])

        def counted() -> dict[tuple[str, frozenset[tuple[str, str]]], float] | None:
            now = scrape(port)
            done = all(now.get(key, 0) > before.get(key, 0) for key in (published, applied, rejected))
            return now if done else None

        after = wait_until(counted)

    assert effect_counts(engine) == {event.id: 1}
    for key in (published, applied, handled, rejected):
        assert after[key] - before.get(key, 0) == 1, key
    ids = str(event.id)
    assert not any(ids in str(labels) for _, labels in after), "no ids in labels"
