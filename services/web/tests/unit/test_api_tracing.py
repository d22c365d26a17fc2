"""The web front's calls to the APIs carry the page's trace (``traceparent``), also when made side by side."""

from __future__ import annotations

import httpx
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from clinic_shared import tracing
from clinic_shared.testing.tracing import ids_of, parent_id, recording_spans
from web.adapters.api import ServiceClient, Unavailable
from web.service_layer.concurrency import together


def recording_client(seen: list[httpx.Request]) -> ServiceClient:
    def api(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True})

    return ServiceClient(
        "scheduling", "http://scheduling.test", timeout=1, transport=httpx.MockTransport(api)
    )


def test_each_api_call_is_a_client_span_whose_traceparent_goes_with_the_request() -> None:
    seen: list[httpx.Request] = []
    client = recording_client(seen)
    with recording_spans() as spans:
        with tracing.span("GET /staff/day", kind=SpanKind.SERVER):
            # Side by side on the pool's threads, as a page reads its lists.
            together(lambda: client.get("/appointments"), lambda: client.get("/clinics"))
        page = spans.named("GET /staff/day")
        calls = [span for span in spans.all if span.name == "GET scheduling"]
    assert len(calls) == 2
    for call in calls:
        assert call.kind is SpanKind.CLIENT
        assert ids_of(call)[0] == ids_of(page)[0]
        assert parent_id(call) == ids_of(page)[1]
    sent = {request.headers["traceparent"].split("-")[2] for request in seen}
    assert sent == {f"{ids_of(call)[1]:016x}" for call in calls}, "the API's span is the call's child"


def test_an_unreachable_api_fails_its_span_and_untraced_calls_send_no_traceparent() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client = ServiceClient("billing", "http://billing.test", timeout=1, transport=httpx.MockTransport(down))
    with recording_spans() as spans:
        with pytest.raises(Unavailable):
            client.get("/invoices")
        call = spans.named("GET billing")
    assert call.status.status_code is StatusCode.ERROR
    assert call.status.description == "ConnectError"

    seen: list[httpx.Request] = []
    recording_client(seen).get("/clinics")
    assert "traceparent" not in seen[0].headers
