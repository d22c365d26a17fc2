"""OpenTelemetry traces from the HTTP request through the outbox and RabbitMQ to the consumer and the send.

Instrumented by hand, in a few places: a SERVER span per HTTP request (``clinic_shared.web.app``), a CLIENT
span per call the web front makes to an API, a PRODUCER span per message the outbox relay publishes, a
CONSUMER span per message the consumer base handles, and a CLIENT span per e-mail or SMS handed to its
transport. What travels between them is the W3C trace context (``traceparent``, and ``tracestate`` when
there is one): in HTTP headers, in AMQP message headers, and stored beside a row that another process acts
on later (an outbox row, a notification's delivery) in its ``trace_context`` column, as a small JSON object.

Off unless an OTLP endpoint is configured (``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or
``OTEL_EXPORTER_OTLP_ENDPOINT``) and ``OTEL_SDK_DISABLED`` is not ``true``: then the SDK is never imported
and every helper returns at once without making a span. On, spans are exported over OTLP/HTTP (protobuf)
by a batch processor; the SDK reads its own settings (``OTEL_BSP_*``, ``OTEL_EXPORTER_OTLP_*``,
``OTEL_TRACES_SAMPLER``, ``OTEL_RESOURCE_ATTRIBUTES``).

Span names and attributes carry routes, event types, ids and statuses only, never personal data; an
exception is recorded by its type alone (its message or traceback may quote a patient's details).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer, TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

__all__ = [
    "ActiveSpan",
    "Attributes",
    "Carrier",
    "SpanKind",
    "configure_tracing",
    "current_ids",
    "enabled",
    "extract",
    "headers_of",
    "inject",
    "mark_failed",
    "messaging_attributes",
    "resumed",
    "span",
    "start",
    "stored_context",
    "use_tracer_provider",
]

TRACER_NAME = "clinic_shared"
TRACE_HEADERS = ("traceparent", "tracestate")
# W3C Trace Context only, whatever OTEL_PROPAGATORS says: it is what every hop here reads.
_PROPAGATOR = TraceContextTextMapPropagator()
_lock = threading.Lock()
# The tracer spans are made with; None while tracing is off (every helper then returns at once).
_tracer: Tracer | None = None


# Span attributes: routes, types, ids, statuses; never personal data.
Attributes = Mapping[str, str | int | bool]


class Carrier(Protocol):
    """Headers to read a trace context from: a dict, AMQP message headers, Werkzeug's ``Headers``."""

    def get(self, key: str, /) -> Any: ...


def configure_tracing(service: str, environ: Mapping[str, str] | None = None) -> bool:
    """Export this process's spans over OTLP/HTTP when an endpoint is configured; True when tracing is on.

    Call once per process, after any fork (gunicorn calls the app factory in each worker). A second call
    keeps the first one's set-up: a process has one tracer provider.
    """
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if not (env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")):
        return False
    with _lock:
        if _tracer is not None:
            return True
        # Imported here: a process that does not trace never loads the SDK or the exporter.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        # The service's own name wins over OTEL_SERVICE_NAME: one environment often starts all of them.
        provider = SdkTracerProvider(resource=Resource.create({SERVICE_NAME: service}))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(provider)
        use_tracer_provider(provider)
    return True


def use_tracer_provider(provider: TracerProvider | None) -> None:
    """Make spans with ``provider`` (None: tracing off). For tests, which record spans in memory."""
    global _tracer
    _tracer = None if provider is None else provider.get_tracer(TRACER_NAME)


def enabled() -> bool:
    return _tracer is not None


def inject() -> dict[str, str]:
    """The current span's ``traceparent`` (and ``tracestate``) as headers; empty with no span or when off."""
    if _tracer is None:
        return {}
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier


def extract(headers: Carrier | None) -> otel_context.Context | None:
    """The context a ``traceparent`` in ``headers`` names; None when there is none (or tracing is off).

    AMQP header values may arrive as bytes; HTTP header names in any case (a Werkzeug ``Headers`` object
    is looked up without regard to case).
    """
    if _tracer is None or not headers:
        return None
    carrier: dict[str, str] = {}
    for name in TRACE_HEADERS:
        value = headers.get(name)
        if isinstance(value, bytes):
            value = value.decode("ascii", "replace")
        if isinstance(value, str) and value:
            carrier[name] = value
    if "traceparent" not in carrier:
        return None
    found = _PROPAGATOR.extract(carrier)
    if not trace.get_current_span(found).get_span_context().is_valid:
        return None
    return found


def stored_context() -> str | None:
    """The current trace context as text to store with a row another process acts on later; None when
    there is none, so a row written while tracing is off costs nothing."""
    carrier = inject()
    return json.dumps(carrier, separators=(",", ":")) if carrier else None


def headers_of(stored: str | None) -> dict[str, str]:
    """The headers a stored trace context stands for; empty when there is none or it is unreadable."""
    if not stored or _tracer is None:
        return {}
    try:
        carrier = json.loads(stored)
    except ValueError:
        return {}
    if not isinstance(carrier, dict):
        return {}
    return {name: carrier[name] for name in TRACE_HEADERS if isinstance(carrier.get(name), str)}


def current_ids() -> tuple[str, str] | None:
    """(trace id, span id) of the current span in hex, for log lines; None when there is none."""
    if _tracer is None:
        return None
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return trace.format_trace_id(context.trace_id), trace.format_span_id(context.span_id)


def messaging_attributes(
    operation: str,
    destination: str,
    routing_key: str,
    message_id: str | None,
    *,
    consumer: str | None = None,
) -> dict[str, str | int | bool]:
    """Semantic-convention attributes of a RabbitMQ publish (``send``) or handling (``process``) span."""
    if _tracer is None:
        return {}
    attributes: dict[str, str | int | bool] = {
        "messaging.system": "rabbitmq",
        "messaging.operation.type": operation,
        "messaging.destination.name": destination,
        "messaging.rabbitmq.destination.routing_key": routing_key,
    }
    if message_id:
        attributes["messaging.message.id"] = message_id
    if consumer:
        attributes["messaging.consumer.group.name"] = consumer
    return attributes


def mark_failed(current: Span, reason: str) -> None:
    """Set an error status with a short reason (an exception type, a broker's refusal: no personal data)."""
    current.set_status(Status(StatusCode.ERROR, reason))


@contextmanager
def span(
    name: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    parent: Carrier | None = None,
    attributes: Attributes | None = None,
) -> Iterator[Span]:
    """A span current for the block: a child of the context in ``parent`` headers when they carry one, the
    root of a trace when they carry none, and a child of the current span when no headers are given. An
    exception leaving the block marks it failed with the exception's type only.
    When tracing is off it yields a non-recording span and does nothing else."""
    if _tracer is None:
        yield trace.INVALID_SPAN
        return
    context = extract(parent)
    if context is None and parent is not None:
        context = otel_context.Context()  # a root: the messages of a consumer's batch are not nested
    with _tracer.start_as_current_span(
        name,
        context=context,
        kind=kind,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as current:
        try:
            yield current
        except BaseException as exc:
            # Unless the block gave its own (better) reason already.
            status = getattr(current, "status", None)
            if status is None or status.status_code is StatusCode.UNSET:
                mark_failed(current, type(exc).__name__)
            raise


@contextmanager
def resumed(stored: str | None) -> Iterator[None]:
    """Make a stored trace context current for the block, so spans started in it continue that trace."""
    found = extract(headers_of(stored))
    if found is None:
        yield
        return
    token = otel_context.attach(found)
    try:
        yield
    finally:
        otel_context.detach(token)


class ActiveSpan:
    """A span started in one callback and ended in another (a web framework's before/after hooks)."""

    def __init__(self, current: Span, token: object) -> None:
        self.span = current
        self._token = token

    def end(self, error: BaseException | None = None) -> None:
        if error is not None:
            mark_failed(self.span, type(error).__name__)
        self.span.end()
        otel_context.detach(self._token)  # type: ignore[arg-type]


def start(
    name: str,
    *,
    kind: SpanKind,
    parent: Carrier | None = None,
    attributes: Attributes | None = None,
) -> ActiveSpan | None:
    """Start a span and make it current until ``ActiveSpan.end``, which must run in the same context (the
    same thread and request); None when tracing is off."""
    if _tracer is None:
        return None
    current = _tracer.start_span(name, context=extract(parent), kind=kind, attributes=attributes)
    token = otel_context.attach(trace.set_span_in_context(current))
    return ActiveSpan(current, token)
