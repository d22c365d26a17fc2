"""One trace from the booking request to the confirmation e-mail, across real processes.

The system runs with ``OTEL_EXPORTER_OTLP_ENDPOINT`` pointed at a small OTLP/HTTP receiver started here (it
decodes the exporters' protobuf requests). A booking made through scheduling's API with a caller's
``traceparent`` must come back as one trace: scheduling's request span, its relay's publish, billing's and
notifications' consumer spans and the e-mail's send, each the child of the one before; and the JSON log
lines billing's and notifications' workers wrote while handling it carry the trace id and the request's
correlation id (scheduling's API logs nothing for a booking that succeeds).
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span as SpanProto

from .conftest import running_system
from .journey import Journey, next_week_at
from .system import Mailbox, System, wait_for

pytestmark = pytest.mark.e2e

BOOKED = "scheduling.appointment.booked"


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_id: str


class OtlpReceiver:
    """An OTLP/HTTP trace endpoint (``POST /v1/traces``, protobuf) that keeps every span it is sent."""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path != "/v1/traces":
                    self.send_error(404)
                    return
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                receiver.add(request)
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="otlp-receiver", daemon=True)

    def add(self, request: ExportTraceServiceRequest) -> None:
        received = []
        for resource_spans in request.resource_spans:
            attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(
                        ReceivedSpan(
                            service=attributes.get("service.name", ""),
                            name=span.name,
                            kind=span.kind,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_id=span.parent_span_id.hex(),
                        )
                    )
        with self._lock:
            self.spans.extend(received)

    def in_trace(self, trace_id: str) -> list[ReceivedSpan]:
        with self._lock:
            return [span for span in self.spans if span.trace_id == trace_id]

    def __enter__(self) -> OtlpReceiver:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as running:
        yield running


@pytest.fixture(scope="module")
def traced_system(
    mailbox: Mailbox, receiver: OtlpReceiver, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[System]:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # milliseconds: spans reach the receiver quickly
        "LOG_LEVEL": "DEBUG",  # the consumer logs each applied event at debug level
    }
    with running_system(mailbox, tmp_path_factory.mktemp("traced"), with_web=False, extra_env=env) as running:
        yield running


def one(spans: list[ReceivedSpan], service: str, name: str, kind: int) -> ReceivedSpan | None:
    found = [s for s in spans if (s.service, s.name, s.kind) == (service, name, kind)]
    assert len(found) <= 1, f"more than one {kind} span {name!r} from {service}: {found}"
    return found[0] if found else None


def log_lines(system: System, process: str) -> list[dict[str, object]]:
    """The JSON lines of a process's log (gunicorn's own and other non-JSON lines are skipped)."""
    lines = []
    for path in sorted(Path(system.var_dir).glob(f"{process}*.log")):
        for text in path.read_text(errors="replace").splitlines():
            try:
                line = json.loads(text)
            except ValueError:
                continue
            if isinstance(line, dict):
                lines.append(line)
    return lines


def test_one_trace_goes_from_the_booking_request_through_billing_and_notifications_to_the_email(
    traced_system: System, mailbox: Mailbox, receiver: OtlpReceiver
) -> None:
    journey = Journey(traced_system)
    try:
        admin = journey.first_admin()
        catalogue = journey.clinic_with_assessment(admin, price_cents=9500)
        billing_clerk = journey.staff(admin, "billing", catalogue["clinic_id"])
        _patient_id, email, patient = journey.patient("Tracy")

        # The caller (the web front, say) is in a trace already: the booking joins it.
        trace_id, caller_span = secrets.token_hex(16), secrets.token_hex(8)
        booked = journey.http.post(
            f"{traced_system.url('scheduling')}/appointments",
            json=catalogue | {"starts_at": next_week_at(15).isoformat()},
            headers={"Authorization": f"Bearer {patient}", "traceparent": f"00-{trace_id}-{caller_span}-01"},
        )
        assert booked.status_code == 201, booked.text
        appointment_id = booked.json()["id"]
        correlation_id = booked.headers["X-Correlation-ID"]
        wait_for(
            lambda: journey.ok("GET", "billing", f"/charges?appointment_id={appointment_id}", billing_clerk),
            timeout=30,
            what="billing's charge",
        )
        wait_for(lambda: mailbox.to(email), timeout=30, what="the confirmation e-mail")
    finally:
        journey.http.close()

    server, client, consumer = (
        SpanProto.SPAN_KIND_SERVER,
        SpanProto.SPAN_KIND_CLIENT,
        SpanProto.SPAN_KIND_CONSUMER,
    )

    def chain() -> tuple[ReceivedSpan, ...] | None:
        spans = receiver.in_trace(trace_id)
        found = (
            one(spans, "scheduling", "POST /appointments", server),
            one(spans, "scheduling", f"publish {BOOKED}", SpanProto.SPAN_KIND_PRODUCER),
            one(spans, "billing", f"process {BOOKED}", consumer),
            one(spans, "notifications", f"process {BOOKED}", consumer),
        )
        sends = [s for s in spans if (s.service, s.name, s.kind) == ("notifications", "send email", client)]
        if None in found or not sends:
            return None
        return (*found, *sends)  # type: ignore[arg-type]

    spans = wait_for(chain, timeout=30, what=f"the spans of trace {trace_id}")
    request, publish, charge, notice, *sends = spans
    assert request.parent_id == caller_span
    assert publish.parent_id == request.span_id, "the relay publishes in the trace the outbox row kept"
    assert charge.parent_id == publish.span_id
    assert notice.parent_id == publish.span_id
    assert all(send.parent_id == notice.span_id for send in sends), "sent within the handler's trace"

    # Log lines written while handling the booking name its trace and its correlation id.
    for process, span in (("billing-worker", charge), ("notifications-worker", notice)):
        lines = [line for line in log_lines(traced_system, process) if line.get("trace_id") == trace_id]
        assert lines, f"no {process} log line names trace {trace_id}"
        assert {line["service"] for line in lines} == {process.split("-")[0]}
        assert any(line.get("span_id") == span.span_id for line in lines)
        assert {line.get("correlation_id") for line in lines} == {correlation_id}
