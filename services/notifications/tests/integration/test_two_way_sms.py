"""Patients' texts through the provider's signed inbound webhook: C confirms (and tells scheduling), STOP opts
out at once and is answered once, HELP gives the clinic's contact; answers in the contact's language."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from clinic_shared.testing.tokens import TestIssuer
from notifications.adapters import orm
from notifications.adapters.twilio import TwilioSignature
from notifications.bootstrap import Container, bootstrap
from notifications.config import NotificationsSettings
from notifications.domain.channels import Channel
from notifications.domain.consent import ConsentRecord
from notifications.domain.deliveries import Delivery, DeliveryStatus
from notifications.domain.kinds import DeliveryKind
from notifications.domain.reasons import CONFIRMED
from notifications.entrypoints.api import create_app
from notifications.entrypoints.dispatcher import Dispatcher
from notifications.entrypoints.handlers import HANDLERS
from notifications.service_layer import inbound_sms

INBOUND_URL = "https://notifications.example/sms/inbound"
PATIENT_PHONE = "+16045550100"
STARTS_AT = datetime(2025, 3, 10, 16, 0, tzinfo=UTC)
EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


@pytest.fixture
def sms_container(
    sqlite_url: str,
    make_settings: Callable[..., NotificationsSettings],
    clock: Any,
    issuer: TestIssuer,
    transport: Any,
) -> Iterator[Container]:
    settings = make_settings(
        sqlite_url,
        SMS_PROVIDER_URL="http://AC0123:s3cret@127.0.0.1:9",
        SMS_FROM="+16045550000",
        NOTIFICATIONS_PUBLIC_URL="https://notifications.example",
    )
    c = bootstrap(settings, clock=clock, verifier=issuer.verifier(), mailer=transport, sms=transport)
    yield c
    c.engine.dispose()


@pytest.fixture
def apply_sms(sms_container: Container) -> Callable[..., None]:
    def run(*events: Any) -> None:
        for event in events:
            with sms_container.uow() as uow:
                HANDLERS[event.type](uow, event)
                uow.commit()

    return run


@pytest.fixture
def web(sms_container: Container) -> FlaskClient:
    return create_app(container=sms_container).test_client()


class Phone:
    """The patient's phone, texting through the provider's signed webhook."""

    def __init__(self, web: FlaskClient) -> None:
        self.web = web
        self.sent = 0

    def text(self, body: str, *, sid: str | None = None, signature: str | None = None) -> Any:
        self.sent += 1
        form = {
            "MessageSid": sid or f"SMin{self.sent:04d}",
            "From": PATIENT_PHONE,
            "To": "+16045550000",
            "Body": body,
            "AccountSid": "AC0123",
        }
        signed = signature or TwilioSignature("s3cret").sign(INBOUND_URL, form)
        return self.web.post("/sms/inbound", data=form, headers={"X-Twilio-Signature": signed})

    def answer(self, body: str, **kwargs: Any) -> str:
        response = self.text(body, **kwargs)
        assert response.status_code == 200
        assert response.mimetype == "application/xml"
        return response.get_data(as_text=True)


@pytest.fixture
def phone(web: FlaskClient) -> Phone:
    return Phone(web)


def published(container: Container, event_type: str) -> list[dict[str, Any]]:
    with container.uow() as uow:
        rows = uow.session.execute(select(orm.outbox.c.body).where(orm.outbox.c.routing_key == event_type))
        return [json.loads(row.body)["data"] for row in rows]


def test_replying_c_confirms_the_next_appointment_and_tells_scheduling(
    sms_container: Container, apply_sms: Callable[..., None], events: Any, phone: Phone, clock: Any
) -> None:
    later = events.appointment_id
    apply_sms(*events.catalogue(), events.booked(starts_at=STARTS_AT + timedelta(days=7)))
    sooner = uuid.uuid4()
    apply_sms(events.booked(starts_at=STARTS_AT, appointment_id=sooner))
    answer = phone.answer("c")
    assert "<Message>Demo IMS Clinic: Thank you Pat, your appointment is confirmed." in answer
    (event,) = published(sms_container, "notifications.appointment.confirmation_received")
    assert (event["appointment_id"], event["channel"]) == (str(sooner), "sms")
    assert event["appointment_id"] != str(later)
    clock.set(STARTS_AT - timedelta(hours=24))
    sender = Dispatcher.from_container(sms_container)
    sender.dispatch_due()
    with sms_container.uow() as uow:
        reminders = [d for d in uow.repo.deliveries_for_appointment(sooner) if d.is_reminder]
    assert {(d.status, d.last_error) for d in reminders} == {(DeliveryStatus.SKIPPED, CONFIRMED)}


def test_oui_from_a_french_speaking_patient_is_answered_in_french(
    apply_sms: Callable[..., None], events: Any, phone: Phone
) -> None:
    apply_sms(*events.catalogue(language="fr"), events.booked())
    assert "Merci Pat, votre rendez-vous est confirmé" in phone.answer("Oui!")


def test_confirming_with_nothing_upcoming_says_so(
    apply_sms: Callable[..., None], events: Any, phone: Phone, clock: Any
) -> None:
    apply_sms(*events.catalogue(), events.booked())
    clock.set(STARTS_AT + timedelta(hours=1))
    assert "no upcoming appointment to confirm" in phone.answer("CONFIRM")


def test_stop_opts_out_at_once_is_answered_once_and_kept_on_record(
    sms_container: Container,
    apply_sms: Callable[..., None],
    events: Any,
    phone: Phone,
    clock: Any,
    transport: Any,
) -> None:
    apply_sms(*events.catalogue(), events.booked())
    assert "you will receive no more text messages" in phone.answer("STOP")
    assert phone.answer("stop") == '<?xml version="1.0" encoding="UTF-8"?><Response/>'
    assert phone.answer("Arrêt") == '<?xml version="1.0" encoding="UTF-8"?><Response/>'
    (event,) = published(sms_container, "notifications.contact.opted_out")
    assert (event["patient_id"], event["channel"]) == (str(events.patient_id), "sms")
    with sms_container.uow() as uow:
        (record,) = uow.session.scalars(select(ConsentRecord)).all()
    assert (record.channel, record.kind.value, record.source) == (Channel.SMS, "withdrawn", "sms reply STOP")

    sender = Dispatcher.from_container(sms_container)
    sender.dispatch_due()  # the booking confirmation SMS recorded before the STOP is not sent
    assert transport.sms == []
    apply_sms(events.patient_registered(updated=True))  # scheduling's update does not undo the opt-out
    apply_sms(events.booked(starts_at=STARTS_AT + timedelta(days=1), appointment_id=uuid.uuid4()))
    clock.set(STARTS_AT - timedelta(hours=24))
    sender.dispatch_due()
    assert transport.sms == []
    with sms_container.uow() as uow:
        sms = uow.session.scalars(select(Delivery).where(Delivery.channel == Channel.SMS)).all()
    assert {d.status for d in sms} == {DeliveryStatus.SKIPPED}
    assert all(d.kind is not DeliveryKind.CANCELLATION for d in sms)


def test_start_after_stop_opts_back_in_at_once_with_an_express_consent_record_answered_once(
    sms_container: Container,
    apply_sms: Callable[..., None],
    events: Any,
    phone: Phone,
    clock: Any,
    transport: Any,
) -> None:
    apply_sms(*events.catalogue(language="fr"))
    assert phone.answer("START") == EMPTY  # never opted out: nothing to confirm
    phone.answer("ARRET")
    assert "vous recevrez de nouveau nos textos" in phone.answer("Début")
    assert phone.answer("UNSTOP") == EMPTY
    with sms_container.uow() as uow:
        records = uow.session.scalars(select(ConsentRecord).order_by(ConsentRecord.recorded_at)).all()
        assert uow.repo.contact(events.patient_id).sms_allowed  # type: ignore[union-attr]
    assert [(r.channel, r.kind.value, r.source) for r in records] == [
        (Channel.SMS, "withdrawn", "sms reply STOP"),
        (Channel.SMS, "express", inbound_sms.SMS_KEYWORD_START),
    ]
    apply_sms(events.booked())
    clock.advance(seconds=300)
    Dispatcher.from_container(sms_container).dispatch_due()
    (sms,) = transport.sms
    assert sms.to == PATIENT_PHONE


def test_help_and_aide_answer_with_the_clinic_contact(
    apply_sms: Callable[..., None], events: Any, phone: Phone
) -> None:
    apply_sms(*events.catalogue(language="fr"), events.booked())
    answer = phone.answer("aide")
    assert "Demo IMS Clinic, 100 Main St, Vancouver BC. Appelez le +16045550199" in answer
    assert "front@demo.clinic" in answer


def test_unsigned_or_forged_texts_are_refused(
    apply_sms: Callable[..., None], events: Any, phone: Phone
) -> None:
    apply_sms(*events.catalogue(), events.booked())
    assert phone.text("STOP", signature="Zm9yZ2Vk").status_code == 403
    assert (
        phone.web.post(
            "/sms/inbound", data={"MessageSid": "x", "From": PATIENT_PHONE, "Body": "STOP"}
        ).status_code
        == 403
    )


def test_the_same_webhook_delivered_twice_acts_once(
    sms_container: Container, apply_sms: Callable[..., None], events: Any, phone: Phone
) -> None:
    apply_sms(*events.catalogue(), events.booked())
    assert "confirmed" in phone.answer("C", sid="SMdup")
    assert phone.answer("C", sid="SMdup") == '<?xml version="1.0" encoding="UTF-8"?><Response/>'
    assert len(published(sms_container, "notifications.appointment.confirmation_received")) == 1


def test_texts_from_unknown_numbers_get_no_answer(phone: Phone) -> None:
    assert phone.answer("HELP") == '<?xml version="1.0" encoding="UTF-8"?><Response/>'


# -- hostile callers of the public webhooks: refused before their bodies are read, never a 500


def test_a_non_ascii_signature_or_callback_token_is_refused_not_a_server_error(web: FlaskClient) -> None:
    form = {"MessageSid": "SMx", "From": PATIENT_PHONE, "Body": "C", "AccountSid": "AC0"}
    unsigned = web.post("/sms/inbound", data=form, headers={"X-Twilio-Signature": "sïgnature"})
    assert unsigned.status_code == 403
    callback = web.post(
        f"/sms/status/{uuid.uuid4()}?token={'é' * 32}", data={"MessageSid": "SMx", "MessageStatus": "sent"}
    )
    assert callback.status_code == 404
    assert callback.mimetype == "application/problem+json"


def test_signatures_and_tokens_are_checked_before_the_form_is_parsed(web: FlaskClient) -> None:
    # A stranger's malformed form learns nothing about the form's rules: 403/404, not 422.
    assert web.post("/sms/inbound", data={"Body": "x" * 5000}).status_code == 403
    assert web.post(f"/sms/status/{uuid.uuid4()}?token={'0' * 32}", data={}).status_code == 404


def test_webhook_bodies_over_64_kib_are_refused_with_413(web: FlaskClient, phone: Phone) -> None:
    big = {"From": PATIENT_PHONE, "Body": "x" * (70 * 1024)}
    signed = TwilioSignature("s3cret").sign(INBOUND_URL, big)
    refused = web.post("/sms/inbound", data=big, headers={"X-Twilio-Signature": signed})
    assert refused.status_code == 413
    assert refused.mimetype == "application/problem+json"
    assert phone.text("HELP").status_code == 200  # an ordinary text still goes through
