"""Prometheus metrics of a worker process, and the small HTTP server that serves them.

Every name is listed in ``docs/METRICS.md`` (with the API's, ``clinic_shared.web.metrics``); the alert rules
and the dashboard under ``deploy/`` are checked against the names registered here
(``tests/test_observability_config.py``).

* the outbox relay (``relay.py``): ``outbox_published_total{event_type}`` for rows the broker confirmed and
  the relay marked sent, ``outbox_publish_failures_total{event_type, reason}`` for rows it did not:
  ``nacked`` (the broker refused it), ``returned`` (unroutable: its consumer's queue is missing),
  ``unconfirmed`` (the connection went before the confirm came; the row stays pending and is retried);
* the consumer (``consumer.py``): ``events_consumed_total{consumer, event_type, outcome}`` once its ack or
  nack is sent, ``outcome`` one of ``applied``, ``duplicate``, ``ignored`` (no handler), ``failed`` (nacked
  for a retry) or ``dead_lettered`` (rejected outright, or its last allowed delivery failed: the quorum
  queue's ``x-delivery-limit`` moves it to the dead-letter queue); ``event_handling_duration_seconds``
  times each message's handling.

Labels stay bounded: event types come from the outbox's routing keys (written by this service's own code)
or from envelopes the catalog accepted (anything else is ``unknown``); outcomes and reasons are fixed sets.
Never an id, an address or event data.

``serve_metrics`` starts prometheus_client's HTTP server on ``METRICS_PORT`` (``<SERVICE>_METRICS_PORT``
first), bound to ``METRICS_HOST`` (default ``127.0.0.1``); ``run_worker`` starts it when a port is set.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import Metric
from prometheus_client.registry import REGISTRY, Collector

log = logging.getLogger(__name__)

UNKNOWN = "unknown"
NACKED = "nacked"
RETURNED = "returned"
UNCONFIRMED = "unconfirmed"
OTHER = "other"

OUTBOX_PUBLISHED = Counter(
    "outbox_published_total",
    "Outbox rows the broker confirmed and the relay marked sent, by event type",
    ["event_type"],
)
OUTBOX_PUBLISH_FAILURES = Counter(
    "outbox_publish_failures_total",
    "Outbox rows published but not confirmed (rescheduled or left pending), by event type and reason",
    ["event_type", "reason"],
)
EVENTS_CONSUMED = Counter(
    "events_consumed_total",
    "Events a consumer settled (ack or nack), by consumer, event type and outcome",
    ["consumer", "event_type", "outcome"],
)
EVENT_HANDLING = Histogram(
    "event_handling_duration_seconds",
    "Time a consumer took to handle one message (inbox claim, handler, commit), by consumer and event type",
    ["consumer", "event_type"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)

# The consumer's outcomes (``consumer.Outcome``) as label values; "retry" is decided at settle time.
_CONSUMED_OUTCOMES = {
    "applied": "applied",
    "duplicate": "duplicate",
    "ignored": "ignored",
    "dead-lettered": "dead_lettered",
    "retry": "failed",
}


def publish_failure_reason(result: object) -> str:
    """The label for one relay confirm result that is not a success (see ``confirming_publisher.Batch``)."""
    if not isinstance(result, str):
        return UNCONFIRMED
    if result.startswith("nacked"):
        return NACKED
    if result.startswith("unroutable"):
        return RETURNED
    return OTHER


def count_publishes(rows: Sequence[Any], results: Sequence[Any]) -> None:
    """Count one relay batch: ``results[i]`` is None when ``rows[i]`` was confirmed, else why not."""
    published: collections.Counter[str] = collections.Counter()
    failed: collections.Counter[tuple[str, str]] = collections.Counter()
    for row, result in zip(rows, results, strict=True):
        if result is None:
            published[row.routing_key] += 1
        else:
            failed[(row.routing_key, publish_failure_reason(result))] += 1
    for event_type, n in published.items():
        OUTBOX_PUBLISHED.labels(event_type).inc(n)
    for (event_type, reason), n in failed.items():
        OUTBOX_PUBLISH_FAILURES.labels(event_type, reason).inc(n)


def consumed_outcome(outcome: str, *, last_delivery: bool) -> str:
    """The label for a consumer outcome; a failed last allowed delivery is dead-lettered by the broker."""
    label = _CONSUMED_OUTCOMES.get(outcome, OTHER)
    if label == "failed" and last_delivery:
        return "dead_lettered"
    return label


def count_consumed(consumer: str, event_type: str | None, outcome: str, *, last_delivery: bool) -> None:
    EVENTS_CONSUMED.labels(
        consumer, event_type or UNKNOWN, consumed_outcome(outcome, last_delivery=last_delivery)
    ).inc()


def observe_handling(consumer: str, event_type: str | None, seconds: float) -> None:
    EVENT_HANDLING.labels(consumer, event_type or UNKNOWN).observe(seconds)


class _ThisProcess(Collector):
    """The process's own metrics (the default registry), as one collector of the served registry."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


class MetricsServer:
    """A running metrics endpoint; ``close`` stops it."""

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def serve_metrics(
    port: int | None, host: str = "127.0.0.1", collectors: Iterable[Collector] = ()
) -> MetricsServer | None:
    """Serve the process's metrics and ``collectors`` on ``host:port`` (0: any free port); None if no port.

    The collectors are read at each scrape (e.g. a backlog counted in the database).
    """
    if port is None:
        return None
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ThisProcess())
    for collector in collectors:
        registry.register(collector)
    server, thread = start_http_server(port, addr=host, registry=registry)
    served = MetricsServer(server, thread)
    log.info("metrics: serving http://%s:%d/metrics", served.host, served.port)
    return served
