"""My appointments' pages over fake APIs: what they show, what they send, and in French too."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from web.adapters.sessions import SqliteStore
from web.config import WebSettings
from web.entrypoints.app import create_app
from web.service_layer.accounts import Credentials
from web.service_layer.ports import ApiError, Apis
from web.testing import sign_in

PATIENT = str(uuid.uuid4())
CLINIC, IDA, ASSESS = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())


@dataclass
class Answer:
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return self.body


@dataclass
class FakeApi:
    """One service: answers by (method, path), records what was sent; an ApiError answer is raised."""

    name: str
    routes: dict[tuple[str, str], Any] = field(default_factory=dict)
    sent: list[tuple[str, str, Any]] = field(default_factory=list)

    def on(self, method: str, path: str, answer: Any) -> None:
        self.routes[(method, path)] = answer

    def request(self, method: str, path: str, *, token: str | None = None, json: Any = None, **_: Any) -> Any:
        assert token, "every call is made in the patient's name"
        self.sent.append((method, path, json))
        answer = self.routes.get((method, path))
        if answer is None:
            raise ApiError(404, "Not Found")
        if callable(answer):
            answer = answer()
        if isinstance(answer, ApiError):
            raise answer
        total = len(answer) if isinstance(answer, list) else 1
        return Answer(answer, {"X-Pagination": json_dumps({"total": total, "total_pages": 1})})

    def get(self, path: str, *, token: str | None = None, params: Mapping[str, Any] | None = None) -> Any:
        return self.request("GET", path, token=token).json()

    def post(self, path: str, *, token: str | None = None, json: Any = None, **_: Any) -> Any:
        return self.request("POST", path, token=token, json=json).json()

    def put(self, path: str, *, token: str | None = None, json: Any = None) -> Any:
        return self.request("PUT", path, token=token, json=json).json()

    def patch(self, path: str, *, token: str | None = None, json: Any = None) -> Any:
        return self.request("PATCH", path, token=token, json=json).json()


def json_dumps(value: Any) -> str:
    return json.dumps(value)


@dataclass
class Portal:
    app: Flask
    client: FlaskClient
    scheduling: FakeApi
    billing: FakeApi

    def page(self, path: str) -> str:
        response = self.client.get(path)
        assert response.status_code in (200, 410), response.status_code
        return response.get_data(as_text=True)

    def form_token(self, path: str) -> str:
        match = re.search(r'name="form_token" value="([^"]+)"', self.page(path))
        assert match
        return match.group(1)


def at(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(microsecond=0).isoformat()


def appointment(appointment_id: str, starts_in_hours: float, **extra: Any) -> dict[str, Any]:
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=starts_in_hours)
    return {
        "id": appointment_id,
        "clinic_id": CLINIC,
        "practitioner_id": IDA,
        "treatment_type_id": ASSESS,
        "patient_id": PATIENT,
        "status": "booked",
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=1)).isoformat(),
        "free_cancellation_until": (starts - timedelta(hours=24)).isoformat(),
        "late_cancellation": False,
        "fee_waived": False,
        "plan_id": None,
    } | extra


@pytest.fixture
def portal(tmp_path: Path) -> Portal:
    scheduling, billing = FakeApi("scheduling"), FakeApi("billing")
    settings = WebSettings.from_env(
        {"WEB_SECRET_KEY": "k" * 40, "VAR_DIR": str(tmp_path), "LOG_LEVEL": "WARNING"}
    )
    app = create_app(
        settings,
        apis=Apis(scheduling=scheduling, billing=billing, notifications=FakeApi("notifications")),
        store=SqliteStore(tmp_path / "sessions.db"),
    )
    app.config.update(WTF_CSRF_ENABLED=False, TESTING=True)
    client = app.test_client()
    sign_in(
        client,
        Credentials.from_session(
            {
                "access_token": "patient-token",
                "access_expires_at": time.time() + 3600,
                "refresh_token": None,
                "account_id": str(uuid.uuid4()),
                "roles": ["patient"],
                "patient_id": PATIENT,
                "practitioner_id": None,
                "clinic_id": None,
            }
        ),
    )
    scheduling.on(
        "GET",
        f"/clinics/{CLINIC}",
        {"id": CLINIC, "name": "Vancouver IMS", "timezone": "America/Vancouver", "phone": "+16045550100"},
    )
    scheduling.on("GET", f"/clinics/{CLINIC}/practitioners", [{"id": IDA, "display_name": "Ida Needham"}])
    scheduling.on("GET", f"/clinics/{CLINIC}/treatment-types", [{"id": ASSESS, "name": "IMS assessment"}])
    for path in ("/appointments", "/plans", "/waitlist"):
        scheduling.on("GET", path, [])
    return Portal(app, client, scheduling, billing)


def late_fee(portal: Portal, appointment_id: str, total_cents: int = 4000) -> None:
    portal.billing.on(
        "GET",
        "/charges/fee-quote",
        {"kind": "late_cancel_fee", "charged": True, "currency": "CAD", "total_cents": total_cents},
    )


def test_the_list_shows_upcoming_with_their_actions_and_past_with_status_words(portal: Portal) -> None:
    soon, past = str(uuid.uuid4()), str(uuid.uuid4())
    portal.scheduling.on(
        "GET",
        "/appointments",
        [appointment(past, -48, status="cancelled", late_cancellation=True), appointment(soon, 72)],
    )
    html = portal.page("/appointments")
    assert "IMS assessment with Ida Needham" in html
    assert "Vancouver IMS" in html
    assert "Free cancellation until" in html
    assert f'href="/appointments/{soon}/cancel"' in html
    assert f'href="/appointments/{soon}/earlier"' in html
    assert "Cancelled late" in html  # a word, not a colour alone
    # Booking's reschedule page is linked once it exists.
    has_reschedule = "booking.reschedule" in portal.app.view_functions
    assert (f'href="/appointments/{soon}/reschedule"' in html) is has_reschedule


def test_an_open_offer_is_announced_on_the_list_and_its_hold_is_not_listed_as_booked(portal: Portal) -> None:
    later, hold = str(uuid.uuid4()), str(uuid.uuid4())
    portal.scheduling.on(
        "GET", "/appointments", [appointment(later, 24 * 10), appointment(hold, 26, status="proposed")]
    )
    portal.scheduling.on(
        "GET",
        "/waitlist",
        [
            {
                "id": str(uuid.uuid4()),
                "clinic_id": CLINIC,
                "treatment_type_id": ASSESS,
                "practitioner_id": IDA,
                "not_before": at(0),
                "not_after": at(24 * 9),
                "status": "offered",
                "appointment_id": later,
                "offer_appointment_id": hold,
                "offer_expires_at": at(0.5),
            }
        ],
    )
    html = portal.page("/appointments")
    assert "An earlier time is held for you:" in html
    assert f'href="/waitlist/offers/{hold}"' in html
    assert f"/appointments/{hold}/cancel" not in html
    assert f"/appointments/{later}/earlier" not in html  # already asked


def test_a_plan_shows_how_far_along_it_is(portal: Portal) -> None:
    sessions = [appointment(str(uuid.uuid4()), -24 * 7 * n, status="fulfilled") for n in (3, 2)] + [
        appointment(str(uuid.uuid4()), 24 * 7 * n) for n in (1, 2, 3, 4)
    ]
    portal.scheduling.on(
        "GET",
        "/plans",
        [
            {
                "id": str(uuid.uuid4()),
                "clinic_id": CLINIC,
                "practitioner_id": IDA,
                "treatment_type_id": ASSESS,
                "status": "active",
                "sessions": sessions,
            }
        ],
    )
    html = portal.page("/appointments")
    assert "2 of 6 sessions done" in html
    assert "Next session:" in html


def test_cancelling_inside_the_late_window_names_the_fee_on_the_page_and_on_the_button(
    portal: Portal,
) -> None:
    appointment_id = str(uuid.uuid4())
    portal.scheduling.on("GET", f"/appointments/{appointment_id}", appointment(appointment_id, 5))
    late_fee(portal, appointment_id)
    html = portal.page(f"/appointments/{appointment_id}/cancel")
    assert "Free cancellation ended" in html
    assert "a late-cancellation fee of $40.00 will be invoiced" in html
    assert "Cancel and accept the $40.00 fee" in html
    assert "Keep my appointment" in html
    assert ("GET", "/charges/fee-quote", None) in portal.billing.sent


def test_cancelling_before_the_late_window_is_free_and_says_until_when(portal: Portal) -> None:
    appointment_id = str(uuid.uuid4())
    portal.scheduling.on("GET", f"/appointments/{appointment_id}", appointment(appointment_id, 72))
    late_fee(portal, appointment_id)
    html = portal.page(f"/appointments/{appointment_id}/cancel")
    assert "Free cancellation until" in html
    assert "Cancelling now is free." in html
    assert "After that, a late-cancellation fee of $40.00 applies." in html
    assert ">Cancel appointment<" in html


def test_a_confirmed_cancellation_cancels_once_and_shows_the_fee_and_a_rebook_link(portal: Portal) -> None:
    appointment_id = str(uuid.uuid4())
    booked = appointment(appointment_id, 5)
    portal.scheduling.on("GET", f"/appointments/{appointment_id}", booked)
    late_fee(portal, appointment_id)
    path = f"/appointments/{appointment_id}/cancel"
    token = portal.form_token(path)

    def cancel() -> dict[str, Any]:
        cancelled = booked | {"status": "cancelled", "late_cancellation": True}
        portal.scheduling.on("GET", f"/appointments/{appointment_id}", cancelled)
        return cancelled

    portal.scheduling.on("POST", f"/appointments/{appointment_id}/cancel", cancel)
    first = portal.client.post(path, data={"form_token": token, "seen": "late:4000"})
    again = portal.client.post(path, data={"form_token": token, "seen": "late:4000"})

    assert first.status_code == 303
    assert first.location.endswith(f"/appointments/{appointment_id}/cancelled")
    assert again.location == first.location
    assert [s for s in portal.scheduling.sent if s[0] == "POST"] == [
        ("POST", f"/appointments/{appointment_id}/cancel", {})
    ]
    html = portal.page(f"/appointments/{appointment_id}/cancelled")
    assert "Your appointment is cancelled" in html
    assert "a late-cancellation fee of $40.00 will be invoiced" in html
    assert "Book another time" in html


def test_a_patient_who_saw_free_cancellation_is_asked_again_once_it_has_ended(portal: Portal) -> None:
    appointment_id = str(uuid.uuid4())
    portal.scheduling.on("GET", f"/appointments/{appointment_id}", appointment(appointment_id, 5))
    late_fee(portal, appointment_id)
    response = portal.client.post(
        f"/appointments/{appointment_id}/cancel", data={"form_token": "t", "seen": "free"}
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Check the fee before you cancel" in html
    assert "Cancel and accept the $40.00 fee" in html
    assert not [s for s in portal.scheduling.sent if s[0] == "POST"]


def test_a_plan_session_is_cancelled_alone(portal: Portal) -> None:
    plan_id, appointment_id = str(uuid.uuid4()), str(uuid.uuid4())
    session = appointment(appointment_id, 72, plan_id=plan_id)
    portal.scheduling.on("GET", f"/appointments/{appointment_id}", session)
    portal.scheduling.on(
        "GET",
        f"/plans/{plan_id}",
        {
            "id": plan_id,
            "status": "active",
            "treatment_type_id": ASSESS,
            "practitioner_id": IDA,
            "sessions": [appointment(str(uuid.uuid4()), 24), session],
        },
    )
    path = f"/appointments/{appointment_id}/cancel"
    html = portal.page(path)
    assert "This is session 2 of your treatment plan." in html
    assert "Only this session is cancelled" in html

    portal.scheduling.on("POST", f"/appointments/{appointment_id}/cancel", {})
    portal.client.post(path, data={"form_token": portal.form_token(path), "seen": "free"})
    assert [s[1] for s in portal.scheduling.sent if s[0] == "POST"] == [path]  # not the plan's cancel


def test_leaving_the_waitlist_withdraws_the_entry_and_says_so(portal: Portal) -> None:
    entry_id = str(uuid.uuid4())
    portal.scheduling.on("POST", f"/waitlist/{entry_id}/withdraw", {})
    response = portal.client.post(f"/waitlist/{entry_id}/withdraw")
    assert response.status_code == 303
    assert response.location.endswith("/appointments?done=left")
    assert "You have left the waitlist." in portal.page("/appointments?done=left")


def test_the_cancel_page_speaks_french(portal: Portal) -> None:
    appointment_id = str(uuid.uuid4())
    portal.scheduling.on("GET", f"/appointments/{appointment_id}", appointment(appointment_id, 5))
    late_fee(portal, appointment_id)
    portal.client.get("/appointments?lang=fr")
    html = portal.page(f"/appointments/{appointment_id}/cancel")
    assert '<html lang="fr">' in html
    assert "Annuler et accepter les frais de 40,00" in html


def test_joining_the_waitlist_asks_for_a_window_before_the_appointment(portal: Portal) -> None:
    appointment_id = str(uuid.uuid4())
    later = appointment(appointment_id, 24 * 10)
    portal.scheduling.on("GET", f"/appointments/{appointment_id}", later)
    portal.scheduling.on(
        "POST",
        "/waitlist",
        {
            "id": str(uuid.uuid4()),
            "clinic_id": CLINIC,
            "treatment_type_id": ASSESS,
            "practitioner_id": None,
            "not_before": at(1),
            "not_after": at(2),
            "status": "waiting",
            "appointment_id": appointment_id,
        },
    )
    path = f"/appointments/{appointment_id}/earlier"
    assert "Earliest date you could come" in portal.page(path)

    wrong = portal.client.post(path, data={"earliest_day": "8", "earliest_year": "2026"})
    html = wrong.get_data(as_text=True)
    assert "<title>Error:" in html
    assert "The earliest date must include a day, a month and a year" in html
    month = re.search(r'<input id="earliest_month"[^>]*>', html)
    assert month
    assert 'aria-invalid="true"' in month.group(0)
    assert 'aria-invalid="true"' not in re.search(r'<input id="earliest_day"[^>]*>', html).group(0)  # type: ignore[union-attr]

    token = portal.form_token(path)
    joined = portal.client.post(path, data={"practitioner": "any", "form_token": token})
    again = portal.client.post(path, data={"practitioner": "any", "form_token": token})
    assert joined.status_code == again.status_code == 303
    assert joined.location.endswith("/appointments?done=joined")
    ((_, _, body),) = [s for s in portal.scheduling.sent if s[:2] == ("POST", "/waitlist")]
    assert body["appointment_id"] == appointment_id
    assert body["practitioner_id"] is None
    assert datetime.fromisoformat(body["not_after"]) < datetime.fromisoformat(later["starts_at"])


def offer_setup(portal: Portal, status: str, expires_in: timedelta) -> tuple[str, str, str]:
    offer_id, entry_id, later_id = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    portal.scheduling.on(
        "GET",
        f"/waitlist/offers/{offer_id}",
        {
            "id": entry_id,
            "clinic_id": CLINIC,
            "treatment_type_id": ASSESS,
            "practitioner_id": IDA,
            "not_before": at(0),
            "not_after": at(24 * 9),
            "status": status,
            "appointment_id": later_id,
            "offer_appointment_id": offer_id,
            "offer_expires_at": (datetime.now(UTC) + expires_in).isoformat(),
        },
    )
    portal.scheduling.on("GET", f"/appointments/{offer_id}", appointment(offer_id, 26, status="proposed"))
    portal.scheduling.on("GET", f"/appointments/{later_id}", appointment(later_id, 24 * 10))
    return offer_id, entry_id, later_id


def test_an_open_offer_shows_the_time_and_is_taken_once(portal: Portal) -> None:
    offer_id, entry_id, _ = offer_setup(portal, "offered", timedelta(minutes=20))
    path = f"/waitlist/offers/{offer_id}"
    html = portal.page(path)
    assert "A time is available" in html
    assert "We are holding this time for you until" in html
    assert "moves to this time" in html
    token = portal.form_token(path)
    portal.scheduling.on("POST", f"/waitlist/{entry_id}/claim", {})
    first = portal.client.post(path, data={"form_token": token})
    again = portal.client.post(path, data={"form_token": token})
    assert first.status_code == again.status_code == 303
    assert [s[1] for s in portal.scheduling.sent if s[0] == "POST"] == [f"/waitlist/{entry_id}/claim"]


def test_a_lapsed_offer_says_so_plainly(portal: Portal) -> None:
    offer_id, _, later_id = offer_setup(portal, "offered", timedelta(minutes=-1))
    response = portal.client.get(f"/waitlist/offers/{offer_id}")
    assert response.status_code == 410
    html = response.get_data(as_text=True)
    assert "This offer has lapsed" in html
    assert "It is no longer held for you" in html
    assert f"/appointments/{later_id}/earlier" in html
    assert 'name="form_token"' not in html


def test_someone_else_s_offer_is_not_found(portal: Portal) -> None:
    response = portal.client.get(f"/waitlist/offers/{uuid.uuid4()}")
    assert response.status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in_and_back(portal: Portal) -> None:
    with portal.client.session_transaction() as session:
        session.clear()
    offer_id = str(uuid.uuid4())
    response = portal.client.get(f"/waitlist/offers/{offer_id}")
    assert response.status_code == 303
    assert f"next=/waitlist/offers/{offer_id}" in response.location
