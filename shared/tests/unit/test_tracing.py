"""Traces (``clinic_shared.tracing``): off by default at no cost; the W3C context injected into and extracted
from HTTP and AMQP headers and stored rows; a trace carried from a request through the outbox, the relay's
publish and the consumer to the events its handler emits; and log lines that name the trace they are in."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pika
import pytest
import structlog
from flask import Flask, abort, request
from opentelemetry.trace import SpanKind, StatusCode, format_span_id, format_trace_id
from reliable_messaging_support import (
    EVENT_TYPE,
    METADATA,
    OUTBOX,
    START,
    ManualClock,
    add_to_outbox,
    clinic_changed,
    make_consumer,
    record_effect,
)
from sqlalchemy import Engine, select
from werkzeug.datastructures import Headers

from clinic_shared import tracing
from clinic_shared.db import make_engine
from clinic_shared.events.envelope import Envelope, dump_event
from clinic_shared.logging import add_trace_context, configure_logging
from clinic_shared.messaging.confirming_publisher import Batch, ConfirmingPublisher
from clinic_shared.messaging.consumer import _Delivery
from clinic_shared.messaging.outbox import OutboxWriter
from clinic_shared.testing.tracing import ids_of, parent_id, recording_spans
from clinic_shared.uow import SqlAlchemyUnitOfWork, current_correlation_id
from clinic_shared.web.app import trace_requests

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"


@pytest.fixture(autouse=True)
def no_correlation() -> Iterator[None]:
    """Start without a correlation id, whatever an earlier test in this thread left."""
    token = current_correlation_id.set(None)
    yield
    current_correlation_id.reset(token)


def test_tracing_is_off_without_an_endpoint_or_when_disabled_and_every_helper_is_then_inert() -> None:
    assert tracing.configure_tracing("scheduling", environ={}) is False
    disabled = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_SDK_DISABLED": "true"}
    assert tracing.configure_tracing("scheduling", environ=disabled) is False
    assert not tracing.enabled()
    assert tracing.inject() == {}
    assert tracing.stored_context() is None
    assert tracing.extract({"traceparent": TRACEPARENT}) is None
    assert tracing.headers_of(json.dumps({"traceparent": TRACEPARENT})) == {}
    assert tracing.current_ids() is None
    assert tracing.start("GET /", kind=SpanKind.SERVER) is None
    with tracing.span("anything", parent={"traceparent": TRACEPARENT}) as span:
        assert not span.is_recording()
    assert tracing.messaging_attributes("send", "x.events", "x.y", "id") == {}


def test_an_injected_context_is_the_parent_extracted_from_http_or_amqp_headers() -> None:
    with recording_spans() as spans:
        with tracing.span("request", kind=SpanKind.SERVER) as request:
            headers = tracing.inject()
        trace_id, span_id = ids_of(spans.named("request"))
        assert set(headers) == {"traceparent"}
        assert headers["traceparent"].split("-")[:3] == [
            "00",
            format_trace_id(trace_id),
            format_span_id(span_id),
        ]
        assert request.get_span_context().span_id == span_id

        # AMQP header values may arrive as bytes; HTTP header names in any case.
        amqp = {"traceparent": headers["traceparent"].encode(), "x-delivery-count": 1}
        with tracing.span("consume", kind=SpanKind.CONSUMER, parent=amqp):
            pass
        with tracing.span(
            "api", kind=SpanKind.SERVER, parent=Headers([("TraceParent", headers["traceparent"])])
        ):
            pass
    for child in (spans.named("consume"), spans.named("api")):
        assert ids_of(child)[0] == trace_id
        assert parent_id(child) == span_id


def test_a_stored_context_resumes_the_trace_later_with_its_tracestate() -> None:
    with recording_spans() as spans:
        incoming = {"traceparent": TRACEPARENT, "tracestate": "vendor=opaque"}
        with tracing.span("request", kind=SpanKind.SERVER, parent=incoming):
            stored = tracing.stored_context()
        assert stored is not None
        assert json.loads(stored)["tracestate"] == "vendor=opaque"
        with tracing.resumed(stored), tracing.span("send email", kind=SpanKind.CLIENT):
            pass
        with tracing.resumed(None), tracing.span("untraced"):
            pass
    request, send = spans.named("request"), spans.named("send email")
    assert format_trace_id(ids_of(request)[0]) == TRACE_ID
    assert parent_id(request) == int(PARENT_ID, 16)
    assert ids_of(send)[0] == ids_of(request)[0]
    assert parent_id(send) == ids_of(request)[1]
    assert send.context is not None
    assert send.context.trace_state.get("vendor") == "opaque"
    assert parent_id(spans.named("untraced")) is None


@pytest.mark.parametrize(
    "stored", ["not json", "[1, 2]", json.dumps({"traceparent": "00-zz-yy-01"}), json.dumps({"other": 1})]
)
def test_an_unreadable_stored_context_starts_a_new_trace(stored: str) -> None:
    with recording_spans() as spans:
        with tracing.resumed(stored), tracing.span("later"):
            pass
        assert parent_id(spans.named("later")) is None


def test_an_exception_marks_the_span_failed_by_its_type_only() -> None:
    with recording_spans() as spans, pytest.raises(ValueError, match="refused"), tracing.span("handler"):
        raise ValueError("Pat Example <pat@example.com> refused")
    span = spans.named("handler")
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "ValueError"
    assert not span.events, "an exception event would carry the message (personal data)"


def test_the_log_processor_adds_the_correlation_and_the_current_span() -> None:
    assert add_trace_context(None, "info", {"event": "x"}) == {"event": "x"}
    correlation = uuid.uuid4()
    token = current_correlation_id.set(correlation)
    try:
        with recording_spans() as spans:
            with tracing.span("work"):
                fields = add_trace_context(None, "info", {"event": "x"})
            trace_id, span_id = ids_of(spans.named("work"))
    finally:
        current_correlation_id.reset(token)
    assert fields == {
        "event": "x",
        "correlation_id": str(correlation),
        "trace_id": format_trace_id(trace_id),
        "span_id": format_span_id(span_id),
    }


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


@pytest.mark.usefixtures("restore_logging")
def test_standard_library_and_structlog_lines_are_json_naming_service_correlation_and_trace(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("billing", "INFO")
    token = current_correlation_id.set(uuid.UUID(int=7))
    try:
        with recording_spans() as spans:
            with tracing.span("process"):
                logging.getLogger("clinic_shared.messaging.consumer").info("applied %s", "event-1")
                structlog.get_logger("x").info("structured", n=1)
            trace_id = format_trace_id(ids_of(spans.named("process"))[0])
    finally:
        current_correlation_id.reset(token)
    logging.getLogger("outside").warning("no span here")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [line["msg"] for line in lines] == ["applied event-1", "structured", "no span here"]
    assert all(line["service"] == "billing" for line in lines)
    for line in lines[:2]:
        assert (line["trace_id"], line["correlation_id"]) == (trace_id, str(uuid.UUID(int=7)))
    assert "trace_id" not in lines[2]
    assert "correlation_id" not in lines[2]


# --- a trace from a request through the outbox, the relay's publish and the consumer ---------------------


@dataclass
class PublishChannel:
    published: list[tuple[str, str, bytes, pika.BasicProperties]] = field(default_factory=list)

    def basic_publish(
        self, exchange: str, routing_key: str, body: bytes, properties: pika.BasicProperties, mandatory: bool
    ) -> None:
        self.published.append((exchange, routing_key, body, properties))


@dataclass
class SettleChannel:
    is_open: bool = True
    settled: list[str] = field(default_factory=list)

    def basic_ack(self, tag: int) -> None:
        self.settled.append("ack")

    def basic_nack(self, tag: int, requeue: bool) -> None:
        self.settled.append("nack")


class InlineConnection:
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


def publish(rows: list[Any]) -> PublishChannel:
    """The relay's publish of outbox rows, on a channel that keeps what it was given."""
    publisher = ConfirmingPublisher(
        pika.URLParameters("amqp://127.0.0.1:1/%2F"), confirm_timeout=1, consumed=()
    )
    channel = PublishChannel()
    publisher._channel = channel  # type: ignore[assignment]
    publisher.send(Batch(1, [str(row.event_id) for row in rows]), rows)
    return channel


def consume(engine: Engine, clock: ManualClock, channel: PublishChannel, handler: Any) -> SettleChannel:
    consumer = make_consumer(engine, "amqp://127.0.0.1:1/%2F", clock, {EVENT_TYPE: handler})
    settle = SettleChannel()
    for tag, (_exchange, routing_key, body, properties) in enumerate(channel.published, start=1):
        delivery = _Delivery(
            InlineConnection(),  # type: ignore[arg-type]
            settle,  # type: ignore[arg-type]
            consumer._generation,
            tag,
            properties.message_id,
            0,
            body,
            routing_key=routing_key,
            headers=properties.headers or {},
        )
        consumer._work.put(delivery)
    consumer._work.put(None)
    consumer._work_loop()
    return settle


def outbox_rows(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(select(OUTBOX).order_by(OUTBOX.c.position)).all())


def test_a_request_s_trace_goes_through_the_outbox_the_publish_and_the_consumer_to_what_it_emits(
    engine: Engine,
) -> None:
    clock = ManualClock(START)
    follow_up = clinic_changed(clock, 2)

    def handler(uow: SqlAlchemyUnitOfWork, envelope: Envelope) -> None:
        record_effect(uow, envelope)
        OutboxWriter(OUTBOX).add(uow.session, follow_up)  # an event the handler emits

    with recording_spans() as spans:
        with tracing.span("POST /clinics", kind=SpanKind.SERVER):
            add_to_outbox(engine, [clinic_changed(clock, 1)])
        channel = publish(outbox_rows(engine))
        settle = consume(engine, clock, channel, handler)

    assert settle.settled == ["ack"]
    request = spans.named("POST /clinics")
    produce = spans.named(f"publish {EVENT_TYPE}")
    process = spans.named(f"process {EVENT_TYPE}")
    assert (produce.kind, process.kind) == (SpanKind.PRODUCER, SpanKind.CONSUMER)
    assert {ids_of(span)[0] for span in (request, produce, process)} == {ids_of(request)[0]}
    assert parent_id(produce) == ids_of(request)[1]
    assert parent_id(process) == ids_of(produce)[1]
    assert process.attributes is not None
    assert process.attributes["messaging.clinic.outcome"] == "applied"
    # The handler's event is stored with the consumer's span as its parent-to-be.
    emitted = next(row for row in outbox_rows(engine) if row.event_id == follow_up.id)
    traceparent = json.loads(emitted.trace_context)["traceparent"]
    assert traceparent.split("-")[1:3] == [
        format_trace_id(ids_of(process)[0]),
        format_span_id(ids_of(process)[1]),
    ]


def test_untraced_rows_and_messages_carry_no_trace_context(engine: Engine) -> None:
    clock = ManualClock(START)
    add_to_outbox(engine, [clinic_changed(clock, 1)])
    (row,) = outbox_rows(engine)
    assert row.trace_context is None
    channel = publish([row])
    (_, _, body, properties) = channel.published[0]
    assert properties.headers is None
    assert body == dump_event(clinic_changed(clock, 1, event_id=row.event_id))
    assert consume(engine, clock, channel, record_effect).settled == ["ack"]


# --- HTTP server spans --------------------------------------------------------------------------------------


def test_each_request_is_a_server_span_named_by_its_rule_even_when_a_later_hook_refuses_it() -> None:
    app = Flask(__name__)
    trace_requests(app)

    @app.before_request
    def refuse_without_a_token() -> None:
        if request.path.startswith("/private"):
            abort(401)

    @app.get("/appointments/<uuid:appointment_id>")
    def appointment(appointment_id: uuid.UUID) -> str:
        return "ok"

    @app.get("/private/<name>")
    def private(name: str) -> str:
        return name

    @app.get("/broken")
    def fail() -> str:
        raise RuntimeError("bug")

    client = app.test_client()
    with recording_spans() as spans:
        assert client.get(f"/appointments/{uuid.uuid4()}?email=pat@example.com").status_code == 200
        assert client.get("/private/pat", headers={"traceparent": TRACEPARENT}).status_code == 401
        assert client.get("/broken").status_code == 500
        assert client.get("/nowhere").status_code == 404
    names = [span.name for span in spans.all]
    assert names == [
        "GET /appointments/<uuid:appointment_id>",
        "GET /private/<name>",
        "GET /broken",
        "GET unmatched",
    ]
    assert all(span.kind is SpanKind.SERVER for span in spans.all)
    ok, refused, broken, missing = spans.all
    assert ok.attributes == {
        "http.request.method": "GET",
        "http.route": "/appointments/<uuid:appointment_id>",
        "http.response.status_code": 200,
    }
    assert format_trace_id(ids_of(refused)[0]) == TRACE_ID
    assert parent_id(refused) == int(PARENT_ID, 16)
    assert refused.attributes is not None
    assert refused.attributes["http.response.status_code"] == 401
    assert broken.status.status_code is StatusCode.ERROR
    assert missing.attributes is not None
    assert missing.attributes["http.response.status_code"] == 404
    assert tracing.current_ids() is None, "each request's span ends (and stops being current) with it"
