"""Scheduling's HTTP API on SQLite and on real PostgreSQL: accounts, catalogue, booking, errors, privacy."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from clinic_shared.events import load_event
from clinic_shared.testing.clock import ManualClock
from scheduling.adapters import orm
from scheduling.bootstrap import Container

from ..conftest import Api, Catalogue


def booking(
    catalogue: Catalogue, clock: ManualClock, *, hours_ahead: int = 48, **extra: Any
) -> dict[str, Any]:
    starts = (clock.now() + timedelta(hours=hours_ahead)).isoformat()
    return {
        "clinic_id": catalogue.clinic_id,
        "practitioner_id": catalogue.ims_practitioner_id,
        "treatment_type_id": catalogue.assessment_id,
        "starts_at": starts,
    } | extra


def outbox_events(container: Container) -> list[Any]:
    with container.engine.connect() as conn:
        rows = conn.execute(select(orm.outbox.c.body).order_by(orm.outbox.c.position)).scalars().all()
    return [load_event(body) for body in rows]


def test_a_patient_registers_signs_in_and_books_an_assessment(
    api: Api, catalogue: Catalogue, clock: ManualClock, container: Container
) -> None:
    patient, headers = api.register_patient("ana@example.test", phone="+16045550111")
    response = api.client.post("/appointments", headers=headers, json=booking(catalogue, clock))
    assert response.status_code == 201, response.json
    appointment = response.json
    assert appointment["patient_id"] == patient["id"]
    assert appointment["status"] == "booked"
    events = outbox_events(container)
    booked = [e for e in events if e.type == "scheduling.appointment.booked"]
    assert len(booked) == 1
    assert str(booked[0].data["appointment_id"]) == appointment["id"]
    assert booked[0].data["booked_via"] == "online"
    assert [e.type for e in events].count("scheduling.patient.registered") == 1


def test_the_same_time_twice_is_a_conflict_but_back_to_back_after_the_buffer_is_fine(
    api: Api, catalogue: Catalogue, clock: ManualClock
) -> None:
    _, headers = api.register_patient("a@example.test")
    first = api.client.post("/appointments", headers=headers, json=booking(catalogue, clock))
    assert first.status_code == 201
    clash = api.client.post("/appointments", headers=headers, json=booking(catalogue, clock))
    assert clash.status_code == 409
    assert clash.content_type == "application/problem+json"
    assert clash.json["invalid-params"][0]["name"] == "starts_at"
    # 60 minutes of assessment plus a 10 minute buffer.
    after = booking(catalogue, clock)
    after["starts_at"] = (clock.now() + timedelta(hours=48, minutes=70)).isoformat()
    assert api.client.post("/appointments", headers=headers, json=after).status_code == 201


def test_bad_input_is_a_problem_naming_every_field(
    api: Api, catalogue: Catalogue, clock: ManualClock
) -> None:
    _, headers = api.register_patient("b@example.test")
    body = booking(catalogue, clock, starts_at="next tuesday", colour="red")
    del body["practitioner_id"]
    response = api.client.post("/appointments", headers=headers, json=body)
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    names = {p["name"] for p in response.json["invalid-params"]}
    assert names == {"starts_at", "colour", "practitioner_id"}


def test_a_body_that_is_not_json_is_a_problem_not_a_crash(api: Api) -> None:
    _, headers = api.register_patient("c@example.test")
    response = api.client.post(
        "/appointments", headers=headers | {"Content-Type": "application/json"}, data="{not json"
    )
    assert 400 <= response.status_code < 500
    assert response.content_type == "application/problem+json"


def test_requests_without_a_valid_token_are_refused(api: Api) -> None:
    assert api.client.get("/appointments").status_code == 401
    expired = api.client.get("/appointments", headers={"Authorization": "Bearer abc.def.ghi"})
    assert expired.status_code == 401
    assert expired.content_type == "application/problem+json"
    assert "Bearer" in expired.headers["WWW-Authenticate"]


def test_an_expired_token_is_refused(api: Api, container: Container, clock: ManualClock) -> None:
    patient, _ = api.register_patient("d@example.test")
    stale = container.signing_key.issue(
        subject=uuid.uuid4(),
        roles=["patient"],
        issuer=container.settings.common.jwt_issuer,
        audience=container.settings.common.jwt_audience,
        now=clock.now() - timedelta(hours=1),
        ttl=timedelta(minutes=15),
        claims={"patient_id": patient["id"]},
    )
    response = api.client.get("/appointments", headers={"Authorization": f"Bearer {stale}"})
    assert response.status_code == 401
    assert response.json["detail"] == "token expired"


def test_a_token_for_another_audience_is_refused(api: Api, container: Container, clock: ManualClock) -> None:
    foreign = container.signing_key.issue(
        subject=uuid.uuid4(),
        roles=["admin"],
        issuer=container.settings.common.jwt_issuer,
        audience="someone-else",
        now=clock.now(),
        ttl=timedelta(minutes=15),
    )
    assert api.client.get("/clinics", headers={"Authorization": f"Bearer {foreign}"}).status_code == 401


def test_a_patient_cannot_see_or_cancel_another_patients_appointment(
    api: Api, catalogue: Catalogue, clock: ManualClock
) -> None:
    _, ana = api.register_patient("ana2@example.test")
    other, bob = api.register_patient("bob@example.test")
    created = api.client.post("/appointments", headers=ana, json=booking(catalogue, clock)).json
    assert api.client.get(f"/appointments/{created['id']}", headers=bob).status_code == 404
    assert api.client.post(f"/appointments/{created['id']}/cancel", headers=bob, json={}).status_code == 404
    assert api.client.get(f"/patients/{created['patient_id']}", headers=bob).status_code == 404
    listing = api.client.get("/appointments", headers=bob)
    assert listing.status_code == 200
    assert listing.json == []
    booked_for_other = booking(catalogue, clock, hours_ahead=72, patient_id=other["id"])
    assert api.client.post("/appointments", headers=ana, json=booked_for_other).status_code == 404


def test_patients_cannot_use_admin_endpoints(api: Api, catalogue: Catalogue) -> None:
    _, headers = api.register_patient("e@example.test")
    response = api.client.post(
        f"/clinics/{catalogue.clinic_id}/practitioners",
        headers=headers,
        json={"display_name": "X", "registration_number": "PT-3"},
    )
    assert response.status_code == 403
    assert response.content_type == "application/problem+json"


def test_cancelling_late_is_flagged_and_published(
    api: Api, catalogue: Catalogue, clock: ManualClock, container: Container
) -> None:
    _, headers = api.register_patient("f@example.test")
    created = api.client.post(
        "/appointments", headers=headers, json=booking(catalogue, clock, hours_ahead=5)
    ).json
    response = api.client.post(
        f"/appointments/{created['id']}/cancel", headers=headers, json={"reason": "ill"}
    )
    assert response.status_code == 200
    assert response.json["status"] == "cancelled"
    assert response.json["late_cancellation"] is True
    cancelled = [e for e in outbox_events(container) if e.type == "scheduling.appointment.cancelled"]
    assert len(cancelled) == 1
    assert cancelled[0].data["late"] is True
    assert cancelled[0].data["sequence"] == 1
    # The freed time can be booked again.
    again = api.client.post("/appointments", headers=headers, json=booking(catalogue, clock, hours_ahead=5))
    assert again.status_code == 201


def test_registering_the_same_email_twice_opens_no_second_account(api: Api) -> None:
    api.register_patient("same@example.test")
    body = {"email": "SAME@example.test", "password": "another long one", "first_name": "A", "last_name": "B"}
    response = api.client.post("/patients", json=body)
    assert response.status_code == 202, "answered as for a new address (test_sign_up has the rest)"
    wrong = {"email": "same@example.test", "password": "another long one"}
    assert api.client.post("/auth/token", json=wrong).status_code == 401
    api.token("same@example.test", "correct horse battery")


def test_wrong_password_is_a_401_problem(api: Api) -> None:
    api.register_patient("g@example.test")
    response = api.client.post("/auth/token", json={"email": "g@example.test", "password": "wrong"})
    assert response.status_code == 401
    assert response.content_type == "application/problem+json"


def test_lists_are_paginated(api: Api, admin: dict[str, str], catalogue: Catalogue) -> None:
    response = api.client.get(
        f"/clinics/{catalogue.clinic_id}/treatment-types?page=1&page_size=1", headers=admin
    )
    assert response.status_code == 200
    assert len(response.json) == 1
    assert json.loads(response.headers["X-Pagination"])["total"] == 2


def test_appointments_come_in_pages_of_up_to_500_a_full_clinic_day(api: Api, admin: dict[str, str]) -> None:
    assert api.client.get("/appointments", headers=admin, query_string={"page_size": 500}).status_code == 200
    refused = api.client.get("/appointments", headers=admin, query_string={"page_size": 501})
    assert refused.status_code == 422
    assert "page_size" in json.dumps(refused.json)
    other_lists = api.client.get("/clinics", headers=admin, query_string={"page_size": 101})
    assert other_lists.status_code == 422, "other lists keep pages of at most 100"


def test_events_carry_the_request_correlation_id(
    api: Api, catalogue: Catalogue, clock: ManualClock, container: Container
) -> None:
    _, headers = api.register_patient("h@example.test")
    correlation = "7a9e1c1e-0000-4000-8000-000000000001"
    response = api.client.post(
        "/appointments", headers=headers | {"X-Correlation-ID": correlation}, json=booking(catalogue, clock)
    )
    assert response.headers["X-Correlation-ID"] == correlation
    booked = [e for e in outbox_events(container) if e.type == "scheduling.appointment.booked"]
    assert str(booked[0].correlation_id) == correlation


def test_health_and_openapi_are_public(client: FlaskClient) -> None:
    assert client.get("/healthz").json == {"status": "ok"}
    spec = client.get("/openapi.json").json
    assert spec["openapi"].startswith("3.")
    assert "/appointments" in spec["paths"]
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    booking_body = spec["paths"]["/appointments"]["post"]["requestBody"]["content"]["application/json"]
    assert booking_body["schema"]["$ref"].endswith("BookAppointmentRequest")
    assert client.get("/docs").status_code == 200
    assert client.get("/.well-known/jwks.json").json["keys"][0]["kty"] == "OKP"


def test_a_booking_made_by_staff_is_published_as_booked_by_staff(
    api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock, container: Container
) -> None:
    patient, _ = api.register_patient("walk-in@example.test")
    body = booking(catalogue, clock, patient_id=patient["id"])
    assert api.client.post("/appointments", headers=admin, json=body).status_code == 201
    booked = [e for e in outbox_events(container) if e.type == "scheduling.appointment.booked"]
    assert [e.data["booked_via"] for e in booked] == ["staff"]
