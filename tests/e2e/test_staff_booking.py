"""The front desk books on a patient's behalf in a browser, against the real system (issue 12, journey 1).

The desk registers a patient who phoned in and books their assessment from the patient's row; the patient
is seen early (the visit is moved up to now through the API), checked in and completed on the Day page,
and another patient who did not come is marked a no-show. Once the assessment finds IMS suitable, the desk
books the patient a weekly series of IMS sessions: one date was taken by a phone call meanwhile, so the desk
picks the alternative offered on its line, then confirms. Every new page is screenshot and checked.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from .browser import Browser
from .system import System
from .test_portal_booking import WEEKDAYS_9_TO_5, at, day_slots, show_week_with, weekday_ahead
from .test_staff_day import VANCOUVER, RecordingJourney, sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def journey(portal: System) -> Iterator[RecordingJourney]:
    client = RecordingJourney(portal)
    yield client
    client.http.close()


def open_patient(page: Page, portal: System, email: str) -> None:
    """The Patients page, searched for the patient, then their row's Book link."""
    page.goto(f"{portal.url('web')}/staff/patients")
    page.get_by_label("Search your clinic's patients").fill(email)
    page.get_by_role("button", name="Search").click()


def soon_with(journey: RecordingJourney, admin: str, clinic_id: str) -> tuple[str, datetime]:
    """A practitioner who works any time (no working hours), and a start a few seconds ahead."""
    code = uuid.uuid4().hex[:6]
    body = {"display_name": f"Max {code}", "registration_number": f"PT-{code}"}
    who = journey.ok("POST", "scheduling", f"/clinics/{clinic_id}/practitioners", admin, json=body)["id"]
    return str(who), datetime.now(UTC) + timedelta(seconds=4)


def test_the_desk_books_a_caller_an_assessment_then_a_series_with_a_taken_date_replaced(
    portal: System, browser: Browser, journey: RecordingJourney
) -> None:
    if (datetime.now(VANCOUVER) + timedelta(hours=1)).date() != datetime.now(VANCOUVER).date():
        pytest.skip("too close to midnight in Vancouver to see the same day's visits")
    admin = journey.first_admin()
    catalogue = journey.clinic_with_assessment(admin, price_cents=12000)
    clinic_id, ida = catalogue["clinic_id"], catalogue["practitioner_id"]
    base = f"/clinics/{clinic_id}"
    journey.ok("PATCH", "scheduling", f"{base}/booking-policy", admin, json={"slot_step_minutes": 30})
    journey.ok("PUT", "scheduling", f"{base}/practitioners/{ida}/working-hours", admin, json=WEEKDAYS_9_TO_5)
    ims_body = {"code": "IMS30", "name": "IMS session", "kind": "treatment", "duration_minutes": 30}
    ims = journey.ok("POST", "scheduling", f"{base}/treatment-types", admin, json=ims_body)["id"]
    price = {"amount_cents": 9500, "currency": "CAD", "effective_from": "2020-01-01"}
    journey.ok("PUT", "billing", f"{base}/prices/{ims}", admin, json=price)
    journey.staff(admin, "front_desk", clinic_id)
    desk = journey.staff_accounts[-1]

    page = browser.page()
    sign_in(page, portal, desk["email"], desk["password"])
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients").click()

    # A caller is registered; their row offers "Book".
    email = f"ola-{uuid.uuid4().hex[:8]}@example.test"
    page.get_by_label("First name").fill("Ola")
    page.get_by_label("Last name").fill("Caller")
    page.get_by_label("E-mail address", exact=True).fill(email)
    page.get_by_role("button", name="Register patient").click()
    expect(page.get_by_role("status")).to_contain_text("Ola Caller is registered")
    page.get_by_role("link", name="Book for Ola Caller").click()

    # Treatment: IMS is not offered before an assessment, and the page says why; none chosen is an error.
    expect(page.get_by_role("heading", name="What would the patient like to book?")).to_be_visible()
    expect(page.get_by_text("Booking for Ola Caller")).to_be_visible()
    expect(page.get_by_role("radio", name="IMS session")).to_have_count(0)
    expect(page.get_by_text("once an assessment at this clinic finds IMS suitable")).to_be_visible()
    browser.check(page, "staff-booking-treatment")
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_title(re.compile("^Error: "))
    expect(page.locator("#treatment-error")).to_contain_text("Select a treatment")
    browser.check(page, "staff-booking-treatment-error")
    page.get_by_role("radio", name="IMS assessment").check()
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", name="Which practitioner?")).to_be_visible()
    browser.check(page, "staff-booking-practitioner")
    page.get_by_role("radio", name="Ida Needham").check()
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", name="Choose a time")).to_be_visible()
    assessment_day = weekday_ahead(7, 2)
    show_week_with(page, assessment_day)
    browser.check(page, "staff-booking-times")
    day_slots(page, assessment_day).filter(has_text=re.compile(r"^2:00\sp\.m\.$")).click()

    expect(page.get_by_role("heading", name="Check the appointment")).to_be_visible()
    expect(page.get_by_text("Ola Caller").first).to_be_visible()
    browser.check(page, "staff-booking-review")
    page.get_by_role("button", name="Confirm and book").click()

    expect(page.get_by_role("heading", name="Booked for Ola Caller")).to_be_visible()
    browser.check(page, "staff-booking-booked")
    ola = ola_id(page)
    [assessment] = journey.ok("GET", "scheduling", "/appointments", admin, params={"patient_id": ola})
    page.get_by_role("link", name="Open the day of the first appointment").click()
    expect(page).to_have_url(re.compile(rf"/staff/day\?date={assessment_day.isoformat()}$"))
    expect(page.locator(f"#appt-{assessment['id']}")).to_contain_text("Ola Caller")

    # The patient is seen early: moved up to now, with a practitioner free then. Another patient, booked
    # for now too, does not come.
    jo, soon = soon_with(journey, admin, clinic_id)
    move = {"starts_at": soon.isoformat(), "practitioner_id": jo}
    journey.ok("POST", "scheduling", f"/appointments/{assessment['id']}/reschedule", admin, json=move)
    max_, soon = soon_with(journey, admin, clinic_id)
    nia_id, _, _ = journey.patient("Nia")
    absent = journey.book(admin, catalogue | {"practitioner_id": max_, "patient_id": nia_id}, soon)
    assert absent.status_code == 201, absent.text
    time.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 0.5)

    page.get_by_role("link", name="Today").click()
    block = page.locator(f"#appt-{assessment['id']}")
    block.locator("summary").click()
    block.get_by_role("button", name=re.compile(r"^Check in Ola Caller")).click()
    expect(page.get_by_role("status").filter(has_text="Ola Caller is checked in.")).to_be_visible()
    block = page.locator(f"#appt-{assessment['id']}")
    block.locator("summary").click()
    block.get_by_role("button", name=re.compile(r"^Complete Ola Caller")).click()
    expect(
        page.get_by_role("status").filter(has_text="Ola Caller's appointment is completed.")
    ).to_be_visible()
    nia = page.locator(f"#appt-{absent.json()['id']}")
    nia.locator("summary").click()
    nia.get_by_role("button", name=re.compile(r"^Mark no-show Nia Li")).click()
    expect(page.get_by_role("status").filter(has_text="Nia Li is marked as a no-show.")).to_be_visible()
    expect(page.locator(f"#appt-{absent.json()['id']} .appt-status")).to_have_text(re.compile("No-show"))
    assert (
        journey.ok("GET", "scheduling", f"/appointments/{assessment['id']}", admin)["status"] == "fulfilled"
    )
    browser.check(page, "staff-booking-day-after")

    # The assessment finds IMS suitable, with consent.
    finding = {"suitable": True, "consent_recorded": True}
    journey.ok("POST", "scheduling", f"/appointments/{assessment['id']}/suitability", admin, json=finding)

    # Someone phoned for Ida at 10:00 on the third Tuesday of the series.
    first_day = weekday_ahead(14, 1)
    other_id, _, _ = journey.patient("Omar")
    taken = journey.book(admin, catalogue | {"patient_id": other_id}, at(first_day + timedelta(weeks=2), 10))
    assert taken.status_code == 201, taken.text

    open_patient(page, portal, email)
    page.get_by_role("link", name="Book for Ola Caller").click()
    page.get_by_role("radio", name="IMS session").check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("radio", name="Any qualified practitioner").check()
    page.get_by_role("button", name="Continue").click()
    show_week_with(page, first_day)
    day_slots(page, first_day).filter(has_text=re.compile(r"^10:00\sa\.m\.$")).click()
    expect(page.get_by_role("heading", name="Check the appointment")).to_be_visible()
    page.get_by_role("link", name="Book a series instead").click()

    expect(page.get_by_role("heading", name="Book a series of IMS sessions")).to_be_visible()
    browser.check(page, "staff-booking-plan")
    page.get_by_role("radio", name="Every week").check()
    page.get_by_label("How many sessions?").select_option("4")
    page.get_by_role("button", name="Show the dates").click()
    expect(page.locator("table.plan-table tbody tr")).to_have_count(4)
    expect(page.locator("table.plan-table .tag.ok")).to_have_count(3)
    expect(page.locator("#session-3").get_by_text("Taken: pick another")).to_be_visible()
    browser.check(page, "staff-booking-plan-conflict")

    page.get_by_role("button", name="Confirm all 4 sessions").click()
    expect(page).to_have_title(re.compile("^Error: "))
    expect(page.get_by_role("link", name="Pick another time for session 3")).to_be_visible()
    expect(page.locator("#alt-2-error")).to_contain_text("Pick another time for session 3")
    browser.check(page, "staff-booking-plan-error")
    page.locator("#session-3").get_by_role("radio").first.check()
    page.get_by_role("button", name="Confirm all 4 sessions").click()

    expect(page.get_by_role("heading", name="Booked for Ola Caller")).to_be_visible()
    expect(page.get_by_text("4 appointments")).to_be_visible()
    expect(page.get_by_text('"status"')).to_have_count(0)  # never the API's JSON
    browser.check(page, "staff-booking-plan-booked")
    sessions = plan_sessions(journey, admin, ola)
    local = [datetime.fromisoformat(s["starts_at"]).astimezone(VANCOUVER) for s in sessions]
    assert [t.date() for t in local] == [first_day + timedelta(weeks=n) for n in range(4)]
    assert [t.strftime("%H:%M") for n, t in enumerate(local) if n != 2] == ["10:00"] * 3
    assert local[2].strftime("%H:%M") != "10:00"
    page.context.close()

    phone = browser.page(phone=True)
    sign_in(phone, portal, desk["email"], desk["password"])
    open_patient(phone, portal, email)
    phone.get_by_role("link", name="Book for Ola Caller").click()
    expect(phone.get_by_role("radio", name="IMS session")).to_be_visible()
    browser.check(phone, "staff-booking-treatment")
    phone.context.close()


def ola_id(page: Page) -> str:
    """The patient's id, from the booking page's link back to the patient (the Patients page knows it)."""
    found = re.search(r"/staff/book/([0-9a-f-]{36})", page.content())
    assert found, "the page links to booking for the patient"
    return found.group(1)


def plan_sessions(journey: RecordingJourney, admin: str, patient_id: str) -> list[dict[str, Any]]:
    found = journey.ok("GET", "scheduling", "/appointments", admin, params={"patient_id": patient_id})
    return sorted((a for a in found if a.get("plan_id")), key=lambda a: a["starts_at"])
