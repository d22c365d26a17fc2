"""The HTTP API: bearer tokens, problem documents, staff-only delivery log, pagination, contact visibility."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient

from clinic_shared.testing.tokens import TestIssuer
from notifications.bootstrap import Container
from notifications.entrypoints.cli import OPERATOR
from notifications.entrypoints.dispatcher import Dispatcher
from notifications.service_layer import reminder_policies

PROBLEM = "application/problem+json"


@pytest.fixture
def booked_three(
    apply: Callable[..., None], events: Any, clock: Any, container: Container
) -> list[uuid.UUID]:
    """Three appointments for one patient (email only, no reminders), booked a minute apart; their ids."""
    apply(*events.catalogue(phone=None))
    with container.uow() as uow:
        reminder_policies.change_reminder_policy(
            uow,
            OPERATOR,
            reminder_policies.ChangeReminderPolicy(events.clinic_id, None, None, True, None, None),
        )
        uow.commit()
    ids = []
    for day in (10, 11, 12):
        appointment_id = uuid.uuid4()
        apply(events.booked(appointment_id=appointment_id, starts_at=datetime(2025, 3, day, 16, tzinfo=UTC)))
        clock.advance(minutes=1)
        ids.append(appointment_id)
    return ids


def test_requires_a_bearer_token(client: FlaskClient) -> None:
    response = client.get("/deliveries")
    assert response.status_code == 401
    assert response.mimetype == PROBLEM
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json is not None
    assert response.json["title"] == "Unauthorized"


def test_rejects_a_token_from_another_issuer(client: FlaskClient) -> None:
    response = client.get("/deliveries", headers=TestIssuer().headers("admin"))
    assert response.status_code == 401
    assert response.mimetype == PROBLEM


def test_health_and_openapi_need_no_token(client: FlaskClient) -> None:
    assert client.get("/healthz").status_code == 200
    spec = client.get("/openapi.json")
    assert spec.status_code == 200
    assert {"/deliveries", "/deliveries/{delivery_id}", "/contacts/{patient_id}"} <= set(spec.json["paths"])  # type: ignore[index]


@pytest.mark.parametrize("roles", [("patient",), ("billing",), ("practitioner",)])
def test_delivery_log_is_for_front_desk_and_admins_only(
    client: FlaskClient, issuer: TestIssuer, roles: tuple[str, ...]
) -> None:
    response = client.get("/deliveries", headers=issuer.headers(*roles, patient_id=uuid.uuid4()))
    assert response.status_code == 403
    assert response.mimetype == PROBLEM


def test_lists_deliveries_newest_first_with_pagination(
    client: FlaskClient, issuer: TestIssuer, booked_three: list[uuid.UUID]
) -> None:
    response = client.get("/deliveries?page=1&page_size=2", headers=issuer.headers("front_desk"))
    assert response.status_code == 200
    body = response.json
    assert body is not None
    assert [item["appointment_id"] for item in body] == [str(booked_three[2]), str(booked_three[1])]
    pagination = json.loads(response.headers["X-Pagination"])
    assert (pagination["total"], pagination["total_pages"], pagination["next_page"]) == (3, 2, 2)
    second = client.get("/deliveries?page=2&page_size=2", headers=issuer.headers("admin")).json
    assert second is not None
    assert [item["appointment_id"] for item in second] == [str(booked_three[0])]
    item = body[0]
    assert item["status"] == "pending"
    assert item["channel"] == "email"
    assert item["kind"] == "booking_confirmation"
    assert item["message_id"] == f"<{item['id']}@notifications.ims-clinic>"


def test_filters_deliveries_by_patient_appointment_and_status(
    client: FlaskClient, issuer: TestIssuer, booked_three: list[uuid.UUID], events: Any
) -> None:
    headers = issuer.headers("admin")
    by_appointment = client.get(f"/deliveries?appointment_id={booked_three[1]}", headers=headers).json
    assert by_appointment is not None
    assert [d["appointment_id"] for d in by_appointment] == [str(booked_three[1])]
    by_patient = client.get(f"/deliveries?patient_id={events.patient_id}", headers=headers).json
    assert by_patient is not None
    assert len(by_patient) == 3
    other_patient = client.get(f"/deliveries?patient_id={uuid.uuid4()}", headers=headers).json
    assert other_patient == []
    assert client.get("/deliveries?status=sent", headers=headers).json == []


def test_a_malformed_filter_is_a_problem_naming_the_field(client: FlaskClient, issuer: TestIssuer) -> None:
    response = client.get("/deliveries?patient_id=not-a-uuid", headers=issuer.headers("admin"))
    assert response.status_code == 422
    assert response.mimetype == PROBLEM
    assert response.json is not None
    assert [p["name"] for p in response.json["invalid-params"]] == ["patient_id"]


def test_reads_one_delivery_or_a_404_problem(
    client: FlaskClient, issuer: TestIssuer, booked_three: list[uuid.UUID]
) -> None:
    headers = issuer.headers("front_desk")
    listed = client.get("/deliveries", headers=headers).json
    assert listed is not None
    one = client.get(f"/deliveries/{listed[0]['id']}", headers=headers)
    assert one.status_code == 200
    assert one.json == listed[0]
    missing = client.get(f"/deliveries/{uuid.uuid4()}", headers=headers)
    assert missing.status_code == 404
    assert missing.mimetype == PROBLEM


def test_contact_is_visible_to_front_desk_and_to_the_patient_themself(
    client: FlaskClient, issuer: TestIssuer, apply: Callable[..., None], events: Any
) -> None:
    apply(events.patient_registered(language="fr"))
    path = f"/contacts/{events.patient_id}"
    for headers in (issuer.headers("front_desk"), issuer.headers("patient", patient_id=events.patient_id)):
        response = client.get(path, headers=headers)
        assert response.status_code == 200
        assert response.json is not None
        assert response.json["email"] == "pat@example.com"
        assert response.json["language"] == "fr"


def test_another_patients_contact_is_not_found(
    client: FlaskClient, issuer: TestIssuer, apply: Callable[..., None], events: Any
) -> None:
    apply(events.patient_registered())
    response = client.get(
        f"/contacts/{events.patient_id}", headers=issuer.headers("patient", patient_id=uuid.uuid4())
    )
    assert response.status_code == 404
    assert response.mimetype == PROBLEM


def test_other_staff_roles_may_not_read_contacts(
    client: FlaskClient, issuer: TestIssuer, apply: Callable[..., None], events: Any
) -> None:
    apply(events.patient_registered())
    response = client.get(f"/contacts/{events.patient_id}", headers=issuer.headers("billing"))
    assert response.status_code == 403


def test_unknown_contact_is_not_found(client: FlaskClient, issuer: TestIssuer, container: Container) -> None:
    response = client.get(f"/contacts/{uuid.uuid4()}", headers=issuer.headers("admin"))
    assert response.status_code == 404


def test_the_delivery_log_shows_each_attempt_per_appointment(
    client: FlaskClient,
    issuer: TestIssuer,
    apply: Callable[..., None],
    events: Any,
    container: Container,
    transport: Any,
    clock: Any,
) -> None:
    apply(*events.catalogue(phone=None), events.booked())
    transport.failures.append(transport.transient())
    sender = Dispatcher.from_container(container)
    sender.dispatch_due()
    clock.advance(minutes=1)
    sender.dispatch_due()
    body = client.get(
        f"/deliveries?appointment_id={events.appointment_id}&kind=booking_confirmation",
        headers=issuer.headers("front_desk"),
    ).json
    assert body is not None
    (delivery,) = body
    assert delivery["status"] == "sent"
    assert [(a["number"], a["outcome"], a["detail"]) for a in delivery["attempts_log"]] == [
        (1, "failed", "SMTP server unavailable (TimeoutError)"),
        (2, "sent", None),
    ]
    single = client.get(f"/deliveries/{delivery['id']}", headers=issuer.headers("admin")).json
    assert single is not None
    assert len(single["attempts_log"]) == 2
