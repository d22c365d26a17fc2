"""The front desk's patient list in a browser, against the real system (issue 12).

The desk searches its own clinic's patients; finds a patient new to the clinic by exact e-mail (then the
patient is on the list); registers a patient who phoned in, who then claims the account by password reset.
Mistakes are answered with a sentence beside the field.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from .browser import Browser
from .system import Mailbox, System
from .test_staff_day import RecordingJourney, sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def journey(portal: System) -> Iterator[RecordingJourney]:
    client = RecordingJourney(portal)
    yield client
    client.http.close()


def test_the_desk_finds_a_new_patient_and_registers_a_caller(
    portal: System, browser: Browser, journey: RecordingJourney, mailbox: Mailbox
) -> None:
    admin = journey.first_admin()
    clinic_id = journey.clinic_with_assessment(admin, price_cents=12000)["clinic_id"]
    journey.staff(admin, "front_desk", clinic_id)
    desk = journey.staff_accounts[-1]
    _, nia_email, _ = journey.patient("Nia")  # signed up online; never at this clinic

    page = browser.page()
    sign_in(page, portal, desk["email"], desk["password"])
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients").click()
    expect(page.get_by_role("heading", name="Patients", level=1)).to_be_visible()
    expect(page.get_by_text("Your clinic has no patients yet.")).to_be_visible()

    # Another clinic's patient is not found by name...
    page.get_by_label("Search your clinic's patients").fill("nia")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("None of your clinic's patients matches “nia”.")).to_be_visible()

    # ...only by the exact address; a near miss says so beside the field.
    contact = page.get_by_label("E-mail address or phone number")
    contact.fill(nia_email.replace("@", "x@"))
    page.get_by_role("button", name="Find patient").click()
    expect(page.locator("#contact-error")).to_contain_text("No patient has this e-mail address.")
    expect(page).to_have_title(re.compile("^Error: Patients"))
    browser.check(page, "staff-patients-not-found")
    page.get_by_label("E-mail address or phone number").fill(nia_email.upper())
    page.get_by_role("button", name="Find patient").click()
    expect(page.get_by_role("status")).to_contain_text("Nia Li is now on your clinic's list")
    expect(page.get_by_role("cell", name="Li, Nia")).to_be_visible()

    # A caller is registered without a password.
    caller_email = f"ola-{nia_email.split('-', 1)[1]}"
    page.get_by_label("First name").fill("Ola")
    page.get_by_label("Last name").fill("Caller")
    page.get_by_label("E-mail address", exact=True).fill(caller_email)
    page.get_by_label("Mobile phone").fill("604 555 0177")
    page.get_by_role("button", name="Register patient").click()
    expect(page.get_by_role("status")).to_contain_text("Ola Caller is registered")
    expect(page.get_by_role("cell", name="Caller, Ola")).to_be_visible()
    expect(page.get_by_role("cell", name="+1 604-555-0177")).to_be_visible()
    page.get_by_label("Search your clinic's patients").fill("")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("table tbody tr")).to_have_count(2)
    browser.check(page, "staff-patients")

    # The same address again: refused beside the e-mail field, nothing registered twice.
    page.get_by_label("First name").fill("Ola")
    page.get_by_label("Last name").fill("Again")
    page.get_by_label("E-mail address", exact=True).fill(caller_email)
    page.get_by_role("button", name="Register patient").click()
    expect(page.locator("#email-error")).to_contain_text("A patient with this e-mail address is registered")
    expect(page.get_by_label("First name")).to_have_value("Ola")
    page.context.close()

    # The caller claims the account: "Forgot your password?" sets its first password.
    journey.ok("POST", "scheduling", "/auth/password-reset", json={"email": caller_email})
    token = mailbox.take_link(caller_email, "reset-password")
    chosen = {"token": token, "password": "ola's own passphrase"}
    assert journey.call("POST", "scheduling", "/auth/password-reset/confirm", json=chosen).status_code == 204
    assert journey.token(caller_email, "ola's own passphrase")


def test_the_patient_list_is_for_the_desk_only(
    portal: System, browser: Browser, journey: RecordingJourney
) -> None:
    admin = journey.first_admin()
    clinic_id = journey.clinic_with_assessment(admin, price_cents=12000)["clinic_id"]
    journey.staff(admin, "billing", clinic_id)
    clerk = journey.staff_accounts[-1]
    page = browser.page()
    sign_in(page, portal, clerk["email"], clerk["password"])
    expect(page.get_by_role("heading", name="Staff")).to_be_visible()
    expect(page.get_by_role("link", name="Patients")).to_have_count(0)
    response = page.goto(f"{portal.url('web')}/staff/patients")
    assert response is not None
    assert response.status == 403
    page.context.close()
