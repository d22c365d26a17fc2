"""SMS through a Twilio-shaped provider over real HTTP (pytest-httpserver plays the provider): accepted,
rate-limited with Retry-After, failing with 500 then falling back to e-mail (and standing in for an e-mail
reminder a real SMTP server refused); every attempt logged; status
callbacks verified by a per-delivery token."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient
from pytest_httpserver import HTTPServer
from sqlalchemy import select
from werkzeug import Request, Response

from clinic_shared.testing.tokens import TestIssuer
from notifications.bootstrap import Container, bootstrap
from notifications.config import NotificationsSettings
from notifications.domain.channels import Channel
from notifications.domain.deliveries import Delivery, DeliveryStatus
from notifications.domain.kinds import DeliveryKind
from notifications.entrypoints.api import create_app
from notifications.entrypoints.cli import OPERATOR
from notifications.entrypoints.dispatcher import Dispatcher
from notifications.entrypoints.handlers import HANDLERS
from notifications.service_layer import reminder_policies

MESSAGES = "/2010-04-01/Accounts/AC0123/Messages.json"
STARTS_AT = datetime(2025, 3, 10, 16, 0, tzinfo=UTC)
SMS_DUE = STARTS_AT - timedelta(hours=24)


class Provider:
    """Answers each request with the next scripted (status, headers) and records what it was sent."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.script: list[tuple[int, dict[str, str]]] = []
        self.requests: list[dict[str, Any]] = []
        server.expect_request(MESSAGES, method="POST").respond_with_handler(self._answer)

    def _answer(self, request: Request) -> Response:
        self.requests.append(
            {
                "form": {key: values[0] for key, values in parse_qs(request.get_data(as_text=True)).items()},
                "authorization": request.headers.get("Authorization"),
                "idempotency": request.headers.get("I-Twilio-Idempotency-Token"),
            }
        )
        status, headers = self.script.pop(0) if self.script else (201, {})
        body = (
            {"sid": f"SM{len(self.requests):04d}", "status": "queued"} if status == 201 else {"code": status}
        )
        return Response(json.dumps(body), status=status, headers=headers, content_type="application/json")


@pytest.fixture
def provider(httpserver: HTTPServer) -> Provider:
    return Provider(httpserver)


@pytest.fixture
def sms_container(
    sqlite_url: str,
    make_settings: Callable[..., NotificationsSettings],
    clock: Any,
    issuer: TestIssuer,
    transport: Any,
    policy: Any,
    httpserver: HTTPServer,
) -> Iterator[Container]:
    """Real SMS adapter against the provider stand-in; e-mail recorded by the fake transport."""
    settings = make_settings(
        sqlite_url,
        SMS_PROVIDER_URL=f"http://AC0123:s3cret@{httpserver.host}:{httpserver.port}",
        SMS_FROM="+16045550000",
        SMS_CALLBACK_SECRET="callback-secret",
        NOTIFICATIONS_PUBLIC_URL="https://notifications.example",
        SMS_TIMEOUT="5",
    )
    c = bootstrap(settings, clock=clock, verifier=issuer.verifier(), mailer=transport, policy=policy)
    yield c
    c.engine.dispose()


@pytest.fixture
def sms_apply(sms_container: Container) -> Callable[..., None]:
    def run(*events: Any) -> None:
        for event in events:
            with sms_container.uow() as uow:
                HANDLERS[event.type](uow, event)
                uow.commit()

    return run


def stored(container: Container, kind: DeliveryKind, channel: Channel) -> list[Delivery]:
    with container.uow() as uow:
        query = select(Delivery).where(Delivery.kind == kind, Delivery.channel == channel)
        return sorted(uow.session.scalars(query), key=lambda d: d.created_at)


def attempts(container: Container, delivery: Delivery) -> list[tuple[int, str, str | None]]:
    with container.uow() as uow:
        return [(a.number, a.outcome.value, a.detail) for a in uow.repo.attempts_of([delivery.id])]


def sms_only_reminders(container: Container, clinic_id: Any) -> None:
    with container.uow() as uow:
        reminder_policies.change_reminder_policy(
            uow, OPERATOR, reminder_policies.ChangeReminderPolicy(clinic_id, None, 24, True, None, None)
        )
        uow.commit()


def test_an_sms_is_posted_in_twilio_shape_with_a_verified_status_callback(
    sms_container: Container, sms_apply: Callable[..., None], events: Any, provider: Provider
) -> None:
    sms_apply(*events.catalogue(phone="(604) 555-0100"), events.booked())
    assert Dispatcher.from_container(sms_container).dispatch_due() == 2

    (request,) = provider.requests
    assert request["authorization"] == "Basic " + base64.b64encode(b"AC0123:s3cret").decode()
    form = request["form"]
    assert (form["To"], form["From"]) == ("+16045550100", "+16045550000")
    assert form["Body"].startswith("Demo IMS Clinic: Hi Pat, your IMS session, 30 min")
    (sms,) = stored(sms_container, DeliveryKind.BOOKING_CONFIRMATION, Channel.SMS)
    callback = urlsplit(form["StatusCallback"])
    assert (callback.netloc, callback.path) == ("notifications.example", f"/sms/status/{sms.id}")
    assert request["idempotency"] == sms.key
    assert (sms.status, sms.provider_message_id) == (DeliveryStatus.SENT, "SM0001")
    assert attempts(sms_container, sms) == [(1, "sent", None)]


def test_a_rate_limited_sms_waits_for_retry_after_then_goes_once(
    sms_container: Container, sms_apply: Callable[..., None], events: Any, provider: Provider, clock: Any
) -> None:
    provider.script = [(429, {"Retry-After": "600"})]
    sms_apply(*events.catalogue(), events.booked())
    sender = Dispatcher.from_container(sms_container)
    assert sender.dispatch_due() == 1  # the e-mail
    (sms,) = stored(sms_container, DeliveryKind.BOOKING_CONFIRMATION, Channel.SMS)
    assert sms.next_attempt_at == clock.now() + timedelta(seconds=600)  # not the policy's 1 minute
    clock.advance(seconds=599)
    assert sender.dispatch_due() == 0
    clock.advance(seconds=1)
    assert sender.dispatch_due() == 1
    assert len(provider.requests) == 2
    (sms,) = stored(sms_container, DeliveryKind.BOOKING_CONFIRMATION, Channel.SMS)
    assert attempts(sms_container, sms) == [
        (1, "failed", "SMS provider rate limit (429)"),
        (2, "sent", None),
    ]


def test_an_sms_reminder_the_provider_keeps_failing_falls_back_to_email(
    sms_container: Container,
    sms_apply: Callable[..., None],
    events: Any,
    provider: Provider,
    clock: Any,
    transport: Any,
) -> None:
    sms_apply(*events.catalogue())
    sms_only_reminders(sms_container, events.clinic_id)
    sms_apply(events.booked())
    sender = Dispatcher.from_container(sms_container)
    assert sender.dispatch_due() == 2
    transport.emails.clear()
    provider.script = [(500, {})] * 3
    clock.set(SMS_DUE)
    for wait in (0, 1, 2):  # the policy retries after 1 then 2 minutes, three attempts in all
        clock.advance(minutes=wait)
        assert sender.dispatch_due() == 0
    clock.advance(minutes=1)
    sender.dispatch_due()  # the fallback e-mail is due at once
    (sms,) = stored(sms_container, DeliveryKind.REMINDER, Channel.SMS)
    assert sms.status is DeliveryStatus.FAILED
    assert attempts(sms_container, sms) == [(n, "failed", "SMS provider error (500)") for n in (1, 2, 3)]
    (fallback,) = stored(sms_container, DeliveryKind.REMINDER, Channel.EMAIL)
    assert (fallback.fallback_of, fallback.status) == (sms.id, DeliveryStatus.SENT)
    (email,) = transport.emails
    assert email.subject.startswith("Reminder of")
    assert len(provider.requests) == 4  # the confirmation, then three tries at the reminder


def test_an_email_reminder_the_smtp_server_refuses_falls_back_to_an_sms_through_the_provider(
    sqlite_url: str,
    make_settings: Callable[..., NotificationsSettings],
    clock: Any,
    issuer: TestIssuer,
    policy: Any,
    httpserver: HTTPServer,
    provider: Provider,
    smtp_server: Any,
    events: Any,
) -> None:
    settings = make_settings(
        sqlite_url,
        SMTP_URL=smtp_server.url(),
        SMTP_TIMEOUT="5",
        SMS_PROVIDER_URL=f"http://AC0123:s3cret@{httpserver.host}:{httpserver.port}",
        SMS_FROM="+16045550000",
        SMS_TIMEOUT="5",
    )
    container = bootstrap(settings, clock=clock, verifier=issuer.verifier(), policy=policy)
    try:
        with container.uow() as uow:  # e-mail reminders only: any SMS now is the fallback
            reminder_policies.change_reminder_policy(
                uow,
                OPERATOR,
                reminder_policies.ChangeReminderPolicy(events.clinic_id, 48, None, True, None, None),
            )
            uow.commit()
        for event in [*events.catalogue(), events.booked()]:
            with container.uow() as uow:
                HANDLERS[event.type](uow, event)
                uow.commit()
        sender = Dispatcher.from_container(container)
        assert sender.dispatch_due() == 2  # the booking confirmation, by e-mail and SMS
        smtp_server.sink.refuse = True
        clock.set(STARTS_AT - timedelta(hours=48))
        assert sender.dispatch_due() == 0  # refused: no retry, an SMS stands in, due at once
        assert sender.dispatch_due() == 1
        (email,) = stored(container, DeliveryKind.REMINDER, Channel.EMAIL)
        (sms,) = stored(container, DeliveryKind.REMINDER, Channel.SMS)
        assert (email.status, email.attempts, email.last_error) == (
            DeliveryStatus.FAILED,
            1,
            "SMTP recipient refused (550)",
        )
        assert (sms.status, sms.fallback_of, sms.provider_message_id) == (
            DeliveryStatus.SENT,
            email.id,
            "SM0002",
        )
        assert attempts(container, email) == [(1, "failed", "SMTP recipient refused (550)")]
        assert attempts(container, sms) == [(1, "sent", None)]
        assert len(provider.requests) == 2
        assert "reminder of your appointment" in provider.requests[-1]["form"]["Body"]
        assert len(smtp_server.sink.envelopes) == 1
    finally:
        container.engine.dispose()


def test_a_refused_number_is_not_retried(
    sms_container: Container, sms_apply: Callable[..., None], events: Any, provider: Provider
) -> None:
    provider.script = [(400, {})]
    sms_apply(*events.catalogue(), events.booked())
    Dispatcher.from_container(sms_container).dispatch_due()
    (sms,) = stored(sms_container, DeliveryKind.BOOKING_CONFIRMATION, Channel.SMS)
    assert (sms.status, sms.attempts, sms.last_error) == (
        DeliveryStatus.FAILED,
        1,
        "SMS provider refused the message (400)",
    )


@pytest.fixture
def web(sms_container: Container) -> FlaskClient:
    return create_app(container=sms_container).test_client()


def test_status_callbacks_need_the_delivery_token_and_undelivered_falls_back_to_email(
    sms_container: Container,
    sms_apply: Callable[..., None],
    events: Any,
    provider: Provider,
    clock: Any,
    transport: Any,
    web: FlaskClient,
) -> None:
    sms_apply(*events.catalogue())
    sms_only_reminders(sms_container, events.clinic_id)
    sms_apply(events.booked())
    sender = Dispatcher.from_container(sms_container)
    sender.dispatch_due()
    clock.set(SMS_DUE)
    assert sender.dispatch_due() == 1
    (sms,) = stored(sms_container, DeliveryKind.REMINDER, Channel.SMS)
    callback = provider.requests[-1]["form"]["StatusCallback"]
    path = urlsplit(callback).path + "?" + urlsplit(callback).query
    form = {"MessageSid": sms.provider_message_id, "MessageStatus": "sent", "AccountSid": "AC0123"}

    forged = web.post(f"/sms/status/{sms.id}?token={'0' * 32}", data=form)
    assert forged.status_code == 404
    assert web.post(path, data=form).status_code == 204
    assert stored(sms_container, DeliveryKind.REMINDER, Channel.SMS)[0].provider_status == "sent"
    assert stored(sms_container, DeliveryKind.REMINDER, Channel.EMAIL) == []

    assert (
        web.post(path, data=form | {"MessageStatus": "undelivered", "ErrorCode": "30003"}).status_code == 204
    )
    assert web.post(path, data=form | {"MessageStatus": "undelivered"}).status_code == 204  # repeated
    (fallback,) = stored(sms_container, DeliveryKind.REMINDER, Channel.EMAIL)
    assert fallback.fallback_of == sms.id
    transport.emails.clear()
    assert sender.dispatch_due() == 1
    assert transport.emails[0].subject.startswith("Reminder of")


def test_phone_numbers_are_kept_in_e164_and_invalid_ones_get_no_sms(
    sms_container: Container, sms_apply: Callable[..., None], events: Any
) -> None:
    sms_apply(events.patient_registered(phone="604.555.0100"))
    with sms_container.uow() as uow:
        contact = uow.repo.contact(events.patient_id)
        assert contact is not None
        assert contact.phone == "+16045550100"
    sms_apply(events.patient_registered(phone="555-01", updated=True))
    with sms_container.uow() as uow:
        contact = uow.repo.contact(events.patient_id)
        assert contact is not None
        assert contact.phone is None
    sms_apply(events.booked())
    assert stored(sms_container, DeliveryKind.BOOKING_CONFIRMATION, Channel.SMS) == []
