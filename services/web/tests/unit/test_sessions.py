"""The server-side session store: sessions shared by processes, expiry, and each form accepted once."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from flask import Flask, session

from web.adapters.sessions import ServerSessionInterface, SqliteStore


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> SqliteStore:
    return SqliteStore(tmp_path / "sessions.db", clock=clock)


def test_a_value_saved_by_one_process_is_read_by_another(tmp_path: Path, clock: Clock) -> None:
    SqliteStore(tmp_path / "s.db", clock=clock).save("k", {"a": 1}, 60)
    assert SqliteStore(tmp_path / "s.db", clock=clock).load("k") == {"a": 1}


def test_values_expire(store: SqliteStore, clock: Clock) -> None:
    store.save("k", {"a": 1}, 60)
    clock.now += 61
    assert store.load("k") is None


def test_claim_is_won_once_and_then_tells_what_the_winner_left(store: SqliteStore) -> None:
    assert store.claim("form:1", "", 60) is None
    assert store.claim("form:1", "", 60) == ""
    store.save("form:1", "/appointments/1", 60)
    assert store.claim("form:1", "", 60) == "/appointments/1"


def test_an_expired_claim_can_be_claimed_again(store: SqliteStore, clock: Clock) -> None:
    assert store.claim("form:1", "", 60) is None
    clock.now += 61
    assert store.claim("form:1", "", 60) is None


def test_many_threads_racing_for_one_form_token_let_exactly_one_through(tmp_path: Path) -> None:
    stores = [SqliteStore(tmp_path / "race.db") for _ in range(4)]  # as if four gunicorn workers
    winners: list[int] = []
    barrier = threading.Barrier(16)

    def attempt(index: int) -> None:
        barrier.wait()
        if stores[index % 4].claim("form:race", "", 60) is None:
            winners.append(index)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1


def make_app(store: SqliteStore) -> Flask:
    app = Flask(__name__)
    app.secret_key = "x" * 32
    app.session_interface = ServerSessionInterface(store, 3600)

    @app.get("/set")
    def set_value() -> str:
        session["who"] = "patient-1"
        return "ok"

    @app.get("/get")
    def get_value() -> str:
        return str(session.get("who"))

    @app.get("/sign-in")
    def sign_in() -> str:
        session.regenerate()  # type: ignore[attr-defined]
        session["who"] = "signed"
        return "ok"

    @app.get("/clear")
    def clear() -> str:
        session.clear()
        return "ok"

    return app


def test_the_cookie_holds_only_a_random_id_and_is_httponly_and_lax(store: SqliteStore) -> None:
    client = make_app(store).test_client()
    response = client.get("/set")
    cookie = response.headers["Set-Cookie"]
    assert "patient-1" not in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert client.get("/get").text == "patient-1"


def test_a_visit_that_stores_nothing_sets_no_cookie(store: SqliteStore) -> None:
    response = make_app(store).test_client().get("/get")
    assert "Set-Cookie" not in response.headers


def test_signing_in_gives_a_new_id_and_the_old_one_opens_nothing(store: SqliteStore) -> None:
    app = make_app(store)
    client = app.test_client()
    client.get("/set")
    before = client.get_cookie("session").value  # type: ignore[union-attr]
    client.get("/sign-in")
    after = client.get_cookie("session").value  # type: ignore[union-attr]
    assert before != after
    planted = app.test_client()
    planted.set_cookie("session", before)
    assert planted.get("/get").text == "None"


def test_clearing_the_session_deletes_it_and_the_cookie(store: SqliteStore) -> None:
    client = make_app(store).test_client()
    client.get("/set")
    sid = client.get_cookie("session").value  # type: ignore[union-attr]
    response = client.get("/clear")
    assert "session=;" in response.headers["Set-Cookie"]
    assert store.load(f"session:{sid}") is None
