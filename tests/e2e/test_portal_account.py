"""A new patient signs up, signs out and in again in a browser; bad input is answered beside its field."""

from __future__ import annotations

import base64
import json
import uuid

import httpx
import pytest
from playwright.sync_api import expect

from .browser import Browser
from .journey import Journey
from .system import Mailbox, System, wait_for

pytestmark = pytest.mark.e2e


def test_sign_up_sign_out_and_sign_in_again(portal: System, browser: Browser, mailbox: Mailbox) -> None:
    page = browser.page()
    page.goto(portal.url("web"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    browser.check(page, "sign-in")

    page.get_by_role("link", name="Create an account").click()
    browser.check(page, "sign-up")
    page.get_by_role("button", name="Create account").click()
    # Nothing typed: every required field says what to do, beside it and in the summary.
    expect(page).to_have_title("Error: Create an account · IMS Clinic")
    expect(page.locator("#first_name-error")).to_contain_text("Enter your first name")
    expect(page.locator("#email-error")).to_contain_text("Enter your e-mail address")
    browser.check(page, "sign-up-errors")

    email = f"new-{uuid.uuid4().hex[:8]}@example.test"
    page.get_by_label("First name").fill("Nora")
    page.get_by_label("Last name").fill("Newcomer")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Number").fill("604 555 0142")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_label("By e-mail").check()
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
    expect(page.get_by_text(f"We have sent a message to {email}.")).to_be_visible()
    browser.check(page, "sign-up-sent")
    # No account until the link is followed: signing in is refused.
    assert (
        httpx.post(
            f"{portal.url('scheduling')}/auth/token",
            json={"email": email, "password": "correct horse battery"},
            timeout=5,
        ).status_code
        == 401
    )
    token = mailbox.take_link(email, "sign-up/confirm")
    page.goto(f"{portal.url('web')}/sign-up/confirm/{token}")
    browser.check(page, "sign-up-confirm")
    page.get_by_role("button", name="Open my account").click()
    expect(page.get_by_text("Welcome! Your account is ready.")).to_be_visible()
    browser.check(page, "home")
    _the_consent_given_at_sign_up_reaches_notifications(portal, email, "correct horse battery")
    # The link worked once.
    page.goto(f"{portal.url('web')}/sign-up/confirm/{token}")
    page.get_by_role("button", name="Open my account").click()
    expect(page.get_by_role("heading", name="This link no longer works")).to_be_visible()
    browser.check(page, "sign-up-link-used")
    page.goto(portal.url("web"))

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()

    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#email-error")).to_contain_text("The e-mail address or password is not right")
    expect(page.get_by_label("E-mail address")).to_have_value(email)
    browser.check(page, "sign-in-error")

    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Your clinic")).to_be_visible()


def test_every_page_sends_the_security_headers(portal: System) -> None:
    response = httpx.get(f"{portal.url('web')}/login", timeout=5)
    assert response.status_code == 200
    headers = response.headers
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["cache-control"] == "no-store"
    cookie = headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(portal: System) -> None:
    response = httpx.post(
        f"{portal.url('web')}/signup",
        data={"first_name": "Eve", "last_name": "Forger", "email": "eve@example.test", "password": "x" * 12},
        timeout=5,
    )
    assert response.status_code == 400
    assert "This form has expired" in response.text
    token = httpx.post(
        f"{portal.url('scheduling')}/auth/token",
        json={"email": "eve@example.test", "password": "x" * 12},
        timeout=5,
    )
    assert token.status_code == 401


def _the_consent_given_at_sign_up_reaches_notifications(portal: System, email: str, password: str) -> None:
    signed = httpx.post(
        f"{portal.url('scheduling')}/auth/token", json={"email": email, "password": password}, timeout=5
    ).json()
    token = signed["access_token"]
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    url = f"{portal.url('notifications')}/contacts/{claims['patient_id']}/preferences"

    def chosen() -> dict[str, object] | None:
        response = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=5)
        return response.json() if response.status_code == 200 else None

    preferences = wait_for(chosen, timeout=30, what="the patient's contact copy in notifications")
    assert preferences["email"] is True
    assert preferences["sms"] is False


def test_a_patient_registered_in_french_sees_the_portal_in_french(portal: System, browser: Browser) -> None:
    email = f"fr-{uuid.uuid4().hex[:8]}@example.test"
    journey = Journey(portal)
    try:
        journey.sign_up(
            {
                "email": email,
                "password": "mot de passe assez long",
                "first_name": "Élise",
                "last_name": "Tremblay",
                "language": "fr",
            }
        )
    finally:
        journey.http.close()
    page = browser.page(locale="en-CA")  # an English browser: the registered language decides
    page.goto(f"{portal.url('web')}/login")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill("mot de passe assez long")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Votre clinique")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    browser.check(page, "home-fr")


def test_too_many_wrong_passwords_pause_sign_in_and_say_how_to_get_in_now(
    portal: System, browser: Browser
) -> None:
    email = f"guessed-{uuid.uuid4().hex[:8]}@example.test"
    body = {"email": email, "password": "correct horse battery", "first_name": "Gus", "last_name": "Guessed"}
    journey = Journey(portal)
    try:
        journey.sign_up(body)
    finally:
        journey.http.close()
    page = browser.page()
    page.goto(f"{portal.url('web')}/login")
    for attempt in range(11):  # ten wrong passwords are told apart from nothing; the eleventh meets the lock
        page.get_by_label("E-mail address").fill(email)
        page.get_by_label("Password").fill(f"wrong password {attempt}")
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("#email-error")).to_be_visible()
    expect(page.locator("#email-error")).to_contain_text("signing in is paused for this address")
    browser.check(page, "sign-in-paused")
    # Locked means locked: the right password is not even checked until the lock ends or a reset.
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#email-error")).to_contain_text("reset your password")
