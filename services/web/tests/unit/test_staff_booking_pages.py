"""The front desk books on a patient's behalf over fake APIs: who may, what each step offers and sends (the
patient named in every request), errors beside their fields, and forms accepted once."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient

from web.adapters.sessions import SqliteStore
from web.config import WebSettings
from web.entrypoints.app import create_app
from web.service_layer.accounts import Credentials
from web.service_layer.ports import Apis
from web.testing import FakeApi, patient_credentials, patient_names_route, sign_in, staff_credentials

VANCOUVER = ZoneInfo("America/Vancouver")
CLINIC, ASSESS, IMS = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
IDA, SAM, OLA = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
APPOINTMENT, PLAN = str(uuid.uuid4()), str(uuid.uuid4())
DAY = datetime.now(VANCOUVER).date() + timedelta(days=9)
FIRST = datetime(DAY.year, DAY.month, DAY.day, 10, tzinfo=VANCOUVER)


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def at(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def staff(roles: tuple[str, ...] = ("front_desk",)) -> Credentials:
    return staff_credentials(roles, CLINIC)


def visit(ident: str, starts: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "id": ident,
        "clinic_id": CLINIC,
        "patient_id": OLA,
        "practitioner_id": IDA,
        "treatment_type_id": ASSESS,
        "status": "booked",
        "starts_at": utc(starts),
        "ends_at": utc(starts + timedelta(hours=1)),
        "free_cancellation_until": utc(starts - timedelta(hours=24)),
        "plan_id": None,
        "room_id": None,
    } | extra


def preview(**_: Any) -> dict[str, Any]:
    def row(index: int, status: str = "free", alternatives: tuple[datetime, ...] = ()) -> dict[str, Any]:
        starts = FIRST + timedelta(weeks=index)
        return {
            "index": index,
            "local_date": starts.date().isoformat(),
            "status": status,
            "starts_at": utc(starts),
            "practitioner_id": IDA,
            "room_id": None,
            "alternatives": [
                {"kind": "same_practitioner", "practitioner_id": IDA, "starts_at": utc(a)}
                for a in alternatives
            ],
        }

    taken = FIRST + timedelta(weeks=1)
    return {
        "bookable": False,
        "sessions": [row(0), row(1, "taken", (taken - timedelta(minutes=30),)), row(2)],
    }


def fake_apis(*, cleared: bool = True) -> Apis:
    clinic = {"id": CLINIC, "name": "Vancouver IMS", "timezone": "America/Vancouver", "horizon_days": 180}

    def slots(params: dict[str, Any], **_: Any) -> list[dict[str, str]]:
        found = [{"practitioner_id": IDA, "starts_at": utc(FIRST)}]
        return [s for s in found if params["from"] <= DAY.isoformat() <= params["to"]]

    scheduling = FakeApi(
        "scheduling",
        {
            ("GET", f"/clinics/{CLINIC}"): clinic,
            ("GET", f"/clinics/{CLINIC}/treatment-types"): [
                {"id": ASSESS, "name": "IMS assessment", "kind": "assessment", "duration_minutes": 60},
                {"id": IMS, "name": "IMS session", "kind": "treatment", "duration_minutes": 30},
            ],
            ("GET", f"/clinics/{CLINIC}/practitioners"): [
                {"id": IDA, "display_name": "Ida Needham", "ims_qualified": True},
                {"id": SAM, "display_name": "Sam Walker", "ims_qualified": False},
            ],
            ("GET", f"/clinics/{CLINIC}/ims-clearance"): {
                "cleared": cleared,
                "assessed": cleared,
                "suitable": True if cleared else None,
                "consent_recorded": True if cleared else None,
            },
            ("GET", f"/clinics/{CLINIC}/slots"): slots,
            ("GET", f"/clinics/{CLINIC}/rooms"): [],
            ("GET", f"/clinics/{CLINIC}/patients"): [
                {"id": OLA, "first_name": "Ola", "last_name": "Caller", "email": "ola@example.test"}
            ],
            ("GET", f"/patients/{OLA}"): {
                "id": OLA,
                "first_name": "Ola",
                "last_name": "Caller",
                "email": "ola@example.test",
            },
            **patient_names_route(CLINIC, {OLA: ("Ola", "Caller")}),
            ("POST", "/appointments"): {"id": APPOINTMENT},
            ("GET", f"/appointments/{APPOINTMENT}"): visit(APPOINTMENT, FIRST),
            ("POST", "/plans/preview"): preview,
            ("POST", "/plans"): {"id": PLAN},
            ("GET", f"/plans/{PLAN}"): {
                "id": PLAN,
                "clinic_id": CLINIC,
                "patient_id": OLA,
                "treatment_type_id": IMS,
                "sessions": [
                    visit(str(uuid.uuid4()), FIRST + timedelta(weeks=n), treatment_type_id=IMS, plan_id=PLAN)
                    for n in range(3)
                ],
            },
        },
    )
    billing = FakeApi(
        "billing",
        {
            ("GET", f"/clinics/{CLINIC}/prices-in-force"): [
                {"treatment_type_id": ASSESS, "amount_cents": 12000, "currency": "CAD"}
            ]
        },
    )
    return Apis(scheduling=scheduling, billing=billing, notifications=FakeApi("notifications"))


@pytest.fixture
def apis() -> Apis:
    return fake_apis()


def client_for(tmp_path: Path, apis: Apis, signed: Credentials | None) -> FlaskClient:
    settings = WebSettings.from_env(
        {"WEB_SECRET_KEY": "unit-test-secret-key-0123456789abcdef", "VAR_DIR": str(tmp_path)}
    )
    app = create_app(settings, apis=apis, store=SqliteStore(tmp_path / "sessions.db"))
    app.config.update(WTF_CSRF_ENABLED=False, TESTING=True)
    client = app.test_client()
    if signed is not None:
        sign_in(client, signed)
    return client


@pytest.fixture
def desk(tmp_path: Path, apis: Apis) -> FlaskClient:
    return client_for(tmp_path, apis, staff())


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("\u202f", " ")


def scheduling(apis: Apis) -> FakeApi:
    assert isinstance(apis.scheduling, FakeApi)
    return apis.scheduling


STEP = f"clinic={CLINIC}&treatment={ASSESS}&practitioner={IDA}"


def test_only_the_desk_and_admins_book_for_patients(tmp_path: Path, apis: Apis) -> None:
    path = f"/staff/book/{OLA}"
    assert client_for(tmp_path, apis, None).get(path).status_code == 303
    assert client_for(tmp_path, apis, patient_credentials(OLA)).get(path).status_code == 403
    assert client_for(tmp_path, apis, staff(("billing",))).get(path).status_code == 403
    assert client_for(tmp_path, apis, staff(("admin",))).get(path).status_code == 200


def test_the_patients_page_links_each_row_to_booking_for_that_patient(desk: FlaskClient) -> None:
    html = desk.get("/staff/patients").get_data(as_text=True)
    assert f'href="/staff/book/{OLA}"' in html
    assert 'Book<span class="visually-hidden"> for Ola Caller</span>' in html


def test_the_treatment_step_names_the_patient_and_asks_for_their_clearance(tmp_path: Path) -> None:
    apis = fake_apis(cleared=False)
    desk = client_for(tmp_path, apis, staff())
    html = desk.get(f"/staff/book/{OLA}").get_data(as_text=True)
    page = text_of(html)
    assert "Booking for Ola Caller" in page
    assert f'value="{IMS}"' not in html
    assert "IMS sessions can be booked for this patient once an assessment" in page
    clearance = [c for c in scheduling(apis).calls if c[1].endswith("/ims-clearance")]
    assert clearance[-1][3] == {"patient_id": OLA}
    unanswered = desk.get(f"/staff/book/{OLA}?next=1").get_data(as_text=True)
    assert "<title>Error: What would the patient like to book?" in unanswered
    assert 'href="#treatment"' in unanswered
    assert 'id="treatment-error"' in unanswered
    chosen = desk.get(f"/staff/book/{OLA}?treatment={ASSESS}&next=1")
    assert chosen.location == f"/staff/book/{OLA}/practitioner?clinic={CLINIC}&treatment={ASSESS}"


def test_a_week_of_times_leads_to_the_check_then_one_booking_in_the_patients_name(
    desk: FlaskClient, apis: Apis
) -> None:
    html = desk.get(f"/staff/book/{OLA}/times?{STEP}").get_data(as_text=True)
    assert f"/staff/book/{OLA}/review?" in html
    assert "Earliest available:" in text_of(html)
    check = desk.get(f"/staff/book/{OLA}/review?{STEP}&at={at(FIRST)}&who={IDA}").get_data(as_text=True)
    assert "Check the appointment" in check
    assert "Ola Caller" in check
    form = {"clinic": CLINIC, "treatment": ASSESS, "practitioner": IDA, "at": at(FIRST), "who": IDA}
    token = {"form_token": "once"}
    first = desk.post(f"/staff/book/{OLA}/review", data=form | token)
    assert first.status_code == 303
    assert first.location == f"/staff/book/booked/{APPOINTMENT}"
    again = desk.post(f"/staff/book/{OLA}/review", data=form | token)
    assert again.location == first.location
    [posted] = scheduling(apis).posted("/appointments")
    assert posted["patient_id"] == OLA
    assert posted["practitioner_id"] == IDA
    booked = desk.get(first.location).get_data(as_text=True)
    assert "Booked for Ola Caller" in text_of(booked)
    assert "1 appointment · IMS assessment" in text_of(booked)
    assert f'href="/staff/day?date={DAY.isoformat()}"' in booked


def test_a_series_shows_free_and_taken_then_books_with_the_picked_alternative(
    desk: FlaskClient, apis: Apis
) -> None:
    step = f"clinic={CLINIC}&treatment={IMS}&practitioner={IDA}&at={at(FIRST)}&who={IDA}"
    html = desk.get(f"/staff/book/{OLA}/plan?{step}&every=1&sessions=3").get_data(as_text=True)
    assert "Taken: pick another" in html
    assert html.count('class="tag ok">Free') == 2
    assert scheduling(apis).posted("/plans/preview")[-1]["patient_id"] == OLA
    form = {
        "clinic": CLINIC,
        "treatment": IMS,
        "practitioner": IDA,
        "at": at(FIRST),
        "who": IDA,
        "every": "1",
        "sessions": "3",
    }
    missing = desk.post(f"/staff/book/{OLA}/plan", data=form | {"form_token": "a"})
    assert missing.status_code == 200
    page = missing.get_data(as_text=True)
    assert "<title>Error: Book a series of IMS sessions" in page
    assert 'href="#alt-1">Pick another time for session 2' in page
    assert 'id="alt-1-error"' in page
    assert scheduling(apis).posted("/plans") == []
    pick = at(FIRST + timedelta(weeks=1) - timedelta(minutes=30))
    done = desk.post(f"/staff/book/{OLA}/plan", data=form | {"form_token": "b", "alt-1": f"{pick}/{IDA}"})
    assert done.location == f"/staff/book/plans/{PLAN}"
    [plan] = scheduling(apis).posted("/plans")
    assert plan["patient_id"] == OLA
    assert plan["sessions"] == 3
    assert plan["overrides"][0]["index"] == 1
    booked = text_of(desk.get(done.location).get_data(as_text=True))
    assert "Booked for Ola Caller" in booked
    assert "3 appointments · IMS session" in booked
    assert "Open the day of the first appointment" in booked


def test_the_steps_read_in_french(desk: FlaskClient) -> None:
    with desk.session_transaction() as session:
        session["language"] = "fr"
    page = text_of(desk.get(f"/staff/book/{OLA}").get_data(as_text=True))
    assert "Réservation pour Ola Caller" in page
    assert "Que souhaite réserver le patient?" in page
