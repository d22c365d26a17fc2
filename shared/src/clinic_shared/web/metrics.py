"""Prometheus metrics of an API: requests per route and status with their latency, and the outbox's backlog.

``GET /metrics`` serves them in the text exposition format. Under gunicorn each worker is its own process:
with ``PROMETHEUS_MULTIPROC_DIR`` set (an empty directory per start, as ``deploy/gunicorn.conf.py`` expects)
every worker writes its counts there and a scrape sums them, whichever worker answers it; without it the
process's own counts are served (one process: the development server, the tests).

The outbox figures are read from the database on each scrape (rows not yet published, and the age of the
oldest), so they are right in every process and cost one query per scrape. Labels name routes by their
rule (``/appointments/<uuid:appointment_id>``), never by the path asked for: no ids, no patient data.
A request that came through a proxy (``X-Forwarded-For``: the public ingress) is answered 404: the figures
are for a scraper inside the network, which calls the pods directly.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import REGISTRY, Collector
from sqlalchemy import Engine, Table, func, select

from clinic_shared.web.auth import public
from clinic_shared.web.problems import Problem

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED = "unmatched"  # a path no route serves (a 404 before routing): one label for all of them

REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests answered, by route and status",
    ["service", "method", "route", "status"],
)
LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request, by route",
    ["service", "method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


class OutboxCollector(Collector):
    """The outbox's unsent rows and the age in seconds of the oldest one, read at scrape time."""

    def __init__(self, service: str, engine: Engine, outbox: Table) -> None:
        self._service = service
        self._engine = engine
        self._outbox = outbox

    def collect(self) -> Iterator[Metric]:
        unsent = self._outbox.c.sent_at.is_(None)
        query = select(func.count(), func.min(self._outbox.c.created_at)).where(unsent)
        with self._engine.connect() as connection:
            count, oldest = connection.execute(query).one()
        rows = GaugeMetricFamily("outbox_unsent_rows", "Outbox rows not yet published", labels=["service"])
        rows.add_metric([self._service], float(count))
        age = GaugeMetricFamily(
            "outbox_oldest_unsent_age_seconds",
            "Age of the oldest outbox row not yet published (0 when none)",
            labels=["service"],
        )
        age.add_metric([self._service], max(0.0, time.time() - oldest.timestamp()) if oldest else 0.0)
        yield rows
        yield age


def install_metrics(app: Flask, service: str, extra: list[Collector] | None = None) -> None:
    """Count every request of ``app`` and serve ``GET /metrics`` (with ``extra`` collectors)."""

    @app.before_request
    def _start_clock() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _count(response: Response) -> Response:
        started = g.pop("metrics_started", None)
        route = request.url_rule.rule if request.url_rule is not None else UNMATCHED
        REQUESTS.labels(service, request.method, route, str(response.status_code)).inc()
        if started is not None:
            LATENCY.labels(service, request.method, route).observe(time.perf_counter() - started)
        return response

    @app.get("/metrics")
    @public  # no patient data, no ids
    def metrics() -> Response:
        if request.headers.get("X-Forwarded-For"):
            # Came through the ingress or another proxy: the figures are for a scraper inside the network.
            raise Problem(404, "Not Found", "The requested URL was not found on the server.")
        body = generate_latest(_scrape(extra or []))
        return Response(body, content_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


class _ThisProcess(Collector):
    """The process's own registry, as one collector of a scrape's registry."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def _scrape(extra: list[Collector]) -> CollectorRegistry:
    """A registry for one scrape (never the shared one: scrapes run in parallel threads)."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get(MULTIPROCESS_DIR):
        MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    for collector in extra:
        registry.register(collector)
    return registry
