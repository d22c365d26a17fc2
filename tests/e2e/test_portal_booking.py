"""A patient books in the browser against the whole running system: an assessment, then (once a
practitioner finds IMS suitable) a series of IMS sessions with one taken date replaced; in French; on a
phone with the keyboard alone; and moves an appointment.

Every page of each flow is screenshot and checked with axe-core (browser.check). The test seeds its own
clinic through the APIs as an admin: two practitioners working weekdays 9 to 5, an assessment and an IMS
session with prices, two rooms, a 30-minute grid.
"""

from __future__ import annotations

import random
import re
import string
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from .browser import Browser, finish_sign_up
from .journey import Journey
from .system import Mailbox, System, ics_of, wait_for

pytestmark = pytest.mark.e2e

VANCOUVER = ZoneInfo("America/Vancouver")
PASSWORD = "correct horse battery"
WEEKDAYS_9_TO_5 = {"hours": [{"weekday": d, "starts": "09:00", "ends": "17:00"} for d in range(5)]}


@dataclass
class Clinic:
    journey: Journey
    admin_email: str
    id: str
    ida: str
    sam: str
    assessment: str
    ims: str
    sam_email: str

    def admin(self) -> str:
        return self.journey.token(self.admin_email, "admin password 1")

    def sam_token(self) -> str:
        return self.journey.token(self.sam_email, "staff password 1")

    def patient_token(self, email: str) -> str:
        return self.journey.token(email, PASSWORD)

    def new_patient(self, first_name: str) -> tuple[str, str]:
        """A patient registered through the API (as the desk would); returns the e-mail and a token."""
        email = f"{first_name.lower()}-{uuid.uuid4().hex[:8]}@example.test"
        body = {"email": email, "password": PASSWORD, "first_name": first_name, "last_name": "Patient"}
        self.journey.sign_up(body)
        return email, self.patient_token(email)

    def appointments(self, email: str) -> list[dict[str, Any]]:
        return list(self.journey.ok("GET", "scheduling", "/appointments", self.patient_token(email)))


@pytest.fixture(scope="module")
def clinic(portal: System) -> Iterator[Clinic]:
    journey = Journey(portal)
    admin_email = f"admin-{uuid.uuid4().hex[:8]}@clinic.test"
    portal.cli(
        "scheduling",
        "create-staff",
        "--email",
        admin_email,
        "--password",
        "admin password 1",
        "--role",
        "admin",
        "--organisation-wide",  # the first admin creates the clinic
    )
    admin = journey.token(admin_email, "admin password 1")
    code = "".join(random.choices(string.ascii_uppercase, k=6))
    place = journey.ok(
        "POST",
        "scheduling",
        "/clinics",
        admin,
        json={
            "code": code,
            "name": "Vancouver IMS",
            "timezone": "America/Vancouver",
            "address": "1 Main St, Vancouver BC",
            "phone": "+16045550100",
            "email": "front@clinic.test",
        },
    )
    cid = place["id"]
    journey.ok("PATCH", "scheduling", f"/clinics/{cid}/booking-policy", admin, json={"slot_step_minutes": 30})

    def post(path: str, body: dict[str, Any]) -> str:
        return str(journey.ok("POST", "scheduling", f"/clinics/{cid}/{path}", admin, json=body)["id"])

    ida = post(
        "practitioners",
        {"display_name": "Ida Needham", "registration_number": "PT-1001", "ims_qualified": True},
    )
    sam = post("practitioners", {"display_name": "Sam Walker", "registration_number": "PT-1002"})
    assessment = post(
        "treatment-types",
        {"code": "ASSESS60", "name": "IMS assessment", "kind": "assessment", "duration_minutes": 60},
    )
    ims = post(
        "treatment-types",
        {"code": "IMS30", "name": "IMS session", "kind": "treatment", "duration_minutes": 30},
    )
    for room in ("Room 1", "Room 2"):
        post("rooms", {"name": room})
    for who in (ida, sam):
        journey.ok(
            "PUT",
            "scheduling",
            f"/clinics/{cid}/practitioners/{who}/working-hours",
            admin,
            json=WEEKDAYS_9_TO_5,
        )
    for treatment, cents in ((assessment, 12000), (ims, 9500)):
        journey.ok(
            "PUT",
            "billing",
            f"/clinics/{cid}/prices/{treatment}",
            admin,
            json={"amount_cents": cents, "currency": "CAD", "effective_from": "2020-01-01"},
        )
    sam_email = f"sam-{uuid.uuid4().hex[:8]}@clinic.test"
    journey.ok(
        "POST",
        "scheduling",
        "/staff-accounts",
        admin,
        json={
            "email": sam_email,
            "password": "staff password 1",
            "roles": ["practitioner"],
            "clinic_id": cid,
            "practitioner_id": sam,
        },
    )
    yield Clinic(journey, admin_email, cid, ida, sam, assessment, ims, sam_email)
    journey.http.close()


# --- helpers ---------------------------------------------------------------------------------------------


def sign_up(page: Page, portal: System, first_name: str, *, french: bool = False) -> str:
    email = f"{first_name.lower()}-{uuid.uuid4().hex[:8]}@example.test"
    page.goto(portal.url("web"))
    if french:
        page.get_by_role("link", name="Français").click()
        expect(page.locator("html")).to_have_attribute("lang", "fr")
    page.get_by_role("link", name="Créer un compte" if french else "Create an account").click()
    page.get_by_label("Prénom" if french else "First name").fill(first_name)
    page.get_by_label("Nom de famille" if french else "Last name").fill("Patient")
    page.get_by_label("Adresse courriel" if french else "E-mail address").fill(email)
    page.get_by_label("Mot de passe" if french else "Password").fill(PASSWORD)
    page.get_by_label("Par courriel" if french else "By e-mail").check()
    page.get_by_role("button", name="Créer le compte" if french else "Create account").click()
    assert portal.mailbox is not None
    finish_sign_up(page, portal.url("web"), portal.mailbox, email)
    expect(page.get_by_role("heading", name="Votre clinique" if french else "Your clinic")).to_be_visible()
    return email


def show_week_with(page: Page, day: date, later: str = "Later week") -> None:
    """Click "Later week" until the week with ``day`` is on screen."""
    for _ in range(8):
        if page.locator(f"#day-{day.isoformat()}").count():
            return
        # Wait for the next week's page: counting on the old one would click past the week wanted.
        with page.expect_navigation():
            page.get_by_role("link", name=later).first.click()
    raise AssertionError(f"the week of {day} never showed")


def day_slots(page: Page, day: date) -> Locator:
    return page.locator(f"li.day:has(#day-{day.isoformat()}) a.slot")


def weekday_ahead(days: int, weekday: int) -> date:
    """The given weekday (0 = Monday) at least ``days`` from today in Vancouver."""
    start = datetime.now(VANCOUVER).date() + timedelta(days=days)
    return start + timedelta(days=(weekday - start.weekday()) % 7)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=VANCOUVER)


def tab_to(page: Page, target: Locator, limit: int = 120) -> None:
    """Press Tab until ``target`` has the focus (the keyboard's way to reach it)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("element => element === document.activeElement"):
            return
    raise AssertionError(f"Tab never reached {target}")


def book_for_someone_else(clinic: Clinic, practitioner: str, starts_at: datetime) -> None:
    """Another patient takes a time through the API (as a phone call to the desk would)."""
    _, _, token = clinic.journey.patient("Other")
    booked = clinic.journey.book(
        token,
        {"clinic_id": clinic.id, "practitioner_id": practitioner, "treatment_type_id": clinic.assessment},
        starts_at,
    )
    assert booked.status_code == 201, booked.text


# --- a new patient: assessment, clearance, then a series of IMS sessions -----------------------------------


def test_a_new_patient_books_an_assessment_then_a_weekly_series_with_one_date_replaced(
    portal: System, browser: Browser, mailbox: Mailbox, clinic: Clinic
) -> None:
    page = browser.page()
    email = sign_up(page, portal, "Nora")

    # Assessment: the one clinic is skipped; IMS is not offered yet, and the page says why.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Book").click()
    expect(page.get_by_role("heading", name="What would you like to book?")).to_be_visible()
    expect(
        page.get_by_text("IMS sessions can be booked after an assessment finds IMS suitable for you.")
    ).to_be_visible()
    expect(page.get_by_role("radio", name="IMS session")).to_have_count(0)
    expect(page.get_by_text("60 minutes, $120.00")).to_be_visible()
    browser.check(page, "book-treatment")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("Select a treatment").first).to_be_visible()
    browser.check(page, "book-treatment-error")
    page.get_by_role("radio", name="IMS assessment").check()
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", name="Who would you like to see?")).to_be_visible()
    browser.check(page, "book-practitioner")
    page.get_by_role("radio", name="Ida Needham").check()
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", name="Choose a time")).to_be_visible()
    expect(page.get_by_text("Earliest available:")).to_be_visible()
    browser.check(page, "book-times")
    assessment_day = weekday_ahead(7, 2)  # a Wednesday next week or the one after
    show_week_with(page, assessment_day)
    expect(page.get_by_text("No times").first).to_be_visible()  # the weekend
    long_day = f"{assessment_day:%A}, {assessment_day:%B} {assessment_day.day}, {assessment_day.year}"
    slot = page.get_by_role("link", name=re.compile(rf"^{long_day}, 2:00\sp\.m\. P[SD]T, Ida Needham$"))
    expect(slot).to_be_visible()
    browser.check(page, "book-times-later-week")
    slot.click()

    expect(page.get_by_role("heading", name="Check your appointment")).to_be_visible()
    expect(page.get_by_role("link", name="Change the practitioner")).to_be_visible()
    browser.check(page, "book-review")
    page.get_by_role("button", name="Confirm and book").click()

    expect(page.get_by_role("heading", name="Your appointment is booked")).to_be_visible()
    browser.check(page, "book-booked")
    calendar = page.get_by_role("link", name="Add to your calendar")
    ics = page.request.get(portal.url("web") + (calendar.get_attribute("href") or ""))
    assert ics.status == 200
    assert ics.headers["content-type"].startswith("text/calendar")
    assert b"BEGIN:VEVENT" in ics.body()
    page.get_by_role("button", name="Get a calendar subscription address").click()
    feed_url = page.get_by_label("Your calendar address").input_value()
    assert feed_url.startswith(f"{portal.url('web')}/calendar/feed.ics?key=")
    assert httpx.get(feed_url, timeout=5).text.startswith("BEGIN:VCALENDAR")
    browser.check(page, "book-booked-feed")
    [assessment] = clinic.appointments(email)
    assert datetime.fromisoformat(assessment["starts_at"]) == at(assessment_day, 14).astimezone(UTC)

    # The practitioner sees the patient early (the visit is moved up to now), then records IMS suitable
    # with consent through the API.
    sam = clinic.sam_token()
    hours = f"/clinics/{clinic.id}/practitioners/{clinic.sam}/working-hours"
    clinic.journey.ok("PUT", "scheduling", hours, clinic.admin(), json={"hours": []})
    soon = datetime.now(UTC) + timedelta(seconds=3)
    clinic.journey.ok(
        "POST",
        "scheduling",
        f"/appointments/{assessment['id']}/reschedule",
        sam,
        json={"starts_at": soon.isoformat(), "practitioner_id": clinic.sam},
    )
    time.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 0.5)
    clinic.journey.ok("POST", "scheduling", f"/appointments/{assessment['id']}/complete", sam)
    clinic.journey.ok(
        "POST",
        "scheduling",
        f"/appointments/{assessment['id']}/suitability",
        sam,
        json={"suitable": True, "consent_recorded": True},
    )
    clinic.journey.ok("PUT", "scheduling", hours, clinic.admin(), json=WEEKDAYS_9_TO_5)

    # Someone else already has Ida at 10:00 on the third Tuesday of the series.
    first_day = weekday_ahead(14, 1)
    book_for_someone_else(clinic, clinic.ida, at(first_day + timedelta(weeks=2), 10))

    # IMS is offered now; "any qualified practitioner" is Ida (Sam is not on the IMS roster).
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Book").click()
    expect(page.get_by_role("radio", name="IMS session")).to_be_visible()
    expect(page.get_by_text("IMS sessions can be booked after")).to_have_count(0)
    browser.check(page, "book-treatment-cleared")
    page.get_by_role("radio", name="IMS session").check()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("radio", name="Sam Walker")).to_have_count(0)
    page.get_by_role("radio", name="Any qualified practitioner").check()
    page.get_by_role("button", name="Continue").click()
    show_week_with(page, first_day)
    day_slots(page, first_day).filter(has_text=re.compile(r"10:00\sa\.m\.")).click()
    expect(page.get_by_role("heading", name="Check your appointment")).to_be_visible()
    expect(page.get_by_text("$95.00")).to_be_visible()
    browser.check(page, "book-review-ims")
    page.get_by_role("link", name="Book a series instead").click()

    expect(page.get_by_role("heading", name="Book a series of IMS sessions")).to_be_visible()
    browser.check(page, "book-plan")
    page.get_by_role("radio", name="Every week").check()
    page.get_by_label("How many sessions?").select_option("6")
    page.get_by_role("button", name="Show the dates").click()

    expect(page.get_by_role("heading", name="Your 6 sessions")).to_be_visible()
    rows = page.locator("table.plan-table tbody tr")
    expect(rows).to_have_count(6)
    expect(page.locator("table.plan-table .tag.ok")).to_have_count(5)
    third = page.locator("#session-3")
    expect(third.get_by_text("Taken: pick another")).to_be_visible()
    expect(third.get_by_text(re.compile(r"Room \d")).first).to_have_count(0)
    expect(rows.first).to_contain_text("Room 1")
    browser.check(page, "book-plan-conflict")

    # The same page on a phone: the table stacks, nothing scrolls sideways.
    phone = browser.page(phone=True)
    phone.goto(f"{portal.url('web')}/login")
    phone.get_by_label("E-mail address").fill(email)
    phone.get_by_label("Password").fill(PASSWORD)
    phone.get_by_role("button", name="Sign in").click()
    phone.goto(page.url)
    expect(phone.locator("#session-3").get_by_text("Taken: pick another")).to_be_visible()
    browser.check(phone, "book-plan-conflict")
    phone.context.close()

    # Confirming without a pick says which session needs one; nothing is booked.
    page.get_by_role("button", name="Confirm all 6 sessions").click()
    expect(page).to_have_title(re.compile("^Error: "))
    expect(page.get_by_role("link", name="Pick another time for session 3")).to_be_visible()
    browser.check(page, "book-plan-error")
    assert [a for a in clinic.appointments(email) if a["status"] == "booked"] == []
    nearest = page.locator("#session-3").get_by_role("radio").first
    expect(nearest).to_have_accessible_name(re.compile(r"9:30\sa\.m\. P[SD]T, Ida Needham$"))
    nearest.check()
    page.get_by_role("button", name="Confirm all 6 sessions").click()

    expect(page.get_by_role("heading", name="Your 6 sessions are booked")).to_be_visible()
    browser.check(page, "book-plan-booked")
    sessions = sorted((a for a in clinic.appointments(email) if a["plan_id"]), key=lambda a: a["starts_at"])
    local = [datetime.fromisoformat(a["starts_at"]).astimezone(VANCOUVER) for a in sessions]
    assert [t.date() for t in local] == [first_day + timedelta(weeks=n) for n in range(6)]
    # Every session keeps 10:00 local time, across any clock change, except the one moved to 9:30.
    assert [t.strftime("%H:%M") for t in local] == ["10:00", "10:00", "09:30", "10:00", "10:00", "10:00"]

    def plan_mail() -> Any:
        found = [m for m in mailbox.to(email) if str(m["Subject"]).startswith("Your treatment plan at")]
        return found[0] if found else None

    summary = wait_for(plan_mail, timeout=60, what="the plan's confirmation e-mail")
    invitation = ics_of(summary)
    assert sorted(str(e["UID"]).split("@")[0] for e in invitation.walk("VEVENT")) == sorted(
        a["id"] for a in sessions
    )


# --- in French -------------------------------------------------------------------------------------------


def test_the_whole_booking_in_french_and_a_time_taken_meanwhile(
    portal: System, browser: Browser, clinic: Clinic
) -> None:
    page = browser.page()  # an English browser: the patient switches with the header link
    email = sign_up(page, portal, "Josée", french=True)
    page.get_by_role("navigation", name="Principal").get_by_role("link", name="Prendre rendez-vous").click()
    expect(page.get_by_role("heading", name="Que souhaitez-vous réserver?")).to_be_visible()
    expect(page.get_by_text("120,00 $")).to_be_visible()
    browser.check(page, "book-fr-treatment")
    page.get_by_role("radio", name="IMS assessment").check()
    page.get_by_role("button", name="Continuer").click()
    expect(page.get_by_role("heading", name="Qui souhaitez-vous voir?")).to_be_visible()
    browser.check(page, "book-fr-practitioner")
    page.get_by_role("radio", name="Ida Needham").check()
    page.get_by_role("button", name="Continuer").click()

    expect(page.get_by_role("heading", name="Choisissez une heure")).to_be_visible()
    expect(page.get_by_text("Première disponibilité :")).to_be_visible()
    day = weekday_ahead(7, 3)  # a Thursday
    show_week_with(page, day, later="Semaine suivante")
    browser.check(page, "book-fr-times")
    # The narrowest phones (320 px) in French: still no sideways scroll.
    page.set_viewport_size({"width": 320, "height": 740})
    browser.check(page, "book-fr-times-320")
    page.set_viewport_size({"width": 1280, "height": 900})
    wanted = day_slots(page, day).filter(has_text="11 h 00")
    expect(wanted).to_have_count(1)
    expect(wanted).to_have_accessible_name(re.compile(r"^jeudi \d+ \S+ \d{4}, 11 h 00 H[NA]P, Ida Needham$"))
    wanted.click()

    expect(page.get_by_role("heading", name="Vérifiez votre rendez-vous")).to_be_visible()
    browser.check(page, "book-fr-review")
    # Someone books that very time by phone while the patient reads the page.
    book_for_someone_else(clinic, clinic.ida, at(day, 11))
    page.get_by_role("button", name="Confirmer et réserver").click()
    expect(page.get_by_text("Cette heure vient d'être prise. Veuillez en choisir une autre.")).to_be_visible()
    browser.check(page, "book-fr-times-taken")
    expect(day_slots(page, day).filter(has_text="11 h 00")).to_have_count(0)
    day_slots(page, day).filter(has_text="14 h 00").click()

    # A double click books once.
    page.get_by_role("button", name="Confirmer et réserver").dblclick()
    expect(page.get_by_role("heading", name="Votre rendez-vous est réservé")).to_be_visible()
    browser.check(page, "book-fr-booked")
    booked = [a for a in clinic.appointments(email) if a["status"] == "booked"]
    assert len(booked) == 1
    assert datetime.fromisoformat(booked[0]["starts_at"]) == at(day, 14).astimezone(UTC)


# --- a phone, and the keyboard alone ---------------------------------------------------------------------


def test_booking_on_a_phone_with_the_keyboard_alone(portal: System, browser: Browser, clinic: Clinic) -> None:
    email, _ = clinic.new_patient("Kim")
    page = browser.page(phone=True)
    page.goto(f"{portal.url('web')}/login")
    keyboard = page.keyboard
    tab_to(page, page.get_by_label("E-mail address"))
    keyboard.type(email)
    tab_to(page, page.get_by_label("Password"))
    keyboard.type(PASSWORD)
    keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Your clinic")).to_be_visible()

    tab_to(page, page.get_by_role("navigation", name="Main").get_by_role("link", name="Book"))
    keyboard.press("Enter")
    expect(page.get_by_role("heading", name="What would you like to book?")).to_be_visible()
    browser.check(page, "book-treatment")
    tab_to(page, page.get_by_role("radio", name="IMS assessment"))
    keyboard.press("Space")
    expect(page.get_by_role("radio", name="IMS assessment")).to_be_checked()
    tab_to(page, page.get_by_role("button", name="Continue"))
    keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Who would you like to see?")).to_be_visible()
    browser.check(page, "book-practitioner")
    tab_to(page, page.get_by_role("radio", name="Any qualified practitioner"))
    keyboard.press("Space")
    tab_to(page, page.get_by_role("button", name="Continue"))
    keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Choose a time")).to_be_visible()
    browser.check(page, "book-times")
    tab_to(page, page.get_by_role("link", name="Later week").first)
    keyboard.press("Enter")
    expect(page.get_by_role("link", name="Earlier week").first).to_be_visible()
    browser.check(page, "book-times-later-week")
    first_slot = page.locator("a.slot").first
    name = first_slot.get_attribute("aria-label") or ""
    tab_to(page, first_slot, limit=200)
    keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Check your appointment")).to_be_visible()
    browser.check(page, "book-review")
    tab_to(page, page.get_by_role("button", name="Confirm and book"))
    keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Your appointment is booked")).to_be_visible()
    browser.check(page, "book-booked")
    [booked] = clinic.appointments(email)
    when = datetime.fromisoformat(booked["starts_at"]).astimezone(VANCOUVER)
    assert f"{when.day}, {when.year}" in name


# --- moving an appointment -------------------------------------------------------------------------------


def test_a_patient_moves_an_appointment_to_another_time_with_the_same_practitioner(
    portal: System, browser: Browser, clinic: Clinic
) -> None:
    email, token = clinic.new_patient("Lee")
    day = weekday_ahead(21, 0)  # a Monday three weeks ahead (other tests book nearer weeks)
    booked = clinic.journey.book(
        token,
        {"clinic_id": clinic.id, "practitioner_id": clinic.ida, "treatment_type_id": clinic.assessment},
        at(day, 11),
    )
    assert booked.status_code == 201, booked.text
    appointment_id = booked.json()["id"]
    page = browser.page()
    page.goto(f"{portal.url('web')}/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Your clinic")).to_be_visible()

    page.goto(f"{portal.url('web')}/appointments/{appointment_id}/reschedule")
    expect(page.get_by_role("heading", name="Choose a new time")).to_be_visible()
    expect(page.get_by_text("Your appointment is now on")).to_be_visible()
    show_week_with(page, day + timedelta(days=1))
    browser.check(page, "reschedule-times")
    expect(page.locator("a.slot").filter(has_text="Sam Walker")).to_have_count(0)
    day_slots(page, day + timedelta(days=1)).filter(has_text=re.compile(r"3:00\sp\.m\.")).click()

    expect(page.get_by_role("heading", name="Check the new time")).to_be_visible()
    expect(page.locator("del")).to_contain_text("11:00")
    browser.check(page, "reschedule-review")
    page.get_by_role("button", name="Move my appointment").click()
    expect(page.get_by_role("heading", name="Your appointment has moved")).to_be_visible()
    browser.check(page, "rescheduled")
    [moved] = clinic.appointments(email)
    assert datetime.fromisoformat(moved["starts_at"]) == at(day + timedelta(days=1), 15).astimezone(UTC)
    assert moved["practitioner_id"] == clinic.ida
