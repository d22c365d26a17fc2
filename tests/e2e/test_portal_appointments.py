"""My appointments in a browser: a late cancellation told its fee first, then invoiced; an earlier time
asked for, offered by e-mail and taken from the link; a lapsed offer said plainly (desktop and phone).

Staff seed the clinic through the real APIs (as journey.py does); the patient acts in the browser.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import Message
from zoneinfo import ZoneInfo

import psycopg
import pytest
from playwright.sync_api import Page, expect

from .browser import Browser
from .journey import Journey
from .system import Mailbox, System, wait_for

pytestmark = pytest.mark.e2e

PASSWORD = "patient password"  # journey.patient's
LATE_FEE_CENTS = 4000


def sign_in(page: Page, portal: System, email: str, next_path: str = "/appointments") -> None:
    page.goto(f"{portal.url('web')}/login?next={next_path}")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def hour_from_now(hours: float) -> datetime:
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(minute=0, second=0, microsecond=0)


def text_of(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
    raise AssertionError("no text/plain part")


@pytest.fixture
def journey(portal: System) -> Iterator[Journey]:
    client = Journey(portal)
    yield client
    client.http.close()


def test_a_late_cancellation_is_told_its_fee_first_and_the_fee_is_then_invoiced(
    portal: System, browser: Browser, journey: Journey
) -> None:
    admin = journey.first_admin()
    catalogue = journey.clinic_with_assessment(admin, price_cents=12000)
    clinic_id = catalogue["clinic_id"]
    clerk = journey.staff(admin, "billing", clinic_id)
    journey.ok(
        "PUT",
        "billing",
        f"/clinics/{clinic_id}/billing-policy",
        clerk,
        json={"currency": "CAD", "late_cancel_fee_mode": "fixed", "late_cancel_fee_value": LATE_FEE_CENTS},
    )
    patient_id, email, patient = journey.patient("Nora")
    # Five hours ahead: inside the assessment's 24-hour late-cancellation window. And one next week.
    soon = journey.book(patient, catalogue, hour_from_now(5))
    next_week = journey.book(patient, catalogue, hour_from_now(24 * 8))
    assert soon.status_code == next_week.status_code == 201, soon.text + next_week.text
    soon_id, next_week_id = soon.json()["id"], next_week.json()["id"]

    def visit_charged() -> bool:
        charges = journey.ok("GET", "billing", f"/charges?appointment_id={soon_id}", clerk)
        return bool(charges)

    wait_for(visit_charged, timeout=30, what="billing to have heard of the booking")

    # On a phone first: the list and the cancel page fit a 375 px screen.
    phone = browser.page(phone=True)
    sign_in(phone, portal, email)
    expect(phone.get_by_role("heading", name="My appointments", level=1)).to_be_visible()
    browser.check(phone, "appointments")
    phone.goto(f"{portal.url('web')}/appointments/{soon_id}/cancel")
    expect(phone.get_by_role("button", name="Cancel and accept the $40.00 fee")).to_be_visible()
    browser.check(phone, "cancel-late")
    phone.context.close()
    # French runs longer: still no sideways scroll.
    french = browser.page(phone=True)
    sign_in(french, portal, email)
    french.goto(f"{portal.url('web')}/appointments/{soon_id}/cancel?lang=fr")
    expect(
        french.get_by_role("button", name=re.compile(r"^Annuler et accepter les frais de 40,00"))
    ).to_be_visible()
    browser.check(french, "cancel-late-fr")
    french.goto(f"{portal.url('web')}/appointments")
    expect(french.get_by_role("heading", name="Mes rendez-vous", level=1)).to_be_visible()
    browser.check(french, "appointments-fr")
    french.context.close()

    page = browser.page()
    sign_in(page, portal, email)
    expect(page.get_by_role("heading", name="My appointments", level=1)).to_be_visible()
    upcoming = page.locator(".visit")
    expect(upcoming).to_have_count(2)
    expect(upcoming.first).to_contain_text("IMS assessment with Ida Needham")
    expect(upcoming.first).to_contain_text("Free cancellation ended")
    expect(upcoming.nth(1)).to_contain_text("Free cancellation until")
    expect(upcoming.first.get_by_text("Booked", exact=True)).to_be_visible()
    browser.check(page, "appointments")

    # Next week's appointment: free to cancel until a day before; the page says so and keeps it.
    upcoming.nth(1).get_by_role("link", name=re.compile(r"^Cancel ")).click()
    expect(page.get_by_text("Cancelling now is free.")).to_be_visible()
    expect(page.get_by_text("After that, a late-cancellation fee of $40.00 applies.")).to_be_visible()
    browser.check(page, "cancel-free")
    page.get_by_role("link", name="Keep my appointment").click()
    expect(page.get_by_role("heading", name="My appointments", level=1)).to_be_visible()

    # The one in five hours: the fee is told before anything happens, on the page and on the button.
    upcoming.first.get_by_role("link", name=re.compile(r"^Cancel ")).click()
    expect(page.get_by_role("heading", name="Cancel your appointment?")).to_be_visible()
    expect(
        page.get_by_text("If you cancel now, a late-cancellation fee of $40.00 will be invoiced.")
    ).to_be_visible()
    browser.check(page, "cancel-late")
    page.get_by_role("button", name="Cancel and accept the $40.00 fee").click()

    expect(page.get_by_role("heading", name="Your appointment is cancelled")).to_be_visible()
    expect(page.get_by_text("a late-cancellation fee of $40.00 will be invoiced")).to_be_visible()
    expect(page.get_by_role("link", name="Book another time")).to_be_visible()
    browser.check(page, "cancelled-late")
    cancelled = journey.ok("GET", "scheduling", f"/appointments/{soon_id}", patient)
    assert (cancelled["status"], cancelled["late_cancellation"]) == ("cancelled", True)
    assert journey.ok("GET", "scheduling", f"/appointments/{next_week_id}", patient)["status"] == "booked"

    page.get_by_role("link", name="Back to my appointments").click()
    past = page.locator("table.stack tbody tr")
    expect(past).to_have_count(1)
    expect(past.first).to_contain_text("Cancelled late")

    # Billing charged the fee; the clerk invoices it; the patient sees the invoice.
    def fee() -> list[dict]:
        charges = journey.ok("GET", "billing", f"/charges?patient_id={patient_id}", clerk)
        return [c for c in charges if c["kind"] == "late_cancel_fee" and c["status"] == "billable"]

    (charge,) = wait_for(fee, timeout=30, what="the late-cancellation fee")
    assert charge["amount_cents"] == LATE_FEE_CENTS
    draft = journey.ok(
        "POST", "billing", "/invoices", clerk, json={"clinic_id": clinic_id, "patient_id": patient_id}
    )
    invoice = journey.ok("POST", "billing", f"/invoices/{draft['id']}/issue", clerk)
    assert invoice["total_cents"] == LATE_FEE_CENTS

    (seen,) = journey.ok("GET", "billing", "/invoices", patient)  # the patient's own, by their token
    assert (seen["number"], seen["total_cents"], seen["status"]) == (invoice["number"], 4000, "issued")
    page.goto(f"{portal.url('web')}/invoices")
    row = page.locator("tr", has_text=invoice["number"])
    expect(row).to_contain_text("$40.00")
    browser.check(page, "invoices-late-fee")


def test_an_earlier_time_is_offered_by_e_mail_and_taken_from_its_link_and_a_lapsed_offer_says_so(
    portal: System, browser: Browser, mailbox: Mailbox, journey: Journey
) -> None:
    admin = journey.first_admin()
    catalogue = journey.clinic_with_assessment(admin, price_cents=12000)
    _, email, patient = journey.patient("Ana")
    _, _, other = journey.patient("Bo")
    later = journey.book(patient, catalogue, hour_from_now(24 * 10))
    earlier = journey.book(other, catalogue, hour_from_now(24 * 3))
    assert later.status_code == earlier.status_code == 201, later.text + earlier.text
    later_id, earlier_at = later.json()["id"], earlier.json()["starts_at"]

    page = browser.page()
    sign_in(page, portal, email)
    page.get_by_role("link", name=re.compile(r"^Join the waitlist for an earlier time")).click()
    expect(page.get_by_role("heading", name="Ask for an earlier time")).to_be_visible()
    browser.check(page, "earlier")
    page.get_by_label("Day").fill("31")
    page.get_by_label("Month").fill("2")
    page.get_by_label("Year").fill(str(datetime.now(UTC).year + 1))
    page.get_by_role("button", name="Join the waitlist").click()
    expect(page).to_have_title("Error: Ask for an earlier time · IMS Clinic")
    expect(page.locator("#earliest-error")).to_contain_text("The earliest date must be a real date")
    expect(page.get_by_label("Day")).to_have_attribute("aria-invalid", "true")
    browser.check(page, "earlier-error")
    for part in ("Day", "Month", "Year"):
        page.get_by_label(part).fill("")
    page.get_by_role("button", name="Join the waitlist").click()
    expect(page.get_by_text("You are on the waitlist.")).to_be_visible()
    expect(page.get_by_role("heading", name="Waiting for an earlier time")).to_be_visible()
    browser.check(page, "appointments-waiting")

    # Bo cancels: the freed time is held for Ana, who is e-mailed a link to the page that takes it.
    journey.ok("POST", "scheduling", f"/appointments/{earlier.json()['id']}/cancel", other, json={})
    link = offer_link(portal, mailbox, email)
    page.goto(f"{portal.url('web')}/appointments")
    alert = page.locator(".offer-alert")
    held_day = datetime.fromisoformat(earlier_at).astimezone(ZoneInfo("America/Vancouver"))
    expect(alert).to_contain_text("An earlier time is held for you:")
    expect(alert).to_contain_text(f"{held_day:%b} {held_day.day},")
    expect(page.get_by_role("link", name="See the time and take it")).to_have_attribute(
        "href", link.removeprefix(portal.url("web"))
    )
    browser.check(page, "appointments-offer")
    page.goto(link)
    expect(page.get_by_role("heading", name="A time is available")).to_be_visible()
    expect(page.get_by_text("We are holding this time for you until")).to_be_visible()
    expect(page.get_by_text("moves to this time. You will not have two.")).to_be_visible()
    browser.check(page, "offer")
    page.get_by_role("button", name="Take this time").click()
    expect(page.get_by_role("heading", name="This time is yours")).to_be_visible()
    browser.check(page, "offer-taken")
    moved = journey.ok("GET", "scheduling", f"/appointments/{later_id}", patient)
    assert (moved["status"], moved["starts_at"]) == ("booked", earlier_at)

    # Ana asks again for a time before that; one frees up, but she does not come back in time.
    page.goto(f"{portal.url('web')}/appointments/{later_id}/earlier")
    page.get_by_role("button", name="Join the waitlist").click()
    expect(page.get_by_text("You are on the waitlist.")).to_be_visible()
    sooner = journey.book(other, catalogue, hour_from_now(24 * 2))
    assert sooner.status_code == 201, sooner.text
    journey.ok("POST", "scheduling", f"/appointments/{sooner.json()['id']}/cancel", other, json={})
    link = offer_link(portal, mailbox, email, other_than=link)
    lapse(portal, offer_id=link.rsplit("/", 1)[1])

    page.goto(link)
    expect(page.get_by_role("heading", name="This offer has lapsed")).to_be_visible()
    expect(page.get_by_text("It is no longer held for you")).to_be_visible()
    expect(page.get_by_role("button", name="Take this time")).to_have_count(0)
    expect(page.get_by_role("link", name="Ask for an earlier time again")).to_be_visible()
    browser.check(page, "offer-lapsed")


def offer_link(portal: System, mailbox: Mailbox, email: str, other_than: str | None = None) -> str:
    """The portal link in the latest waitlist-offer e-mail to ``email``."""
    pattern = re.compile(re.escape(portal.url("web")) + r"/waitlist/offers/[0-9a-f-]{36}")

    def links() -> list[str]:
        found = [
            match.group(0)
            for message in mailbox.to(email)
            if str(message["Subject"]).startswith("A time is available")
            for match in [pattern.search(text_of(message))]
            if match
        ]
        return [link for link in found if link != other_than]

    return wait_for(links, timeout=30, what="the waitlist offer e-mail")[-1]


def lapse(portal: System, offer_id: str) -> None:
    """Let the 30-minute hold run out now (the one thing a test cannot wait for)."""
    url = portal.database_urls["scheduling"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        changed = conn.execute(
            "UPDATE waitlist_entries SET offer_expires_at = now() - interval '1 minute' "
            "WHERE offer_appointment_id = %s",
            (uuid.UUID(offer_id),),
        ).rowcount
    assert changed == 1
