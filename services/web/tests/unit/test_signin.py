"""One refresh per session at a time: single-use refresh tokens never get presented twice by one browser."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from clinic_shared.testing.tokens import TestIssuer
from web.adapters.sessions import SqliteStore
from web.config import WebSettings
from web.entrypoints.app import create_app
from web.entrypoints.signin import CREDENTIALS_PREFIX
from web.service_layer.accounts import Credentials
from web.service_layer.ports import ApiError, Apis
from web.testing import FakeApi, sign_in

PATIENT = uuid.uuid4()


class Scheduling:
    """Scheduling's refresh endpoint as the real one behaves: rotation, and reuse revokes the family."""

    name = "scheduling"

    def __init__(self, issuer: TestIssuer) -> None:
        self.issuer = issuer
        self.refreshes = 0
        self.used: set[str] = set()
        self.revoked = False
        self._lock = threading.Lock()

    def post(self, path: str, *, json: Any = None, **_: Any) -> Any:
        assert path == "/auth/refresh"
        time.sleep(0.2)  # slow enough for the other requests of the session to arrive meanwhile
        with self._lock:
            self.refreshes += 1
            token = json["refresh_token"]
            if token in self.used or self.revoked:
                self.revoked = True
                raise ApiError(401, "Unauthorized")
            self.used.add(token)
            return {
                "access_token": self.issuer.token("patient", patient_id=PATIENT),
                "expires_in": 900,
                "refresh_token": f"refresh-{self.refreshes}",
            }

    def get(self, path: str, **_: Any) -> Any:
        assert path == "/clinics", path  # the footer names the clinic to call
        return []

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the page called scheduling.{name}")


@pytest.fixture
def issuer() -> TestIssuer:
    return TestIssuer()


@pytest.fixture
def scheduling(issuer: TestIssuer) -> Scheduling:
    return Scheduling(issuer)


@pytest.fixture
def app(tmp_path: Path, issuer: TestIssuer, scheduling: Scheduling) -> Flask:
    settings = WebSettings.from_env(
        {"WEB_SECRET_KEY": "k" * 40, "VAR_DIR": str(tmp_path), "LOG_LEVEL": "ERROR"}
    )
    apis = Apis(scheduling=scheduling, billing=scheduling, notifications=scheduling)  # type: ignore[arg-type]
    app = create_app(settings, apis=apis, store=SqliteStore(tmp_path / "s.db"), verifier=issuer.verifier())
    app.config.update(TESTING=True)
    return app


def expiring(issuer: TestIssuer, seconds: float) -> Credentials:
    return Credentials(
        access_token=issuer.token("patient", patient_id=PATIENT),
        access_expires_at=time.time() + seconds,
        refresh_token="refresh-0",
        account_id=str(uuid.uuid4()),
        roles=("patient",),
        patient_id=str(PATIENT),
        practitioner_id=None,
        clinic_id=None,
    )


def test_requests_racing_near_expiry_refresh_once_and_all_stay_signed_in(
    app: Flask, issuer: TestIssuer, scheduling: Scheduling
) -> None:
    first = app.test_client()
    # Inside the refresh margin (30 s), yet far enough from expiry that a busy machine's slow test cannot
    # outlive the token (it did at 5 s).
    sign_in(first, expiring(issuer, seconds=20))
    cookie = first.get_cookie("ims_session")
    assert cookie is not None
    statuses: list[int] = []

    def visit() -> None:
        client = app.test_client()
        client.set_cookie("ims_session", cookie.value)
        statuses.append(client.get("/").status_code)

    threads = [threading.Thread(target=visit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [200] * 8  # nobody was sent to sign in
    assert scheduling.refreshes == 1
    assert not scheduling.revoked
    store = app.extensions["web.store"]
    stored = store.load(CREDENTIALS_PREFIX + cookie.value)
    assert stored["refresh_token"] == "refresh-1"


def test_a_refused_refresh_ends_the_session_with_a_sentence(
    app: Flask, issuer: TestIssuer, scheduling: Scheduling
) -> None:
    scheduling.revoked = True
    client = app.test_client()
    sign_in(client, expiring(issuer, seconds=5))
    response = client.get("/", follow_redirects=True)
    assert "Your session has ended. Please sign in again." in response.get_data(as_text=True)
    assert client.get("/").status_code == 302  # signed out for good


def test_a_paused_sign_in_says_so_next_to_the_e_mail_and_how_to_get_in_now(
    tmp_path: Path, issuer: TestIssuer
) -> None:
    paused = ApiError(429, "Too Many Requests", "locked", body={"reason": "account_locked"})
    scheduling = FakeApi("scheduling", {("POST", "/auth/token"): paused, ("GET", "/clinics"): []})
    settings = WebSettings.from_env(
        {"WEB_SECRET_KEY": "k" * 40, "VAR_DIR": str(tmp_path), "LOG_LEVEL": "ERROR"}
    )
    apis = Apis(scheduling=scheduling, billing=scheduling, notifications=scheduling)  # type: ignore[arg-type]
    app = create_app(settings, apis=apis, store=SqliteStore(tmp_path / "s.db"), verifier=issuer.verifier())
    app.config.update(WTF_CSRF_ENABLED=False, TESTING=True)
    for language, words in (("en", "signing in is paused"), ("fr", "la connexion est suspendue")):
        client = app.test_client()
        with client.session_transaction() as session:
            session["language"] = language
        page = client.post("/login", data={"email": "ana@example.test", "password": "whatever it is"})
        assert page.status_code == 200  # the form again, not an error page
        assert words in page.get_data(as_text=True)
