"""The practitioner's pages in a browser: after an assessment the practitioner records IMS suitability and
consent from its block (one form; each missing answer said beside its field), which clears the patient for
IMS; the desk opens the patient's history (appointments past and upcoming, a plan's progress) from the
Patients page, and the week with a closure and the practitioner's time off shaded.

The admin seeds the clinic through the real APIs (journey.py); staff act in the browser.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from .browser import Browser
from .system import System
from .test_portal_booking import WEEKDAYS_9_TO_5, at, weekday_ahead
from .test_staff_day import VANCOUVER, RecordingJourney, journey, sign_in

pytestmark = pytest.mark.e2e
__all__ = ["journey"]  # the fixture, used by name


def test_the_practitioner_records_suitability_and_the_desk_reads_history_and_week(
    portal: System, browser: Browser, journey: RecordingJourney
) -> None:
    if (datetime.now(VANCOUVER) + timedelta(hours=1)).date() != datetime.now(VANCOUVER).date():
        pytest.skip("too close to midnight in Vancouver to see the same day's visits")
    admin = journey.first_admin()
    catalogue = journey.clinic_with_assessment(admin, price_cents=12000)
    clinic_id, ida = catalogue["clinic_id"], catalogue["practitioner_id"]
    base = f"/clinics/{clinic_id}"
    journey.ok("PUT", "scheduling", f"{base}/practitioners/{ida}/working-hours", admin, json=WEEKDAYS_9_TO_5)
    ims_body = {"code": "IMS30", "name": "IMS session", "kind": "treatment", "duration_minutes": 30}
    ims = journey.ok("POST", "scheduling", f"{base}/treatment-types", admin, json=ims_body)["id"]
    price = {"amount_cents": 9500, "currency": "CAD", "effective_from": "2020-01-01"}
    journey.ok("PUT", "billing", f"{base}/prices/{ims}", admin, json=price)
    # Max works any time (no working hours): Rita's assessment with him starts in a few seconds.
    code = uuid.uuid4().hex[:6]
    max_body = {"display_name": "Max Ortiz", "registration_number": f"PT-{code}"}
    max_ = journey.ok("POST", "scheduling", f"{base}/practitioners", admin, json=max_body)["id"]
    rita, _, _ = journey.patient("Rita")
    soon = datetime.now(UTC) + timedelta(seconds=4)
    booked = journey.book(admin, catalogue | {"practitioner_id": max_, "patient_id": rita}, soon)
    assert booked.status_code == 201, booked.text
    assessment = booked.json()["id"]
    time.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 0.5)
    journey.ok("POST", "scheduling", f"/appointments/{assessment}/complete", admin)
    # Max's login, and the desk's.
    max_login = {
        "email": f"max-{code}@clinic.test",
        "password": "staff password 1",
        "roles": ["practitioner"],
        "clinic_id": clinic_id,
        "practitioner_id": max_,
    }
    journey.ok("POST", "scheduling", "/staff-accounts", admin, json=max_login)
    journey.staff(admin, "front_desk", clinic_id)
    desk = journey.staff_accounts[-1]

    # The practitioner opens today (their own column), and the completed assessment's block.
    page = browser.page()
    sign_in(page, portal, max_login["email"], max_login["password"])
    page.goto(f"{portal.url('web')}/staff/day")
    block = page.locator(f"#appt-{assessment}")
    expect(block).to_contain_text("Completed")
    block.locator("summary").click()
    block.get_by_role("link", name=re.compile(r"^Record suitability Rita Li")).click()

    # One form: nothing chosen, then "suitable" without consent, each said beside its field.
    expect(page.get_by_role("heading", name="Record IMS suitability")).to_be_visible()
    page.get_by_role("button", name="Save finding").click()
    expect(page).to_have_title(re.compile("^Error: "))
    expect(page.locator("#suitable-error")).to_contain_text("Select whether IMS is suitable")
    expect(page.locator(".error-summary")).to_be_focused()
    browser.check(page, "staff-practice-suitability-error")
    page.get_by_role("radio", name="Yes, IMS is suitable").check()
    page.get_by_role("button", name="Save finding").click()
    expect(page.locator("#consent_recorded-error")).to_contain_text("Confirm the patient gave consent")
    expect(page.get_by_role("radio", name="Yes, IMS is suitable")).to_be_checked()
    page.get_by_role("checkbox", name="The patient gave informed consent to IMS").check()
    page.get_by_role("button", name="Save finding").click()
    expect(
        page.get_by_role("status").filter(has_text="IMS suitability for Rita Li is recorded.")
    ).to_be_visible()
    browser.check(page, "staff-practice-day")
    clearance = journey.ok("GET", "scheduling", f"{base}/ims-clearance", admin, params={"patient_id": rita})
    assert clearance["cleared"] is True
    assert clearance["consent_recorded"] is True
    page.context.close()

    # Rita is cleared: a course of three weekly IMS sessions with Ida; Ida takes a morning off, and the
    # clinic closes a day of that week.
    first_day = weekday_ahead(8, 1)  # a Tuesday
    plan = {
        "clinic_id": clinic_id,
        "practitioner_id": ida,
        "treatment_type_id": ims,
        "sessions": 3,
        "weekday": 1,
        "local_time": "10:00",
        "first_day": first_day.isoformat(),
        "patient_id": rita,
    }
    # The clinic now has a treatment room: the sessions take it (the assessment had none).
    room = journey.ok("POST", "scheduling", f"{base}/rooms", admin, json={"name": "Room 1"})["id"]
    journey.ok("POST", "scheduling", "/plans", admin, json=plan)
    away = {
        "starts_at": at(first_day, 13).isoformat(),
        "ends_at": at(first_day, 17).isoformat(),
        "reason": "Course",
    }
    journey.ok("POST", "scheduling", f"{base}/practitioners/{ida}/time-off", admin, json=away)
    thursday = (first_day + timedelta(days=2)).isoformat()
    closure = {"starts_on": thursday, "ends_on": thursday, "reason": "Staff training"}
    journey.ok("POST", "scheduling", f"{base}/closures", admin, json=closure)

    # The desk finds Rita on the Patients page and opens her history.
    page = browser.page()
    sign_in(page, portal, desk["email"], desk["password"])
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients").click()
    page.get_by_label("Search your clinic's patients").fill("Rita")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Li, Rita").click()
    expect(page.get_by_role("heading", name="Rita Li", level=1)).to_be_visible()
    expect(page.get_by_text("Cleared for IMS")).to_be_visible()
    upcoming = page.locator("section", has=page.get_by_role("heading", name="Upcoming appointments"))
    expect(upcoming.get_by_role("row")).to_have_count(4)  # a header and three sessions
    past = page.locator("section", has=page.get_by_role("heading", name="Past appointments"))
    expect(past).to_contain_text("IMS assessment")
    expect(past).to_contain_text("Completed")
    expect(page.get_by_text("0 of 3 sessions done")).to_be_visible()
    browser.check(page, "staff-practice-patient")

    # The week of the first session: Ida's column of days, her afternoon off and the closed Thursday.
    page.goto(f"{portal.url('web')}/staff/week?date={first_day.isoformat()}&practitioner={ida}")
    expect(page.get_by_role("heading", name=re.compile("^Week of "))).to_be_visible()
    expect(page.locator(".day-column")).to_have_count(7)
    tuesday = page.locator(f"section[aria-labelledby='col-{first_day.isoformat()}']")
    expect(tuesday.locator(".appt")).to_have_count(1)
    expect(tuesday.locator(".off-time_off")).to_contain_text("Time off")
    expect(page.locator(f"section[aria-labelledby='col-{thursday}'] .off-closed")).to_contain_text(
        "Clinic closed"
    )
    browser.check(page, "staff-practice-week")
    # A day's heading opens it; the closed day says so above the grid.
    page.locator(f"#col-{thursday} a").click()
    expect(page.get_by_text("The clinic is closed on this day.")).to_be_visible()
    browser.check(page, "staff-practice-day-closed")
    # The rooms toggle: a column per room, each block naming its practitioner.
    page.goto(f"{portal.url('web')}/staff/day?date={first_day.isoformat()}&practitioner=")
    page.get_by_role("link", name="Show a column per room").click()
    column = page.locator(f"section[aria-labelledby='col-{room}']")
    expect(column.get_by_role("heading", name="Room 1")).to_be_visible()
    expect(column.locator(".appt")).to_contain_text("Ida Needham")
    browser.check(page, "staff-practice-day-rooms")
    page.context.close()

    # French, on a phone: the week without sideways scroll.
    page = browser.page(phone=True)
    sign_in(page, portal, desk["email"], desk["password"])
    page.goto(f"{portal.url('web')}/staff/week?date={first_day.isoformat()}&lang=fr")
    browser.check(page, "staff-practice-week-fr")
    page.context.close()
