"""Signing up through the HTTP API, on SQLite and on real PostgreSQL (issue 11, item 2: enumeration).

The answer to ``POST /patients`` reads the same whether or not the address has an account (a patient's or
a staff member's), and costs one password hash either way. A new address gets a link (the token in
``scheduling.sign_up.requested``) that opens the account once; a known one gets
``scheduling.sign_up.account_exists`` and keeps its password. Too many sign-ups from one client address
are refused; expired sign-ups are deleted.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from clinic_shared.events import load_event
from clinic_shared.events.envelope import Envelope
from clinic_shared.testing.clock import ManualClock
from scheduling.adapters import orm
from scheduling.adapters.passwords import Argon2PasswordHasher
from scheduling.bootstrap import Container, bootstrap
from scheduling.config import SchedulingSettings
from scheduling.entrypoints.api import create_app

from ..conftest import Api

PASSWORD = "correct horse battery"  # conftest's Api.register_patient uses it
OTHER_PASSWORD = "a different passphrase"


class HashCountingHasher:
    """The fast Argon2 hasher, counting the passwords it hashes."""

    def __init__(self) -> None:
        self.inner = Argon2PasswordHasher(fast=True)
        self.hashed = 0

    def hash(self, password: str) -> str:
        self.hashed += 1
        return self.inner.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        return self.inner.verify(password_hash, password)


@pytest.fixture
def hasher() -> HashCountingHasher:
    return HashCountingHasher()


def make_container(
    database_url: str, tmp_path: Path, clock: ManualClock, hasher: Any, **env: str
) -> Container:
    settings = SchedulingSettings.from_env(
        {"SCHEDULING_DATABASE_URL": database_url, "VAR_DIR": str(tmp_path)} | env
    )
    return bootstrap(settings, clock=clock, hasher=hasher)


@pytest.fixture
def container(
    database_url: str, tmp_path: Path, clock: ManualClock, hasher: HashCountingHasher
) -> Iterator[Container]:
    c = make_container(database_url, tmp_path, clock, hasher)
    yield c
    c.engine.dispose()


def sign_up(client: FlaskClient, email: str, password: str = PASSWORD, address: str = "127.0.0.1") -> Any:
    body = {"email": email, "password": password, "first_name": "Eve", "last_name": "Doe", "language": "fr"}
    return client.post("/patients", json=body, environ_base={"REMOTE_ADDR": address})


def events(container: Container, kind: str) -> list[Envelope]:
    with container.engine.connect() as conn:
        bodies = conn.execute(
            select(orm.outbox.c.body)
            .where(orm.outbox.c.routing_key == f"scheduling.{kind}")
            .order_by(orm.outbox.c.position)
        ).scalars()
        return [load_event(body) for body in bodies]


def count(container: Container, table: Any) -> int:
    with container.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def signs_in(client: FlaskClient, email: str, password: str) -> bool:
    return client.post("/auth/token", json={"email": email, "password": password}).status_code == 200


def test_a_new_address_gets_a_link_that_opens_the_account_once(api: Api, container: Container) -> None:
    answer = sign_up(api.client, "Eve.Doe@Example.test")
    assert answer.status_code == 202, answer.json
    assert count(container, orm.accounts) == 0, "no account until the address is confirmed"
    assert not signs_in(api.client, "eve.doe@example.test", PASSWORD)
    (requested,) = events(container, "sign_up.requested")
    assert requested.data["email"] == "eve.doe@example.test"
    assert (requested.data["language"], requested.data["first_name"]) == ("fr", "Eve")
    token = requested.data["token"]
    with container.engine.connect() as conn:
        (stored,) = conn.execute(select(orm.sign_up_requests)).mappings()
    assert token not in repr(dict(stored)), "only the link's digest is kept"
    assert PASSWORD not in repr(dict(stored)), "only the password's hash is kept"

    opened = api.client.post("/patients/confirm", json={"token": token})
    assert opened.status_code == 201, opened.json
    patient = opened.json["patient"]
    assert (patient["email"], patient["language"]) == ("eve.doe@example.test", "fr")
    assert opened.json["token_type"] == "Bearer"
    me = api.client.get(
        f"/patients/{patient['id']}", headers={"Authorization": f"Bearer {opened.json['access_token']}"}
    )
    assert me.status_code == 200, "the patient is signed in"
    (registered,) = events(container, "patient.registered")
    assert str(registered.data["patient_id"]) == patient["id"]
    assert signs_in(api.client, "eve.doe@example.test", PASSWORD)

    again = api.client.post("/patients/confirm", json={"token": token})
    assert again.status_code == 422
    assert again.json["invalid-params"][0]["name"] == "token"
    assert count(container, orm.accounts) == 1


@pytest.mark.parametrize("holder", ["patient", "staff"])
def test_a_known_address_answers_alike_and_its_holder_is_told(
    holder: str, api: Api, admin: dict[str, str], container: Container, hasher: HashCountingHasher
) -> None:
    if holder == "patient":
        api.register_patient("known@example.test", language="fr")
    else:
        staff = {"email": "known@example.test", "password": PASSWORD, "roles": ["front_desk"]}
        created = api.client.post("/staff-accounts", headers=admin, json=staff | {"organisation_wide": True})
        assert created.status_code == 201, created.json
    accounts = count(container, orm.accounts)
    links = len(events(container, "sign_up.requested"))

    hasher.hashed = 0
    new = sign_up(api.client, "someone-new@example.test", OTHER_PASSWORD)
    hashes_for_new, hasher.hashed = hasher.hashed, 0
    known = sign_up(api.client, "KNOWN@example.test", OTHER_PASSWORD)
    assert (known.status_code, known.json) == (new.status_code, new.json) == (202, new.json)
    assert hasher.hashed == hashes_for_new == 1, "both cost one password hash"

    (told,) = events(container, "sign_up.account_exists")
    assert told.data["email"] == "known@example.test"
    assert told.data["language"] == ("fr" if holder == "patient" else "en")
    assert (told.data["patient_id"] is None) == (holder == "staff")
    sent = events(container, "sign_up.requested")[links:]
    assert [e.data["email"] for e in sent] == ["someone-new@example.test"], "no link for the known address"
    assert count(container, orm.accounts) == accounts
    assert signs_in(api.client, "known@example.test", PASSWORD), "the password is unchanged"
    assert not signs_in(api.client, "known@example.test", OTHER_PASSWORD)


def test_a_password_too_easy_to_guess_is_refused_for_a_known_address_too(
    api: Api, container: Container
) -> None:
    api.register_patient("known@example.test")
    for email in ("known@example.test", "new@example.test"):
        refused = sign_up(api.client, email, "Password1234")
        assert refused.status_code == 422
        assert refused.json["invalid-params"][0]["name"] == "password"
    assert events(container, "sign_up.account_exists") == []


def test_of_two_links_for_one_address_the_first_followed_opens_the_account(
    api: Api, container: Container
) -> None:
    sign_up(api.client, "eve@example.test", PASSWORD)
    sign_up(api.client, "eve@example.test", OTHER_PASSWORD)
    first, second = (e.data["token"] for e in events(container, "sign_up.requested"))
    assert api.client.post("/patients/confirm", json={"token": second}).status_code == 201
    assert api.client.post("/patients/confirm", json={"token": first}).status_code == 422
    assert signs_in(api.client, "eve@example.test", OTHER_PASSWORD)
    assert count(container, orm.patients) == 1


def test_a_link_expires_after_a_day_and_expired_sign_ups_are_deleted(
    api: Api, container: Container, clock: ManualClock
) -> None:
    sign_up(api.client, "late@example.test")
    (requested,) = events(container, "sign_up.requested")
    clock.advance(timedelta(hours=24))
    assert api.client.post("/patients/confirm", json={"token": requested.data["token"]}).status_code == 422
    assert count(container, orm.accounts) == 0
    sign_up(api.client, "next@example.test")
    with container.engine.connect() as conn:
        left = conn.execute(select(orm.sign_up_requests.c.email)).scalars().all()
    assert left == ["next@example.test"], "the expired sign-up is gone"


def test_unknown_and_malformed_tokens_are_refused_naming_the_field(client: FlaskClient) -> None:
    for body in ({"token": "x" * 43}, {"token": ""}, {}):
        refused = client.post("/patients/confirm", json=body)
        assert refused.status_code == 422, body
        assert refused.json["invalid-params"][0]["name"] == "token"


def test_one_client_address_signing_up_too_often_is_refused_and_one_inbox_is_not_flooded(
    database_url: str, tmp_path: Path, clock: ManualClock, hasher: HashCountingHasher
) -> None:
    c = make_container(database_url, tmp_path, clock, hasher, SIGN_UP_MAX_PER_ADDRESS="4")
    client = create_app(container=c).test_client()
    answers = [sign_up(client, "flood@example.test", address="203.0.113.7") for _ in range(5)]
    assert [a.status_code for a in answers] == [202] * 4 + [429]
    refused = answers[-1]
    assert refused.content_type == "application/problem+json"
    assert refused.json["reason"] == "too_many_sign_ups_from_address"
    assert 1 <= int(refused.headers["Retry-After"]) <= 15 * 60
    assert len(events(c, "sign_up.requested")) == 3, "three e-mails to one address per window, then none"
    assert sign_up(client, "other@example.test", address="198.51.100.9").status_code == 202
    clock.advance(timedelta(minutes=15))
    assert sign_up(client, "again@example.test", address="203.0.113.7").status_code == 202
    c.engine.dispose()
