"""Fixtures: a migrated SQLite or real PostgreSQL database, a container with a hand-moved clock, a client."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from clinic_shared.events import load_event
from clinic_shared.migrations import upgrade
from clinic_shared.testing.clock import ManualClock
from clinic_shared.testing.postgres import temporary_database
from scheduling.adapters import orm
from scheduling.adapters.passwords import Argon2PasswordHasher
from scheduling.bootstrap import Container, bootstrap
from scheduling.config import SchedulingSettings
from scheduling.entrypoints.api import create_app
from scheduling.entrypoints.api.context import CONTAINER_KEY
from scheduling.entrypoints.cli import MIGRATIONS

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="pg", marks=pytest.mark.integration),
]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/scheduling.db"
        upgrade(url, MIGRATIONS)
        yield url
    else:
        with temporary_database("scheduling") as url:
            upgrade(url, MIGRATIONS)
            yield url


@pytest.fixture
def clock() -> ManualClock:
    # Tokens are checked against the real time, so the test clock starts at the real "now".
    return ManualClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def container(database_url: str, tmp_path: Path, clock: ManualClock) -> Iterator[Container]:
    settings = SchedulingSettings.from_env(
        {"SCHEDULING_DATABASE_URL": database_url, "VAR_DIR": str(tmp_path)}
    )
    c = bootstrap(settings, clock=clock, hasher=Argon2PasswordHasher(fast=True))
    yield c
    c.engine.dispose()


@pytest.fixture
def client(container: Container) -> FlaskClient:
    return create_app(container=container).test_client()


@dataclass
class Api:
    """Small helper over the test client that signs in and keeps the bearer token."""

    client: FlaskClient

    def token(self, email: str, password: str) -> dict[str, str]:
        response = self.client.post("/auth/token", json={"email": email, "password": password})
        assert response.status_code == 200, response.json
        return {"Authorization": f"Bearer {response.json['access_token']}"}

    def register_patient(self, email: str, **extra: Any) -> tuple[dict[str, Any], dict[str, str]]:
        """Sign up and follow the e-mailed link (its token read from the outbox); then sign in."""
        body = {"email": email, "password": "correct horse battery", "first_name": "Ana", "last_name": "Li"}
        response = self.client.post("/patients", json=body | extra)
        assert response.status_code == 202, response.json
        token = self.last_secret("sign_up.requested")
        confirmed = self.client.post("/patients/confirm", json={"token": token})
        assert confirmed.status_code == 201, confirmed.json
        return confirmed.json["patient"], self.token(email, "correct horse battery")

    def last_secret(self, event: str) -> str:
        """The token of the newest ``scheduling.{event}`` event in the outbox (what notifications e-mails)."""
        engine = self.client.application.extensions[CONTAINER_KEY].engine
        with engine.connect() as conn:
            body = conn.execute(
                select(orm.outbox.c.body)
                .where(orm.outbox.c.routing_key == f"scheduling.{event}")
                .order_by(orm.outbox.c.position.desc())
                .limit(1)
            ).scalar_one()
        return str(load_event(body).data["token"])


@pytest.fixture
def api(client: FlaskClient) -> Api:
    return Api(client)


@pytest.fixture
def admin(container: Container, api: Api) -> dict[str, str]:
    from scheduling.service_layer import accounts
    from scheduling.service_layer.tenancy import OPERATOR

    with container.uow() as uow:
        accounts.create_staff_account(
            uow,
            container.hasher,
            OPERATOR,
            accounts.CreateStaffAccount(
                "root@clinic.test", "admin password 1", ["admin"], organisation_wide=True
            ),
        )
        uow.commit()
    return api.token("root@clinic.test", "admin password 1")


@dataclass
class Catalogue:
    clinic_id: str
    ims_practitioner_id: str
    assessor_id: str
    assessment_id: str
    ims30_id: str


@pytest.fixture
def catalogue(client: FlaskClient, admin: dict[str, str]) -> Catalogue:
    clinic = client.post(
        "/clinics",
        headers=admin,
        json={
            "code": "VAN",
            "name": "Vancouver IMS",
            "timezone": "America/Vancouver",
            "address": "1 Main St",
            "phone": "+16045550100",
            "email": "front@clinic.test",
        },
    ).json
    cid = clinic["id"]

    def post(path: str, body: dict[str, Any]) -> str:
        response = client.post(f"/clinics/{cid}/{path}", headers=admin, json=body)
        assert response.status_code == 201, response.json
        return response.json["id"]

    return Catalogue(
        clinic_id=cid,
        ims_practitioner_id=post(
            "practitioners", {"display_name": "Ida", "registration_number": "PT-1", "ims_qualified": True}
        ),
        assessor_id=post("practitioners", {"display_name": "Sam", "registration_number": "PT-2"}),
        assessment_id=post(
            "treatment-types",
            {
                "code": "ASSESS",
                "name": "Assessment",
                "kind": "assessment",
                "duration_minutes": 60,
                "buffer_minutes": 10,
            },
        ),
        ims30_id=post(
            "treatment-types",
            {"code": "IMS30", "name": "IMS 30", "kind": "treatment", "duration_minutes": 30},
        ),
    )


def clear_for_ims(api: Api, admin: dict[str, str], catalogue: Catalogue, clock: Any, patient_id: str) -> None:
    """Book, complete and sign off an assessment so the patient may book IMS (moves the clock 4 hours)."""
    assessment = api.client.post(
        "/appointments",
        headers=admin,
        json={
            "clinic_id": catalogue.clinic_id,
            "practitioner_id": catalogue.assessor_id,
            "treatment_type_id": catalogue.assessment_id,
            "starts_at": (clock.now() + timedelta(hours=3)).isoformat(),
            "patient_id": patient_id,
        },
    )
    assert assessment.status_code == 201, assessment.json
    clock.advance(timedelta(hours=4))
    done = api.client.post(f"/appointments/{assessment.json['id']}/complete", headers=admin)
    assert done.status_code == 200, done.json
    finding = api.client.post(
        f"/appointments/{assessment.json['id']}/suitability",
        headers=admin,
        json={"suitable": True, "consent_recorded": True},
    )
    assert finding.status_code == 201, finding.json
