"""Your data: the access log in words, the download of the three exports as one file (null for a service
that holds nothing, an error sentence and no file when one cannot answer), and erasing the account."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from web.adapters.sessions import SqliteStore
from web.config import WebSettings
from web.domain.privacy import describe_access, describe_log, export_document, export_filename
from web.entrypoints.app import create_app
from web.service_layer import privacy
from web.service_layer.ports import ApiError, Apis, Unavailable
from web.testing import FakeApi, patient_credentials, sign_in

PATIENT = "6f9a4a1e-0000-4000-8000-000000000001"
CLINIC = "c1a1c000-0000-4000-8000-000000000001"
ACTOR = "acc0acc0-0000-4000-8000-000000000009"
EMAIL = "paule@example.test"

LOG = [
    {
        "id": "l1",
        "patient_id": PATIENT,
        "actor_account_id": ACTOR,
        "actor_clinic_id": CLINIC,
        "action": "read",
        "resource": "patient",
        "at": "2026-03-09T17:30:00+00:00",
    },
    {
        "id": "l2",
        "patient_id": PATIENT,
        "actor_account_id": ACTOR,
        "actor_clinic_id": None,
        "action": "change",
        "resource": "patient",
        "at": "2026-03-10T18:05:00+00:00",
    },
]


def scheduling_export(log: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "patient": {"id": PATIENT, "first_name": "Paule", "last_name": "Tremblay"},
        "account_email": EMAIL,
        "appointments": [],
        "waitlist_entries": [],
        "access_log": LOG if log is None else log,
    }


def fakes(
    billing: Any = None, notifications: Any = None, erase: Any = None, log: list[dict[str, Any]] | None = None
) -> Apis:
    scheduling_routes: dict[tuple[str, str], Any] = {
        ("GET", f"/patients/{PATIENT}/export"): scheduling_export(log),
        ("GET", f"/clinics/{CLINIC}"): {"id": CLINIC, "name": "Kits", "timezone": "America/Toronto"},
        ("GET", "/clinics"): [],
    }
    if erase is not None:
        scheduling_routes[("DELETE", f"/patients/{PATIENT}")] = erase
    billing_routes = {} if billing is None else {("GET", f"/patients/{PATIENT}/export"): billing}
    notification_routes = (
        {} if notifications is None else {("GET", f"/contacts/{PATIENT}/export"): notifications}
    )
    return Apis(
        scheduling=FakeApi("scheduling", scheduling_routes),
        billing=FakeApi("billing", billing_routes),
        notifications=FakeApi("notifications", notification_routes),
    )


@pytest.fixture
def app_for(tmp_path: Path) -> Callable[..., FlaskClient]:
    def build(fake: Apis, language: str = "en") -> FlaskClient:
        settings = WebSettings.from_env(
            {"WEB_SECRET_KEY": "unit-test-secret-key-0123456789abcdef", "VAR_DIR": str(tmp_path)}
        )
        app = create_app(settings, apis=fake, store=SqliteStore(tmp_path / "sessions.db"))
        app.config.update(WTF_CSRF_ENABLED=False, TESTING=True)
        client = app.test_client()
        sign_in(client, patient_credentials(PATIENT))
        with client.session_transaction() as session:
            session["language"] = language
        return client

    return build


# --- rules -----------------------------------------------------------------------------------------------


def test_an_access_is_described_without_ids_in_its_clinics_zone() -> None:
    access = describe_access(LOG[0], {CLINIC: "America/Toronto"}, "America/Vancouver")
    assert access.what == "read:patient"
    assert not access.by_organisation
    assert access.zone == "America/Toronto"
    organisation = describe_access(LOG[1], {}, "America/Vancouver")
    assert organisation.by_organisation
    assert organisation.zone == "America/Vancouver"
    assert organisation.what == "change:patient"


def test_unknown_actions_and_resources_read_plainly() -> None:
    entry = LOG[0] | {"action": "print", "resource": "x"}
    assert describe_access(entry, {}, "UTC").what == "other"
    assert describe_access(LOG[0] | {"resource": "plan"}, {}, "UTC").what == "read:record"


def test_the_log_is_newest_first() -> None:
    described = describe_log(LOG, {}, "UTC")
    assert [a.at for a in described] == [
        datetime.fromisoformat(LOG[1]["at"]),
        datetime.fromisoformat(LOG[0]["at"]),
    ]


def test_the_document_has_one_part_per_service() -> None:
    assert export_document({"scheduling": {"a": 1}}) == {
        "scheduling": {"a": 1},
        "billing": None,
        "notifications": None,
    }
    assert export_filename(date(2026, 3, 9)) == "my-data-2026-03-09.json"


# --- the page --------------------------------------------------------------------------------------------


def test_the_page_explains_and_lists_who_looked_in_words(app_for: Callable[..., FlaskClient]) -> None:
    response = app_for(fakes()).get("/your-data")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<h1>Your data</h1>" in html
    assert "as long as the law requires" in html
    assert "Who looked at your record" in html
    assert "Clinic staff" in html
    assert "Organisation staff" in html
    assert "Looked at your personal details" in html
    assert "Changed your personal details" in html
    html = html.replace("\u202f", " ").replace("\xa0", " ")  # Babel's narrow spaces in times
    assert "Mar 9, 2026, 1:30 p.m. EDT" in html  # the clinic's zone (Toronto)
    assert "Mar 10, 2026, 11:05 a.m. PDT" in html  # organisation staff: the clinics' usual zone
    assert ACTOR not in html
    assert CLINIC not in html
    assert 'href="/your-data/download"' in html
    assert 'href="/your-data/erase"' in html


def test_the_page_is_in_the_navigation_and_in_french(app_for: Callable[..., FlaskClient]) -> None:
    client = app_for(fakes(log=[]), language="fr")
    html = client.get("/your-data").get_data(as_text=True)
    assert "Vos données" in html
    assert "Personne à la clinique n'a encore consulté votre dossier." in html
    assert 'href="/your-data" aria-current="page"' in html


def test_signed_out_people_are_sent_to_sign_in(tmp_path: Path) -> None:
    settings = WebSettings.from_env(
        {"WEB_SECRET_KEY": "unit-test-secret-key-0123456789abcdef", "VAR_DIR": str(tmp_path)}
    )
    app = create_app(settings, apis=fakes(), store=SqliteStore(tmp_path / "s.db"))
    response = app.test_client().get("/your-data/download")
    assert response.status_code == 303
    assert "/login" in response.headers["Location"]


# --- the download ----------------------------------------------------------------------------------------


def test_the_download_is_one_json_attachment_of_the_three_exports(
    app_for: Callable[..., FlaskClient],
) -> None:
    fake = fakes(billing={"invoices": [{"number": "KIT-1"}]}, notifications={"contact": {"email": EMAIL}})
    response = app_for(fake).get("/your-data/download")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="my-data-')
    assert disposition.endswith('.json"')
    assert response.headers["Cache-Control"] == "no-store"
    document = json.loads(response.get_data())
    assert list(document) == ["scheduling", "billing", "notifications"]
    assert document["scheduling"]["account_email"] == EMAIL
    assert document["billing"] == {"invoices": [{"number": "KIT-1"}]}
    assert document["notifications"] == {"contact": {"email": EMAIL}}


def test_a_service_that_knows_nothing_of_the_patient_gives_null(app_for: Callable[..., FlaskClient]) -> None:
    response = app_for(fakes()).get("/your-data/download")  # billing and notifications answer 404
    assert response.status_code == 200
    document = json.loads(response.get_data())
    assert document["billing"] is None
    assert document["notifications"] is None
    assert document["scheduling"]["patient"]["id"] == PATIENT


@pytest.mark.parametrize("failure", [Unavailable("billing"), ApiError(405, "Method Not Allowed")])
def test_a_service_that_cannot_answer_gives_a_sentence_not_a_partial_file(
    app_for: Callable[..., FlaskClient], failure: Exception
) -> None:
    response = app_for(fakes(billing=failure, notifications={})).get("/your-data/download")
    assert response.status_code == 503
    assert "Content-Disposition" not in response.headers
    html = response.get_data(as_text=True)
    assert "Billing could not be reached; try again in a few minutes." in html
    assert "Who looked at your record" in html  # the page is still there, with its buttons


def test_the_download_fails_with_the_service_named_in_the_service_layer() -> None:
    with pytest.raises(privacy.ExportFailed) as failed:
        privacy.download(
            fakes(notifications=Unavailable("notifications")), patient_credentials(PATIENT), date.today()
        )
    assert failed.value.service == "notifications"


# --- erasing ---------------------------------------------------------------------------------------------


def test_the_confirmation_page_says_what_goes_and_what_stays(app_for: Callable[..., FlaskClient]) -> None:
    html = app_for(fakes()).get("/your-data/erase").get_data(as_text=True)
    assert "What we erase" in html
    assert "What we keep" in html
    assert "This cannot be undone." in html
    assert 'name="confirm" type="checkbox"' in html
    assert 'name="csrf_token"' in html


def test_erasing_needs_the_box_ticked(app_for: Callable[..., FlaskClient]) -> None:
    fake = fakes(erase=None)
    response = app_for(fake).post("/your-data/erase", data={})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Tick the box to confirm you want your account erased" in html
    assert "<title>Error:" in html
    assert not [c for c in fake.scheduling.calls if c[0] == "DELETE"]  # type: ignore[attr-defined]


def test_erased_signs_out_and_says_so(app_for: Callable[..., FlaskClient]) -> None:
    fake = fakes(erase=None)
    fake.scheduling.routes[("DELETE", f"/patients/{PATIENT}")] = lambda **_: None  # type: ignore[attr-defined]
    client = app_for(fake)
    response = client.post("/your-data/erase", data={"confirm": "true"})
    assert response.status_code == 303
    assert ("DELETE", f"/patients/{PATIENT}", None, None) in fake.scheduling.calls  # type: ignore[attr-defined]
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Your account has been erased" in html
    assert "Sign out" not in html  # signed out here too
    after = client.get("/your-data")
    assert after.status_code == 303
    assert "/login" in after.headers["Location"]


def test_upcoming_appointments_are_named_beside_the_button(app_for: Callable[..., FlaskClient]) -> None:
    sentence = "Cancel your 2 upcoming appointments before erasing your data."
    refused = ApiError(422, "Unprocessable Entity", fields={"patient_id": sentence})
    client = app_for(fakes(erase=refused))
    response = client.post("/your-data/erase", data={"confirm": "true"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert sentence in html
    assert 'href="/appointments"' in html
    assert client.get("/your-data").status_code == 200  # still signed in
