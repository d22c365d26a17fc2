"""Worker metrics (``clinic_shared.messaging.metrics``): the relay's publishes and failures per event type and
reason, the consumer's events per outcome with their handling time, and the HTTP endpoint a worker serves."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import REGISTRY, Collector
from reliable_messaging_support import (
    CONSUMER,
    EVENT_TYPE,
    METADATA,
    START,
    ManualClock,
    clinic_changed,
    make_consumer,
    record_effect,
)
from sqlalchemy import Engine

from clinic_shared.db import make_engine
from clinic_shared.events.envelope import dump_event
from clinic_shared.messaging import metrics
from clinic_shared.messaging.confirming_publisher import Batch
from clinic_shared.messaging.consumer import _Delivery
from clinic_shared.messaging.worker import run_worker
from clinic_shared.settings import CommonSettings, ConfigError


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@dataclass
class Row:
    routing_key: str


def test_a_relay_batch_is_counted_per_event_type_and_each_refusal_by_its_reason() -> None:
    booked, cancelled = "test.metrics.booked", "test.metrics.cancelled"
    rows = [Row(booked), Row(booked), Row(cancelled), Row(cancelled), Row(booked)]
    batch = Batch(1, ["a", "b", "c", "d", "e"])
    batch.settle(1, False, True, {})  # a: acked
    batch.settle(2, False, True, {"b": "unroutable: 312 NO_ROUTE"})  # b: returned, then acked
    batch.settle(3, False, False, {})  # c: nacked
    batch.settle(4, False, True, {})  # d: acked; e: no confirm (connection lost)
    metrics.count_publishes(rows, batch.results)

    assert value("outbox_published_total", event_type=booked) == 1
    assert value("outbox_published_total", event_type=cancelled) == 1
    failures = "outbox_publish_failures_total"
    assert value(failures, event_type=booked, reason="returned") == 1
    assert value(failures, event_type=cancelled, reason="nacked") == 1
    assert value(failures, event_type=booked, reason="unconfirmed") == 1
    assert value(failures, event_type=booked, reason="nacked") == 0


def test_consumer_outcomes_map_to_bounded_labels_and_a_failed_last_delivery_is_dead_lettered() -> None:
    assert metrics.consumed_outcome("applied", last_delivery=False) == "applied"
    assert metrics.consumed_outcome("duplicate", last_delivery=True) == "duplicate"
    assert metrics.consumed_outcome("dead-lettered", last_delivery=False) == "dead_lettered"
    assert metrics.consumed_outcome("retry", last_delivery=False) == "failed"
    assert metrics.consumed_outcome("retry", last_delivery=True) == "dead_lettered"
    assert metrics.consumed_outcome("something new", last_delivery=False) == "other"


@dataclass
class FakeChannel:
    is_open: bool = True
    settled: list[tuple[str, int]] = field(default_factory=list)

    def basic_ack(self, tag: int) -> None:
        self.settled.append(("ack", tag))

    def basic_nack(self, tag: int, requeue: bool) -> None:
        self.settled.append(("requeue" if requeue else "dead-letter", tag))


class FakeConnection:
    """Runs the consumer's thread-safe callbacks at once, as the connection thread would."""

    is_open = True

    def add_callback_threadsafe(self, callback: Callable[[], None]) -> None:
        callback()

    def call_later(self, _delay: float, callback: Callable[[], None]) -> None:
        callback()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path}/db.sqlite")
    METADATA.create_all(engine)
    yield engine
    engine.dispose()


def test_the_consumer_counts_each_settled_message_by_outcome_and_times_its_handling(engine: Engine) -> None:
    clock = ManualClock(START)

    def failing(_uow: Any, _envelope: Any) -> None:
        raise RuntimeError("handler bug")

    def handler(uow: Any, envelope: Any) -> None:
        if envelope.data["name"] == "Clinic 2":
            failing(uow, envelope)
        record_effect(uow, envelope)

    consumer = make_consumer(engine, "amqp://guest:guest@127.0.0.1:1/%2F", clock, {EVENT_TYPE: handler})
    channel, connection = FakeChannel(), FakeConnection()
    applied, failed = clinic_changed(clock, 1), clinic_changed(clock, 2)
    bodies = [
        (dump_event(applied), 0),
        (dump_event(applied), 0),  # a redelivery: a duplicate
        (dump_event(failed), 0),  # retried
        (dump_event(failed), 5),  # its last allowed delivery (limit 5): the broker dead-letters it
        (b"not json", 0),
    ]
    labels = {"consumer": CONSUMER, "event_type": EVENT_TYPE}
    before = {
        outcome: value("events_consumed_total", **labels, outcome=outcome)
        for outcome in ("applied", "duplicate", "failed", "dead_lettered")
    }
    unknown_before = value(
        "events_consumed_total", consumer=CONSUMER, event_type="unknown", outcome="dead_lettered"
    )
    timed_before = value("event_handling_duration_seconds_count", **labels)
    for tag, (body, count) in enumerate(bodies, start=1):
        consumer._work.put(
            _Delivery(connection, channel, consumer._generation, tag, None, count, body)  # type: ignore[arg-type]
        )
    consumer._work.put(None)
    consumer._work_loop()

    assert [verdict for verdict, _ in channel.settled] == ["ack", "ack", "requeue", "requeue", "dead-letter"]
    after = {
        outcome: value("events_consumed_total", **labels, outcome=outcome) - n
        for outcome, n in before.items()
    }
    assert after == {"applied": 1, "duplicate": 1, "failed": 1, "dead_lettered": 1}
    unknown = value("events_consumed_total", consumer=CONSUMER, event_type="unknown", outcome="dead_lettered")
    assert unknown - unknown_before == 1, "an unparsed message is counted under a bounded label"
    assert value("event_handling_duration_seconds_count", **labels) - timed_before == 4


class Backlog(Collector):
    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("test_backlog_rows", "rows waiting", value=7)


def scrape(url: str) -> dict[str, float]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - a local test server
        text = response.read().decode()
    return {
        sample.name + str(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_a_worker_serves_its_metrics_and_collectors_on_its_port_and_stops_serving_with_it() -> None:
    assert metrics.serve_metrics(None) is None, "off without a port"
    server = metrics.serve_metrics(0, "127.0.0.1", [Backlog()])
    assert server is not None
    try:
        metrics.OUTBOX_PUBLISHED.labels("test.metrics.served").inc()
        found = scrape(f"http://127.0.0.1:{server.port}/metrics")
        assert found["test_backlog_rows[]"] == 7
        assert found["outbox_published_total[('event_type', 'test.metrics.served')]"] >= 1
    finally:
        server.close()


def test_run_worker_serves_metrics_while_its_loops_run(unused_port: int) -> None:
    stop = threading.Event()
    seen: list[float] = []

    def loop(loop_stop: threading.Event) -> None:
        seen.append(scrape(f"http://127.0.0.1:{unused_port}/metrics")["test_backlog_rows[]"])
        loop_stop.set()

    code = run_worker(
        None,
        None,
        stop=stop,
        install_signal_handlers=False,
        extra={"probe": loop},
        metrics_port=unused_port,
        metrics_collectors=[Backlog()],
    )
    assert (code, seen) == (0, [7])
    with pytest.raises(urllib.error.URLError):
        scrape(f"http://127.0.0.1:{unused_port}/metrics")


@pytest.fixture
def unused_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_metrics_port_and_host_come_from_the_environment_the_services_own_name_first() -> None:
    def settings(**env: str) -> CommonSettings:
        return CommonSettings.from_env("billing", env, "sqlite://")

    assert (settings().metrics_port, settings().metrics_host) == (None, "127.0.0.1")
    assert settings(METRICS_PORT="9100").metrics_port == 9100
    both = settings(METRICS_PORT="9100", BILLING_METRICS_PORT="9102", METRICS_HOST="0.0.0.0")
    assert (both.metrics_port, both.metrics_host) == (9102, "0.0.0.0")
    assert settings(BILLING_METRICS_HOST="10.0.0.5", METRICS_HOST="0.0.0.0").metrics_host == "10.0.0.5"
    with pytest.raises(ConfigError, match="METRICS_PORT"):
        settings(METRICS_PORT="nine")
    with pytest.raises(ConfigError, match="BILLING_METRICS_PORT"):
        settings(BILLING_METRICS_PORT="70000")
