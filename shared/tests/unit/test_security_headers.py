"""Every API response carries the security headers; patient data and tokens are never cached."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from clinic_shared.testing.tokens import TestIssuer
from clinic_shared.web.app import create_service_app
from clinic_shared.web.auth import public
from clinic_shared.web.request_limits import Blueprint


@pytest.fixture
def app() -> Flask:
    app, api = create_service_app(
        __name__, title="t", version="1", verifier=TestIssuer().verifier(), readiness={}
    )
    blp = Blueprint("things", __name__)

    @blp.route("/token", methods=["POST"])
    @public
    def token() -> dict[str, Any]:
        return {"access_token": "secret"}

    @blp.route("/keys", methods=["GET"])
    @public
    def keys() -> Any:
        return {"keys": []}, 200, {"Cache-Control": "public, max-age=300"}

    api.register_blueprint(blp)
    return app


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/token"),
        ("GET", "/healthz"),
        ("GET", "/openapi.json"),
        ("GET", "/missing"),
        ("GET", "/docs"),
    ],
)
def test_every_response_carries_the_security_headers(app: Flask, method: str, path: str) -> None:
    headers = app.test_client().open(path, method=method).headers
    assert headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]


def test_json_answers_may_run_nothing_and_the_docs_page_only_its_own_scripts(app: Flask) -> None:
    client = app.test_client()
    assert client.post("/token").headers["Content-Security-Policy"].startswith("default-src 'none'")
    docs = client.get("/docs")
    policy = docs.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src" not in policy  # scripts fall back to default-src 'self'
    assert "<script>" not in docs.get_data(as_text=True)  # no inline script for the policy to forbid
    assert client.get("/docs/start.js").status_code == 200


def test_a_view_may_allow_caching_of_what_is_not_private(app: Flask) -> None:
    assert app.test_client().get("/keys").headers["Cache-Control"] == "public, max-age=300"
