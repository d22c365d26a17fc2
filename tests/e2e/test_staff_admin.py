"""The clinic admin's set-up pages in a browser, against the real system (issue 12, journeys 3 and 4).

Journey 3: the clinic's admin signs in, narrows the opening hours (weekends closed, weekdays 09:00-17:00
Vancouver time), closes one day for a holiday and sets a new price from today; the free times patients are
offered follow the hours, and the next booking is charged the new price.

Journey 4: a patient's session opens no staff page: every GET page under /staff the web app registers
answers the plain 403 page.

Journey 5: the clinic's admin adds a front-desk login, who claims it with "Forgot your password?" and signs
in; disabled, their sign-in is refused. The admin adds a practitioner, sets their working hours and a day
off; the free times patients are offered with that practitioner follow them. Then the billing policy (fees in
cents or basis points, GST on fees) and the GST/HST number.
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
from .system import Mailbox, System, wait_for
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


def set_working_week(page: Page, hours: dict[int, tuple[str, str] | None]) -> None:
    for weekday, name in enumerate(WEEKDAYS):
        off = page.get_by_label(f"Day off on {name}")
        if hours.get(weekday) is None:
            off.check()
            continue
        off.uncheck()
        starts, finishes = hours[weekday]  # type: ignore[misc]
        page.get_by_label(f"{name} starts at").fill(starts)
        page.get_by_label(f"{name} finishes at").fill(finishes)


def test_the_admin_adds_staff_and_a_practitioner_whose_hours_booking_follows(
    portal: System, browser: Browser, journey: RecordingJourney, mailbox: Mailbox
) -> None:
    organisation_admin = journey.first_admin()
    catalogue = journey.clinic_with_assessment(organisation_admin, price_cents=12000)
    clinic_id = catalogue["clinic_id"]
    journey.staff(organisation_admin, "admin", clinic_id)
    admin = journey.staff_accounts[-1]
    _, _, patient = journey.patient("Pat")
    desk_email = f"desk-{uuid.uuid4().hex[:8]}@clinic.test"

    page = browser.page()
    sign_in(page, portal, admin["email"], admin["password"])
    page.goto(f"{portal.url('web')}/staff/clinic")
    page.get_by_role("link", name=re.compile("^Staff")).click()
    expect(page.get_by_role("heading", name="Staff", level=1)).to_be_visible()
    expect(page.get_by_role("row", name=re.compile(re.escape(admin["email"])))).to_contain_text("(you)")

    # A mistake first: no role ticked, answered beside the roles, the address kept.
    page.get_by_label("E-mail address").fill(desk_email)
    page.get_by_role("button", name="Add staff member").click()
    expect(page).to_have_title(re.compile("^Error: Staff"))
    expect(page.locator("#role-front_desk-error")).to_contain_text("Choose at least one role")
    expect(page.get_by_label("E-mail address")).to_have_value(desk_email)
    browser.check(page, "staff-admin-staff-error")
    page.get_by_label("Front desk").check()
    page.get_by_role("button", name="Add staff member").click()
    expect(page.get_by_role("status")).to_contain_text(f"{desk_email} is added")
    desk_row = page.get_by_role("row", name=re.compile(re.escape(desk_email)))
    expect(desk_row).to_contain_text("Front desk")
    expect(desk_row).to_contain_text("Can sign in")
    browser.check(page, "staff-admin-staff")

    # The new person claims the login with "Forgot your password?" and signs in.
    desk_page = browser.page()
    desk_page.goto(f"{portal.url('web')}/login")
    desk_page.get_by_role("link", name=re.compile("forgot", re.IGNORECASE)).click()
    desk_page.get_by_label("E-mail address").fill(desk_email)
    desk_page.get_by_role("button", name="Send the link").click()
    expect(desk_page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
    token = mailbox.take_link(desk_email, "reset-password")
    desk_page.goto(f"{portal.url('web')}/reset-password/{token}")
    desk_page.get_by_label("New password").fill("desk's own passphrase")
    desk_page.get_by_role("button", name="Save the new password").click()
    sign_in(desk_page, portal, desk_email, "desk's own passphrase")
    expect(desk_page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(desk_page.get_by_role("link", name="Clinic", exact=True)).to_have_count(0)
    desk_page.context.close()

    # Disabled: their sign-in is refused; the admin's own row offers no button.
    desk_row.get_by_role("button", name=f"Disable {desk_email}").click()
    expect(page.get_by_role("status")).to_contain_text(f"{desk_email} is disabled")
    expect(page.get_by_role("row", name=re.compile(re.escape(desk_email)))).to_contain_text("Disabled")
    expect(
        page.get_by_role("row", name=re.compile(re.escape(admin["email"]))).get_by_role("button")
    ).to_have_count(0)
    refused = journey.call(
        "POST", "scheduling", "/auth/token", json={"email": desk_email, "password": "desk's own passphrase"}
    )
    assert refused.status_code == 401, refused.text
    other = browser.page()
    sign_in(other, portal, desk_email, "desk's own passphrase")
    expect(other.locator("#email-error")).to_be_visible()
    other.context.close()

    # A practitioner, their working hours (Tuesday and Thursday, 10:00-13:00) and a day off.
    page.get_by_role("link", name="Back to clinic set-up").click()
    page.get_by_role("link", name="Practitioners").click()
    expect(page.get_by_role("heading", name="Practitioners", level=1)).to_be_visible()
    page.get_by_label("Name").fill("Noor Haddad")
    page.get_by_role("button", name="Add practitioner").click()
    expect(page.locator("#registration_number-error")).to_contain_text(
        "Enter the practitioner's registration"
    )
    page.get_by_label("Registration number").fill("PT-2002")
    page.get_by_role("button", name="Add practitioner").click()
    expect(page.get_by_role("status")).to_have_text("Noor Haddad is added.")
    browser.check(page, "staff-admin-practitioners")
    page.get_by_role("link", name="Working hours of Noor Haddad").click()
    expect(page.get_by_text("can be booked whenever the clinic is open")).to_be_visible()
    week: dict[int, tuple[str, str] | None] = {1: ("10:00", "13:00"), 3: ("10:00", "13:00")}
    set_working_week(page, week | {3: ("13:00", "10:00")})
    page.get_by_role("button", name="Save working hours").click()
    expect(page).to_have_title(re.compile("^Error: Working hours of Noor Haddad"))
    expect(page.locator("#day-3-closes-error")).to_contain_text("must be after the start time")
    set_working_week(page, week)
    page.get_by_role("button", name="Save working hours").click()
    expect(page.get_by_role("status")).to_have_text("Noor Haddad's working hours are saved.")
    expect(page.get_by_label("Tuesday starts at")).to_have_value("10:00")
    expect(page.get_by_label("Day off on Monday")).to_be_checked()
    browser.check(page, "staff-admin-working-hours")

    today = datetime.now(VANCOUVER).date()
    first, last = today + timedelta(days=2), today + timedelta(days=15)  # two weeks, beyond the notice
    tuesdays = [first + timedelta(days=n) for n in range(14) if (first + timedelta(days=n)).weekday() == 1]
    day_off = tuesdays[0]
    page.get_by_role("link", name="Away for a holiday? Add time off").click()
    for label in ("First day off", "Last day off"):
        group = page.get_by_role("group", name=label)
        group.get_by_label("Day").fill(str(day_off.day))
        group.get_by_label("Month").fill(str(day_off.month))
        group.get_by_label("Year").fill(str(day_off.year))
    page.get_by_label("Reason").fill("Course")
    page.get_by_role("button", name="Add time off").click()
    expect(page.get_by_role("status")).to_contain_text("Noor Haddad is off on")
    expect(page.get_by_role("cell", name="Course")).to_be_visible()
    browser.check(page, "staff-admin-time-off")

    # The billing policy: a late cancel costs half the visit, a no-show $75.50, GST 5 % on fees.
    page.goto(f"{portal.url('web')}/staff/clinic")
    page.get_by_role("link", name=re.compile("^Billing policy")).click()
    late = page.get_by_role("group", name="Late cancellation fee")
    late.get_by_label("Kind of fee").select_option("percent")
    late.get_by_label("Amount or percentage").fill("50")
    no_show = page.get_by_role("group", name="No-show fee")
    no_show.get_by_label("Kind of fee").select_option("fixed")
    no_show.get_by_label("Amount or percentage").fill("75.5.0")
    page.get_by_label("Tax on fees, in percent").fill("5")
    page.get_by_role("button", name="Save billing policy").click()
    expect(page.locator("#no_show_fee_amount-error")).to_contain_text("Enter the fee as an amount of money")
    expect(page.get_by_label("Tax on fees, in percent")).to_have_value("5")
    page.get_by_role("group", name="No-show fee").get_by_label("Amount or percentage").fill("75.50")
    page.get_by_role("button", name="Save billing policy").click()
    expect(page.get_by_role("status")).to_contain_text("The billing policy is saved.")
    page.get_by_label("GST/HST registration number").fill("12345")
    page.get_by_role("button", name="Save registration number").click()
    expect(page.locator("#gst_hst_number-error")).to_contain_text("Enter the number like 123456789 RT 0001")
    page.get_by_label("GST/HST registration number").fill("123456789 RT 0001")
    page.get_by_role("button", name="Save registration number").click()
    expect(page.get_by_role("status")).to_contain_text("The GST/HST number 123456789RT0001 is saved.")
    browser.check(page, "staff-admin-billing-policy")
    page.context.close()
    admin_token = journey.token(admin["email"], admin["password"])
    policy = journey.ok("GET", "billing", f"/clinics/{clinic_id}/billing-policy", admin_token)
    assert (policy["late_cancel_fee_mode"], policy["late_cancel_fee_value"]) == ("percent", 5000)
    assert (policy["no_show_fee_mode"], policy["no_show_fee_value"]) == ("fixed", 7550)
    assert (policy["fee_tax_rate_bp"], policy["treatment_tax_rate_bp"], policy["payment_terms_days"]) == (
        500,
        0,
        30,
    )

    # On a phone: the staff list stacks, nothing scrolls sideways.
    phone = browser.page(phone=True)
    sign_in(phone, portal, admin["email"], admin["password"])
    phone.goto(f"{portal.url('web')}/staff/clinic/staff")
    expect(phone.get_by_role("heading", name="Staff", level=1)).to_be_visible()
    browser.check(phone, "staff-admin-staff")
    phone.context.close()

    # Patients are offered Noor's times only within those hours, and none on the day off.
    listed = journey.ok("GET", "scheduling", f"/clinics/{clinic_id}/practitioners", patient)
    noor = next(p["id"] for p in listed if p["display_name"] == "Noor Haddad")
    offered = [
        s for s in free_slots(journey, patient, catalogue, first, last) if s["practitioner_id"] == noor
    ]
    assert offered, "Noor works two mornings a week"
    for slot in offered:
        starts, ends = local(slot["starts_at"]), local(slot["ends_at"])
        assert starts.weekday() in (1, 3), slot
        assert starts.date() != day_off, slot
        assert time(10) <= starts.time(), slot
        assert ends.time() <= time(13), slot
    assert {local(s["starts_at"]).weekday() for s in offered} == {1, 3}


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
