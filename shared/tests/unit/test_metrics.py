"""``GET /metrics``: requests counted per route rule and status, the outbox's backlog read at scrape time."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import Flask
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import MetaData, create_engine, insert

from clinic_shared.messaging.tables import define_outbox_table
from clinic_shared.testing.tokens import TestIssuer
from clinic_shared.web.app import create_service_app
from clinic_shared.web.auth import public
from clinic_shared.web.metrics import OutboxCollector
from clinic_shared.web.request_limits import Blueprint


def app_with(service: str, collectors: list[OutboxCollector] | None = None) -> Flask:
    app, api = create_service_app(
        __name__,
        title=service,
        version="1",
        verifier=TestIssuer().verifier(),
        readiness={},
        metrics=collectors,
    )
    blp = Blueprint("things", __name__)

    @blp.route("/things/<int:n>", methods=["GET"])
    @blp.response(200)
    @public
    def thing(n: int) -> dict[str, int]:
        return {"n": n}

    api.register_blueprint(blp)
    return app


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_requests_are_counted_by_route_rule_and_status_never_by_the_path_asked() -> None:
    service = f"svc{uuid.uuid4().hex[:6]}"  # the counters are the process's: a name of this test's own
    client = app_with(service).test_client()
    for n in (41, 42, 43):
        assert client.get(f"/things/{n}").status_code == 200
    assert client.get("/nothing/here/1234").status_code == 404
    scraped = client.get("/metrics")
    assert scraped.status_code == 200
    assert scraped.content_type.startswith("text/plain")
    assert scraped.headers["Cache-Control"] == "no-store"
    text = scraped.get_data(as_text=True)
    found = samples(text)
    route = {"service": service, "method": "GET", "route": "/things/<int:n>"}
    assert found[("http_requests_total", frozenset((route | {"status": "200"}).items()))] == 3
    unmatched = {"service": service, "method": "GET", "route": "unmatched", "status": "404"}
    assert found[("http_requests_total", frozenset(unmatched.items()))] == 1
    assert found[("http_request_duration_seconds_count", frozenset(route.items()))] == 3
    assert "/things/42" not in text
    # In the labels, that is: a sample's value (a timestamp, a sum of seconds) may contain any digits.
    label_values = {value for _, labels in found for _, value in labels}
    assert not any("1234" in value for value in label_values)
    proxied = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert proxied.status_code == 404, "not served through the public ingress"


def test_the_outbox_backlog_and_the_age_of_its_oldest_row_are_read_at_each_scrape(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/outbox.db")
    outbox = define_outbox_table(MetaData())
    outbox.metadata.create_all(engine)
    now = datetime.now(UTC)

    def row(age: timedelta, sent: bool) -> dict[str, object]:
        return {
            "event_id": uuid.uuid4(),
            "exchange": "x.events",
            "routing_key": "x.thing.happened",
            "body": b"{}",
            "created_at": now - age,
            "next_attempt_at": now,
            "sent_at": now if sent else None,
        }

    service = f"svc{uuid.uuid4().hex[:6]}"
    client = app_with(service, [OutboxCollector(service, engine, outbox)]).test_client()
    labels = frozenset({"service": service}.items())
    empty = samples(client.get("/metrics").get_data(as_text=True))
    assert (empty[("outbox_unsent_rows", labels)], empty[("outbox_oldest_unsent_age_seconds", labels)]) == (
        0,
        0,
    )
    with engine.begin() as connection:
        connection.execute(
            insert(outbox),
            [
                row(timedelta(minutes=5), False),
                row(timedelta(seconds=10), False),
                row(timedelta(hours=1), True),
            ],
        )
    found = samples(client.get("/metrics").get_data(as_text=True))
    assert found[("outbox_unsent_rows", labels)] == 2
    assert 299 <= found[("outbox_oldest_unsent_age_seconds", labels)] < 330, "the oldest unsent, not the sent"
    engine.dispose()
