"""Traces in notifications: a delivery keeps the trace it was recorded in (the consumer's span), the
dispatcher sends it within that trace later, and each transport's send is a CLIENT span of its own that
names no address."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from opentelemetry.trace import SpanKind, StatusCode
from sqlalchemy import select

from clinic_shared import tracing
from clinic_shared.testing.tracing import ids_of, parent_id, recording_spans
from notifications.adapters.orm import deliveries
from notifications.adapters.smtp import SmtpMailer
from notifications.adapters.twilio import CallbackSigner, TwilioSms
from notifications.bootstrap import Container
from notifications.entrypoints.dispatcher import Dispatcher
from notifications.service_layer.ports import OutgoingEmail, OutgoingSms, TransportError


def test_a_delivery_is_sent_within_the_trace_of_the_handler_that_recorded_it(
    container: Container, apply: Callable[..., None], events: Any, transport: Any
) -> None:
    sent_in: list[tuple[str, str] | None] = []
    transport.on_send = lambda _message: sent_in.append(tracing.current_ids())
    with recording_spans() as spans:
        apply(*events.catalogue())
        with tracing.span("process scheduling.appointment.booked", kind=SpanKind.CONSUMER):
            apply(events.booked())
        assert Dispatcher.from_container(container).dispatch_due() == 2
        handler = spans.named("process scheduling.appointment.booked")

    with container.engine.connect() as connection:
        stored = connection.execute(select(deliveries.c.trace_context)).scalars().all()
    assert len(stored) >= 2
    assert all(json.loads(value)["traceparent"] for value in stored)
    trace_id, span_id = ids_of(handler)
    assert sent_in == [(f"{trace_id:032x}", f"{span_id:016x}")] * 2


def test_deliveries_recorded_while_tracing_is_off_are_sent_untraced(
    container: Container, apply: Callable[..., None], events: Any, transport: Any
) -> None:
    sent_in: list[tuple[str, str] | None] = []
    transport.on_send = lambda _message: sent_in.append(tracing.current_ids())
    apply(*events.catalogue(), events.booked())
    with container.engine.connect() as connection:
        assert set(connection.execute(select(deliveries.c.trace_context)).scalars()) == {None}
    with recording_spans():
        assert Dispatcher.from_container(container).dispatch_due() == 2
    assert sent_in == [None, None]


def email() -> OutgoingEmail:
    return OutgoingEmail(
        message_id="<d1@ims-clinic>",
        to="pat@example.com",
        subject="Your appointment",
        text="Hello Pat",
        html="<p>Hello Pat</p>",
        language="en",
    )


def test_an_smtp_send_is_a_client_span_failed_with_the_transport_reason_only() -> None:
    mailer = SmtpMailer.from_url("smtp://127.0.0.1:1", "clinic@example.test", timeout=2)
    with recording_spans() as spans:
        with tracing.span("dispatch"), pytest.raises(TransportError) as refused:
            mailer.send(email())
        send = spans.named("send email")
    assert send.kind is SpanKind.CLIENT
    assert parent_id(send) == ids_of(spans.named("dispatch"))[1]
    assert send.status.status_code is StatusCode.ERROR
    assert send.status.description == refused.value.reason
    assert send.attributes == {"server.address": "127.0.0.1", "server.port": 1, "clinic.channel": "email"}
    assert "pat@example.com" not in repr(send.to_json())


def test_an_sms_send_is_a_client_span_whose_context_does_not_leave_for_the_provider() -> None:
    seen: list[httpx.Request] = []

    def provider(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"sid": "SM1"})

    sms = TwilioSms(
        "https://api.twilio.example",
        "AC1",
        "token",
        "+16045550199",
        CallbackSigner("secret", None),
        transport=httpx.MockTransport(provider),
    )
    with recording_spans() as spans:
        message = OutgoingSms(key="k1", to="+16045550100", body="Hi", delivery_id=uuid.uuid4())
        assert sms.send(message) == "SM1"
        send = spans.named("send sms")
    assert send.kind is SpanKind.CLIENT
    assert send.status.status_code is StatusCode.UNSET
    assert send.attributes == {"server.address": "api.twilio.example", "clinic.channel": "sms"}
    assert "traceparent" not in seen[0].headers, "a third party is not sent our trace ids"
