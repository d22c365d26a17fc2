"""The front desk's day in a browser: the front desk signs in, opens the day of an appointment, finds it in
the practitioner's column and checks the patient in; a patient cannot open the staff page. The desk moves a
booked appointment from its block to another free time, and reads the clinic's waitlist.

The admin seeds the clinic through the real APIs (journey.py); the front desk acts in the browser.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from .browser import Browser
from .journey import Journey
from .system import System
from .test_portal_booking import WEEKDAYS_9_TO_5, at, day_slots, show_week_with, weekday_ahead

pytestmark = pytest.mark.e2e

VANCOUVER = ZoneInfo("America/Vancouver")  # journey.clinic_with_assessment's zone
SCREENSHOT_COPY = Path("/tmp/staff-day.png")


class RecordingJourney(Journey):
    """Journey that remembers the staff accounts it creates (their e-mail and password sign in here)."""

    def __init__(self, system: System) -> None:
        super().__init__(system)
        self.staff_accounts: list[dict[str, Any]] = []

    def ok(self, method: str, service: str, path: str, token: str | None = None, **kwargs: Any) -> Any:
        if (method, path) == ("POST", "/staff-accounts"):
            self.staff_accounts.append(kwargs["json"])
        return super().ok(method, service, path, token, **kwargs)


@pytest.fixture
def journey(portal: System) -> Iterator[RecordingJourney]:
    client = RecordingJourney(portal)
    yield client
    client.http.close()


def sign_in(page: Page, portal: System, email: str, password: str) -> None:
    page.goto(f"{portal.url('web')}/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_the_front_desk_checks_a_patient_in_from_the_day(
    portal: System, browser: Browser, journey: RecordingJourney, tmp_path: Path
) -> None:
    admin = journey.first_admin()
    catalogue = journey.clinic_with_assessment(admin, price_cents=12000)
    clinic_id = catalogue["clinic_id"]
    journey.staff(admin, "front_desk", clinic_id)
    desk_account = journey.staff_accounts[-1]
    patient_id, patient_email, _ = journey.patient("Nora")
    # Staff book without notice: the next quarter-hour, today, so the patient can be checked in now.
    now = datetime.now(UTC)
    starts = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0) + timedelta(minutes=15)
    if starts.astimezone(VANCOUVER).date() != now.astimezone(VANCOUVER).date():
        pytest.skip("the next quarter-hour is tomorrow in Vancouver: nobody can check in for it yet")
    booked = journey.book(admin, catalogue | {"patient_id": patient_id}, starts)
    assert booked.status_code == 201, booked.text
    appointment_id = booked.json()["id"]
    day = starts.astimezone(VANCOUVER).date()
    # A second practitioner: a cancelled appointment and the one booked in its place, side by side.
    jo = journey.ok(
        "POST",
        "scheduling",
        f"/clinics/{clinic_id}/practitioners",
        admin,
        json={"display_name": "Jo Park", "registration_number": "PT-1002", "ims_qualified": True},
    )
    with_jo = catalogue | {"practitioner_id": jo["id"]}
    cancelled_for = journey.patient("Omar")[0]
    cancelled = journey.book(admin, with_jo | {"patient_id": cancelled_for}, starts).json()
    journey.ok("POST", "scheduling", f"/appointments/{cancelled['id']}/cancel", admin, json={})
    instead = journey.book(admin, with_jo | {"patient_id": journey.patient("Lea")[0]}, starts)
    assert instead.status_code == 201, instead.text

    page = browser.page()
    sign_in(page, portal, desk_account["email"], desk_account["password"])
    # Staff land on their day; the navigation has staff links only.
    expect(page).to_have_url(re.compile(r"/staff/day$"))
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Day")).to_be_visible()
    expect(nav.get_by_role("link", name="My appointments")).to_have_count(0)

    # Open the appointment's day with the date picker.
    page.get_by_label("Date").fill(day.isoformat())
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(rf"date={day.isoformat()}"))
    column = page.locator("section.day-column", has=page.get_by_role("heading", name="Ida Needham"))
    block = column.locator(f"#appt-{appointment_id}")
    expect(block).to_contain_text("Nora Li")
    expect(block).to_contain_text("IMS assessment")
    expect(block).to_contain_text("Booked")
    expect(column.locator(".now-line")).to_have_count(1)  # today: the "now" line

    # With the keyboard alone: open the block, check in.
    block.locator("summary").focus()
    page.keyboard.press("Enter")
    check_in = block.get_by_role("button", name=re.compile(r"^Check in Nora Li"))
    expect(check_in).to_be_visible()
    check_in.focus()
    page.keyboard.press("Enter")

    expect(page.get_by_role("status").filter(has_text="Nora Li is checked in.")).to_be_visible()
    block = page.locator(f"#appt-{appointment_id}")
    expect(block.locator("summary")).to_be_focused()  # back where the desk was
    expect(block.locator(".appt-status")).to_have_text(re.compile(r"Arrived"))
    expect(block).to_have_class(re.compile(r"status-arrived"))
    assert journey.ok("GET", "scheduling", f"/appointments/{appointment_id}", admin)["status"] == "arrived"

    # Open it again: checked in, and not started yet, so there is nothing more to do for now.
    block.locator("summary").click()
    expect(block.get_by_text("Nothing to do here: the appointment is arrived.")).to_be_visible()
    expect(block.get_by_role("button", name=re.compile(r"^Check in"))).to_have_count(0)
    block.locator("summary").click()

    # The cancelled appointment is hidden until asked for, then struck through beside its replacement.
    jo_column = page.locator("section.day-column", has=page.get_by_role("heading", name="Jo Park"))
    expect(jo_column.locator(".appt")).to_have_count(1)
    page.get_by_role("link", name="Show 1 cancelled appointment").click()
    expect(jo_column.locator(".appt")).to_have_count(2)
    expect(jo_column.locator(f"#appt-{cancelled['id']}")).to_contain_text("Cancelled")
    expect(jo_column.locator(f"#appt-{cancelled['id']}")).to_contain_text("Omar Li")

    shot = tmp_path / "staff-day.png"
    page.screenshot(path=str(shot), full_page=True)
    shutil.copyfile(shot, SCREENSHOT_COPY)
    browser.check(page, "staff-day")  # axe-core: nothing serious; no sideways scroll

    # Someone else checks Lea in while this page is open: the desk's click is refused, in a sentence.
    lea = jo_column.locator(f"#appt-{instead.json()['id']}")
    lea.locator("summary").click()
    journey.ok("POST", "scheduling", f"/appointments/{instead.json()['id']}/arrive", admin)
    lea.get_by_role("button", name=re.compile(r"^Check in Lea Li")).click()
    lea = page.locator(f"#appt-{instead.json()['id']}")
    stale = re.compile(r"^Someone else changed this appointment meanwhile")
    expect(lea.get_by_role("alert")).to_have_text(stale)
    expect(lea.locator(".appt-status")).to_have_text(re.compile(r"Arrived"))
    expect(page.get_by_text('"status"')).to_have_count(0)  # never the API's JSON
    page.screenshot(path=str(tmp_path / "staff-day-refused.png"), full_page=True)
    browser.check(page, "staff-day-refused")
    page.context.close()

    phone = browser.page(phone=True)
    sign_in(phone, portal, desk_account["email"], desk_account["password"])
    phone.goto(f"{portal.url('web')}/staff/day?date={day.isoformat()}")
    expect(phone.locator(f"#appt-{appointment_id}")).to_contain_text("Arrived")
    browser.check(phone, "staff-day")
    phone.context.close()

    # A patient signed in is refused the staff page, plainly.
    patient_page = browser.page()
    sign_in(patient_page, portal, patient_email, "patient password")
    expect(patient_page.get_by_role("heading", name="Your clinic", level=1)).to_be_visible()
    response = patient_page.goto(f"{portal.url('web')}/staff/day")
    assert response is not None
    assert response.status == 403
    expect(patient_page.get_by_role("heading", name="This page is not for your account")).to_be_visible()
    patient_page.context.close()


def test_days_around_are_a_click_away(portal: System, browser: Browser, journey: RecordingJourney) -> None:
    admin = journey.first_admin()
    catalogue = journey.clinic_with_assessment(admin, price_cents=12000)
    journey.staff(admin, "front_desk", catalogue["clinic_id"])
    desk_account = journey.staff_accounts[-1]
    page = browser.page()
    sign_in(page, portal, desk_account["email"], desk_account["password"])
    today = datetime.now(VANCOUVER).date()
    page.get_by_role("link", name="Next day").click()
    expect(page).to_have_url(re.compile(rf"date={(today + timedelta(days=1)).isoformat()}"))
    expect(page.get_by_text("No appointments on this day.")).to_be_visible()
    page.get_by_role("link", name="Today").click()
    expect(page.get_by_text("Today", exact=True)).to_be_visible()
    page.context.close()


def desk_clinic(journey: RecordingJourney) -> tuple[str, dict[str, str], dict[str, Any]]:
    """A clinic whose Ida works weekdays 9 to 5 (half-hour slots), and its front desk's account."""
    admin = journey.first_admin()
    catalogue = journey.clinic_with_assessment(admin, price_cents=12000)
    base = f"/clinics/{catalogue['clinic_id']}"
    journey.ok("PATCH", "scheduling", f"{base}/booking-policy", admin, json={"slot_step_minutes": 30})
    hours = f"{base}/practitioners/{catalogue['practitioner_id']}/working-hours"
    journey.ok("PUT", "scheduling", hours, admin, json=WEEKDAYS_9_TO_5)
    journey.staff(admin, "front_desk", catalogue["clinic_id"])
    return admin, catalogue, journey.staff_accounts[-1]


def test_the_desk_moves_a_booked_appointment_from_its_block_to_another_free_time(
    portal: System, browser: Browser, journey: RecordingJourney
) -> None:
    admin, catalogue, desk = desk_clinic(journey)
    rita, _, _ = journey.patient("Rita")
    day, later_day = weekday_ahead(7, 1), weekday_ahead(7, 1) + timedelta(days=1)  # a Tuesday, then Wednesday
    booked = journey.book(admin, catalogue | {"patient_id": rita}, at(day, 10))
    assert booked.status_code == 201, booked.text
    appointment_id = booked.json()["id"]

    page = browser.page()
    sign_in(page, portal, desk["email"], desk["password"])
    page.goto(f"{portal.url('web')}/staff/day?date={day.isoformat()}")
    block = page.locator(f"#appt-{appointment_id}")
    block.locator("summary").click()
    expect(block.get_by_role("link", name=re.compile(r"^Open patient Rita Li"))).to_be_visible()
    block.get_by_role("link", name=re.compile(r"^Reschedule Rita Li")).click()

    expect(page.get_by_role("heading", name="Choose a new time")).to_be_visible()
    expect(page.get_by_text("Moving Rita Li's appointment")).to_be_visible()
    expect(page.get_by_label("Practitioner")).to_have_value(catalogue["practitioner_id"])
    browser.check(page, "staff-move-times")
    show_week_with(page, later_day)
    day_slots(page, later_day).filter(has_text=re.compile(r"^2:00\sp\.m\.$")).click()

    expect(page.get_by_role("heading", name="Check the new time")).to_be_visible()
    expect(page.locator("del")).to_contain_text("10:00")
    browser.check(page, "staff-move-review")
    page.get_by_role("button", name="Move the appointment").click()

    expect(page).to_have_url(re.compile(rf"/staff/day\?date={later_day.isoformat()}#appt-{appointment_id}$"))
    expect(page.get_by_role("status").filter(has_text="Rita Li's appointment is moved to")).to_be_visible()
    block = page.locator(f"#appt-{appointment_id}")
    expect(block.locator(".appt-time")).to_have_text(re.compile(r"^2:00"))
    moved = journey.ok("GET", "scheduling", f"/appointments/{appointment_id}", admin)
    assert datetime.fromisoformat(moved["starts_at"]) == at(later_day, 14)
    browser.check(page, "staff-day-moved")

    # The block's patient link opens their history.
    block.locator("summary").click()
    block.get_by_role("link", name=re.compile(r"^Open patient Rita Li")).click()
    expect(page).to_have_url(re.compile(rf"/staff/patients/{rita}$"))
    expect(page.get_by_role("heading", name="Rita Li", level=1)).to_be_visible()
    page.context.close()


def test_the_waitlist_lists_what_a_patient_asked_for(
    portal: System, browser: Browser, journey: RecordingJourney
) -> None:
    _, catalogue, desk = desk_clinic(journey)
    _, _, sam_token = journey.patient("Sam")
    start = weekday_ahead(21, 0)
    wish = {
        "clinic_id": catalogue["clinic_id"],
        "treatment_type_id": catalogue["treatment_type_id"],
        "not_before": at(start, 9).isoformat(),
        "not_after": at(start + timedelta(days=4), 17).isoformat(),
    }
    entry = journey.ok("POST", "scheduling", "/waitlist", sam_token, json=wish)

    page = browser.page()
    sign_in(page, portal, desk["email"], desk["password"])
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Waitlist").click()
    expect(page.get_by_role("heading", name="Waitlist", level=1)).to_be_visible()
    row = page.locator(f"#entry-{entry['id']}")
    expect(row).to_contain_text("Sam Li")
    expect(row).to_contain_text("IMS assessment")
    expect(row).to_contain_text("Any qualified practitioner")
    expect(row).to_contain_text("Waiting")
    expect(row).to_contain_text("9:00")  # the window, on the clinic's clock
    browser.check(page, "staff-waitlist")
    page.context.close()

    phone = browser.page(phone=True)
    sign_in(phone, portal, desk["email"], desk["password"])
    phone.goto(f"{portal.url('web')}/staff/waitlist")
    expect(phone.locator(f"#entry-{entry['id']}")).to_contain_text("Sam Li")
    browser.check(phone, "staff-waitlist")
    phone.context.close()
