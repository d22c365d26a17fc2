"""The preferences page: channels, language (the portal's too), promotional consent, the one-click stop to
texts, and the consent given at sign-up recorded once."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from web.adapters.sessions import SqliteStore
from web.config import WebSettings
from web.domain.preferences import Choices, from_api, pending_choices
from web.domain.preferences import chosen as chosen_from
from web.entrypoints.app import create_app
from web.service_layer import preferences
from web.service_layer.accounts import Credentials
from web.service_layer.ports import ApiError, Apis, Unavailable
from web.testing import sign_in

PATIENT = "6f9a4a1e-0000-4000-8000-000000000001"
PREFS = f"/contacts/{PATIENT}/preferences"


class FakeApi:
    """One service's API answering from a table of (method, path) -> body; anything else is a 404."""

    def __init__(self, name: str, routes: dict[tuple[str, str], Any] | None = None) -> None:
        self.name = name
        self.routes = routes or {}
        self.calls: list[tuple[str, str, Any]] = []

    def request(self, method: str, path: str, *, token: str | None = None, json: Any = None, **_: Any) -> Any:
        self.calls.append((method, path, json))
        answer = self.routes.get((method, path))
        if answer is None:
            raise ApiError(404, "Not Found")
        if isinstance(answer, Exception):
            raise answer
        return answer(json) if callable(answer) else answer

    def get(self, path: str, *, token: str | None = None, params: Any = None) -> Any:
        return self.request("GET", path, token=token)

    def post(self, path: str, *, token: str | None = None, json: Any = None, headers: Any = None) -> Any:
        return self.request("POST", path, token=token, json=json)

    def put(self, path: str, *, token: str | None = None, json: Any = None) -> Any:
        return self.request("PUT", path, token=token, json=json)

    def patch(self, path: str, *, token: str | None = None, json: Any = None) -> Any:
        return self.request("PATCH", path, token=token, json=json)


class Notifications(FakeApi):
    """Notifications holding one patient's choices, as its API would."""

    def __init__(self, known: bool = True) -> None:
        super().__init__("notifications")
        self.known = known
        self.state = {"email": True, "sms_opted_out_at": None, "promotional": False, "language": "en"}
        self.routes[("GET", PREFS)] = self._get
        self.routes[("PUT", PREFS)] = self._put

    def _get(self, _: Any) -> dict[str, Any]:
        if not self.known:
            raise ApiError(404, "Not Found")
        return dict(self.state)

    def _put(self, body: dict[str, Any]) -> dict[str, Any] | None:
        self.state.update(
            email=body["email"],
            promotional=body["promotional"],
            sms_opted_out_at=None if body["sms"] else "2026-02-05T18:00:00+00:00",
        )
        return dict(self.state) if self.known else None

    @property
    def puts(self) -> list[dict[str, Any]]:
        return [body for method, _, body in self.calls if method == "PUT"]


def box(html: str, name: str) -> str:
    """The <input> tag of the form field ``name`` (checkbox or first radio)."""
    match = re.search(rf'<input[^>]*\bid="{name}"[^>]*>', html)
    assert match, f"no field {name}"
    return match.group(0)


def scheduling(phone: str | None = "+16045550142", language: str = "en") -> FakeApi:
    patient = {"id": PATIENT, "phone": phone, "language": language}

    def patch(body: dict[str, Any]) -> dict[str, Any]:
        patient.update(body)
        return patient

    return FakeApi(
        "scheduling",
        {("GET", f"/patients/{PATIENT}"): lambda _: dict(patient), ("PATCH", f"/patients/{PATIENT}"): patch},
    )


def credentials() -> Credentials:
    return Credentials(
        access_token="token",
        access_expires_at=time.time() + 3600,
        refresh_token=None,
        account_id="account",
        roles=("patient",),
        patient_id=PATIENT,
        practitioner_id=None,
        clinic_id=None,
    )


def apis(notifications: FakeApi | None = None, **patient: Any) -> Apis:
    return Apis(
        scheduling=scheduling(**patient),
        billing=FakeApi("billing"),
        notifications=notifications or Notifications(),
    )


# --- rules -----------------------------------------------------------------------------------------------


def test_the_sms_choice_is_kept_when_the_page_had_no_sms_box() -> None:
    current = from_api(
        {"email": True, "sms_opted_out_at": None, "language": "en", "promotional": False}, None
    )
    assert not current.has_mobile
    assert not current.texts_on
    kept = chosen_from(current, email=False, sms=None, language="fr", promotional=True)
    assert kept == Choices(email=False, sms=True, language="fr", promotional=True)
    assert current.no_channel is False  # e-mail is on


def test_stopped_texts_and_no_email_mean_no_channel() -> None:
    body = {
        "email": False,
        "sms_opted_out_at": "2026-02-05T18:00:00+00:00",
        "language": "en",
        "promotional": False,
    }
    current = from_api(body, "+16045550142")
    assert current.sms_stopped
    assert not current.texts_on
    assert current.no_channel


def test_sign_up_consent_reads_as_choices() -> None:
    assert pending_choices({"email": True, "sms": False}) == Choices(True, False, "", False)
    assert pending_choices(None) is None


# --- the sign-up consent ---------------------------------------------------------------------------------


def test_sign_up_consent_is_put_with_the_registered_language() -> None:
    notifications = Notifications(known=False)
    assert preferences.apply_pending_consent(
        apis(notifications), credentials(), {"email": True, "sms": False}
    )
    assert notifications.puts == [{"email": True, "sms": False, "language": None, "promotional": False}]


@pytest.mark.parametrize(
    "failure", [ApiError(404, "Not Found"), ApiError(503, "x"), Unavailable("notifications")]
)
def test_sign_up_consent_is_kept_for_later_when_notifications_cannot_take_it(failure: Exception) -> None:
    notifications = FakeApi("notifications", {("PUT", PREFS): failure})
    assert not preferences.apply_pending_consent(
        apis(notifications), credentials(), {"email": True, "sms": True}
    )


def test_nothing_pending_is_nothing_to_do() -> None:
    notifications = Notifications()
    assert preferences.apply_pending_consent(apis(notifications), credentials(), None)
    assert notifications.calls == []


# --- the page --------------------------------------------------------------------------------------------


@pytest.fixture
def app_for(tmp_path: Path) -> Callable[..., FlaskClient]:
    def build(fake: Apis, **session_values: Any) -> FlaskClient:
        settings = WebSettings.from_env(
            {"WEB_SECRET_KEY": "unit-test-secret-key-0123456789abcdef", "VAR_DIR": str(tmp_path)}
        )
        app = create_app(settings, apis=fake, store=SqliteStore(tmp_path / "sessions.db"))
        app.config.update(WTF_CSRF_ENABLED=False, TESTING=True)
        client = app.test_client()
        sign_in(client, credentials())
        with client.session_transaction() as session:
            session["language"] = "en"
            session.update(session_values)
        return client

    return build


FORM = {"email": "true", "sms": "true", "language": "en"}


def test_the_page_shows_the_choices_and_the_one_click_stop(app_for: Callable[..., FlaskClient]) -> None:
    html = app_for(apis()).get("/preferences").get_data(as_text=True)
    assert "checked" in box(html, "email")
    assert "checked" in box(html, "sms")
    assert "checked" not in box(html, "promotional")  # express consent: off until the patient ticks it
    assert "checked" in box(html, "language")
    assert 'value="en"' in box(html, "language")
    assert "+1 604-555-0142" in html
    assert "Stop all text messages" in html


def test_saving_redirects_to_the_page_with_a_notice(app_for: Callable[..., FlaskClient]) -> None:
    notifications = Notifications()
    client = app_for(apis(notifications))
    response = client.post("/preferences", data=FORM | {"promotional": "true"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/preferences?saved=1")
    assert notifications.puts == [{"email": True, "sms": True, "language": None, "promotional": True}]
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your preferences are saved." in html


def test_unticked_boxes_are_a_no(app_for: Callable[..., FlaskClient]) -> None:
    notifications = Notifications()
    app_for(apis(notifications)).post("/preferences", data={"language": "en"})
    assert notifications.puts == [{"email": False, "sms": False, "language": None, "promotional": False}]


def test_a_new_language_is_the_patients_in_scheduling_and_the_portals(
    app_for: Callable[..., FlaskClient],
) -> None:
    fake = apis()
    client = app_for(fake)
    response = client.post("/preferences", data=FORM | {"language": "fr"})
    assert response.status_code == 303
    assert ("PATCH", f"/patients/{PATIENT}", {"language": "fr"}) in fake.scheduling.calls  # type: ignore[attr-defined]
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert '<html lang="fr">' in html
    assert "Vos préférences sont enregistrées." in html
    assert "checked" in box(html, "language-fr")


def test_the_same_language_is_not_sent_to_scheduling_again(app_for: Callable[..., FlaskClient]) -> None:
    fake = apis()
    app_for(fake).post("/preferences", data=FORM)
    assert not [c for c in fake.scheduling.calls if c[0] == "PATCH"]  # type: ignore[attr-defined]


def test_a_missing_language_is_answered_beside_the_field(app_for: Callable[..., FlaskClient]) -> None:
    notifications = Notifications()
    response = app_for(apis(notifications)).post("/preferences", data={"email": "true", "language": "de"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<title>Error: Preferences" in html
    assert 'id="language-error"' in html
    assert "Choose English or French" in html
    assert 'href="#language"' in html
    assert notifications.puts == []


def test_one_click_stops_texts_and_keeps_the_rest(app_for: Callable[..., FlaskClient]) -> None:
    notifications = Notifications()
    notifications.state["promotional"] = True
    client = app_for(apis(notifications))
    response = client.post("/preferences/stop-texts")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/preferences?saved=texts")
    assert notifications.puts == [{"email": True, "sms": False, "language": None, "promotional": True}]
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Text messages are stopped. Your preferences are saved." in html
    assert "Stop all text messages" not in html
    assert "checked" not in box(html, "sms")


def test_without_a_mobile_number_the_sms_choice_is_left_alone(app_for: Callable[..., FlaskClient]) -> None:
    notifications = Notifications()
    client = app_for(apis(notifications, phone=None))
    html = client.get("/preferences").get_data(as_text=True)
    assert "We have no mobile number for you" in html
    assert 'name="sms"' not in html
    assert "Stop all text messages" not in html
    client.post("/preferences", data={"email": "true", "language": "en"})
    assert notifications.puts[-1]["sms"] is True


def test_the_page_records_the_sign_up_consent_once(app_for: Callable[..., FlaskClient]) -> None:
    notifications = Notifications()
    client = app_for(apis(notifications), pending_consent={"email": True, "sms": False})
    client.get("/preferences")
    client.get("/preferences")
    assert notifications.puts == [{"email": True, "sms": False, "language": None, "promotional": False}]
    with client.session_transaction() as session:
        assert "pending_consent" not in session


def test_before_notifications_knows_the_patient_the_page_says_to_wait(
    app_for: Callable[..., FlaskClient],
) -> None:
    notifications = Notifications(known=False)
    client = app_for(apis(notifications), pending_consent={"email": True, "sms": True})
    html = client.get("/preferences").get_data(as_text=True)
    assert "We are still setting up your account." in html
    with client.session_transaction() as session:
        assert "pending_consent" not in session  # notifications took it (202) all the same
    assert client.post("/preferences/stop-texts").status_code == 200
    assert len(notifications.puts) == 1
