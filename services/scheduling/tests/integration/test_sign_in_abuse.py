"""Guessing passwords through the HTTP API, on SQLite and on real PostgreSQL (issue 11, item 2).

Ten wrong passwords for one e-mail address lock it for fifteen minutes (a 429 with Retry-After, the right
password refused unchecked too) until the lock ends or a password reset completes; too many wrong
passwords from one client address stop that address; the counts are shared by every worker (a SQLite
file, or Redis when REDIS_URL is set); an unknown address costs one password check like a known one; and
new passwords that are too easy to guess are refused naming the ``password`` field.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import update

from clinic_shared.testing.clock import ManualClock
from scheduling.adapters import orm
from scheduling.adapters.passwords import Argon2PasswordHasher
from scheduling.bootstrap import Container, bootstrap
from scheduling.config import SchedulingSettings
from scheduling.domain.passwords import LIKE_EMAIL, TOO_COMMON
from scheduling.entrypoints.api import create_app

from ..conftest import Api

EMAIL = "ana@example.test"
PASSWORD = "correct horse battery"  # conftest's Api.register_patient uses it
NEW_PASSWORD = "a brand new passphrase"
WRONG = "not the password at all"
REDIS_URL = "redis://127.0.0.1:6379/0"


class CountingHasher:
    """The fast Argon2 hasher, noting every hash it is asked to check a password against."""

    def __init__(self) -> None:
        self.inner = Argon2PasswordHasher(fast=True)
        self.checked: list[str] = []

    def hash(self, password: str) -> str:
        return self.inner.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        self.checked.append(password_hash)
        return self.inner.verify(password_hash, password)


def settings(database_url: str, var_dir: Path, **env: str) -> SchedulingSettings:
    return SchedulingSettings.from_env(
        {"SCHEDULING_DATABASE_URL": database_url, "VAR_DIR": str(var_dir)} | env
    )


@pytest.fixture
def hasher() -> CountingHasher:
    return CountingHasher()


@pytest.fixture
def container(
    database_url: str, tmp_path: Path, clock: ManualClock, hasher: CountingHasher
) -> Iterator[Container]:
    c = bootstrap(settings(database_url, tmp_path), clock=clock, hasher=hasher)
    yield c
    c.engine.dispose()


def post_token(client: FlaskClient, email: str, password: str, address: str = "127.0.0.1") -> Any:
    return client.post(
        "/auth/token", json={"email": email, "password": password}, environ_base={"REMOTE_ADDR": address}
    )


def lock(client: FlaskClient, email: str = EMAIL, address: str = "127.0.0.1") -> None:
    statuses = [post_token(client, email, WRONG, address).status_code for _ in range(11)]
    assert statuses == [401] * 10 + [429]


def assert_locked(response: Any) -> None:
    assert response.status_code == 429, response.json
    assert response.content_type == "application/problem+json"
    assert response.json["reason"] == "account_locked"
    assert "locked" in response.json["detail"]
    assert "reset your password" in response.json["detail"]
    assert 1 <= int(response.headers["Retry-After"]) <= 15 * 60


def reset_token(api: Api, email: str) -> str:
    """Ask for a reset link and read its token from the event that e-mails it."""
    assert api.client.post("/auth/password-reset", json={"email": email}).status_code == 202
    return api.last_secret("password_reset.requested")


# --- lockout -------------------------------------------------------------------------------------------


def test_fifty_wrong_passwords_check_ten_then_lock_the_account_against_the_right_one_too(
    api: Api, hasher: CountingHasher
) -> None:
    api.register_patient(EMAIL)
    hasher.checked.clear()
    responses = [post_token(api.client, EMAIL, WRONG) for _ in range(50)]
    assert [r.status_code for r in responses] == [401] * 10 + [429] * 40
    assert len(hasher.checked) == 10, "a locked account's attempts are not checked"
    for response in responses[10:]:
        assert_locked(response)
    assert_locked(post_token(api.client, EMAIL, PASSWORD))
    assert len(hasher.checked) == 10


def test_the_lock_ends_after_fifteen_minutes(api: Api, clock: ManualClock) -> None:
    api.register_patient(EMAIL)
    lock(api.client)
    clock.advance(timedelta(minutes=14))
    assert_locked(post_token(api.client, EMAIL, PASSWORD))
    assert int(post_token(api.client, EMAIL, PASSWORD).headers["Retry-After"]) == 60
    clock.advance(timedelta(minutes=1))
    assert post_token(api.client, EMAIL, PASSWORD).status_code == 200


def test_a_completed_password_reset_unlocks_the_account(api: Api, container: Container) -> None:
    api.register_patient(EMAIL)
    lock(api.client)
    token = reset_token(api, EMAIL)
    assert_locked(post_token(api.client, EMAIL, PASSWORD))
    response = api.client.post(
        "/auth/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD}
    )
    assert response.status_code == 204, response.json
    assert post_token(api.client, EMAIL, NEW_PASSWORD).status_code == 200


def test_a_successful_sign_in_forgets_the_wrong_passwords_before_it(api: Api) -> None:
    api.register_patient(EMAIL)
    assert [post_token(api.client, EMAIL, WRONG).status_code for _ in range(9)] == [401] * 9
    assert post_token(api.client, EMAIL, PASSWORD).status_code == 200
    assert [post_token(api.client, EMAIL, WRONG).status_code for _ in range(10)] == [401] * 10


def test_an_address_without_an_account_locks_alike(api: Api) -> None:
    lock(api.client, "nobody@example.test")
    assert_locked(post_token(api.client, "nobody@example.test", PASSWORD))


def test_every_worker_counts_in_the_same_store(database_url: str, tmp_path: Path, clock: ManualClock) -> None:
    workers = [
        bootstrap(settings(database_url, tmp_path), clock=clock, hasher=Argon2PasswordHasher(fast=True))
        for _ in range(2)
    ]
    clients = [create_app(container=c).test_client() for c in workers]
    Api(clients[0]).register_patient(EMAIL)
    statuses = [post_token(clients[i % 2], EMAIL, WRONG).status_code for i in range(10)]
    assert statuses == [401] * 10
    for client in clients:
        assert_locked(post_token(client, EMAIL, PASSWORD))
    for c in workers:
        c.engine.dispose()


@pytest.mark.integration
def test_with_redis_every_host_counts_in_the_same_store(
    database_url: str, tmp_path: Path, clock: ManualClock
) -> None:
    email = f"redis-{uuid.uuid4().hex[:12]}@example.test"
    address = f"198.18.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    hosts = [
        bootstrap(
            settings(database_url, tmp_path / f"host-{i}", REDIS_URL=REDIS_URL),
            clock=clock,
            hasher=Argon2PasswordHasher(fast=True),
        )
        for i in range(2)
    ]
    clients = [create_app(container=c).test_client() for c in hosts]
    Api(clients[0]).register_patient(email)
    statuses = [post_token(clients[i % 2], email, WRONG, address).status_code for i in range(10)]
    assert statuses == [401] * 10
    for client in clients:
        assert_locked(post_token(client, email, PASSWORD, address))
    assert not (tmp_path / "host-0" / "scheduling-sign-in.db").exists(), "Redis, not the SQLite file"
    hosts[0].sign_in_guard.unlock(email)
    assert post_token(clients[1], email, PASSWORD, address).status_code == 200
    for c in hosts:
        c.engine.dispose()


# --- per client address --------------------------------------------------------------------------------


def test_too_many_wrong_passwords_from_one_client_address_stop_it_on_every_account(
    database_url: str, tmp_path: Path, clock: ManualClock
) -> None:
    c = bootstrap(
        settings(database_url, tmp_path, SIGN_IN_MAX_FAILURES_PER_ADDRESS="5"),
        clock=clock,
        hasher=Argon2PasswordHasher(fast=True),
    )
    client = create_app(container=c).test_client()
    Api(client).register_patient(EMAIL)
    sprayed = [post_token(client, f"user{i}@example.test", WRONG, "203.0.113.7") for i in range(5)]
    assert [r.status_code for r in sprayed] == [401] * 5
    refused = post_token(client, EMAIL, PASSWORD, "203.0.113.7")
    assert refused.status_code == 429
    assert refused.content_type == "application/problem+json"
    assert refused.json["reason"] == "too_many_failures_from_address"
    assert 1 <= int(refused.headers["Retry-After"]) <= 15 * 60
    assert post_token(client, EMAIL, PASSWORD, "198.51.100.9").status_code == 200
    clock.advance(timedelta(minutes=15))
    assert post_token(client, EMAIL, PASSWORD, "203.0.113.7").status_code == 200
    c.engine.dispose()


# --- enumeration by timing -----------------------------------------------------------------------------


def test_an_unknown_or_disabled_address_costs_one_password_check_like_a_known_one(
    api: Api, container: Container, hasher: CountingHasher
) -> None:
    api.register_patient(EMAIL)
    api.register_patient("gone@example.test")
    with container.engine.begin() as conn:
        conn.execute(
            update(orm.accounts).where(orm.accounts.c.email == "gone@example.test").values(active=False)
        )
    answers = []
    for email in (EMAIL, "nobody@example.test", "gone@example.test"):
        hasher.checked.clear()
        response = post_token(api.client, email, WRONG)
        answers.append((response.status_code, response.json["detail"]))
        assert len(hasher.checked) == 1, f"{email}: one password check"
    assert len(set(answers)) == 1, "the three answers read the same"
    dummy = container.sign_in_guard.dummy_hash
    assert hasher.checked == [dummy]
    real = hasher.inner.hash(PASSWORD)
    assert dummy.split("$")[1:4] == real.split("$")[1:4], "same algorithm, version and cost"


# --- password policy -----------------------------------------------------------------------------------


def assert_password_refused(response: Any, reason: str) -> None:
    assert response.status_code == 422, response.json
    assert response.content_type == "application/problem+json"
    assert response.json["invalid-params"] == [{"name": "password", "location": "json", "reason": reason}]


def test_sign_up_refuses_an_easily_guessed_password_and_registers_nobody(client: FlaskClient) -> None:
    body = {"email": "Eve.Doe@example.test", "first_name": "Eve", "last_name": "Doe"}
    assert_password_refused(
        client.post("/patients", json=body | {"password": "eve.doe@example.test"}), LIKE_EMAIL
    )
    assert_password_refused(client.post("/patients", json=body | {"password": "Password1234"}), TOO_COMMON)
    assert post_token(client, "eve.doe@example.test", "Password1234").status_code == 401
    assert client.post("/patients", json=body | {"password": PASSWORD}).status_code == 202


def test_a_staff_account_needs_a_password_that_is_not_common(api: Api, admin: dict[str, str]) -> None:
    body = {"email": "desk@clinic.test", "roles": ["front_desk"], "organisation_wide": True}
    refused = api.client.post("/staff-accounts", headers=admin, json=body | {"password": "qwertyuiop"})
    assert_password_refused(refused, TOO_COMMON)
    created = api.client.post("/staff-accounts", headers=admin, json=body | {"password": "staff password 1"})
    assert created.status_code == 201, created.json


def test_a_reset_refuses_an_easily_guessed_password_and_the_link_still_works(
    api: Api, container: Container
) -> None:
    api.register_patient(EMAIL)
    token = reset_token(api, EMAIL)
    confirm = "/auth/password-reset/confirm"
    assert_password_refused(
        api.client.post(confirm, json={"token": token, "password": "iloveyou123"}), TOO_COMMON
    )
    assert api.client.post(confirm, json={"token": token, "password": NEW_PASSWORD}).status_code == 204
    assert post_token(api.client, EMAIL, NEW_PASSWORD).status_code == 200


def reset_requested(client: FlaskClient, email: str, address: str = "198.51.100.7") -> Any:
    return client.post("/auth/password-reset", json={"email": email}, environ_base={"REMOTE_ADDR": address})


def test_a_few_reset_links_per_address_and_window_then_the_same_answer_and_nothing_sent(
    api: Api, container: Container, clock: ManualClock
) -> None:
    from .test_lifecycle import events_of

    api.register_patient(EMAIL)
    answers = [reset_requested(api.client, EMAIL.upper(), f"198.51.100.{n}") for n in range(6)]
    assert {(a.status_code, a.json["message"]) for a in answers} == {(202, answers[0].json["message"])}
    assert len(events_of(container, "scheduling.password_reset.requested")) == 3  # no inbox is flooded
    clock.advance(timedelta(minutes=16))
    assert reset_requested(api.client, EMAIL).status_code == 202
    assert len(events_of(container, "scheduling.password_reset.requested")) == 4


def test_a_client_address_asking_for_too_many_reset_links_is_refused_for_a_while(
    api: Api, clock: ManualClock
) -> None:
    emails = [f"someone-{n}@example.test" for n in range(30)]
    assert {reset_requested(api.client, email).status_code for email in emails} == {202}
    refused = reset_requested(api.client, "one-more@example.test")
    assert refused.status_code == 429, refused.json
    assert refused.json["reason"] == "too_many_resets_from_address"
    assert 0 < int(refused.headers["Retry-After"]) <= 15 * 60
    assert reset_requested(api.client, "one-more@example.test", "203.0.113.50").status_code == 202
    clock.advance(timedelta(minutes=16))
    assert reset_requested(api.client, "one-more@example.test").status_code == 202
