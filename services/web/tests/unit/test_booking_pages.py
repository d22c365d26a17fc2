"""The booking pages over fake APIs: what each step offers, what it sends, and what a patient reads."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient

from web.adapters.sessions import SqliteStore
from web.config import WebSettings
from web.entrypoints.app import create_app
from web.service_layer.accounts import Credentials
from web.service_layer.ports import ApiError, Apis
from web.testing import FakeApi, patient_credentials, sign_in

VANCOUVER = ZoneInfo("America/Vancouver")
PATIENT = "7a1b0c2d-0000-4000-8000-000000000001"
CLINIC = "7a1b0c2d-0000-4000-8000-0000000000c1"
ASSESS = "7a1b0c2d-0000-4000-8000-0000000000a1"
IMS = "7a1b0c2d-0000-4000-8000-0000000000a2"
IDA = "7a1b0c2d-0000-4000-8000-0000000000d1"
SAM = "7a1b0c2d-0000-4000-8000-0000000000d2"
APPOINTMENT = "7a1b0c2d-0000-4000-8000-0000000000e1"
PLAN = "7a1b0c2d-0000-4000-8000-0000000000f1"
ROOM = "7a1b0c2d-0000-4000-8000-0000000000b1"
FEED_TOKEN = "q7KSLqafom_G81ecWEx-0123456789ab"


def credentials() -> Credentials:
    return patient_credentials(PATIENT)


def local(days: int, hour: int, minute: int = 0) -> datetime:
    """A Vancouver wall-clock time ``days`` from today."""
    day = datetime.now(VANCOUVER).date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=VANCOUVER)


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def param(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


FIRST = local(9, 9, 30)  # next week or the one after; always ahead


def slot(moment: datetime, who: str = IDA) -> dict[str, str]:
    return {"practitioner_id": who, "starts_at": utc(moment)}


def fake_apis(*, cleared: bool = False, assessed: bool = False, clinics: int = 1) -> Apis:
    clinic = {
        "id": CLINIC,
        "name": "Vancouver IMS",
        "address": "1 Main St, Vancouver BC",
        "phone": "+16045550100",
        "timezone": "America/Vancouver",
        "currency": "CAD",
        "horizon_days": 180,
    }
    others = [
        clinic | {"id": f"7a1b0c2d-0000-4000-8000-00000000{n:04d}", "name": f"Clinic {n}"}
        for n in range(1, clinics)
    ]

    def slots(params: dict[str, Any], **_: Any) -> list[dict[str, str]]:
        found = [
            slot(FIRST),
            slot(FIRST, SAM),
            slot(FIRST + timedelta(hours=1), SAM),
            slot(FIRST + timedelta(days=1)),
        ]
        first, last = params["from"], params["to"]
        inside = [
            s
            for s in found
            if first
            <= datetime.fromisoformat(s["starts_at"]).astimezone(VANCOUVER).date().isoformat()
            <= last
        ]
        if params.get("practitioner_id"):
            inside = [s for s in inside if s["practitioner_id"] == params["practitioner_id"]]
        return inside[: params["page_size"]]

    scheduling = FakeApi(
        "scheduling",
        {
            ("GET", "/clinics"): [clinic, *others],
            ("GET", f"/clinics/{CLINIC}"): clinic,
            ("GET", f"/clinics/{CLINIC}/treatment-types"): [
                {
                    "id": IMS,
                    "name": "IMS session",
                    "kind": "treatment",
                    "duration_minutes": 30,
                    "late_cancel_hours": 24,
                },
                {
                    "id": ASSESS,
                    "name": "IMS assessment",
                    "kind": "assessment",
                    "duration_minutes": 60,
                    "late_cancel_hours": 24,
                },
            ],
            ("GET", f"/clinics/{CLINIC}/practitioners"): [
                {"id": IDA, "display_name": "Ida Needham", "ims_qualified": True, "active": True},
                {"id": SAM, "display_name": "Sam Walker", "ims_qualified": False, "active": True},
            ],
            ("GET", f"/clinics/{CLINIC}/ims-clearance"): {
                "cleared": cleared,
                "assessed": assessed or cleared,
                "suitable": True if cleared else (False if assessed else None),
                "consent_recorded": True if cleared else None,
            },
            ("GET", f"/clinics/{CLINIC}/slots"): slots,
            ("GET", f"/clinics/{CLINIC}/rooms"): [{"id": ROOM, "name": "Room 1"}],
            ("POST", "/appointments"): {"id": APPOINTMENT},
            ("GET", f"/appointments/{APPOINTMENT}"): appointment(FIRST),
            ("GET", f"/appointments/{APPOINTMENT}/calendar.ics"): SimpleNamespace(
                content=b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", headers={"Content-Type": "text/calendar"}
            ),
            ("POST", "/calendar-feeds"): {"token": FEED_TOKEN, "url": "http://scheduling:8001/feeds/x.ics"},
            ("GET", f"/feeds/{FEED_TOKEN}.ics"): SimpleNamespace(
                content=b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", headers={}
            ),
        },
    )
    billing = FakeApi(
        "billing",
        {
            ("GET", f"/clinics/{CLINIC}/prices-in-force"): [
                {"treatment_type_id": ASSESS, "amount_cents": 12000, "currency": "CAD"},
                {"treatment_type_id": IMS, "amount_cents": 9500, "currency": "CAD"},
            ]
        },
    )
    return Apis(scheduling=scheduling, billing=billing, notifications=FakeApi("notifications"))


def appointment(starts: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "id": APPOINTMENT,
        "clinic_id": CLINIC,
        "practitioner_id": IDA,
        "treatment_type_id": ASSESS,
        "status": "booked",
        "starts_at": utc(starts),
        "ends_at": utc(starts + timedelta(hours=1)),
        "free_cancellation_until": utc(starts - timedelta(hours=24)),
        "plan_id": None,
        "room_id": ROOM,
    } | extra


@pytest.fixture
def app_for(tmp_path: Path) -> Callable[..., FlaskClient]:
    def build(fake: Apis, language: str = "en", signed_in: bool = True) -> FlaskClient:
        settings = WebSettings.from_env(
            {"WEB_SECRET_KEY": "unit-test-secret-key-0123456789abcdef", "VAR_DIR": str(tmp_path)}
        )
        app: Flask = create_app(settings, apis=fake, store=SqliteStore(tmp_path / "sessions.db"))
        app.config.update(WTF_CSRF_ENABLED=False, TESTING=True)
        client = app.test_client()
        if signed_in:
            sign_in(client, credentials())
        with client.session_transaction() as session:
            session["language"] = language
        return client

    return build


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("\u202f", " ")


def slot_names(html: str) -> list[str]:
    """The slot buttons' accessible names."""
    found = re.findall(r'<a class="slot" href="[^"]*" aria-label="([^"]*)"', html)
    return [text_of(unescape(m)).strip() for m in found]


STEP = {"clinic": CLINIC, "treatment": ASSESS, "practitioner": IDA}


# --- choosing --------------------------------------------------------------------------------------------


def test_one_clinic_skips_the_clinic_step_and_several_are_offered(
    app_for: Callable[..., FlaskClient],
) -> None:
    response = app_for(fake_apis()).get("/book")
    assert response.status_code == 302
    assert response.location == f"/book/treatment?clinic={CLINIC}"
    client = app_for(fake_apis(clinics=2))
    page = client.get("/book").get_data(as_text=True)
    assert "Which clinic would you like to visit?" in page
    assert "Clinic 1" in page
    unanswered = client.get("/book?next=1").get_data(as_text=True)
    assert "<title>Error: Which clinic" in unanswered
    assert 'href="#clinic"' in unanswered
    assert client.get(f"/book?clinic={CLINIC}&next=1").location == f"/book/treatment?clinic={CLINIC}"


def test_ims_is_not_offered_before_an_assessment_and_the_page_says_why(
    app_for: Callable[..., FlaskClient],
) -> None:
    html = app_for(fake_apis()).get(f"/book/treatment?clinic={CLINIC}").get_data(as_text=True)
    page = text_of(html)
    assert "IMS assessment" in page
    assert "60 minutes, $120.00" in page
    assert f'value="{IMS}"' not in html
    assert "IMS sessions can be booked after an assessment finds IMS suitable for you." in page
    # Asking for IMS by URL does not get past the treatment step either.
    response = app_for(fake_apis()).get(f"/book/practitioner?clinic={CLINIC}&treatment={IMS}")
    assert response.location == f"/book/treatment?clinic={CLINIC}"


def test_an_assessment_that_found_ims_unsuitable_is_said_plainly(app_for: Callable[..., FlaskClient]) -> None:
    page = text_of(
        app_for(fake_apis(assessed=True)).get(f"/book/treatment?clinic={CLINIC}").get_data(as_text=True)
    )
    assert "Your assessment did not find IMS suitable for you" in page


def test_once_cleared_ims_is_offered_after_the_assessment_with_its_price(
    app_for: Callable[..., FlaskClient],
) -> None:
    page = text_of(
        app_for(fake_apis(cleared=True)).get(f"/book/treatment?clinic={CLINIC}").get_data(as_text=True)
    )
    assert page.index("IMS assessment") < page.index("IMS session")
    assert "30 minutes, $95.00" in page
    assert "can be booked after an assessment" not in page


def test_only_qualified_practitioners_are_offered_for_ims(app_for: Callable[..., FlaskClient]) -> None:
    client = app_for(fake_apis(cleared=True))
    ims = client.get(f"/book/practitioner?clinic={CLINIC}&treatment={IMS}").get_data(as_text=True)
    assert "Any qualified practitioner" in ims
    assert "Ida Needham" in ims
    assert "Sam Walker" not in ims
    assessment = client.get(f"/book/practitioner?clinic={CLINIC}&treatment={ASSESS}").get_data(as_text=True)
    assert "Sam Walker" in assessment
    chosen = client.get(f"/book/practitioner?clinic={CLINIC}&treatment={ASSESS}&practitioner=any&next=1")
    assert chosen.location == f"/book/times?clinic={CLINIC}&treatment={ASSESS}&practitioner=any"


# --- free times --------------------------------------------------------------------------------------------


def test_the_week_of_the_earliest_time_is_shown_one_row_a_day_with_full_slot_names(
    app_for: Callable[..., FlaskClient],
) -> None:
    html = app_for(fake_apis()).get("/book/times", query_string=STEP).get_data(as_text=True)
    page = text_of(html)
    day = FIRST.strftime("%A, %B %-d, %Y")
    assert (
        f"Earliest available: {day}, 9:30 a.m. PST" in page
        or f"Earliest available: {day}, 9:30 a.m. PDT" in page
    )
    assert page.count("No times") == 5
    assert html.count('class="day"') == 7
    # The slot's accessible name: day, time with zone, practitioner.
    names = slot_names(html)
    assert names[0].strip().startswith(f"{day}, 9:30 a.m. P")
    assert names[0].strip().endswith(", Ida Needham")
    assert len(names) == 2  # Ida only: Sam's times are not hers
    assert f"at={param(FIRST)}" in html
    assert "Later week" in page


def test_any_practitioner_shows_each_time_once(app_for: Callable[..., FlaskClient]) -> None:
    html = (
        app_for(fake_apis())
        .get("/book/times", query_string=STEP | {"practitioner": "any"})
        .get_data(as_text=True)
    )
    names = slot_names(html)
    assert len(names) == 3  # 9:30 once (Ida, listed first), 10:30 with Sam, the next day's 9:30
    assert names[0].endswith("Ida Needham")
    assert names[1].endswith("Sam Walker")


def test_a_week_without_times_says_so_on_each_day(app_for: Callable[..., FlaskClient]) -> None:
    far = (FIRST + timedelta(weeks=3)).date().isoformat()
    page = text_of(
        app_for(fake_apis()).get("/book/times", query_string=STEP | {"week": far}).get_data(as_text=True)
    )
    assert page.count("No times") == 7
    assert "Earlier week" in page
    assert "Go to the week of the earliest available time" in page


# --- check, confirm, booked ------------------------------------------------------------------------------


def test_the_review_lists_the_answers_with_change_links_and_books_once(
    app_for: Callable[..., FlaskClient],
) -> None:
    fake = fake_apis()
    client = app_for(fake)
    review = client.get("/book/review", query_string=STEP | {"at": param(FIRST), "who": IDA}).get_data(
        as_text=True
    )
    page = text_of(review)
    assert "Check your appointment" in page
    assert "Ida Needham" in page
    assert "$120.00" in page
    assert page.count("Change") == 3  # one clinic: nothing to change there
    assert "Confirm and book" in page
    assert "Book a series instead" not in page  # assessments are booked one at a time
    token = re.search(r'name="form_token" value="([^"]+)"', review).group(1)
    form = STEP | {"at": param(FIRST), "who": IDA, "form_token": token}
    first = client.post("/book/review", data=form)
    again = client.post("/book/review", data=form)
    assert first.status_code == again.status_code == 303
    assert first.location == again.location == f"/book/booked/{APPOINTMENT}"
    assert fake.scheduling.posted("/appointments") == [
        {"clinic_id": CLINIC, "practitioner_id": IDA, "treatment_type_id": ASSESS, "starts_at": utc(FIRST)}
    ]


def test_a_time_taken_meanwhile_goes_back_to_the_times_with_a_sentence(
    app_for: Callable[..., FlaskClient],
) -> None:
    fake = fake_apis()
    fake.scheduling.routes[("POST", "/appointments")] = ApiError(
        409, "Conflict", fields={"starts_at": "taken"}
    )
    client = app_for(fake)
    response = client.post("/book/review", data=STEP | {"at": param(FIRST), "who": IDA, "form_token": "t1"})
    assert response.status_code == 303
    assert "taken=1" in response.location
    page = text_of(client.get(response.location).get_data(as_text=True))
    assert "That time was just taken. Please pick another." in page


def test_a_slot_for_another_practitioner_than_the_one_chosen_is_not_reviewed(
    app_for: Callable[..., FlaskClient],
) -> None:
    response = app_for(fake_apis()).get("/book/review", query_string=STEP | {"at": param(FIRST), "who": SAM})
    assert response.status_code == 302
    assert response.location.startswith("/book/times?")


def test_the_booked_page_offers_the_calendar_file_and_a_subscription(
    app_for: Callable[..., FlaskClient],
) -> None:
    fake = fake_apis()
    client = app_for(fake)
    page = text_of(client.get(f"/book/booked/{APPOINTMENT}").get_data(as_text=True))
    assert "Your appointment is booked" in page
    assert "Room 1" in page
    assert "Add to your calendar" in page
    ics = client.get(f"/appointments/{APPOINTMENT}/calendar.ics")
    assert ics.status_code == 200
    assert ics.mimetype == "text/calendar"
    assert ics.headers["Content-Disposition"] == f'attachment; filename="appointment-{APPOINTMENT}.ics"'
    assert ics.data.startswith(b"BEGIN:VCALENDAR")
    made = client.post(
        "/book/calendar-feed", data={"next": f"/book/booked/{APPOINTMENT}", "form_token": "f1"}
    )
    assert made.location == f"/book/booked/{APPOINTMENT}#calendar-feed"
    assert fake.scheduling.posted("/calendar-feeds") == [{"owner_kind": "patient"}]
    after = text_of(client.get(f"/book/booked/{APPOINTMENT}").get_data(as_text=True))
    # The address is this site's (scheduling's own host may be private), the key in its query string.
    html = client.get(f"/book/booked/{APPOINTMENT}").get_data(as_text=True)
    assert f'value="http://localhost/calendar/feed.ics?key={FEED_TOKEN}"' in html
    feed = app_for(fake, signed_in=False).get(f"/calendar/feed.ics?key={FEED_TOKEN}")  # a calendar app
    assert feed.status_code == 200
    assert feed.mimetype == "text/calendar"
    assert feed.data.startswith(b"BEGIN:VCALENDAR")
    assert app_for(fake).get("/calendar/feed.ics?key=../../etc").status_code == 404
    assert "subscribe to a calendar from a URL" in after
    # Only a path on this site may follow.
    elsewhere = client.post("/book/calendar-feed", data={"next": "//evil.example/x", "form_token": "f2"})
    assert elsewhere.location == "/appointments#calendar-feed"


def test_another_patients_calendar_file_is_not_found(app_for: Callable[..., FlaskClient]) -> None:
    response = app_for(fake_apis()).get("/appointments/7a1b0c2d-0000-4000-8000-0000000000ff/calendar.ics")
    assert response.status_code == 404


# --- a series of IMS sessions ----------------------------------------------------------------------------


def preview(json: dict[str, Any], **_: Any) -> dict[str, Any]:
    first = datetime.fromisoformat(f"{json['first_day']}T{json['local_time']}").replace(tzinfo=VANCOUVER)
    picks = {o["index"]: o for o in json.get("overrides", [])}
    sessions = []
    for n in range(json["sessions"]):
        starts = first + timedelta(weeks=n * json["every_weeks"])
        row = {
            "index": n,
            "local_date": starts.date().isoformat(),
            "status": "free",
            "starts_at": utc(starts),
            "practitioner_id": IDA,
            "room_id": ROOM,
            "alternatives": [],
        }
        if n == 2 and 2 not in picks:
            row |= {
                "status": "taken",
                "room_id": None,
                "alternatives": [
                    {
                        "kind": "same_practitioner",
                        "practitioner_id": IDA,
                        "starts_at": utc(starts - timedelta(minutes=30)),
                    }
                ],
            }
        sessions.append(row)
    return {"bookable": all(s["status"] == "free" for s in sessions), "sessions": sessions}


PLAN_STEP = {"clinic": CLINIC, "treatment": IMS, "practitioner": "any", "at": param(FIRST), "who": IDA}


def plan_apis() -> Apis:
    fake = fake_apis(cleared=True)
    fake.scheduling.routes[("POST", "/plans/preview")] = preview  # type: ignore[attr-defined]
    fake.scheduling.routes[("POST", "/plans")] = {"id": PLAN}  # type: ignore[attr-defined]
    return fake


def test_a_series_is_previewed_as_a_table_with_alternatives_on_the_taken_line(
    app_for: Callable[..., FlaskClient],
) -> None:
    client = app_for(plan_apis())
    review = text_of(client.get("/book/review", query_string=PLAN_STEP).get_data(as_text=True))
    assert "Book a series instead" in review
    shape = text_of(client.get("/book/plan", query_string=PLAN_STEP).get_data(as_text=True))
    assert "How often?" in shape
    assert "Every 2 weeks" in shape
    assert "<table" not in shape
    html = client.get("/book/plan", query_string=PLAN_STEP | {"every": "1", "sessions": "6"}).get_data(
        as_text=True
    )
    page = text_of(html)
    assert "Your 6 sessions" in page
    assert page.count("Free") == 5
    assert "Taken: pick another" in page
    assert "1 date is taken" in page
    assert "Room 1" in page
    assert "Confirm all 6 sessions" in page
    assert html.count('type="radio" id="alt-2"') == 1


def test_confirming_a_series_needs_a_pick_on_each_taken_line_then_books_it_all(
    app_for: Callable[..., FlaskClient],
) -> None:
    fake = plan_apis()
    client = app_for(fake)
    form = PLAN_STEP | {"every": "1", "sessions": "6", "form_token": "p1"}
    missing = client.post("/book/plan", data=form)
    assert missing.status_code == 200
    html = missing.get_data(as_text=True)
    assert "<title>Error: Book a series" in html
    assert 'href="#alt-2"' in html
    assert "Pick another time for session 3" in text_of(html)
    assert fake.scheduling.posted("/plans") == []
    pick = param(FIRST + timedelta(weeks=2) - timedelta(minutes=30))
    booked = client.post("/book/plan", data=form | {"alt-2": f"{pick}/{IDA}", "form_token": "p2"})
    assert booked.status_code == 303
    assert booked.location == f"/book/plans/{PLAN}"
    [body] = fake.scheduling.posted("/plans")
    assert body["sessions"] == 6
    assert body["every_weeks"] == 1
    assert body["practitioner_id"] == IDA
    assert body["local_time"] == "09:30"
    assert body["overrides"] == [
        {
            "index": 2,
            "starts_at": utc(FIRST + timedelta(weeks=2) - timedelta(minutes=30)),
            "practitioner_id": IDA,
        }
    ]


def test_a_series_taken_meanwhile_comes_back_with_the_table_and_a_sentence(
    app_for: Callable[..., FlaskClient],
) -> None:
    fake = plan_apis()
    fake.scheduling.routes[("POST", "/plans")] = ApiError(409, "Conflict")  # type: ignore[attr-defined]
    client = app_for(fake)
    pick = param(FIRST + timedelta(weeks=2) - timedelta(minutes=30))
    response = client.post(
        "/book/plan", data=PLAN_STEP | {"every": "1", "sessions": "6", "alt-2": f"{pick}/{IDA}"}
    )
    assert response.status_code == 303
    page = text_of(client.get(response.location).get_data(as_text=True))
    assert "Some of these times were just taken. Nothing was booked." in page
    assert "Taken: pick another" in page


def test_an_assessment_cannot_become_a_series(app_for: Callable[..., FlaskClient]) -> None:
    response = app_for(plan_apis()).get("/book/plan", query_string=PLAN_STEP | {"treatment": ASSESS})
    assert response.status_code == 302


# --- moving one appointment ------------------------------------------------------------------------------


def test_rescheduling_offers_the_same_practitioners_times_and_says_the_change_clearly(
    app_for: Callable[..., FlaskClient],
) -> None:
    fake = fake_apis()
    soon = local(0, 23, 0) if datetime.now(VANCOUVER).hour < 22 else local(1, 10, 0)
    fake.scheduling.routes[("GET", f"/appointments/{APPOINTMENT}")] = appointment(soon)  # type: ignore[attr-defined]
    fake.scheduling.routes[("POST", f"/appointments/{APPOINTMENT}/reschedule")] = appointment(FIRST)  # type: ignore[attr-defined]
    client = app_for(fake)
    times = client.get(f"/appointments/{APPOINTMENT}/reschedule")
    assert times.status_code == 200
    html = times.get_data(as_text=True)
    assert "Choose a new time" in text_of(html)
    assert f"/appointments/{APPOINTMENT}/reschedule/review?at={param(FIRST)}" in html.replace("&amp;", "&")
    assert SAM not in html  # the same practitioner only
    review = client.get(
        f"/appointments/{APPOINTMENT}/reschedule/review", query_string={"at": param(FIRST), "who": IDA}
    )
    page = text_of(review.get_data(as_text=True))
    assert "Check the new time" in page
    assert "late-cancellation period" in page
    assert "Moving it to another time has no fee." in page
    token = re.search(r'name="form_token" value="([^"]+)"', review.get_data(as_text=True)).group(1)
    moved = client.post(
        f"/appointments/{APPOINTMENT}/reschedule/review",
        data={"at": param(FIRST), "who": IDA, "form_token": token},
    )
    again = client.post(
        f"/appointments/{APPOINTMENT}/reschedule/review",
        data={"at": param(FIRST), "who": IDA, "form_token": token},
    )
    assert moved.location == again.location == f"/appointments/{APPOINTMENT}/rescheduled"
    assert fake.scheduling.posted(f"/appointments/{APPOINTMENT}/reschedule") == [
        {"starts_at": utc(FIRST), "practitioner_id": IDA}
    ]


def test_a_cancelled_appointment_cannot_be_moved(app_for: Callable[..., FlaskClient]) -> None:
    fake = fake_apis()
    fake.scheduling.routes[("GET", f"/appointments/{APPOINTMENT}")] = appointment(FIRST, status="cancelled")  # type: ignore[attr-defined]
    page = text_of(app_for(fake).get(f"/appointments/{APPOINTMENT}/reschedule").get_data(as_text=True))
    assert "This appointment cannot be moved online" in page
    assert "+16045550100" in page


def test_the_reschedule_endpoint_has_the_name_my_appointments_links_to(
    app_for: Callable[..., FlaskClient],
) -> None:
    app = app_for(fake_apis()).application
    with app.test_request_context():
        from flask import url_for

        assert (
            url_for("booking.reschedule", appointment_id=APPOINTMENT)
            == f"/appointments/{APPOINTMENT}/reschedule"
        )


# --- in French -----------------------------------------------------------------------------------------


def test_the_pages_read_in_french(app_for: Callable[..., FlaskClient]) -> None:
    client = app_for(fake_apis(), language="fr")
    treatment = text_of(client.get(f"/book/treatment?clinic={CLINIC}").get_data(as_text=True))
    assert "Que souhaitez-vous réserver?" in treatment or "Que souhaitez-vous réserver ?" in treatment
    assert "120,00 $" in treatment
    times = text_of(client.get("/book/times", query_string=STEP).get_data(as_text=True))
    assert "Première disponibilité" in times
    assert "09 h 30" in times
    assert "Semaine suivante" in times
