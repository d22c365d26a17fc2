"""Sessions and password resets through the HTTP API, on SQLite and on real PostgreSQL.

Refresh tokens rotate (each is used once), a reuse revokes the whole family, two refreshes of one token at
once cannot both succeed, logging out revokes the family; a password reset answers the same for every
address, e-mails a single-use link through the outbox, expires after 30 minutes, and signs every session out.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pika
import pytest
from sqlalchemy import select, update

from clinic_shared.events import Envelope, load_event
from clinic_shared.messaging.topology import declare_exchange
from clinic_shared.testing.clock import ManualClock
from clinic_shared.testing.rabbit import temporary_vhost
from scheduling.adapters import orm
from scheduling.bootstrap import Container, bootstrap
from scheduling.config import SchedulingSettings
from scheduling.domain.calendar import token_digest
from scheduling.entrypoints import worker

from ..conftest import Api

PASSWORD = "correct horse battery"
NEW_PASSWORD = "a brand new passphrase"
RESET_EVENT = "scheduling.password_reset.requested"


def sign_in(api: Api, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = api.client.post("/auth/token", json={"email": email, "password": password})
    assert response.status_code == 200, response.json
    return response.json


def refresh(api: Api, token: str) -> Any:
    return api.client.post("/auth/refresh", json={"refresh_token": token})


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def stored_refresh_tokens(container: Container) -> list[Any]:
    with container.engine.connect() as conn:
        return list(conn.execute(select(orm.refresh_tokens).order_by(orm.refresh_tokens.c.issued_at)))


def reset_events(container: Container) -> list[Envelope]:
    with container.engine.connect() as conn:
        bodies = conn.execute(
            select(orm.outbox.c.body)
            .where(orm.outbox.c.routing_key == RESET_EVENT)
            .order_by(orm.outbox.c.position)
        ).scalars()
        return [load_event(body) for body in bodies]


def stored_text(container: Container) -> str:
    """Every row of every table, as text: what a copy of the database would show."""
    with container.engine.connect() as conn:
        return "\n".join(
            repr(tuple(row)) for table in orm.metadata.sorted_tables for row in conn.execute(select(table))
        )


def assert_refused(response: Any) -> None:
    """Every refused refresh reads the same: a 401 problem that does not say why."""
    assert response.status_code == 401, response.json
    assert response.content_type == "application/problem+json"
    assert response.json["detail"] == "the refresh token is not valid; sign in again"


# --- refresh tokens ------------------------------------------------------------------------------------


def test_signing_in_returns_a_refresh_token_stored_only_as_its_digest(api: Api, container: Container) -> None:
    api.register_patient("ana@example.test")
    tokens = sign_in(api, "ana@example.test")
    assert set(tokens) == {"access_token", "token_type", "expires_in", "refresh_token", "refresh_expires_in"}
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", tokens["refresh_token"]), "256 bits, URL-safe"
    assert tokens["refresh_expires_in"] == 30 * 24 * 3600
    # register_patient's confirmed link and its sign-in started a family each: three, one token each.
    rows = stored_refresh_tokens(container)
    assert len(rows) == 3
    assert len({row.family_id for row in rows}) == 3
    assert token_digest(tokens["refresh_token"]) in {row.token_hash for row in rows}
    assert all(tokens["refresh_token"] not in str(tuple(row)) for row in rows)


def test_a_refresh_rotates_the_token_within_its_family_and_the_new_access_token_works(
    api: Api, container: Container
) -> None:
    patient, _ = api.register_patient("ana@example.test")
    first = sign_in(api, "ana@example.test")
    response = refresh(api, first["refresh_token"])
    assert response.status_code == 200, response.json
    second = response.json
    assert second["refresh_token"] != first["refresh_token"]
    assert second["token_type"] == "Bearer"
    assert api.client.get(f"/patients/{patient['id']}", headers=bearer(second)).status_code == 200

    by_hash = {row.token_hash: row for row in stored_refresh_tokens(container)}
    old, new = by_hash[token_digest(first["refresh_token"])], by_hash[token_digest(second["refresh_token"])]
    assert old.family_id == new.family_id
    assert old.used_at is not None
    assert (new.used_at, new.revoked_at) == (None, None)
    # And the successor rotates in turn.
    assert refresh(api, second["refresh_token"]).status_code == 200


def test_presenting_a_used_token_again_revokes_the_whole_family(api: Api, container: Container) -> None:
    api.register_patient("ana@example.test")
    stolen = sign_in(api, "ana@example.test")
    other_session = sign_in(api, "ana@example.test")
    rotated = refresh(api, stolen["refresh_token"]).json

    assert_refused(refresh(api, stolen["refresh_token"]))
    # The legitimate holder's newer token is revoked with its family ...
    assert_refused(refresh(api, rotated["refresh_token"]))
    family = {
        row.family_id
        for row in stored_refresh_tokens(container)
        if row.token_hash == token_digest(rotated["refresh_token"])
    }
    assert all(
        row.revoked_at is not None for row in stored_refresh_tokens(container) if row.family_id in family
    )
    # ... while another sign-in of the same account is a family of its own and keeps working.
    assert refresh(api, other_session["refresh_token"]).status_code == 200


def test_unknown_expired_and_revoked_tokens_are_refused_alike(
    api: Api, container: Container, clock: ManualClock
) -> None:
    api.register_patient("ana@example.test")
    assert_refused(refresh(api, "not-a-token-we-issued"))

    expiring = sign_in(api, "ana@example.test")
    clock.advance(timedelta(days=30))
    assert_refused(refresh(api, expiring["refresh_token"]))

    clock.advance(timedelta(days=-30))
    revoked = sign_in(api, "ana@example.test")
    assert (
        api.client.post("/auth/logout", json={"refresh_token": revoked["refresh_token"]}).status_code == 204
    )
    assert_refused(refresh(api, revoked["refresh_token"]))
    # Neither expiry nor logout counts as a reuse: no other token of theirs was touched.
    assert refresh(api, sign_in(api, "ana@example.test")["refresh_token"]).status_code == 200


def test_a_refresh_token_lasts_its_ttl_from_its_own_issue(api: Api, clock: ManualClock) -> None:
    api.register_patient("ana@example.test")
    tokens = sign_in(api, "ana@example.test")
    clock.advance(timedelta(days=29))
    tokens = refresh(api, tokens["refresh_token"]).json
    clock.advance(timedelta(days=29))
    assert refresh(api, tokens["refresh_token"]).status_code == 200


def test_logout_revokes_the_family_and_an_unknown_token_is_still_204(api: Api, container: Container) -> None:
    api.register_patient("ana@example.test")
    first = sign_in(api, "ana@example.test")
    rotated = refresh(api, first["refresh_token"]).json
    # Logging out with the session's current token ends the session.
    response = api.client.post("/auth/logout", json={"refresh_token": rotated["refresh_token"]})
    assert response.status_code == 204
    assert response.data == b""
    assert_refused(refresh(api, rotated["refresh_token"]))
    assert api.client.post("/auth/logout", json={"refresh_token": "never-issued"}).status_code == 204
    assert api.client.post("/auth/logout", json={}).status_code == 422


def test_a_disabled_account_cannot_refresh(api: Api, container: Container) -> None:
    api.register_patient("ana@example.test")
    tokens = sign_in(api, "ana@example.test")
    with container.engine.begin() as conn:
        conn.execute(
            update(orm.accounts).where(orm.accounts.c.email == "ana@example.test").values(active=False)
        )
    assert_refused(refresh(api, tokens["refresh_token"]))
    (presented,) = [
        r for r in stored_refresh_tokens(container) if r.token_hash == token_digest(tokens["refresh_token"])
    ]
    assert presented.revoked_at is not None


def test_two_refreshes_of_one_token_at_once_cannot_both_succeed(
    api: Api, container: Container, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.register_patient("ana@example.test")
    tokens = sign_in(api, "ana@example.test")
    # Each refresh reads the clock between reading its token and committing: slowing the clock widens
    # that window, so without the row lock both threads would read the token unused and both succeed.
    real_now = clock.now

    def slow_now() -> Any:
        time.sleep(0.3)
        return real_now()

    monkeypatch.setattr(clock, "now", slow_now)
    app = api.client.application
    barrier = threading.Barrier(2)

    def attempt(_: int) -> Any:
        client = app.test_client()
        barrier.wait()
        return client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})

    with ThreadPoolExecutor(max_workers=2) as pool:
        responses = list(pool.map(attempt, range(2)))
    assert Counter(r.status_code for r in responses) == {200: 1, 401: 1}
    # The loser counts as a reuse: the family is revoked, the winner's new token with it.
    (winner,) = [r.json for r in responses if r.status_code == 200]
    monkeypatch.setattr(clock, "now", real_now)
    assert_refused(refresh(api, winner["refresh_token"]))


# --- password reset ------------------------------------------------------------------------------------


def request_reset(api: Api, email: str) -> Any:
    return api.client.post("/auth/password-reset", json={"email": email})


def confirm(api: Api, token: str, password: str = NEW_PASSWORD) -> Any:
    return api.client.post("/auth/password-reset/confirm", json={"token": token, "password": password})


def assert_link_refused(response: Any) -> None:
    assert response.status_code == 422, response.json
    assert response.content_type == "application/problem+json"
    assert response.json["invalid-params"] == [
        {"name": "token", "location": "json", "reason": "This link has expired or was already used"}
    ]


def test_a_reset_request_answers_the_same_whether_or_not_the_address_has_an_account(
    api: Api, container: Container, admin: dict[str, str]
) -> None:
    api.register_patient("ana@example.test")
    with container.engine.begin() as conn:
        api.client.post(
            "/staff-accounts",
            headers=admin,
            json={
                "email": "gone@clinic.test",
                "password": "long enough 1",
                "roles": ["front_desk"],
                "organisation_wide": True,
            },
        )
        conn.execute(
            update(orm.accounts).where(orm.accounts.c.email == "gone@clinic.test").values(active=False)
        )
    answers = [
        request_reset(api, email) for email in ("Ana@Example.test", "nobody@example.test", "gone@clinic.test")
    ]
    assert {(a.status_code, a.data) for a in answers} == {(answers[0].status_code, answers[0].data)}
    assert answers[0].status_code == 202
    assert answers[0].json == {
        "message": "If an account uses this address, a link to reset its password has been sent to it."
    }
    (event,) = reset_events(container)
    assert event.data["email"] == "ana@example.test"
    with container.engine.connect() as conn:
        assert len(conn.execute(select(orm.password_reset_tokens)).all()) == 1


def test_the_reset_event_carries_what_the_e_mail_needs(
    api: Api, container: Container, admin: dict[str, str], clock: ManualClock
) -> None:
    patient, _ = api.register_patient("ana@example.test", language="fr")
    api.client.post(
        "/staff-accounts",
        headers=admin,
        json={
            "email": "desk@clinic.test",
            "password": "long enough 1",
            "roles": ["front_desk"],
            "organisation_wide": True,
        },
    )
    request_reset(api, "ana@example.test")
    request_reset(api, "desk@clinic.test")
    for_patient, for_staff = reset_events(container)
    assert {k: v for k, v in for_patient.data.items() if k not in ("account_id", "token")} == {
        "patient_id": uuid.UUID(patient["id"]),
        "email": "ana@example.test",
        "language": "fr",
        "first_name": "Ana",
        "expires_at": clock.now() + timedelta(minutes=30),
    }
    assert (for_staff.data["patient_id"], for_staff.data["first_name"], for_staff.data["language"]) == (
        None,
        None,
        "en",
    )
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", for_patient.data["token"])
    with container.engine.connect() as conn:
        stored = conn.execute(select(orm.password_reset_tokens.c.token_hash)).scalars().all()
    assert token_digest(for_patient.data["token"]) in stored
    assert for_patient.data["token"] not in stored


def test_a_reset_link_sets_the_password_once_and_signs_every_session_out(
    api: Api, container: Container
) -> None:
    api.register_patient("ana@example.test")
    sessions = [sign_in(api, "ana@example.test") for _ in range(2)]
    request_reset(api, "ana@example.test")
    (event,) = reset_events(container)

    response = confirm(api, event.data["token"])
    assert response.status_code == 204, response.json
    assert (
        api.client.post("/auth/token", json={"email": "ana@example.test", "password": PASSWORD}).status_code
        == 401
    )
    sign_in(api, "ana@example.test", NEW_PASSWORD)
    for session in sessions:
        assert_refused(refresh(api, session["refresh_token"]))
    assert_link_refused(confirm(api, event.data["token"], "yet another passphrase"))
    sign_in(api, "ana@example.test", NEW_PASSWORD)


def test_a_reset_link_expires_after_thirty_minutes(
    api: Api, container: Container, clock: ManualClock
) -> None:
    api.register_patient("ana@example.test")
    request_reset(api, "ana@example.test")
    (event,) = reset_events(container)
    clock.advance(timedelta(minutes=30))
    assert_link_refused(confirm(api, event.data["token"]))
    sign_in(api, "ana@example.test")


def test_only_the_newest_reset_link_works_and_an_unknown_one_reads_the_same(
    api: Api, container: Container, clock: ManualClock
) -> None:
    api.register_patient("ana@example.test")
    request_reset(api, "ana@example.test")
    clock.advance(timedelta(minutes=1))
    request_reset(api, "ana@example.test")
    older, newer = reset_events(container)
    assert_link_refused(confirm(api, older.data["token"]))
    assert_link_refused(confirm(api, "never-issued"))
    assert confirm(api, newer.data["token"]).status_code == 204


def test_a_new_password_follows_the_registration_rules(api: Api, container: Container) -> None:
    api.register_patient("ana@example.test")
    request_reset(api, "ana@example.test")
    (event,) = reset_events(container)
    response = confirm(api, event.data["token"], "short")
    assert response.status_code == 422
    assert [p["name"] for p in response.json["invalid-params"]] == ["password"]
    assert confirm(api, event.data["token"]).status_code == 204


def test_no_raw_token_reaches_the_logs(
    api: Api, container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api.register_patient("ana@example.test")
    tokens = sign_in(api, "ana@example.test")
    rotated = refresh(api, tokens["refresh_token"]).json
    refresh(api, tokens["refresh_token"])  # a reuse, logged as a warning
    request_reset(api, "ana@example.test")
    (event,) = reset_events(container)
    confirm(api, event.data["token"])
    assert "reused" in caplog.text
    for secret in (tokens["refresh_token"], rotated["refresh_token"], event.data["token"]):
        assert secret not in caplog.text


@pytest.mark.integration
def test_once_relayed_the_reset_token_is_stored_nowhere_in_scheduling(
    api: Api, container: Container, clock: ManualClock, database_url: str, tmp_path: Path
) -> None:
    api.register_patient("ana@example.test")
    request_reset(api, "ana@example.test")
    (event,) = reset_events(container)
    token = event.data["token"]
    assert token in stored_text(container), "the check below would see it in the outbox"
    with temporary_vhost("scheduling") as amqp_url:
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        try:
            channel = connection.channel()
            declare_exchange(channel, "scheduling.events")
            channel.queue_declare("probe")
            channel.queue_bind("probe", "scheduling.events", RESET_EVENT)
            settings = SchedulingSettings.from_env(
                {"SCHEDULING_DATABASE_URL": database_url, "AMQP_URL": amqp_url, "VAR_DIR": str(tmp_path)}
            )
            worker_container = bootstrap(settings, clock=clock)
            relay = worker.build_relay(worker_container)
            try:
                assert relay.publish_pending() >= 1
            finally:
                relay.close()
                worker_container.engine.dispose()
            _, _, body = channel.basic_get("probe", auto_ack=True)
        finally:
            connection.close()
    assert load_event(body).data["token"] == token, "notifications gets the whole event"
    stored = stored_text(container)
    assert token_digest(token) in stored
    assert token not in stored


def test_changing_ones_password_needs_the_current_one_and_signs_every_session_out(api: Api) -> None:
    api.register_patient("ana@example.test")
    sessions = [sign_in(api, "ana@example.test") for _ in range(2)]
    change = {"current_password": "not my password", "new_password": NEW_PASSWORD}
    wrong = api.client.post("/auth/password", headers=bearer(sessions[0]), json=change)
    assert wrong.status_code == 422, wrong.json
    assert wrong.json["invalid-params"][0]["name"] == "current_password"
    weak = api.client.post(
        "/auth/password",
        headers=bearer(sessions[0]),
        json={"current_password": PASSWORD, "new_password": "1" * 12},
    )
    assert (weak.status_code, weak.json["invalid-params"][0]["name"]) == (422, "new_password")
    changed = api.client.post(
        "/auth/password",
        headers=bearer(sessions[0]),
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert changed.status_code == 204, changed.json
    for session in sessions:
        assert_refused(refresh(api, session["refresh_token"]))
    assert (
        api.client.post("/auth/token", json={"email": "ana@example.test", "password": PASSWORD}).status_code
        == 401
    )
    sign_in(api, "ana@example.test", NEW_PASSWORD)


def test_a_disabled_staff_account_is_signed_out_and_cannot_sign_in_until_enabled(
    api: Api, admin: dict[str, str], catalogue: Any
) -> None:
    body = {"email": "desk@clinic.test", "password": "staff password 1", "roles": ["front_desk"]}
    created = api.client.post(
        "/staff-accounts", headers=admin, json=body | {"clinic_id": catalogue.clinic_id}
    )
    assert created.status_code == 201, created.json
    session = sign_in(api, "desk@clinic.test", "staff password 1")
    other_admin_body = {
        "email": "other-admin@clinic.test",
        "password": "staff password 1",
        "roles": ["admin"],
    }
    clinic2 = api.client.post(
        "/clinics",
        headers=admin,
        json={
            "code": "TWO",
            "name": "Two",
            "timezone": "UTC",
            "address": "x",
            "phone": "+16045550111",
            "email": "two@clinic.test",
        },
    )
    assert clinic2.status_code == 201, clinic2.json
    made = api.client.post(
        "/staff-accounts", headers=admin, json=other_admin_body | {"clinic_id": clinic2.json["id"]}
    )
    assert made.status_code == 201, made.json
    other_admin = bearer(sign_in(api, "other-admin@clinic.test", "staff password 1"))
    path = f"/staff-accounts/{created.json['id']}"
    assert api.client.post(f"{path}/disable", headers=other_admin).status_code == 404  # not their clinic
    assert api.client.post(f"{path}/disable", headers=bearer(session)).status_code == 403  # not an admin

    disabled = api.client.post(f"{path}/disable", headers=admin)
    assert (disabled.status_code, disabled.json["active"]) == (200, False)
    assert_refused(refresh(api, session["refresh_token"]))
    refused = api.client.post(
        "/auth/token", json={"email": "desk@clinic.test", "password": "staff password 1"}
    )
    assert refused.status_code == 401
    enabled = api.client.post(f"{path}/enable", headers=admin)
    assert (enabled.status_code, enabled.json["active"]) == (200, True)
    sign_in(api, "desk@clinic.test", "staff password 1")
