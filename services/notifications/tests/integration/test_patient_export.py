"""GET /contacts/{patient_id}/export: everything notifications holds about a patient (PIPA BC / PIPEDA right
of access), for the patient themself or an admin who may see them (ADR 0006); clinic admins get their
clinic's part only. Everyone else: 404, as if the patient did not exist."""

from __future__ import annotations

import copy
import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from clinic_shared.events import new_event
from clinic_shared.testing.tokens import TestIssuer
from notifications.bootstrap import Container, bootstrap
from notifications.config import NotificationsSettings
from notifications.entrypoints.api import create_app
from notifications.entrypoints.dispatcher import Dispatcher
from notifications.entrypoints.handlers import HANDLERS
from notifications.service_layer import inbound_sms

pytestmark = pytest.mark.integration

KEYS = {"patient_id", "exported_at", "contact", "preferences", "consents", "deliveries", "appointments",
        "inbound_sms"}  # fmt: skip


@dataclass
class World:
    client: FlaskClient
    container: Container
    one: Any  # clinic 1, its patient (Pat) and appointment
    two: Any  # clinic 2, its patient (Sam) and appointment
    pat_at_two: uuid.UUID  # an appointment of Pat's at clinic 2


@pytest.fixture(params=["postgresql", "sqlite"])
def world(
    request: pytest.FixtureRequest,
    make_settings: Callable[..., NotificationsSettings],
    clock: Any,
    issuer: TestIssuer,
    transport: Any,
    events: Any,
) -> Iterator[World]:
    url = request.getfixturevalue("pg_url" if request.param == "postgresql" else "sqlite_url")
    container = bootstrap(
        make_settings(url), clock=clock, verifier=issuer.verifier(), mailer=transport, sms=transport
    )
    two = type(events)(clock)
    pat_at_two = copy.copy(two)
    pat_at_two.patient_id, pat_at_two.appointment_id = events.patient_id, uuid.uuid4()
    reset = new_event(
        "scheduling.password_reset.requested",
        {
            "account_id": uuid.uuid4(),
            "patient_id": events.patient_id,
            "email": "pat@example.com",
            "language": "en",
            "first_name": "Pat",
            "token": secrets.token_urlsafe(32),
            "expires_at": clock.now() + timedelta(minutes=30),
        },
        producer="scheduling",
        occurred_at=clock.now(),
    )
    for event in [
        *events.catalogue(),
        events.booked(),
        *two.catalogue(email="sam@example.com", phone="+16045550111"),
        two.booked(),
        pat_at_two.booked(),
        reset,
    ]:
        with container.uow() as uow:
            HANDLERS[event.type](uow, event)
            uow.commit()
    clock.advance(minutes=5)
    Dispatcher.from_container(container).dispatch_due(limit=100)
    with container.uow() as uow:
        inbound_sms.receive_sms(uow, inbound_sms.ReceiveSms("SM-pat-1", "+16045550100", "CONFIRM"))
        inbound_sms.receive_sms(uow, inbound_sms.ReceiveSms("SM-sam-1", "+16045550111", "HELP"))
        uow.commit()
    yield World(
        create_app(container=container).test_client(), container, events, two, pat_at_two.appointment_id
    )
    container.engine.dispose()


def export_url(patient_id: uuid.UUID) -> str:
    return f"/contacts/{patient_id}/export"


def assert_not_found(response: Any) -> None:
    assert response.status_code == 404, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"


def test_a_patient_exports_everything_about_them_and_nothing_of_another(
    world: World, issuer: TestIssuer
) -> None:
    one, two = world.one, world.two
    response = world.client.get(
        export_url(one.patient_id), headers=issuer.headers("patient", patient_id=one.patient_id)
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.json
    assert body is not None
    assert set(body) == KEYS
    assert body["patient_id"] == str(one.patient_id)
    assert (body["contact"]["email"], body["contact"]["phone"], body["contact"]["first_name"]) == (
        "pat@example.com", "+16045550100", "Pat",
    )  # fmt: skip
    assert (body["preferences"]["email"], body["preferences"]["sms"]) == (True, True)
    deliveries = body["deliveries"]
    assert deliveries
    assert {d["patient_id"] for d in deliveries} == {str(one.patient_id)}
    kinds = {(d["kind"], d["channel"]) for d in deliveries}
    assert {
        ("booking_confirmation", "email"),
        ("booking_confirmation", "sms"),
        ("password_reset", "email"),
    } <= kinds
    sent = [d for d in deliveries if d["status"] == "sent"]
    assert sent
    assert all(d["recipient"] and d["sent_at"] and d["attempts_log"] for d in sent)
    appointments = {a["appointment_id"] for a in body["appointments"]}
    assert appointments == {str(one.appointment_id), str(world.pat_at_two)}
    assert [(t["message_sid"], t["command"]) for t in body["inbound_sms"]] == [("SM-pat-1", "confirm")]
    # Nothing of Sam's.
    text = response.get_data(as_text=True)
    for other in (str(two.patient_id), "sam@example.com", "+16045550111", "SM-sam-1"):
        assert other not in text


def test_others_are_answered_not_found(world: World, issuer: TestIssuer) -> None:
    one, two = world.one, world.two
    url = export_url(one.patient_id)
    for headers in (
        issuer.headers("patient", patient_id=two.patient_id),  # another patient
        issuer.headers("front_desk", clinic_id=one.clinic_id),  # front desk, even of the patient's clinic
        issuer.headers("front_desk"),
        issuer.headers("practitioner", clinic_id=one.clinic_id, practitioner_id=one.practitioner_id),
        issuer.headers("admin", clinic_id=uuid.uuid4()),  # an admin of a clinic the patient never saw
    ):
        assert_not_found(world.client.get(url, headers=headers))
    # Sam has no relationship with clinic 1.
    assert_not_found(
        world.client.get(export_url(two.patient_id), headers=issuer.headers("admin", clinic_id=one.clinic_id))
    )
    # A patient we hold nothing about, even for an organisation-wide admin or themself.
    nobody = uuid.uuid4()
    assert_not_found(world.client.get(export_url(nobody), headers=issuer.headers("admin")))
    assert_not_found(
        world.client.get(export_url(nobody), headers=issuer.headers("patient", patient_id=nobody))
    )
    assert world.client.get(url).status_code == 401


def test_an_organisation_wide_admin_gets_the_whole_export(world: World, issuer: TestIssuer) -> None:
    one = world.one
    response = world.client.get(export_url(one.patient_id), headers=issuer.headers("admin"))
    assert response.status_code == 200
    mine = world.client.get(
        export_url(one.patient_id), headers=issuer.headers("patient", patient_id=one.patient_id)
    ).json
    assert response.json is not None
    assert mine is not None
    assert {d["id"] for d in response.json["deliveries"]} == {d["id"] for d in mine["deliveries"]}
    assert len(response.json["appointments"]) == 2


def test_a_clinic_admin_gets_their_clinics_part_only(world: World, issuer: TestIssuer) -> None:
    one, two = world.one, world.two
    response = world.client.get(
        export_url(one.patient_id), headers=issuer.headers("admin", clinic_id=two.clinic_id)
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.json
    assert body is not None
    assert body["contact"]["email"] == "pat@example.com"
    assert body["deliveries"]
    assert {d["appointment_id"] for d in body["deliveries"]} == {str(world.pat_at_two)}
    assert "password_reset" not in {d["kind"] for d in body["deliveries"]}
    assert [a["appointment_id"] for a in body["appointments"]] == [str(world.pat_at_two)]
    # Pat's CONFIRM went to the next appointment: shown to the clinic it was at only.
    own = world.client.get(
        export_url(one.patient_id), headers=issuer.headers("admin", clinic_id=one.clinic_id)
    ).json
    assert own is not None
    confirmed = {t["appointment_id"] for t in (own["inbound_sms"] + body["inbound_sms"])}
    assert len(own["inbound_sms"]) + len(body["inbound_sms"]) == 1
    assert confirmed <= {str(one.appointment_id), str(world.pat_at_two)}
