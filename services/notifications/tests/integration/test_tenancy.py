"""Tenancy (ADR 0006) on PostgreSQL: staff of one clinic neither read nor change another clinic's reminder
policy, practitioners, deliveries, or the contact details of a patient who has no relationship with their
clinic; all of it answers 404, as if it did not exist. Organisation-wide staff see every clinic.

A generated sweep calls every route of the app (every method) as clinic 2's admin and front desk with clinic
1's ids, and must never be let through: a new route needs no new test to be covered, and a route the sweep
cannot build a valid request for fails it (the same request made by an organisation-wide admin must pass).
"""

from __future__ import annotations

import contextlib
import re
import secrets
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import insert, select

from clinic_shared.db import make_engine
from clinic_shared.events import new_event
from clinic_shared.migrations import upgrade
from clinic_shared.testing.postgres import temporary_database
from clinic_shared.testing.reporting import say
from clinic_shared.testing.tokens import TestIssuer
from notifications.adapters import orm
from notifications.bootstrap import Container, bootstrap
from notifications.config import NotificationsSettings
from notifications.domain.appointments import AppointmentCopy, AppointmentFacts
from notifications.entrypoints.api import create_app
from notifications.entrypoints.cli import MIGRATIONS, OPERATOR
from notifications.entrypoints.handlers import HANDLERS
from notifications.service_layer import reminder_policies

pytestmark = pytest.mark.integration

POLICY = {
    "email_hours_before": 72,
    "sms_hours_before": 3,
    "skip_when_confirmed": False,
    "quiet_hours_start": "22:00",
    "quiet_hours_end": "08:30",
}

# Routes the sweep does not hold to "never 2xx", each with why. Nothing here reads or changes a clinic's data.
PUBLIC = {
    "static",  # Flask's static files (none shipped)
    "api-docs.openapi_json",  # the OpenAPI document
    "docs.static",  # Swagger UI's assets
    "docs.swagger_ui",  # Swagger UI
    "docs.swagger_start",  # Swagger UI's start script
    "health.healthz",  # liveness
    "health.readyz",  # readiness (database and broker reachable)
    "metrics",  # request counts per route and the outbox backlog; no ids, no patient data
}
# Public but authenticated by the SMS provider's signature (inbound) or a per-delivery token (status):
# without a valid one they must not be 2xx either, whoever the bearer token says the caller is.
SIGNED_WEBHOOKS = {"sms.status_callback", "sms.inbound"}


@dataclass
class Tenancy:
    app: Flask
    container: Container
    clinic1: Any  # the conftest's Events of clinic 1
    clinic2: Any  # Events of clinic 2
    delivery1: uuid.UUID  # a delivery about clinic 1's appointment
    delivery2: uuid.UUID
    reset: uuid.UUID  # a password-reset message: an account's, of no clinic

    @property
    def client(self) -> Any:  # a FlaskClient; Any so that tests index its answers' JSON directly
        return self.app.test_client()


@pytest.fixture
def tenancy(
    pg_url: str,
    make_settings: Callable[..., NotificationsSettings],
    clock: Any,
    issuer: TestIssuer,
    transport: Any,
    events: Any,
) -> Iterator[Tenancy]:
    """Two clinics, each with a practitioner, a treatment, a patient and a booked appointment (so deliveries
    about it); clinic 1 has its own reminder policy; and a password reset (a delivery of no clinic)."""
    container = bootstrap(
        make_settings(pg_url), clock=clock, verifier=issuer.verifier(), mailer=transport, sms=transport
    )
    clinic2 = type(events)(clock)
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
        *clinic2.catalogue(email="sam@example.com", phone="+16045550111"),
        clinic2.booked(),
        reset,
    ]:
        with container.uow() as uow:
            HANDLERS[event.type](uow, event)
            uow.commit()
    with container.uow() as uow:
        reminder_policies.change_reminder_policy(
            uow, OPERATOR, reminder_policies.ChangeReminderPolicy(events.clinic_id, 72, 3, False, None, None)
        )
        uow.commit()
        d1 = uow.repo.list_deliveries(offset=0, limit=1, clinic_id=events.clinic_id)[0][0].id
        d2 = uow.repo.list_deliveries(offset=0, limit=1, clinic_id=clinic2.clinic_id)[0][0].id
        (r,) = uow.repo.list_deliveries(offset=0, limit=1, clinic_id=None)[0]
    yield Tenancy(create_app(container=container), container, events, clinic2, d1, d2, r.id)
    container.engine.dispose()


def admin(issuer: TestIssuer, clinic: Any) -> dict[str, str]:
    return issuer.headers("admin", clinic_id=clinic.clinic_id)


def org_admin(issuer: TestIssuer) -> dict[str, str]:
    return issuer.headers("admin")


def assert_not_found(response: Any, field: str | None = None) -> None:
    assert response.status_code == 404, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    if field is not None:
        assert [p["name"] for p in response.json.get("invalid-params", [])] == [field]


# --- the generated sweep -------------------------------------------------------------------------------


def _resolve(spec: Mapping[str, Any], schema: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in schema:
        node: Any = spec
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def _plausible(name: str, schema: Mapping[str, Any], ids: Mapping[str, uuid.UUID]) -> Any:
    """A valid value for a field of an OpenAPI schema: the known id for an id, null where allowed."""
    if name in ids:
        return str(ids[name])
    if schema.get("nullable"):
        return None
    if "enum" in schema:
        return next(v for v in schema["enum"] if v is not None)
    kind, fmt = schema.get("type"), schema.get("format")
    if kind == "boolean":
        return True
    if kind == "integer":
        return schema.get("minimum", 1)
    if fmt == "uuid":
        return str(uuid.uuid4())
    if fmt == "email":
        return "someone@demo.clinic"
    return "x" * max(1, schema.get("minLength", 1), 16)


def _body(
    spec: Mapping[str, Any], operation: Mapping[str, Any] | None, ids: Mapping[str, uuid.UUID]
) -> tuple[str | None, dict[str, Any] | None]:
    """The content type and a plausible body of an operation: its required fields, and clinic 1's id as
    clinic_id unless the schema forbids fields it does not name (which then would only answer 422)."""
    content = ((operation or {}).get("requestBody") or {}).get("content") or {}
    if not content:
        return None, {"clinic_id": str(ids["clinic_id"])}
    media_type, media = next(iter(content.items()))
    schema = _resolve(spec, media.get("schema", {}))
    body = {
        name: _plausible(name, _resolve(spec, s), ids) for name, s in schema.get("properties", {}).items()
    }
    if schema.get("additionalProperties", True) is not False or "clinic_id" in schema.get("properties", {}):
        body["clinic_id"] = str(ids["clinic_id"])
    return media_type, body


def _query(
    spec: Mapping[str, Any], operation: Mapping[str, Any] | None, ids: Mapping[str, Any]
) -> dict[str, Any]:
    query: dict[str, Any] = {"clinic_id": str(ids["clinic_id"])}
    for parameter in (operation or {}).get("parameters", []):
        parameter = _resolve(spec, parameter)
        if parameter.get("in") == "query" and parameter.get("required"):
            query.setdefault(
                parameter["name"], _plausible(parameter["name"], parameter.get("schema", {}), ids)
            )
    return query


PATH_PARAMETER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def _send(
    app: Flask,
    method: str,
    url: str,
    headers: Mapping[str, str],
    query: Mapping[str, Any],
    media_type: str | None,
    body: Mapping[str, Any] | None,
) -> Any:
    kwargs: dict[str, Any] = {"headers": dict(headers), "query_string": dict(query)}
    if media_type == "application/x-www-form-urlencoded":
        kwargs["data"] = body
    elif method not in ("GET", "HEAD", "OPTIONS", "DELETE"):
        kwargs["json"] = body
    return app.test_client().open(url, method=method, **kwargs)


def test_the_sweep_lets_no_staff_of_another_clinic_through(tenancy: Tenancy, issuer: TestIssuer) -> None:
    app, one = tenancy.app, tenancy.clinic1
    spec: Any = app.test_client().get("/openapi.json").json
    ids = {
        "clinic_id": one.clinic_id,
        "patient_id": one.patient_id,
        "practitioner_id": one.practitioner_id,
        "appointment_id": one.appointment_id,
        "treatment_type_id": one.treatment_type_id,
        "delivery_id": tenancy.delivery1,
    }
    callers = {
        "clinic 2's admin": issuer.headers("admin", clinic_id=tenancy.clinic2.clinic_id),
        "clinic 2's front desk": issuer.headers("front_desk", clinic_id=tenancy.clinic2.clinic_id),
    }
    requests = 0
    routes = 0
    failures: list[str] = []
    for rule in app.url_map.iter_rules():
        routes += 1
        url = PATH_PARAMETER.sub(lambda m: str(ids.get(m.group(1), uuid.uuid4())), rule.rule)
        operations = spec["paths"].get(PATH_PARAMETER.sub(r"{\1}", rule.rule), {})
        for method in sorted(rule.methods or ()):
            operation = operations.get("get" if method == "HEAD" else method.lower())
            media_type, body = _body(spec, operation, ids)
            query = _query(spec, operation, ids)
            for who, headers in callers.items():
                response = _send(app, method, url, headers, query, media_type, body)
                requests += 1
                where = f"{method} {url} as {who}: {response.status_code}"
                if method == "OPTIONS" and getattr(rule, "provide_automatic_options", False):
                    # Flask answers OPTIONS itself (the Allow header, no body); no view runs.
                    if response.get_data():
                        failures.append(f"{where}: automatic OPTIONS with a body")
                    continue
                if rule.endpoint in PUBLIC:
                    continue
                if not 400 <= response.status_code < 500:
                    failures.append(f"{where} {response.get_data(as_text=True)[:200]}")
            if rule.endpoint in PUBLIC or rule.endpoint in SIGNED_WEBHOOKS or method == "OPTIONS":
                continue
            # The same request is a valid one: an organisation-wide admin gets through (so the 4xx above
            # are the clinic check, not a request the sweep could not build).
            control = _send(app, method, url, org_admin(issuer), query, media_type, body)
            if not 200 <= control.status_code < 300:
                failures.append(
                    f"{method} {url}: the sweep's request is not valid even for an organisation-wide admin "
                    f"({control.status_code} {control.get_data(as_text=True)[:200]}); teach the sweep"
                )
    say(f"notifications tenancy sweep: {requests} requests over {routes} routes")
    assert requests > 0
    assert not failures, "\n".join(failures)


def test_every_route_is_known_to_the_sweep_rules(tenancy: Tenancy) -> None:
    """The allow-lists name existing endpoints only (a renamed route cannot keep its exemption unnoticed)."""
    endpoints = {rule.endpoint for rule in tenancy.app.url_map.iter_rules()}
    assert endpoints >= PUBLIC | SIGNED_WEBHOOKS


# --- targeted ------------------------------------------------------------------------------------------


def test_another_clinics_reminder_policy_is_not_found_and_unchanged(
    tenancy: Tenancy, issuer: TestIssuer
) -> None:
    client, one, two = tenancy.client, tenancy.clinic1, tenancy.clinic2
    url = f"/clinics/{one.clinic_id}/reminder-policy"
    for role in ("admin", "front_desk"):
        headers = issuer.headers(role, clinic_id=two.clinic_id)
        assert_not_found(client.get(url, headers=headers), "clinic_id")
        assert_not_found(client.put(url, json=POLICY, headers=headers), "clinic_id")
    policy = client.get(url, headers=admin(issuer, one)).json
    assert (policy["email_hours_before"], policy["sms_hours_before"]) == (72, 3)
    # A clinic that does not exist answers as another clinic does (nothing told apart).
    assert_not_found(
        client.get(f"/clinics/{uuid.uuid4()}/reminder-policy", headers=admin(issuer, two)), "clinic_id"
    )


def test_staff_change_their_own_clinics_policy(tenancy: Tenancy, issuer: TestIssuer) -> None:
    client, two = tenancy.client, tenancy.clinic2
    url = f"/clinics/{two.clinic_id}/reminder-policy"
    headers = issuer.headers("front_desk", clinic_id=two.clinic_id)
    assert client.put(url, json=POLICY, headers=headers).status_code == 200
    assert client.get(url, headers=headers).json["quiet_hours_start"] == "22:00"


def test_another_clinics_delivery_is_not_found(tenancy: Tenancy, issuer: TestIssuer) -> None:
    client, two = tenancy.client, tenancy.clinic2
    headers = admin(issuer, two)
    assert_not_found(client.get(f"/deliveries/{tenancy.delivery1}", headers=headers), "delivery_id")
    assert_not_found(client.get(f"/deliveries/{tenancy.reset}", headers=headers), "delivery_id")
    assert client.get(f"/deliveries/{tenancy.delivery2}", headers=headers).status_code == 200
    assert_not_found(client.get(f"/deliveries/{uuid.uuid4()}", headers=headers), "delivery_id")


def test_the_delivery_log_is_filtered_to_the_callers_clinic(tenancy: Tenancy, issuer: TestIssuer) -> None:
    client, one, two = tenancy.client, tenancy.clinic1, tenancy.clinic2
    headers = issuer.headers("front_desk", clinic_id=two.clinic_id)
    listed = client.get("/deliveries?page_size=100", headers=headers)
    assert listed.status_code == 200
    assert listed.json
    assert {d["patient_id"] for d in listed.json} == {str(two.patient_id)}
    assert str(tenancy.delivery2) in {d["id"] for d in listed.json}
    assert client.get(f"/deliveries?patient_id={one.patient_id}", headers=headers).json == []
    assert client.get(f"/deliveries?appointment_id={one.appointment_id}", headers=headers).json == []
    assert_not_found(client.get(f"/deliveries?clinic_id={one.clinic_id}", headers=headers), "clinic_id")
    own = client.get(f"/deliveries?clinic_id={two.clinic_id}&page_size=100", headers=headers).json
    assert {d["id"] for d in own} == {d["id"] for d in listed.json}


def test_a_patient_of_another_clinic_is_not_found(tenancy: Tenancy, issuer: TestIssuer) -> None:
    client, one, two = tenancy.client, tenancy.clinic1, tenancy.clinic2
    choices = {"email": True, "sms": False, "language": None, "promotional": False}
    for role in ("admin", "front_desk"):
        headers = issuer.headers(role, clinic_id=two.clinic_id)
        assert_not_found(client.get(f"/contacts/{one.patient_id}", headers=headers), "patient_id")
        assert_not_found(client.get(f"/contacts/{one.patient_id}/preferences", headers=headers), "patient_id")
        assert_not_found(
            client.put(f"/contacts/{one.patient_id}/preferences", json=choices, headers=headers), "patient_id"
        )
        assert client.get(f"/contacts/{two.patient_id}", headers=headers).status_code == 200
    # Unchanged: the patient still gets SMS.
    mine = issuer.headers("patient", patient_id=one.patient_id)
    assert client.get(f"/contacts/{one.patient_id}/preferences", headers=mine).json["sms"] is True


def test_a_patient_seen_at_a_clinic_becomes_visible_to_its_staff(
    tenancy: Tenancy, issuer: TestIssuer, clock: Any
) -> None:
    """A relationship is a delivery about the clinic or an appointment copy there: here, an appointment at
    clinic 2 recorded without any message (e.g. its confirmation came through another clinic)."""
    client, one, two = tenancy.client, tenancy.clinic1, tenancy.clinic2
    headers = admin(issuer, two)
    assert_not_found(client.get(f"/contacts/{one.patient_id}", headers=headers), "patient_id")
    with tenancy.container.uow() as uow:
        start = clock.now() + timedelta(days=3)
        facts = AppointmentFacts(
            uuid.uuid4(), one.patient_id, two.clinic_id, two.practitioner_id, two.treatment_type_id,
            starts_at=start, ends_at=start + timedelta(minutes=30), sequence=0,
        )  # fmt: skip
        uow.repo.add(AppointmentCopy.from_facts(facts, cancelled=False))
        uow.commit()
        assert uow.repo.patient_known_at(one.patient_id, two.clinic_id)
        assert not uow.repo.patient_known_at(two.patient_id, one.clinic_id)
    assert client.get(f"/contacts/{one.patient_id}", headers=headers).status_code == 200


def test_another_clinics_practitioner_is_not_found(tenancy: Tenancy, issuer: TestIssuer) -> None:
    client, one, two = tenancy.client, tenancy.clinic1, tenancy.clinic2
    body = {"email": "ida@demo.clinic"}
    url = f"/practitioners/{one.practitioner_id}/agenda-address"
    assert_not_found(client.put(url, json=body, headers=admin(issuer, two)), "practitioner_id")
    own = client.put(
        f"/practitioners/{two.practitioner_id}/agenda-address", json=body, headers=admin(issuer, two)
    )
    assert own.status_code == 200
    assert client.put(url, json=body, headers=admin(issuer, one)).json["agenda_email"] == "ida@demo.clinic"


def test_patients_still_read_and_change_their_own_preferences(tenancy: Tenancy, issuer: TestIssuer) -> None:
    client, one = tenancy.client, tenancy.clinic1
    mine = issuer.headers("patient", patient_id=one.patient_id)
    assert client.get(f"/contacts/{one.patient_id}", headers=mine).status_code == 200
    choices = {"email": True, "sms": False, "language": "fr", "promotional": False}
    assert (
        client.put(f"/contacts/{one.patient_id}/preferences", json=choices, headers=mine).status_code == 200
    )


def test_organisation_wide_staff_see_every_clinic(tenancy: Tenancy, issuer: TestIssuer) -> None:
    client, one, two = tenancy.client, tenancy.clinic1, tenancy.clinic2
    headers = org_admin(issuer)
    for clinic in (one, two):
        url = f"/clinics/{clinic.clinic_id}/reminder-policy"
        assert client.get(url, headers=headers).status_code == 200
        assert client.put(url, json=POLICY, headers=headers).status_code == 200
        assert client.get(f"/contacts/{clinic.patient_id}", headers=headers).status_code == 200
        assert client.get(f"/contacts/{clinic.patient_id}/preferences", headers=headers).status_code == 200
        assert (
            client.put(
                f"/practitioners/{clinic.practitioner_id}/agenda-address",
                json={"email": "agenda@demo.clinic"},
                headers=headers,
            ).status_code
            == 200
        )
    for delivery in (tenancy.delivery1, tenancy.delivery2, tenancy.reset):
        assert client.get(f"/deliveries/{delivery}", headers=headers).status_code == 200
    listed = {d["id"] for d in client.get("/deliveries?page_size=100", headers=headers).json}
    assert {tenancy.delivery1, tenancy.delivery2, tenancy.reset} <= {uuid.UUID(d) for d in listed}
    only_one = client.get(f"/deliveries?clinic_id={one.clinic_id}&page_size=100", headers=headers).json
    assert only_one
    assert {d["patient_id"] for d in only_one} == {str(one.patient_id)}
    assert str(tenancy.reset) not in {d["id"] for d in only_one}


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_migration_gives_known_practitioners_the_clinic_of_their_latest_appointment(
    backend: str, tmp_path: Any
) -> None:
    """0004 backfills practitioners.clinic_id from the appointment copies; one with none stays without."""
    old, latest = uuid.uuid4(), uuid.uuid4()
    seen, unseen = uuid.uuid4(), uuid.uuid4()
    now = datetime(2025, 3, 3, 17, 0, tzinfo=UTC)
    with contextlib.ExitStack() as stack:
        if backend == "postgresql":
            url = stack.enter_context(temporary_database("notifications_0004"))
        else:
            url = f"sqlite:///{tmp_path / 'notifications.db'}"
        upgrade(url, MIGRATIONS, "0003")
        engine = make_engine(url)
        stack.callback(engine.dispose)
        with engine.begin() as connection:  # only columns 0003 has
            for practitioner in (seen, unseen):
                connection.execute(
                    insert(orm.practitioners).values(
                        practitioner_id=practitioner, display_name="Dr", as_of=now
                    )
                )
            for clinic, starts_at in ((old, now), (latest, now + timedelta(days=7))):
                connection.execute(
                    insert(orm.appointments).values(
                        appointment_id=uuid.uuid4(),
                        patient_id=uuid.uuid4(),
                        clinic_id=clinic,
                        practitioner_id=seen,
                        treatment_type_id=uuid.uuid4(),
                        starts_at=starts_at,
                        ends_at=starts_at + timedelta(minutes=30),
                        sequence=0,
                        cancelled=False,
                    )
                )
        upgrade(url, MIGRATIONS)
        with engine.connect() as connection:
            rows = connection.execute(
                select(orm.practitioners.c.practitioner_id, orm.practitioners.c.clinic_id)
            )
            clinics = {row[0]: row[1] for row in rows}
    assert clinics == {seen: latest, unseen: None}
