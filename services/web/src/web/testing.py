"""Test support: fake service APIs and a Flask test client signed in without the sign-in form."""

from __future__ import annotations

import json as jsonlib
import re
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import httpx
from flask.testing import FlaskClient

from web.entrypoints import signin
from web.service_layer.accounts import Credentials
from web.service_layer.ports import ApiError


def sign_in(client: FlaskClient, credentials: Credentials) -> None:
    with client.session_transaction() as session:
        session["signed_in"] = True
        sid = session.sid  # type: ignore[attr-defined]
    with client.application.app_context():
        signin.store_credentials(sid, credentials)


Route = Callable[..., Any] | Any


class FakeApi:
    """One service's API answering from (method, path) -> body, or a callable of (json=, params=) giving
    it, or an exception to raise; anything else is a 404. Records every call."""

    def __init__(self, name: str, routes: dict[tuple[str, str], Route] | None = None) -> None:
        self.name = name
        self.routes = routes or {}
        self.calls: list[tuple[str, str, Any, Any]] = []

    def _answer(self, method: str, path: str, json: Any, params: Any) -> Any:
        self.calls.append((method, path, json, params))
        answer = self.routes.get((method, path))
        if answer is None:
            raise ApiError(404, "Not Found")
        if isinstance(answer, Exception):
            raise answer
        return answer(json=json, params=params) if callable(answer) else answer

    def request(self, method: str, path: str, *, token: Any = None, json: Any = None, params: Any = None,
                headers: Any = None) -> Any:  # fmt: skip
        body = self._answer(method, path, json, params)
        if isinstance(body, SimpleNamespace):
            return body
        return SimpleNamespace(json=lambda: body, headers={}, content=jsonlib.dumps(body).encode())

    def get(self, path: str, *, token: Any = None, params: Any = None) -> Any:
        return self._answer("GET", path, None, params)

    def post(self, path: str, *, token: Any = None, json: Any = None, headers: Any = None) -> Any:
        return self._answer("POST", path, json, None)

    def put(self, path: str, *, token: Any = None, json: Any = None) -> Any:
        return self._answer("PUT", path, json, None)

    def patch(self, path: str, *, token: Any = None, json: Any = None) -> Any:
        return self._answer("PATCH", path, json, None)

    def delete(self, path: str, *, token: Any = None) -> Any:
        return self._answer("DELETE", path, None, None)

    def posted(self, path: str) -> list[Any]:
        return [body for method, p, body, _ in self.calls if method == "POST" and p == path]


def patient_credentials(patient_id: str) -> Credentials:
    """A signed-in patient whose token the fakes accept."""
    return Credentials(
        access_token="token",  # noqa: S106 - a fake's token, not a secret
        access_expires_at=time.time() + 3600,
        refresh_token=None,
        account_id="account",
        roles=("patient",),
        patient_id=patient_id,
        practitioner_id=None,
        clinic_id=None,
    )


def patient_names_route(clinic_id: str, patients: dict[str, tuple[str, str]]) -> dict[tuple[str, str], Route]:
    """Scheduling's ``GET /clinics/{id}/patients/names`` for a fake: which of those asked it names."""

    def answer(params: Any, **_: Any) -> list[dict[str, str]]:
        return [
            {"id": patient_id, "first_name": patients[patient_id][0], "last_name": patients[patient_id][1]}
            for patient_id in params["id"]
            if patient_id in patients
        ]

    return {("GET", f"/clinics/{clinic_id}/patients/names"): answer}


def sign_in_over_http(client: httpx.Client, email: str, password: str) -> None:
    """Sign in to a running web front as a browser does (the form's CSRF token, then the session cookie)."""
    form = client.get("/login")
    found = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert found, "no CSRF token on the sign-in page"
    response = client.post(
        "/login", data={"csrf_token": found.group(1), "email": email, "password": password}
    )
    assert response.status_code == 200, f"sign-in: {response.status_code}"
    assert "/login" not in str(response.url), f"sign-in as {email} failed"
