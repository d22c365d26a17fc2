"""A patient who forgot their password asks for a link in the browser, gets it by e-mail, sets a new password
with it and signs in; the same link then no longer works."""

from __future__ import annotations

import re
import uuid
from email.message import Message

import pytest
from playwright.sync_api import expect

from .browser import Browser
from .journey import Journey
from .system import Mailbox, System, wait_for

pytestmark = pytest.mark.e2e

OLD_PASSWORD = "patient password"
NEW_PASSWORD = "a brand new passphrase"


def text_of(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
    raise AssertionError("no text/plain part")


def test_a_forgotten_password_is_reset_by_an_e_mailed_link_that_works_once(
    portal: System, browser: Browser, mailbox: Mailbox
) -> None:
    email = f"forgot-{uuid.uuid4().hex[:8]}@example.test"
    journey = Journey(portal)
    try:
        body = {"email": email, "password": OLD_PASSWORD, "first_name": "Farah", "last_name": "Gill"}
        journey.sign_up(body)
    finally:
        journey.http.close()

    page = browser.page()
    page.goto(f"{portal.url('web')}/login")
    page.get_by_role("link", name=re.compile("forgot", re.IGNORECASE)).click()
    expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()
    browser.check(page, "forgot-password")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
    browser.check(page, "forgot-password-sent")

    def reset_mail() -> list[Message]:
        return [m for m in mailbox.to(email) if "password" in str(m["Subject"]).lower()]

    (message,) = wait_for(reset_mail, timeout=30, what="the password-reset e-mail")
    match = re.search(r"http://\S+/reset-password/[\w.~-]+", text_of(message))
    assert match, text_of(message)
    link = match.group(0)
    assert link.startswith(f"{portal.url('web')}/reset-password/")

    page.goto(link)
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    browser.check(page, "reset-password")
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Save the new password").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(OLD_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#email-error")).to_contain_text("The e-mail address or password is not right")
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Your clinic")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()

    # The link was used: opened again, it cannot set a password any more, and says so.
    page.goto(link)
    page.get_by_label("New password").fill("yet another passphrase")
    page.get_by_role("button", name="Save the new password").click()
    expect(page.get_by_role("heading", name="This link no longer works")).to_be_visible()
    browser.check(page, "reset-password-used")
    page.context.close()

    phone = browser.page(phone=True)
    phone.goto(link)
    phone.get_by_label("New password").fill("yet another passphrase")
    phone.get_by_role("button", name="Save the new password").click()
    expect(phone.get_by_role("heading", name="This link no longer works")).to_be_visible()
    browser.check(phone, "reset-password-used")
    phone.context.close()
