"""Contact preferences and consent (CASL, PIPA BC): channels, language, promotional consent, each change kept
on record; opt-outs honoured at once, even for messages already pending."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from clinic_shared.testing.tokens import TestIssuer
from notifications.adapters import orm
from notifications.bootstrap import Container
from notifications.domain.channels import Channel
from notifications.domain.deliveries import Delivery
from notifications.domain.kinds import DeliveryKind
from notifications.domain.reasons import OPTED_OUT
from notifications.entrypoints.dispatcher import Dispatcher

CHOICES = {"email": True, "sms": True, "language": None, "promotional": False}


@pytest.fixture
def patient(issuer: TestIssuer, events: Any) -> dict[str, str]:
    return issuer.headers("patient", patient_id=events.patient_id)


def url(events: Any) -> str:
    return f"/contacts/{events.patient_id}/preferences"


def confirmations(container: Container) -> dict[Channel, Delivery]:
    with container.uow() as uow:
        query = select(Delivery).where(Delivery.kind == DeliveryKind.BOOKING_CONFIRMATION)
        return {d.channel: d for d in uow.session.scalars(query)}


def opted_out_events(container: Container) -> list[dict[str, Any]]:
    with container.uow() as uow:
        rows = uow.session.execute(
            select(orm.outbox.c.body).where(orm.outbox.c.routing_key == "notifications.contact.opted_out")
        )
        return [json.loads(row.body)["data"] for row in rows]


def test_a_patient_reads_their_own_preferences_but_not_anothers(
    client: FlaskClient, apply: Callable[..., None], events: Any, patient: dict[str, str], issuer: TestIssuer
) -> None:
    apply(*events.catalogue())
    body = client.get(url(events), headers=patient).json
    assert body is not None
    assert (body["email"], body["sms"], body["language"], body["promotional"], body["consents"]) == (
        True,
        True,
        "en",
        False,
        [],
    )
    other = issuer.headers("patient", patient_id=uuid.uuid4())
    assert client.get(url(events), headers=other).status_code == 404
    assert client.get(url(events), headers=issuer.headers("practitioner")).status_code == 403


def test_turning_sms_off_skips_pending_sms_records_consent_and_tells_other_services(
    client: FlaskClient,
    apply: Callable[..., None],
    events: Any,
    patient: dict[str, str],
    container: Container,
    transport: Any,
) -> None:
    apply(*events.catalogue(), events.booked())
    response = client.put(url(events), json=CHOICES | {"sms": False}, headers=patient)
    assert response.status_code == 200
    body = response.json
    assert body is not None
    assert body["sms"] is False
    assert [(c["channel"], c["kind"], c["purpose"], c["source"]) for c in body["consents"]] == [
        ("sms", "withdrawn", "transactional", "preferences by the patient")
    ]
    (event,) = opted_out_events(container)
    assert (event["patient_id"], event["channel"]) == (str(events.patient_id), "sms")

    Dispatcher.from_container(container).dispatch_due()
    assert transport.sms == []
    assert confirmations(container)[Channel.SMS].last_error == OPTED_OUT
    apply(events.patient_registered(updated=True))
    assert client.get(url(events), headers=patient).json["sms"] is False  # type: ignore[index]


def test_turning_email_off_leaves_sms_and_turning_it_back_on_is_express_consent(
    client: FlaskClient,
    apply: Callable[..., None],
    events: Any,
    patient: dict[str, str],
    container: Container,
    clock: Any,
) -> None:
    apply(*events.catalogue())
    client.put(url(events), json=CHOICES | {"email": False}, headers=patient)
    apply(events.booked())
    clock.advance(minutes=1)
    assert set(confirmations(container)) == {Channel.SMS}
    body = client.put(url(events), json=CHOICES, headers=patient).json
    assert body is not None
    assert [(c["channel"], c["kind"]) for c in body["consents"]] == [
        ("email", "withdrawn"),
        ("email", "express"),
    ]


def test_a_preferred_language_overrides_the_registered_one(
    client: FlaskClient,
    apply: Callable[..., None],
    events: Any,
    patient: dict[str, str],
    container: Container,
    transport: Any,
) -> None:
    apply(*events.catalogue(phone=None))
    client.put(url(events), json=CHOICES | {"language": "fr"}, headers=patient)
    apply(events.patient_registered(updated=True, phone=None), events.booked())
    Dispatcher.from_container(container).dispatch_due()
    (email,) = transport.emails
    assert email.language == "fr"
    assert "est confirmé" in email.subject


def test_promotional_consent_is_express_and_its_withdrawal_is_kept(
    client: FlaskClient,
    apply: Callable[..., None],
    events: Any,
    issuer: TestIssuer,
    container: Container,
    clock: Any,
) -> None:
    apply(*events.catalogue())
    staff = issuer.headers("front_desk")
    client.put(url(events), json=CHOICES | {"promotional": True}, headers=staff)
    clock.advance(days=30)
    body = client.put(url(events), json=CHOICES, headers=staff).json
    assert body is not None
    assert body["promotional"] is False
    assert [(c["kind"], c["purpose"], c["source"]) for c in body["consents"]] == [
        ("express", "promotional", "preferences by staff"),
        ("withdrawn", "promotional", "preferences by staff"),
    ]
    assert opted_out_events(container) == []  # promotional consent is not a channel opt-out


@pytest.mark.parametrize(
    ("change", "field"),
    [({"language": "de"}, "language"), ({"sms": "maybe"}, "sms"), ({"marketing": True}, "marketing")],
)
def test_rejects_bad_preferences_naming_the_field(
    client: FlaskClient,
    apply: Callable[..., None],
    events: Any,
    patient: dict[str, str],
    change: dict[str, Any],
    field: str,
) -> None:
    apply(*events.catalogue())
    response = client.put(url(events), json=CHOICES | change, headers=patient)
    assert response.status_code == 422
    assert field in response.get_data(as_text=True)
