"""Spans recorded in memory, for tests of what is traced (``clinic_shared.tracing``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from clinic_shared import tracing


class RecordedSpans:
    """The spans ended while recording, looked up by name."""

    def __init__(self, exporter: InMemorySpanExporter) -> None:
        self._exporter = exporter

    @property
    def all(self) -> list[ReadableSpan]:
        return list(self._exporter.get_finished_spans())

    def named(self, name: str) -> ReadableSpan:
        found = [span for span in self.all if span.name == name]
        assert len(found) == 1, f"{len(found)} spans named {name!r} among {[s.name for s in self.all]}"
        return found[0]


@contextmanager
def recording_spans() -> Iterator[RecordedSpans]:
    """Tracing on for the block, every span kept in memory (exported as it ends); off again after."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use_tracer_provider(provider)
    try:
        yield RecordedSpans(exporter)
    finally:
        tracing.use_tracer_provider(None)
        provider.shutdown()


def parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def ids_of(span: ReadableSpan) -> tuple[int, int]:
    """(trace id, span id)."""
    assert span.context is not None
    return span.context.trace_id, span.context.span_id
