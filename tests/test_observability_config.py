"""The alert rules and the dashboard name only metrics the code registers, and docs/METRICS.md lists them all.

The registered names are taken from prometheus_client itself: the default registry after importing the
modules that define the API's and the workers' metrics, plus the scrape-time collectors run against a
throw-away SQLite database. A renamed metric (or a typo in a rule) fails here, not on a silent dashboard.
``promtool`` is not assumed; metric names are read from PromQL with a small tokenizer instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.core import Metric
from prometheus_client.registry import REGISTRY, Collector
from sqlalchemy import MetaData, create_engine

import clinic_shared.messaging.metrics
import clinic_shared.web.metrics
import notifications.entrypoints.worker as notifications_worker
from clinic_shared.clock import SystemClock
from clinic_shared.messaging.tables import define_outbox_table
from notifications.adapters import orm as notifications_orm

ROOT = Path(__file__).resolve().parents[1]
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
SCRAPE_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "clinic-dashboard.json"
METRICS_DOC = ROOT / "docs" / "METRICS.md"

# Series Prometheus makes itself rather than scraping them.
SYNTHETIC = {"up", "ALERTS", "ALERTS_FOR_STATE", "scrape_duration_seconds", "scrape_samples_scraped"}
FUNCTIONS = {
    "abs", "absent", "absent_over_time", "avg", "avg_over_time", "bottomk", "ceil", "changes", "clamp",
    "clamp_max", "clamp_min", "count", "count_over_time", "delta", "deriv", "floor", "group",
    "histogram_quantile", "idelta", "increase", "irate", "label_replace", "last_over_time",
    "max", "max_over_time", "min", "min_over_time", "predict_linear", "quantile", "quantile_over_time",
    "rate", "resets", "round", "scalar", "sort", "sort_desc", "stddev", "sum", "sum_over_time", "time",
    "timestamp", "topk", "vector",
}  # fmt: skip
KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring"}
_LABEL_LISTS = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"(?<![\w:.$])[A-Za-z_:][\w:]*")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (function names must be known ones)."""
    expr = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)  # label values
    expr = re.sub(r"\{[^}]*\}", "{}", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "[]", expr)  # range and subquery durations
    expr = _LABEL_LISTS.sub(" ", expr)  # label names of by (...), on (...)
    names = set()
    for match in _IDENTIFIER.finditer(expr):
        name = match.group()
        if expr[match.end() :].lstrip().startswith("("):
            assert name in FUNCTIONS, f"unknown PromQL function {name!r} in {expr!r}"
        elif name not in KEYWORDS:
            names.add(name)
    return names


def test_the_promql_reader_finds_metrics_and_skips_functions_labels_and_durations() -> None:
    expr = (
        "histogram_quantile(0.95, sum by (service, le) ("
        'rate(http_request_duration_seconds_bucket{route!="/x"}[$__rate_interval]))'
        ") > 1 and on (service) max(outbox_unsent_rows offset 5m) / 1e3"
    )
    assert metric_names(expr) == {"http_request_duration_seconds_bucket", "outbox_unsent_rows"}
    assert metric_names('up{job=~".*-worker"} == 0') == {"up"}
    with pytest.raises(AssertionError, match="unknown PromQL function"):
        metric_names("rates(http_requests_total[5m])")


def _names_of(family: Metric) -> set[str]:
    base = family.name
    by_type = {
        "counter": {f"{base}_total", f"{base}_created"},
        "histogram": {f"{base}_bucket", f"{base}_count", f"{base}_sum", f"{base}_created"},
        "summary": {f"{base}_count", f"{base}_sum", f"{base}_created"},
        "info": {f"{base}_info"},
    }
    return by_type.get(family.type, {base}) | {sample.name for sample in family.samples}


def _families(collectors: Iterable[Collector]) -> Iterator[Metric]:
    for collector in collectors:
        yield from collector.collect()


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """Every family the code registers (family name -> series names), scrape-time collectors included."""
    assert clinic_shared.web.metrics.REQUESTS is not None  # the API's metrics, in the default registry
    assert clinic_shared.messaging.metrics.EVENTS_CONSUMED is not None  # the workers'
    assert notifications_worker.DELIVERIES_SENT is not None  # notifications' worker's
    folder = tmp_path_factory.mktemp("metrics")
    outbox_engine = create_engine(f"sqlite:///{folder}/outbox.db")
    outbox = define_outbox_table(MetaData())
    outbox.metadata.create_all(outbox_engine)
    notifications_engine = create_engine(f"sqlite:///{folder}/notifications.db")
    notifications_orm.deliveries.metadata.create_all(notifications_engine)
    collectors: list[Collector] = [
        REGISTRY,
        clinic_shared.web.metrics.OutboxCollector("scheduling", outbox_engine, outbox),
        notifications_worker.DeliveryLagCollector(notifications_engine, SystemClock()),
    ]
    return {family.name: _names_of(family) for family in _families(collectors)}


def series(registered: dict[str, set[str]]) -> set[str]:
    return set().union(*registered.values()) | SYNTHETIC


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def dashboard_expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())

    def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for panel in items:
            yield panel
            yield from panels(panel.get("panels", []))

    exprs = [target["expr"] for panel in panels(dashboard["panels"]) for target in panel.get("targets", [])]
    exprs += [a["expr"] for a in dashboard["annotations"]["list"] if "expr" in a]
    for variable in dashboard["templating"]["list"]:
        query = variable.get("query")
        if isinstance(query, dict):
            # label_values(<series selector>, <label>): the selector is PromQL, the label is not.
            label_values = re.fullmatch(r"label_values\((.+),\s*\w+\)", query["query"])
            exprs.append(label_values.group(1) if label_values else query["query"])
    return exprs


def test_every_alert_rule_reads_only_registered_metrics(registered: dict[str, set[str]]) -> None:
    rules = alert_rules()
    known = series(registered)
    unknown = {rule["alert"]: metric_names(rule["expr"]) - known for rule in rules}
    assert {alert: names for alert, names in unknown.items() if names} == {}
    assert all(metric_names(rule["expr"]) for rule in rules), "every rule reads a metric"


def test_the_alert_rules_cover_the_failures_the_issue_names() -> None:
    rules = {rule["alert"]: rule for rule in alert_rules()}
    assert {
        "OutboxEventsStuck",
        "EventsDeadLettered",
        "ConsumerFailureRate",
        "RemindersLate",
        "ApiErrorRate",
        "ApiLatencyP95High",
    } <= set(rules)
    for name, rule in rules.items():
        assert rule["labels"]["severity"] in {"page", "ticket"}, name
        assert rule["annotations"]["summary"], name


def test_every_dashboard_query_reads_only_registered_metrics(registered: dict[str, set[str]]) -> None:
    exprs = dashboard_expressions()
    assert len(exprs) > 15
    known = series(registered)
    unknown = {expr: metric_names(expr) - known for expr in exprs}
    assert {expr: names for expr, names in unknown.items() if names} == {}
    shown = set().union(*(metric_names(expr) for expr in exprs))
    for family in (
        "http_requests_total",
        "outbox_oldest_unsent_age_seconds",
        "events_consumed_total",
        "deliveries_sent_total",
        "reminder_lag_seconds",
    ):
        assert family in shown, f"the dashboard shows {family}"


def test_docs_list_exactly_the_metrics_the_services_define(registered: dict[str, set[str]]) -> None:
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", METRICS_DOC.read_text(), flags=re.MULTILINE))
    # As exposed: a counter by its _total series, a histogram by its base name, a gauge as it is.
    ours = {
        f"{family}_total" if f"{family}_total" in names else family
        for family, names in registered.items()
        if not family.startswith(("process_", "python_"))
    }
    assert documented == ours


def test_the_scrape_config_loads_the_rules_and_scrapes_apis_and_workers() -> None:
    config = yaml.safe_load(SCRAPE_CONFIG.read_text())
    assert config["rule_files"] == ["alerts.yml"]
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    assert {"api", "scheduling-worker", "billing-worker", "notifications-worker"} <= jobs
