"""A patient opens "Your data": sees who at the clinic looked at their record, downloads everything the
clinic keeps as one file, erases their account after confirming, and can no longer sign in."""

from __future__ import annotations

import base64
import json
import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .browser import Browser, finish_sign_up
from .journey import Journey
from .system import Mailbox, System

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery"
SCREENSHOT = Path("/tmp/portal-your-data.png")


def test_your_data_download_then_erase(portal: System, browser: Browser, mailbox: Mailbox) -> None:
    email = f"privacy-{uuid.uuid4().hex[:8]}@example.test"
    page = browser.page()
    page.goto(f"{portal.url('web')}/signup")
    page.get_by_label("First name").fill("Paule")
    page.get_by_label("Last name").fill("Tremblay")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    finish_sign_up(page, portal.url("web"), mailbox, email)
    expect(page.get_by_text("Welcome! Your account is ready.")).to_be_visible()

    # An organisation-wide admin reads the record: the patient sees it, without names or ids.
    journey = Journey(portal)
    try:
        admin = journey.first_admin()
        patient_id = _patient_id(journey.token(email, PASSWORD))
        journey.ok("GET", "scheduling", f"/patients/{patient_id}", admin)
    finally:
        journey.http.close()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Your data").click()
    expect(page.get_by_role("heading", name="Your data", level=1)).to_be_visible()
    expect(page.get_by_role("heading", name="Who looked at your record")).to_be_visible()
    log = page.locator("table.access-log")
    expect(log.get_by_text("Organisation staff").first).to_be_visible()
    expect(log.get_by_text("Looked at your personal details").first).to_be_visible()
    expect(log).not_to_contain_text(patient_id)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    browser.check(page, "your-data")

    with page.expect_download() as downloading:
        page.get_by_role("link", name="Download my data").click()
    download = downloading.value
    assert re.fullmatch(r"my-data-\d{4}-\d{2}-\d{2}\.json", download.suggested_filename)
    document = json.loads(Path(download.path()).read_text(encoding="utf-8"))
    assert set(document) == {"scheduling", "billing", "notifications"}
    assert document["scheduling"]["account_email"] == email
    assert document["scheduling"]["patient"]["id"] == patient_id
    for part in ("billing", "notifications"):
        assert document[part] is None or isinstance(document[part], dict)

    page.get_by_role("link", name="Erase my account").click()
    expect(page.get_by_role("heading", name="Erase your account")).to_be_visible()
    expect(page.locator(".warning-text")).to_contain_text("This cannot be undone.")
    browser.check(page, "erase-account")
    page.get_by_role("button", name="Erase my account").click()
    # Not confirmed: nothing is erased, and the page says what to do.
    expect(page.locator("#confirm-error")).to_contain_text("Tick the box")
    page.get_by_label("I understand this cannot be undone. Erase my account.").check()
    page.get_by_role("button", name="Erase my account").click()
    expect(page.get_by_role("heading", name="Your account has been erased")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    browser.check(page, "account-erased")

    page.goto(f"{portal.url('web')}/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#email-error")).to_contain_text("The e-mail address or password is not right")


def _patient_id(token: str) -> str:
    """The patient id the access token carries (the web front reads it the same way, after verifying)."""
    claims = token.split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))["patient_id"])
