"""The clinic's waitlist for the front desk over fake APIs: who may open it, what each entry shows (patient,
treatment, practitioner or any, the window, a held time and its expiry, in the clinic's zone)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from web.adapters.sessions import SqliteStore
from web.config import WebSettings
from web.entrypoints.app import create_app
from web.service_layer.accounts import Credentials
from web.service_layer.ports import Apis
from web.testing import FakeApi, patient_credentials, patient_names_route, sign_in, staff_credentials

CLINIC, OTHER_CLINIC, ASSESS = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
IDA, ANA, BO, CY, HOLD = (str(uuid.uuid4()) for _ in range(5))
NOW = datetime.now(UTC)


def staff(roles: tuple[str, ...] = ("front_desk",), clinic_id: str | None = CLINIC) -> Credentials:
    return staff_credentials(roles, clinic_id)


def entry(patient_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "clinic_id": CLINIC,
        "patient_id": patient_id,
        "treatment_type_id": ASSESS,
        "practitioner_id": None,
        "not_before": (NOW + timedelta(days=1)).isoformat(),
        "not_after": (NOW + timedelta(days=6)).isoformat(),
        "created_at": (NOW - timedelta(days=2)).isoformat(),
        "status": "waiting",
        "offer_appointment_id": None,
        "offer_expires_at": None,
        "appointment_id": None,
    } | extra


@pytest.fixture
def scheduling() -> FakeApi:
    held_at = NOW + timedelta(days=2)
    return FakeApi(
        "scheduling",
        {
            ("GET", f"/clinics/{CLINIC}"): {
                "id": CLINIC,
                "name": "Vancouver IMS",
                "timezone": "America/Vancouver",
            },
            ("GET", f"/clinics/{CLINIC}/practitioners"): [{"id": IDA, "display_name": "Ida Needham"}],
            ("GET", f"/clinics/{CLINIC}/treatment-types"): [{"id": ASSESS, "name": "IMS assessment"}],
            ("GET", "/waitlist"): [
                entry(ANA),
                entry(
                    BO,
                    practitioner_id=IDA,
                    status="offered",
                    offer_appointment_id=HOLD,
                    offer_expires_at=(NOW + timedelta(minutes=20)).isoformat(),
                    appointment_id=str(uuid.uuid4()),
                ),
                entry(CY, status="withdrawn"),
                entry(ANA, clinic_id=OTHER_CLINIC),
            ],
            ("GET", f"/appointments/{HOLD}"): {
                "id": HOLD,
                "practitioner_id": IDA,
                "starts_at": held_at.isoformat(),
                "status": "proposed",
            },
            **patient_names_route(CLINIC, {ANA: ("Ana", "Li"), BO: ("Bo", "Chan")}),
        },
    )


def client_for(tmp_path: Path, scheduling: FakeApi, signed: Credentials | None) -> FlaskClient:
    settings = WebSettings.from_env({"WEB_SECRET_KEY": "k" * 40, "VAR_DIR": str(tmp_path)})
    apis = Apis(scheduling=scheduling, billing=FakeApi("billing"), notifications=FakeApi("notifications"))
    app = create_app(settings, apis=apis, store=SqliteStore(tmp_path / "sessions.db"))
    app.config.update(WTF_CSRF_ENABLED=False, TESTING=True)
    client = app.test_client()
    if signed is not None:
        sign_in(client, signed)
    return client


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("\u202f", " ")


def row_of(html: str, name: str) -> str:
    return text_of(next(row for row in html.split('<tr id="entry-') if name in row).split("</tr>")[0])


def test_only_the_desk_and_admins_read_the_waitlist(tmp_path: Path, scheduling: FakeApi) -> None:
    def status(signed: Credentials | None) -> int:
        return client_for(tmp_path, scheduling, signed).get("/staff/waitlist").status_code

    assert status(None) == 303
    assert status(patient_credentials(ANA)) == 403
    assert status(staff(("practitioner",))) == 403
    assert status(staff(("billing",))) == 403
    admin = client_for(tmp_path, scheduling, staff(("admin",)))
    html = admin.get("/staff/waitlist").get_data(as_text=True)
    assert 'href="/staff/waitlist"' in html  # in the navigation
    assert ">Waitlist</a>" in html


def test_each_entry_says_what_the_patient_wants_and_any_time_held_for_them(
    tmp_path: Path, scheduling: FakeApi
) -> None:
    html = client_for(tmp_path, scheduling, staff()).get("/staff/waitlist").get_data(as_text=True)
    page = text_of(html)
    assert "Vancouver IMS" in page
    assert "Times in Pacific Time." in page
    assert html.count('<tr id="entry-') == 2  # the withdrawn entry and another clinic's are not listed
    ana = row_of(html, "Ana Li")
    assert "IMS assessment" in ana
    assert "Any qualified practitioner" in ana
    assert "Waiting" in ana
    assert " and " in ana  # the window, from and to
    bo = row_of(html, "Bo Chan")
    assert "Ida Needham" in bo
    assert "Time held" in bo
    assert "Held until" in bo
    assert "PST" in bo or "PDT" in bo  # in the clinic's zone
    assert "Moves their booked appointment" in bo
    assert "1 earlier entry was taken, lapsed or withdrawn: not listed." in page
    assert html.index("Ana Li") < html.index("Bo Chan")  # the earliest asked first


def test_an_empty_waitlist_says_so_in_french(tmp_path: Path, scheduling: FakeApi) -> None:
    scheduling.routes[("GET", "/waitlist")] = []
    client = client_for(tmp_path, scheduling, staff())
    with client.session_transaction() as session:
        session["language"] = "fr"
    page = text_of(client.get("/staff/waitlist").get_data(as_text=True))
    assert "Liste d\u2019attente" in page
    assert "Personne n\u2019attend une heure plus tôt." in page


def test_organisation_wide_staff_pick_a_clinic_first(tmp_path: Path, scheduling: FakeApi) -> None:
    scheduling.routes[("GET", "/clinics")] = [
        {"id": CLINIC, "name": "Vancouver IMS"},
        {"id": OTHER_CLINIC, "name": "Burnaby IMS"},
    ]
    client = client_for(tmp_path, scheduling, staff(("admin",), clinic_id=None))
    choose = client.get("/staff/waitlist").get_data(as_text=True)
    assert f'href="/staff/waitlist?clinic={CLINIC}"' in choose
    html = client.get(f"/staff/waitlist?clinic={CLINIC}").get_data(as_text=True)
    assert html.count('<tr id="entry-') == 2
