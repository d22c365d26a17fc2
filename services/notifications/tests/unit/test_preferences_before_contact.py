"""A patient's contact choices made before their contact copy arrived from scheduling (e.g. the consent they
gave when signing up, sent by the portal right away) are kept as consent records and applied when it does."""

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
from notifications.entrypoints.dispatcher import Dispatcher

CHOICES = {"email": True, "sms": True, "language": None, "promotional": False}


@pytest.fixture
def patient(issuer: TestIssuer, events: Any) -> dict[str, str]:
    return issuer.headers("patient", patient_id=events.patient_id)


def url(events: Any) -> str:
    return f"/contacts/{events.patient_id}/preferences"


def opted_out_events(container: Container) -> list[dict[str, Any]]:
    with container.uow() as uow:
        rows = uow.session.execute(
            select(orm.outbox.c.body).where(orm.outbox.c.routing_key == "notifications.contact.opted_out")
        )
        return [json.loads(row.body)["data"] for row in rows]


def test_choices_made_before_the_contact_arrives_are_applied_when_it_does(
    client: FlaskClient,
    apply: Callable[..., None],
    events: Any,
    patient: dict[str, str],
    container: Container,
    transport: Any,
    clock: Any,
) -> None:
    early = client.put(url(events), json=CHOICES | {"sms": False}, headers=patient)
    assert (early.status_code, early.data) == (202, b"")
    assert client.get(url(events), headers=patient).status_code == 404
    (event,) = opted_out_events(container)
    assert (event["patient_id"], event["channel"]) == (str(events.patient_id), "sms")

    clock.advance(seconds=2)
    apply(*events.catalogue(), events.booked())
    body = client.get(url(events), headers=patient).json
    assert body is not None
    assert (body["email"], body["sms"], body["promotional"]) == (True, False, False)
    assert sorted((c["channel"], c["kind"], c["purpose"], c["source"]) for c in body["consents"]) == [
        ("email", "express", "transactional", "preferences by the patient"),
        ("sms", "withdrawn", "transactional", "preferences by the patient"),
    ]
    clock.advance(minutes=1)
    Dispatcher.from_container(container).dispatch_due()
    assert transport.sms == []
    assert len(transport.emails) == 1
    with container.uow() as uow:
        booked = uow.session.scalars(
            select(Delivery).where(Delivery.kind == DeliveryKind.BOOKING_CONFIRMATION)
        )
        assert {d.channel for d in booked} == {Channel.EMAIL}


def test_the_latest_early_choice_wins_and_promotional_consent_is_express(
    client: FlaskClient, apply: Callable[..., None], events: Any, patient: dict[str, str], clock: Any
) -> None:
    client.put(url(events), json=CHOICES | {"email": False, "promotional": True}, headers=patient)
    clock.advance(seconds=1)
    client.put(url(events), json=CHOICES | {"promotional": True}, headers=patient)
    clock.advance(seconds=1)
    apply(events.patient_registered())
    body = client.get(url(events), headers=patient).json
    assert body is not None
    assert (body["email"], body["sms"], body["promotional"]) == (True, True, True)

    # A later update from scheduling never touches the patient's choices.
    apply(events.patient_registered(updated=True, first_name="Patricia"))
    again = client.get(url(events), headers=patient).json
    assert again is not None
    assert (again["email"], again["sms"], again["promotional"]) == (True, True, True)


def test_a_contact_with_no_early_choices_starts_with_both_channels(
    client: FlaskClient, apply: Callable[..., None], events: Any, patient: dict[str, str]
) -> None:
    apply(events.patient_registered())
    body = client.get(url(events), headers=patient).json
    assert body is not None
    assert (body["email"], body["sms"], body["promotional"], body["consents"]) == (True, True, False, [])


def test_only_the_patient_themself_may_choose_early_and_not_a_language(
    client: FlaskClient, events: Any, patient: dict[str, str], issuer: TestIssuer, container: Container
) -> None:
    other = issuer.headers("patient", patient_id=uuid.uuid4())
    assert client.put(url(events), json=CHOICES, headers=other).status_code == 404
    assert client.put(url(events), json=CHOICES, headers=issuer.headers("front_desk")).status_code == 404
    language = client.put(url(events), json=CHOICES | {"language": "fr"}, headers=patient)
    assert language.status_code == 409
    assert language.json is not None
    assert language.json["invalid-params"][0]["name"] == "language"
    with container.uow() as uow:
        assert uow.repo.consent_records(events.patient_id) == []


def test_the_openapi_document_describes_the_early_answer(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").json
    assert spec is not None
    responses = spec["paths"]["/contacts/{patient_id}/preferences"]["put"]["responses"]
    assert {"200", "202", "404", "409"} <= set(responses)
