"""A new patient's sign-up consent reaches notifications; they then change their preferences in the portal
(texts, promotional e-mail, the one-click stop to texts, the language) and each change is visible through
notifications' and scheduling's APIs."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from .browser import Browser, assert_no_sideways_scroll, finish_sign_up
from .journey import Journey
from .system import Mailbox, System, wait_for

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery"


def until_ready(page: Page) -> None:
    """Right after sign-up notifications may not know the patient yet: the page says so; look again."""
    for _ in range(100):
        if page.get_by_role("button", name="Save preferences").count():
            return
        expect(page.get_by_text("We are still setting up your account.")).to_be_visible()
        page.wait_for_timeout(200)
        page.reload()
    raise AssertionError("the preferences form never appeared")


def test_sign_up_consent_then_preferences_changed_and_texts_stopped_in_one_click(
    portal: System, browser: Browser, mailbox: Mailbox
) -> None:
    email = f"pref-{uuid.uuid4().hex[:8]}@example.test"
    page = browser.page()
    page.goto(f"{portal.url('web')}/signup")
    page.get_by_label("First name").fill("Paule")
    page.get_by_label("Last name").fill("Tremblay")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Number").fill("604 555 0177")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("By e-mail", exact=True).check()  # e-mail yes; texts left unticked
    page.get_by_role("button", name="Create account").click()
    finish_sign_up(page, portal.url("web"), mailbox, email)
    expect(page.get_by_text("Welcome! Your account is ready.")).to_be_visible()

    journey = Journey(portal)
    try:
        token = journey.token(email, PASSWORD)
        patient_id = _patient_id(token)

        def preferences() -> dict[str, Any]:
            return journey.ok("GET", "notifications", f"/contacts/{patient_id}/preferences", token)

        page.get_by_role("navigation", name="Main").get_by_role("link", name="Preferences").click()
        until_ready(page)
        expect(page.get_by_role("heading", name="Preferences")).to_be_visible()
        # The consent given at sign-up: e-mail yes, texts no; promotional e-mail off until asked for.
        expect(page.get_by_label("By e-mail", exact=True)).to_be_checked()
        expect(page.get_by_label("By text message (SMS)")).not_to_be_checked()
        expect(page.get_by_label("Send me news and offers from the clinic by e-mail")).not_to_be_checked()
        expect(page.get_by_label("English")).to_be_checked()
        expect(page.get_by_role("button", name="Stop all text messages")).to_have_count(0)
        body = preferences()
        assert (body["email"], body["sms"], body["promotional"]) == (True, False, False)
        recorded = {(c["channel"], c["kind"], c["source"]) for c in body["consents"]}
        # Before notifications knew the patient, both choices are recorded; after, only the change.
        assert ("sms", "withdrawn", "preferences by the patient") in recorded
        assert recorded <= {
            ("email", "express", "preferences by the patient"),
            ("sms", "withdrawn", "preferences by the patient"),
        }
        browser.check(page, "preferences")

        # Texts on, and news by e-mail (express consent).
        page.get_by_label("By text message (SMS)").check()
        page.get_by_label("Send me news and offers from the clinic by e-mail").check()
        page.get_by_role("button", name="Save preferences").click()
        expect(page.get_by_role("status")).to_have_text("Your preferences are saved.")
        assert page.url.endswith("/preferences?saved=1")
        expect(page.get_by_label("By text message (SMS)")).to_be_checked()
        body = preferences()
        assert (body["email"], body["sms"], body["promotional"]) == (True, True, True)
        browser.check(page, "preferences-saved")

        # One click, no other choice: no more texts; everything else stays as it was.
        page.get_by_role("button", name="Stop all text messages").click()
        expect(page.get_by_role("status")).to_have_text(
            "Text messages are stopped. Your preferences are saved."
        )
        expect(page.get_by_label("By text message (SMS)")).not_to_be_checked()
        expect(page.get_by_role("button", name="Stop all text messages")).to_have_count(0)
        body = preferences()
        assert (body["email"], body["sms"], body["promotional"]) == (True, False, True)
        assert body["sms_opted_out_at"] is not None
        browser.check(page, "preferences-texts-stopped")

        # French: the portal speaks it at once, scheduling records it, notifications follows.
        page.get_by_label("Français").check()
        page.get_by_role("button", name="Save preferences").click()
        expect(page.get_by_role("status")).to_have_text("Vos préférences sont enregistrées.")
        expect(page.locator("html")).to_have_attribute("lang", "fr")
        expect(page.get_by_label("Français")).to_be_checked()
        assert journey.ok("GET", "scheduling", f"/patients/{patient_id}", token)["language"] == "fr"
        wait_for(lambda: preferences()["language"] == "fr", timeout=30, what="notifications to use French")
        assert preferences()["sms"] is False  # the language change kept the other choices
        browser.check(page, "preferences-fr")
    finally:
        journey.http.close()
    page.context.close()


def test_the_preferences_page_on_a_phone(portal: System, browser: Browser) -> None:
    journey = Journey(portal)
    try:
        email = f"phone-{uuid.uuid4().hex[:8]}@example.test"
        body = {
            "email": email,
            "password": PASSWORD,
            "first_name": "Omar",
            "last_name": "Haddad",
            "phone": "+16045550188",
        }
        patient_id = journey.sign_up(body)["id"]
        token = journey.token(email, PASSWORD)
        wait_for(
            lambda: (
                journey.call("GET", "notifications", f"/contacts/{patient_id}/preferences", token).status_code
                == 200
            ),
            timeout=30,
            what="notifications to know the patient",
        )
    finally:
        journey.http.close()
    page = browser.page(phone=True)
    page.goto(f"{portal.url('web')}/preferences")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Stop all text messages")).to_be_visible()
    expect(page.get_by_text("+1 604-555-0188").first).to_be_visible()
    browser.check(page, "preferences")
    page.get_by_role("button", name="Stop all text messages").click()
    expect(page.get_by_role("status")).to_have_text("Text messages are stopped. Your preferences are saved.")
    browser.check(page, "preferences-texts-stopped")
    page.set_viewport_size({"width": 320, "height": 740})
    assert_no_sideways_scroll(page, "preferences at 320 px")
    page.context.close()


def _patient_id(token: str) -> str:
    """The patient id the access token carries (the web front reads it the same way, after verifying)."""
    claims = token.split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))["patient_id"])
