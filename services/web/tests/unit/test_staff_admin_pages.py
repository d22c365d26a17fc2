"""The clinic admin's set-up pages over fake APIs: who may open them, what they show, what they send."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from web.service_layer.accounts import Credentials
from web.service_layer.ports import ApiError
from web.testing import (
    FakeApi,
    PageClient,
    app_over_fakes,
    clinic_body,
    error_beside,
    sign_in,
    staff_credentials,
)

CLINIC, OTHER_CLINIC = str(uuid.uuid4()), str(uuid.uuid4())
ASSESS, TREAT = str(uuid.uuid4()), str(uuid.uuid4())
TODAY = datetime.now(UTC).astimezone(ZoneInfo("America/Vancouver")).date()


def credentials(
    roles: list[str], clinic_id: str | None = CLINIC, patient_id: str | None = None
) -> Credentials:
    return staff_credentials(roles, clinic_id, patient_id=patient_id)


class Admin(PageClient):
    scheduling: FakeApi
    billing: FakeApi

    def sent(self, api: FakeApi, method: str) -> list[tuple[str, Any]]:
        return api.sent(method)


@pytest.fixture
def admin(tmp_path: Path) -> Admin:
    scheduling, billing = FakeApi("scheduling"), FakeApi("billing")
    app = app_over_fakes(tmp_path, scheduling=scheduling, billing=billing)
    routes = scheduling.routes
    routes[("GET", f"/clinics/{CLINIC}")] = clinic_body(CLINIC)
    routes[("GET", f"/clinics/{CLINIC}/opening-hours")] = {
        "hours": [{"weekday": d, "starts": "09:00", "ends": "17:00"} for d in range(5)]
    }
    routes[("PUT", f"/clinics/{CLINIC}/opening-hours")] = lambda json, params: json
    routes[("GET", f"/clinics/{CLINIC}/treatment-types")] = [
        {"id": ASSESS, "name": "IMS assessment", "duration_minutes": 60, "active": True},
        {"id": TREAT, "name": "IMS treatment", "duration_minutes": 30, "active": True},
        {"id": str(uuid.uuid4()), "name": "Retired", "duration_minutes": 30, "active": False},
    ]
    routes[("GET", f"/clinics/{CLINIC}/closures")] = []
    routes[("PATCH", f"/clinics/{CLINIC}/booking-policy")] = lambda json, params: json
    billing.routes[("GET", f"/clinics/{CLINIC}/prices")] = [
        {
            "treatment_type_id": ASSESS,
            "effective_from": "2020-01-01",
            "amount_cents": 12000,
            "currency": "CAD",
        },
        {
            "treatment_type_id": ASSESS,
            "effective_from": "2099-01-01",
            "amount_cents": 13000,
            "currency": "CAD",
        },
    ]
    billing.routes[("PUT", f"/clinics/{CLINIC}/prices/{ASSESS}")] = lambda json, params: json
    billing.routes[("PUT", f"/clinics/{CLINIC}/prices/{TREAT}")] = lambda json, params: json
    found = Admin(app=app, client=app.test_client(), scheduling=scheduling, billing=billing)
    sign_in(found.client, credentials(["admin"]))
    return found


def week(**changes: str) -> dict[str, str]:
    form = {f"day-{d}-{part}": t for d in range(5) for part, t in (("opens", "09:00"), ("closes", "17:00"))}
    form |= {"day-5-closed": "true", "day-6-closed": "true"}
    return form | changes


# --- who may open them ---------------------------------------------------------------------------------


def test_the_admin_sees_clinic_in_the_navigation_and_its_sections(admin: Admin) -> None:
    html = admin.page("/staff/clinic")
    nav = html[html.index('class="main-nav"') : html.index("</nav>", html.index('class="main-nav"'))]
    assert 'href="/staff/clinic" aria-current="page">Clinic</a>' in nav
    assert "<h1>Clinic set-up</h1>" in html
    assert "Vancouver IMS" in html
    for path in ("opening-hours", "prices", "closures", "booking-policy"):
        assert f'href="/staff/clinic/{path}"' in html


@pytest.mark.parametrize(
    "signed",
    [
        credentials(["front_desk"]),
        credentials(["billing"]),
        credentials(["practitioner"]),
        credentials(["patient"], clinic_id=None, patient_id=str(uuid.uuid4())),
    ],
    ids=["front_desk", "billing", "practitioner", "patient"],
)
def test_only_admins_open_the_set_up_pages_or_send_their_forms(admin: Admin, signed: Credentials) -> None:
    sign_in(admin.client, signed)
    paths = ["", "/opening-hours", "/prices", f"/prices/{ASSESS}", "/closures", "/booking-policy"]
    for path in paths:
        html = admin.page(f"/staff/clinic{path}", status=403)
        assert "This page is not for your account" in html
        assert 'href="/staff/clinic"' not in html  # nor offered in the navigation
        assert admin.client.post(f"/staff/clinic{path}", data=week()).status_code in (403, 405)
    removal = admin.client.post(f"/staff/clinic/closures/{uuid.uuid4()}/remove")
    assert removal.status_code == 403
    assert not [call for call in admin.scheduling.calls + admin.billing.calls if call[0] != "GET"]


def test_nobody_signed_in_is_sent_to_sign_in(admin: Admin) -> None:
    response = admin.app.test_client().get("/staff/clinic/prices")
    assert response.status_code == 303
    assert response.location.startswith("/login?next=")


def test_an_organisation_wide_admin_picks_the_clinic_and_keeps_it(admin: Admin) -> None:
    sign_in(admin.client, credentials(["admin"], clinic_id=None))
    admin.scheduling.routes[("GET", "/clinics")] = [
        {"id": CLINIC, "name": "Vancouver IMS"},
        {"id": OTHER_CLINIC, "name": "Burnaby IMS"},
    ]
    html = admin.page("/staff/clinic/opening-hours")
    assert "Choose a clinic" in html
    assert f'href="/staff/clinic/opening-hours?clinic={CLINIC}"' in html
    html = admin.page(f"/staff/clinic/opening-hours?clinic={CLINIC}")
    assert f'action="/staff/clinic/opening-hours?clinic={CLINIC}"' in html
    response = admin.post(f"/staff/clinic/opening-hours?clinic={CLINIC}", week())
    assert response.location == f"/staff/clinic/opening-hours?clinic={CLINIC}"


# --- opening hours -------------------------------------------------------------------------------------


def test_the_week_shows_each_day_closed_or_its_hours_in_the_clinics_zone(admin: Admin) -> None:
    html = admin.page("/staff/clinic/opening-hours")
    assert 'href="/staff/clinic" aria-current="page">Clinic</a>' in html  # still the "Clinic" area
    assert "Pacific Time" in html
    assert '<th scope="row">Monday</th>' in html
    assert (
        'id="day-0-opens" name="day-0-opens" type="text" class="width-short" autocomplete="off" value="09:00"'
        in html
    )
    assert re.search(r'id="day-5-closed" name="day-5-closed" type="checkbox" value="true" checked', html)
    assert not re.search(r'id="day-0-closed" [^>]*checked', html)


def test_saving_the_week_puts_one_span_per_open_day_and_says_so(admin: Admin) -> None:
    form = week(**{"day-0-closes": "1 p.m.", "day-2-closed": "true", "form_token": "t1"})
    response = admin.post("/staff/clinic/opening-hours", form)
    assert response.location == "/staff/clinic/opening-hours"
    [(_, body)] = admin.sent(admin.scheduling, "PUT")
    assert body["hours"][0] == {"weekday": 0, "starts": "09:00", "ends": "13:00"}
    assert [span["weekday"] for span in body["hours"]] == [0, 1, 3, 4]
    assert "The opening hours are saved." in admin.page(response.location)
    # The same form again (a double click): sent once, and the second lands where the first went.
    assert admin.post("/staff/clinic/opening-hours", form).location == "/staff/clinic/opening-hours"
    assert len(admin.sent(admin.scheduling, "PUT")) == 1


def test_mistakes_in_the_week_are_sentences_beside_their_fields(admin: Admin) -> None:
    form = week(**{"day-1-opens": "", "day-3-closes": "8:00", "day-4-opens": "soon"})
    html = admin.post("/staff/clinic/opening-hours", form, status=422).get_data(as_text=True)
    assert "<title>Error: Opening hours" in html
    assert '<a href="#day-1-opens">Enter the time the clinic opens on Tuesday, or tick “Closed”</a>' in html
    assert error_beside(html, "day-3-closes") == "The closing time on Thursday must be after the opening time"
    assert error_beside(html, "day-4-opens") == "Enter the opening time on Friday like 09:00"
    assert 'value="soon"' in html  # answers kept
    assert not admin.sent(admin.scheduling, "PUT")


def test_a_week_closed_every_day_is_refused_with_the_way_to_close(admin: Admin) -> None:
    form = {f"day-{d}-closed": "true" for d in range(7)}
    html = admin.post("/staff/clinic/opening-hours", form, status=422).get_data(as_text=True)
    assert "add a closure instead" in error_beside(html, "day-0-closed")
    assert not admin.sent(admin.scheduling, "PUT")


def test_no_hours_yet_says_the_clinic_is_bookable_around_the_clock(admin: Admin) -> None:
    admin.scheduling.routes[("GET", f"/clinics/{CLINIC}/opening-hours")] = {"hours": []}
    html = admin.page("/staff/clinic/opening-hours")
    assert "online booking is open at any time of day, every day" in html


def test_the_apis_refusal_is_said_in_the_pages_words(admin: Admin) -> None:
    admin.scheduling.routes[("PUT", f"/clinics/{CLINIC}/opening-hours")] = ApiError(
        422, "Unprocessable Entity", fields={"hours.0.ends": "the end must be after the start"}
    )
    html = admin.post("/staff/clinic/opening-hours", week(), status=422).get_data(as_text=True)
    assert "We could not save these hours. Check each day&#39;s times." in html
    assert "the end must be after the start" not in html


def test_the_week_in_french(admin: Admin) -> None:
    admin.client.get("/staff/clinic/opening-hours?lang=fr")
    html = admin.post("/staff/clinic/opening-hours", week(**{"day-0-opens": ""}), status=422).get_data(
        as_text=True
    )
    assert "<h1>Heures d'ouverture</h1>" in html
    assert "lundi" in error_beside(html, "day-0-opens")
    assert "Enter the time" not in html


# --- prices --------------------------------------------------------------------------------------------


def test_the_price_list_shows_each_treatments_price_today_and_coming_changes(admin: Admin) -> None:
    html = admin.page("/staff/clinic/prices")
    assert '<th scope="row">IMS assessment</th>' in html
    assert "$120.00" in html
    assert "$130.00 from" in html
    assert "No price" in html  # IMS treatment
    assert "Retired" not in html
    assert f'href="/staff/clinic/prices/{ASSESS}"' in html


def test_a_new_price_is_sent_in_integer_cents_from_its_date(admin: Admin) -> None:
    html = admin.page(f"/staff/clinic/prices/{ASSESS}")
    assert f'value="{TODAY.day}"' in html  # today, in the clinic's zone
    assert f'value="{TODAY.year}"' in html
    form = {"amount": "95.00", "day": str(TODAY.day), "month": str(TODAY.month), "year": str(TODAY.year)}
    response = admin.post(f"/staff/clinic/prices/{ASSESS}", form | {"form_token": "p1"})
    assert response.location == "/staff/clinic/prices"
    [(path, body)] = admin.sent(admin.billing, "PUT")
    assert path == f"/clinics/{CLINIC}/prices/{ASSESS}"
    assert body == {"amount_cents": 9500, "currency": "CAD", "effective_from": TODAY.isoformat()}
    assert isinstance(body["amount_cents"], int)
    assert "IMS assessment costs $95.00 from" in admin.page("/staff/clinic/prices")


@pytest.mark.parametrize(
    ("amount", "sentence"),
    [
        ("", "Enter the new price"),
        ("ninety", "Enter the price as an amount of money, like 95.00"),
        ("95.001", "Enter the price in dollars and cents, like 95.50"),
        ("2000000", "Enter a price of 1,000,000.00 or less"),
    ],
)
def test_a_price_that_is_not_money_says_why(admin: Admin, amount: str, sentence: str) -> None:
    form = {"amount": amount, "day": str(TODAY.day), "month": str(TODAY.month), "year": str(TODAY.year)}
    html = admin.post(f"/staff/clinic/prices/{ASSESS}", form, status=422).get_data(as_text=True)
    assert "<title>Error: Price of IMS assessment" in html
    assert error_beside(html, "amount") == sentence
    assert not admin.sent(admin.billing, "PUT")


def test_a_change_cannot_be_back_dated_but_a_first_price_may_be(admin: Admin) -> None:
    past = {"amount": "95", "day": "1", "month": "1", "year": "2021"}
    html = admin.post(f"/staff/clinic/prices/{ASSESS}", past, status=422).get_data(as_text=True)
    assert error_beside(html, "date") == "The new price must apply from today or later"
    assert 'id="day" name="day" type="text" inputmode="numeric" value="1" class="input-error"' in html
    assert not admin.sent(admin.billing, "PUT")
    admin.post(f"/staff/clinic/prices/{TREAT}", past)
    assert admin.sent(admin.billing, "PUT")[0][1]["effective_from"] == "2021-01-01"


def test_a_wrong_date_part_is_the_only_one_highlighted(admin: Admin) -> None:
    form = {"amount": "95", "day": "31", "month": "2", "year": str(TODAY.year + 1)}
    html = admin.post(f"/staff/clinic/prices/{ASSESS}", form, status=422).get_data(as_text=True)
    assert error_beside(html, "date") == "The date must be a real date, like 27 3 2026"
    assert 'name="day" type="text" inputmode="numeric" value="31" class="input-error"' in html
    assert 'name="month" type="text" inputmode="numeric" value="2">' in html


def test_billings_refusal_lands_beside_the_date(admin: Admin) -> None:
    admin.billing.routes[("PUT", f"/clinics/{CLINIC}/prices/{ASSESS}")] = ApiError(
        422, "Unprocessable Entity", fields={"effective_from": "never retroactively"}
    )
    form = {"amount": "95", "day": str(TODAY.day), "month": str(TODAY.month), "year": str(TODAY.year)}
    html = admin.post(f"/staff/clinic/prices/{ASSESS}", form, status=422).get_data(as_text=True)
    assert error_beside(html, "date") == "The new price must apply from today or later"
    assert "retroactively" not in html


def test_an_unknown_treatment_has_no_price_page(admin: Admin) -> None:
    assert admin.client.get(f"/staff/clinic/prices/{uuid.uuid4()}").status_code == 404


# --- closures and the booking policy -------------------------------------------------------------------


def closure_form(first: str, last: str, reason: str = "Christmas Day") -> dict[str, str]:
    y1, m1, d1 = first.split("-")
    y2, m2, d2 = last.split("-")
    return {
        "starts_day": d1, "starts_month": m1, "starts_year": y1,
        "ends_day": d2, "ends_month": m2, "ends_year": y2, "reason": reason,
    }  # fmt: skip


def test_a_closure_is_added_and_removed(admin: Admin) -> None:
    admin.scheduling.routes[("POST", f"/clinics/{CLINIC}/closures")] = lambda json, params: json
    response = admin.post("/staff/clinic/closures", closure_form("2036-12-25", "2036-12-26"))
    assert response.location == "/staff/clinic/closures"
    assert admin.scheduling.posted(f"/clinics/{CLINIC}/closures") == [
        {"starts_on": "2036-12-25", "ends_on": "2036-12-26", "reason": "Christmas Day"}
    ]
    closure = str(uuid.uuid4())
    admin.scheduling.routes[("GET", f"/clinics/{CLINIC}/closures")] = [
        {"id": closure, "starts_on": "2036-12-25", "ends_on": "2036-12-26", "reason": "Christmas Day"}
    ]
    html = admin.page("/staff/clinic/closures")
    assert "The clinic is closed from Thursday, December 25, 2036 to Friday, December 26, 2036." in html
    assert f'action="/staff/clinic/closures/{closure}/remove"' in html
    admin.scheduling.routes[("DELETE", f"/clinics/{CLINIC}/closures/{closure}")] = lambda json, params: None
    response = admin.post(f"/staff/clinic/closures/{closure}/remove", {"form_token": "r1"})
    assert response.location == "/staff/clinic/closures"
    assert "The closure is removed." in admin.page(response.location)
    # Removed meanwhile (or a repeat without its token): the list shows how it is now, no error page.
    admin.scheduling.routes.pop(("DELETE", f"/clinics/{CLINIC}/closures/{closure}"))
    assert admin.post(f"/staff/clinic/closures/{closure}/remove", {}).location == "/staff/clinic/closures"
    deletes = [path for method, path, *_ in admin.scheduling.calls if method == "DELETE"]
    assert deletes == [f"/clinics/{CLINIC}/closures/{closure}"] * 2


def test_a_one_day_closure_says_so(admin: Admin) -> None:
    admin.scheduling.routes[("POST", f"/clinics/{CLINIC}/closures")] = lambda json, params: json
    response = admin.post("/staff/clinic/closures", closure_form("2036-12-25", "2036-12-25"))
    assert "The clinic is closed on Thursday, December 25, 2036." in admin.page(response.location)


def test_a_closure_ending_before_it_starts_or_without_reason_is_refused(admin: Admin) -> None:
    html = admin.post(
        "/staff/clinic/closures", closure_form("2036-12-26", "2036-12-25", reason=""), status=422
    ).get_data(as_text=True)
    assert "<title>Error: Closures" in html
    assert error_beside(html, "ends") == "The last day closed must be the same as or after the first"
    assert error_beside(html, "reason").startswith("Enter the reason the clinic is closed")
    assert not admin.scheduling.posted(f"/clinics/{CLINIC}/closures")


def test_the_booking_policy_is_shown_and_saved(admin: Admin) -> None:
    html = admin.page("/staff/clinic/booking-policy")
    assert 'value="120"' in html
    assert 'value="90"' in html
    assert '<option value="15" selected>Every 15 minutes</option>' in html
    form = {"min_notice_minutes": "60", "horizon_days": "30", "slot_step_minutes": "30"}
    assert admin.post("/staff/clinic/booking-policy", form).location == "/staff/clinic/booking-policy"
    assert admin.sent(admin.scheduling, "PATCH") == [
        (
            f"/clinics/{CLINIC}/booking-policy",
            {"min_notice_minutes": 60, "horizon_days": 30, "slot_step_minutes": 30},
        )
    ]
    bad = {"min_notice_minutes": "two hours", "horizon_days": "0", "slot_step_minutes": "7"}
    html = admin.post("/staff/clinic/booking-policy", bad, status=422).get_data(as_text=True)
    assert error_beside(html, "min_notice_minutes").startswith("Enter the minimum notice as a whole number")
    assert error_beside(html, "horizon_days") == "Enter 1 to 730 days"
    assert error_beside(html, "slot_step_minutes") == "Choose how often appointments may start"
    assert len(admin.sent(admin.scheduling, "PATCH")) == 1
