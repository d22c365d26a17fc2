"""The clinic admin's set-up pages in a browser, against the real system (issue 12, journeys 3 and 4).

Journey 3: the clinic's admin signs in, narrows the opening hours (weekends closed, weekdays 09:00-17:00
Vancouver time), closes one day for a holiday and sets a new price from today; the free times patients are
offered follow the hours, and the next booking is charged the new price.

Journey 4: a patient's session opens no staff page: every GET page under /staff the web app registers
answers the plain 403 page.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from .browser import Browser
from .system import System, wait_for
from .test_staff_day import RecordingJourney, sign_in

pytestmark = pytest.mark.e2e

VANCOUVER = ZoneInfo("America/Vancouver")  # journey.clinic_with_assessment's zone
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


@pytest.fixture
def journey(portal: System) -> Iterator[RecordingJourney]:
    client = RecordingJourney(portal)
    yield client
    client.http.close()


def free_slots(
    journey: RecordingJourney, token: str, catalogue: dict[str, str], first: date, last: date
) -> list:
    slots: list[dict[str, Any]] = []
    for page in range(1, 20):
        response = journey.call(
            "GET",
            "scheduling",
            f"/clinics/{catalogue['clinic_id']}/slots",
            token,
            params={
                "treatment_type_id": catalogue["treatment_type_id"],
                "from": first.isoformat(),
                "to": last.isoformat(),
                "page": page,
                "page_size": 500,
            },
        )
        assert response.status_code == 200, response.text
        slots.extend(response.json())
        if page >= int(json.loads(response.headers.get("X-Pagination") or "{}").get("total_pages") or 1):
            break
    return slots


def local(moment: str) -> datetime:
    return datetime.fromisoformat(moment).astimezone(VANCOUVER)


def set_week(page: Page, hours: dict[int, tuple[str, str] | None]) -> None:
    for weekday, name in enumerate(WEEKDAYS):
        closed = page.get_by_label(f"Closed on {name}")
        if hours.get(weekday) is None:
            closed.check()
            continue
        closed.uncheck()
        opens, closes = hours[weekday]  # type: ignore[misc]
        page.get_by_label(f"{name} opens at").fill(opens)
        page.get_by_label(f"{name} closes at").fill(closes)


def test_the_admin_sets_hours_a_closure_and_a_price_and_booking_follows(
    portal: System, browser: Browser, journey: RecordingJourney
) -> None:
    organisation_admin = journey.first_admin()
    catalogue = journey.clinic_with_assessment(organisation_admin, price_cents=12000)
    clinic_id = catalogue["clinic_id"]
    journey.staff(organisation_admin, "admin", clinic_id)
    admin = journey.staff_accounts[-1]
    clerk = journey.staff(organisation_admin, "billing", clinic_id)
    patient_id, _, patient = journey.patient("Nadia")

    today = datetime.now(VANCOUVER).date()
    first, last = today + timedelta(days=2), today + timedelta(days=9)  # a whole week, beyond the notice
    before = free_slots(journey, patient, catalogue, first, last)
    assert any(local(s["starts_at"]).weekday() == 5 for s in before)  # no hours yet: open every day
    assert any(local(s["starts_at"]).hour < 9 for s in before)

    page = browser.page()
    sign_in(page, portal, admin["email"], admin["password"])
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Clinic").click()
    expect(page.get_by_role("heading", name="Clinic set-up", level=1)).to_be_visible()
    browser.check(page, "staff-admin-clinic")

    # Opening hours: a mistake first, answered beside the field; then weekdays 9 to 5, weekends closed.
    page.get_by_role("link", name="Opening hours").click()
    expect(page.get_by_text("online booking is open at any time of day, every day")).to_be_visible()
    weekdays: dict[int, tuple[str, str] | None] = dict.fromkeys(range(5), ("09:00", "17:00"))
    set_week(page, weekdays | {2: ("17:00", "9:00")})
    page.get_by_role("button", name="Save opening hours").click()
    expect(page).to_have_title(re.compile("^Error: Opening hours"))
    expect(page.locator("#day-2-closes-error")).to_contain_text(
        "The closing time on Wednesday must be after the opening time"
    )
    expect(page.get_by_label("Wednesday opens at")).to_have_value("17:00")  # answers kept
    browser.check(page, "staff-admin-opening-hours-error")
    set_week(page, weekdays)
    page.get_by_role("button", name="Save opening hours").click()
    expect(page.get_by_role("status")).to_have_text("The opening hours are saved.")
    expect(page.get_by_label("Saturday opens at")).to_have_value("")
    expect(page.get_by_label("Closed on Saturday")).to_be_checked()
    expect(page.get_by_label("Monday closes at")).to_have_value("17:00")
    browser.check(page, "staff-admin-opening-hours")

    # A holiday: the first weekday of the week searched.
    holiday = next(first + timedelta(days=n) for n in range(7) if (first + timedelta(days=n)).weekday() < 5)
    page.get_by_role("link", name="Back to clinic set-up").click()
    page.get_by_role("link", name="Closures").click()
    expect(page.get_by_text("No closures are set.")).to_be_visible()
    for prefix, day in (("First day closed", holiday), ("Last day closed", holiday)):
        group = page.get_by_role("group", name=prefix)
        group.get_by_label("Day").fill(str(day.day))
        group.get_by_label("Month").fill(str(day.month))
        group.get_by_label("Year").fill(str(day.year))
    page.get_by_label("Reason").fill("Staff training")
    page.get_by_role("button", name="Add closure").click()
    expect(page.get_by_role("status")).to_contain_text("The clinic is closed on")
    expect(page.get_by_role("cell", name="Staff training")).to_be_visible()
    browser.check(page, "staff-admin-closures")

    # A new price from today.
    page.get_by_role("link", name="Back to clinic set-up").click()
    page.get_by_role("link", name="Prices").click()
    row = page.get_by_role("row", name=re.compile("IMS assessment"))
    expect(row).to_contain_text("$120.00")
    browser.check(page, "staff-admin-prices")
    row.get_by_role("link", name="Change the price of IMS assessment").click()
    expect(page.get_by_label("Day")).to_have_value(str(today.day))  # today, on the clinic's calendar
    page.get_by_label("New price").fill("ninety-five")
    page.get_by_role("button", name="Save price").click()
    expect(page.locator("#amount-error")).to_contain_text("Enter the price as an amount of money, like 95.00")
    browser.check(page, "staff-admin-price-error")
    page.get_by_label("New price").fill("95.00")
    page.get_by_role("button", name="Save price").click()
    expect(page.get_by_role("status")).to_contain_text("IMS assessment costs $95.00 from")
    expect(page.get_by_role("row", name=re.compile("IMS assessment"))).to_contain_text("$95.00")
    page.get_by_role("link", name="Back to clinic set-up").click()
    page.get_by_role("link", name="Online booking").click()
    expect(page.get_by_label("Minimum notice, in minutes")).to_have_value("60")
    browser.check(page, "staff-admin-booking-policy")
    page.context.close()

    # On a phone: the week's table stacks, nothing scrolls sideways.
    phone = browser.page(phone=True)
    sign_in(phone, portal, admin["email"], admin["password"])
    phone.goto(f"{portal.url('web')}/staff/clinic/opening-hours")
    expect(phone.get_by_label("Monday opens at")).to_have_value("09:00")
    browser.check(phone, "staff-admin-opening-hours")
    phone.context.close()

    # Patients are offered times inside the new hours only, none at weekends nor on the holiday.
    after = free_slots(journey, patient, catalogue, first, last)
    assert after, "weekdays still have free times"
    for slot in after:
        starts, ends = local(slot["starts_at"]), local(slot["ends_at"])
        assert starts.weekday() < 5, slot
        assert starts.date() != holiday, slot
        assert time(9) <= starts.time(), slot
        assert ends.time() <= time(17), slot
        assert ends.date() == starts.date(), slot

    # The next booking is charged the new price.
    booked = journey.book(patient, catalogue | {"practitioner_id": after[0]["practitioner_id"]},
                          datetime.fromisoformat(after[0]["starts_at"]))  # fmt: skip
    assert booked.status_code == 201, booked.text
    appointment_id = booked.json()["id"]

    def charge() -> dict[str, Any] | None:
        charges = journey.ok("GET", "billing", f"/charges?appointment_id={appointment_id}", clerk)
        return charges[0] if charges else None

    planned = wait_for(charge, timeout=30, what="the booking's charge")
    assert planned["amount_cents"] == 9500
    assert planned["patient_id"] == patient_id


def staff_get_paths() -> list[str]:
    """Every GET page under /staff the web app registers, path parameters filled in with random UUIDs."""
    from web.adapters.sessions import SqliteStore
    from web.config import WebSettings
    from web.entrypoints.app import create_app
    from web.service_layer.ports import Apis
    from web.testing import FakeApi

    scratch = Path("/tmp") / f"staff-paths-{uuid.uuid4().hex}"
    scratch.mkdir()
    settings = WebSettings.from_env(
        {"WEB_SECRET_KEY": "k" * 40, "VAR_DIR": str(scratch), "LOG_LEVEL": "ERROR"}
    )
    app = create_app(
        settings,
        apis=Apis(scheduling=FakeApi("scheduling"), billing=FakeApi("billing"), notifications=FakeApi("n")),
        store=SqliteStore(scratch / "sessions.db"),
    )

    def fill(found: re.Match[str]) -> str:
        converter = found.group(1) or ""
        if converter.startswith("any("):
            return converter[4:].split(",")[0].strip(" )'\"")
        return str(uuid.uuid4())

    paths = {
        re.sub(r"<(?:([^:>]+):)?[^>]+>", fill, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/staff") and "GET" in (rule.methods or ())
    }
    return sorted(paths)


def test_a_patients_session_opens_no_staff_page(
    portal: System, browser: Browser, journey: RecordingJourney
) -> None:
    paths = staff_get_paths()
    assert {"/staff", "/staff/day", "/staff/patients", "/staff/clinic", "/staff/clinic/prices"} <= set(paths)
    _, email, _ = journey.patient("Pia")
    page = browser.page()
    sign_in(page, portal, email, "patient password")
    expect(page.get_by_role("heading", name="Your clinic", level=1)).to_be_visible()
    for path in paths:
        response = page.goto(f"{portal.url('web')}{path}")
        assert response is not None
        assert response.status == 403, f"{path}: {response.status}"
        expect(page.get_by_role("heading", name="This page is not for your account", level=1)).to_be_visible()
        expect(page.get_by_role("link", name="Clinic", exact=True)).to_have_count(0)
    browser.check(page, "staff-admin-forbidden-to-patients")
    page.context.close()
