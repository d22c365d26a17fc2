"""Test support: fake service APIs and a Flask test client signed in without the sign-in form."""

from __future__ import annotations

import json as jsonlib
import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
from flask import Flask
from flask.testing import FlaskClient

from web.adapters.sessions import SqliteStore
from web.config import WebSettings
from web.entrypoints import signin
from web.entrypoints.app import create_app
from web.service_layer.accounts import Credentials
from web.service_layer.ports import ApiError, Apis


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

    def sent(self, method: str) -> list[tuple[str, Any]]:
        """Each (path, body) sent with ``method``, in order."""
        return [(path, body) for m, path, body, _ in self.calls if m == method]


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


def patient_names_route(
    clinic_id: str,
    patients: dict[str, tuple[str, str]],
    booked: Callable[[], Iterable[Mapping[str, Any]]] | None = None,
) -> dict[tuple[str, str], Route]:
    """Scheduling's ``GET /clinics/{id}/patients/names`` for a fake: which of those asked it names, by id or
    booked in a window (those of ``booked()``'s appointments here in it; without ``booked``, all it knows)."""

    def answer(params: Any, **_: Any) -> list[dict[str, str]]:
        if "id" in params:
            asked: Iterable[str] = params["id"]
        elif booked is None:
            asked = patients
        else:
            start, end = (datetime.fromisoformat(params[k]) for k in ("booked_from", "booked_before"))
            asked = {
                str(a["patient_id"])
                for a in booked()
                if a.get("clinic_id") == clinic_id and start <= datetime.fromisoformat(a["starts_at"]) < end
            }
        return [
            {"id": patient_id, "first_name": patients[patient_id][0], "last_name": patients[patient_id][1]}
            for patient_id in sorted(asked)
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


def app_over_fakes(
    var_dir: Path,
    *,
    scheduling: FakeApi | None = None,
    billing: FakeApi | None = None,
    notifications: FakeApi | None = None,
) -> Flask:
    """The web front over fake APIs (a new one for each not given), its sessions in ``var_dir``, no CSRF."""
    settings = WebSettings.from_env(
        {"WEB_SECRET_KEY": "k" * 40, "VAR_DIR": str(var_dir), "LOG_LEVEL": "ERROR"}
    )
    app = create_app(
        settings,
        apis=Apis(
            scheduling=scheduling or FakeApi("scheduling"),
            billing=billing or FakeApi("billing"),
            notifications=notifications or FakeApi("notifications"),
        ),
        store=SqliteStore(var_dir / "sessions.db"),
    )
    app.config.update(WTF_CSRF_ENABLED=False, TESTING=True)
    return app


def staff_credentials(
    roles: list[str] | tuple[str, ...],
    clinic_id: str | None,
    *,
    account_id: str | None = None,
    patient_id: str | None = None,
    practitioner_id: str | None = None,
) -> Credentials:
    """A signed-in staff member (or, with the role "patient", a patient) whose token the fakes accept."""
    return Credentials(
        access_token="token",  # noqa: S106 - a fake's token, not a secret
        access_expires_at=time.time() + 3600,
        refresh_token=None,
        account_id=account_id or str(uuid.uuid4()),
        roles=tuple(roles),
        patient_id=patient_id,
        practitioner_id=practitioner_id,
        clinic_id=clinic_id,
    )


def clinic_body(clinic_id: str) -> dict[str, Any]:
    """Scheduling's ``GET /clinics/{id}`` for a fake: the Vancouver IMS clinic and its booking policy."""
    return {
        "id": clinic_id,
        "name": "Vancouver IMS",
        "timezone": "America/Vancouver",
        "currency": "CAD",
        "min_notice_minutes": 120,
        "horizon_days": 90,
        "slot_step_minutes": 15,
    }


class PageClient(SimpleNamespace):
    """A test client's pages: ``page`` GETs one expecting ``status``; ``post`` sends a form likewise."""

    app: Flask
    client: FlaskClient

    def page(self, path: str, status: int = 200) -> str:
        response = self.client.get(path)
        assert response.status_code == status, (response.status_code, response.location)
        return response.get_data(as_text=True)

    def post(self, path: str, data: dict[str, str], status: int = 303) -> Any:
        response = self.client.post(path, data=data)
        assert response.status_code == status, response.get_data(as_text=True)[:3000]
        return response


def error_beside(html: str, field: str) -> str:
    """The error message shown beside a form field (``macros/forms.html``)."""
    found = re.search(rf'id="{field}-error"><span class="visually-hidden">[^<]*</span> ([^<]*)</p>', html)
    assert found, f"no error beside {field}"
    return found.group(1)
