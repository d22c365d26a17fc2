"""A patient sees their invoices in the portal: the status, what is left to pay, the credit note on the
invoice, their credit, and downloads the invoice and its receipt as PDFs (desktop and phone).

Staff seed the story through the real APIs: a clinic, a visit that took place, an issued invoice, a credit
note, a part payment and a prepayment that leaves the patient some credit.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from .browser import Browser, assert_no_sideways_scroll
from .journey import Journey
from .system import System, wait_for

pytestmark = pytest.mark.e2e

PASSWORD = "patient password"

CREDIT_SENTENCE = "You have $20.00 of credit. The clinic can use it toward what you owe."
CREDIT_SENTENCE_FR = (
    "Vous avez un crédit de 20,00 $. La clinique peut l'utiliser pour régler ce que vous devez."
)


@dataclass
class Billed:
    email: str
    number: str
    note_number: str


def sign_in(page: Page, portal: System, email: str, next_path: str) -> None:
    page.goto(f"{portal.url('web')}{next_path}")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def money(journey: Journey, path: str, token: str, body: dict[str, Any]) -> Any:
    """A POST that moves money: billing wants an Idempotency-Key with it."""
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())}
    response = journey.http.post(f"{journey.system.url('billing')}{path}", json=body, headers=headers)
    assert response.status_code == 201, f"POST {path}: {response.status_code} {response.text}"
    return response.json()


def seed(portal: System) -> Billed:
    journey = Journey(portal)
    try:
        admin = journey.first_admin()
        catalogue = journey.clinic_with_assessment(admin, price_cents=12000)
        clinic_id = catalogue["clinic_id"]
        clerk = journey.staff(admin, "billing", clinic_id)
        email = f"ines-{uuid.uuid4().hex[:8]}@example.test"
        patient_id = journey.sign_up(
            {"email": email, "password": PASSWORD, "first_name": "Inès", "last_name": "Roy"}
        )["id"]

        # The front desk books a visit starting in a few seconds (staff need no notice), and once it has
        # started, marks it done: a visit that took place, billed at the clinic's price.
        starts_at = (datetime.now(UTC) + timedelta(seconds=3)).replace(microsecond=0)
        booked = journey.ok(
            "POST",
            "scheduling",
            "/appointments",
            admin,
            json=catalogue | {"patient_id": patient_id, "starts_at": starts_at.isoformat()},
        )

        def completed() -> bool:
            response = journey.call("POST", "scheduling", f"/appointments/{booked['id']}/complete", admin)
            return response.status_code == 200

        wait_for(completed, timeout=30, what="the visit to have started and be marked done")

        def billable() -> list[dict]:
            charges = journey.ok("GET", "billing", f"/charges?patient_id={patient_id}", clerk)
            return [c for c in charges if c["status"] == "billable"]

        wait_for(billable, timeout=30, what="the visit's charge")
        draft = journey.ok(
            "POST", "billing", "/invoices", clerk, json={"clinic_id": clinic_id, "patient_id": patient_id}
        )
        invoice = journey.ok("POST", "billing", f"/invoices/{draft['id']}/issue", clerk)
        note = money(
            journey,
            f"/invoices/{invoice['id']}/credit-notes",
            clerk,
            {"amount_cents": 1000, "reason": "Started late"},
        )
        payment = {"clinic_id": clinic_id, "patient_id": patient_id, "currency": "CAD", "method": "card"}
        money(
            journey,
            "/payments",
            clerk,
            payment
            | {"amount_cents": 5000, "allocations": [{"invoice_id": invoice["id"], "amount_cents": 5000}]},
        )
        money(journey, "/payments", clerk, payment | {"amount_cents": 2000})  # paid ahead: their credit
        return Billed(email=email, number=invoice["number"], note_number=note["number"])
    finally:
        journey.http.close()


@pytest.fixture(scope="module")
def billed(portal: System) -> Billed:
    return seed(portal)


def test_a_patient_sees_their_invoice_balance_credit_note_and_credit_and_downloads_the_pdfs(
    portal: System, browser: Browser, billed: Billed, tmp_path: Path
) -> None:
    page = browser.page()
    sign_in(page, portal, billed.email, "/invoices")
    expect(page.get_by_role("heading", name="Invoices and receipts")).to_be_visible()
    row = page.get_by_role("row").filter(has_text=billed.number)
    expect(row.get_by_role("cell").nth(2)).to_have_text("Part paid")
    expect(row.get_by_role("cell").nth(3)).to_have_text("$110.00")  # $120.00 less the $10.00 credit note
    expect(row.get_by_role("cell").nth(4)).to_have_text("$60.00")  # less the $50.00 paid
    expect(row).to_contain_text(f"Credit note {billed.note_number}")
    expect(row).to_contain_text("$10.00 off")
    expect(page.get_by_text("Still to pay: $60.00")).to_be_visible()
    expect(page.get_by_text(CREDIT_SENTENCE)).to_be_visible()
    browser.check(page, "invoices")

    with page.expect_download() as downloading:
        page.get_by_role("link", name=f"Invoice {billed.number} (PDF)").click()
    invoice_pdf = downloading.value
    assert invoice_pdf.suggested_filename == f"invoice-{billed.number}.pdf"
    saved = tmp_path / invoice_pdf.suggested_filename
    invoice_pdf.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF")

    with page.expect_download() as downloading:
        page.get_by_role("link", name=f"Receipt {billed.number} (PDF)").click()
    receipt = downloading.value
    assert receipt.suggested_filename == f"receipt-{billed.number}.pdf"
    receipt.save_as(tmp_path / receipt.suggested_filename)
    assert (tmp_path / receipt.suggested_filename).read_bytes().startswith(b"%PDF")

    # The same download through the page's own request context: a PDF, never cached.
    href = page.get_by_role("link", name=f"Invoice {billed.number} (PDF)").get_attribute("href")
    response = page.request.get(f"{portal.url('web')}{href}")
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["cache-control"] == "no-store"
    assert response.body().startswith(b"%PDF")

    # Another invoice id (not this patient's, or no invoice at all) is simply not found.
    assert page.request.get(f"{portal.url('web')}/invoices/{uuid.uuid4()}/pdf").status == 404
    page.context.close()


def test_the_invoices_page_on_a_phone_and_in_french(portal: System, browser: Browser, billed: Billed) -> None:
    page = browser.page(phone=True)
    sign_in(page, portal, billed.email, "/invoices")
    expect(page.get_by_text(CREDIT_SENTENCE)).to_be_visible()
    # The table stacks: each value is labelled beside it.
    expect(page.locator("td[data-label='Balance']").first).to_be_visible()
    browser.check(page, "invoices")

    page.get_by_role("link", name="Français").click()
    expect(page.get_by_role("heading", name="Factures et reçus")).to_be_visible()
    expect(page.get_by_text("Payée en partie")).to_be_visible()
    expect(page.get_by_text(CREDIT_SENTENCE_FR)).to_be_visible()
    browser.check(page, "invoices-fr")
    page.set_viewport_size({"width": 320, "height": 740})
    assert_no_sideways_scroll(page, "invoices in French at 320 px")
    page.context.close()


def test_a_new_patient_is_told_there_are_no_invoices(portal: System, browser: Browser) -> None:
    journey = Journey(portal)
    try:
        email = f"nadia-{uuid.uuid4().hex[:8]}@example.test"
        journey.sign_up({"email": email, "password": PASSWORD, "first_name": "Nadia", "last_name": "Lam"})
    finally:
        journey.http.close()
    for phone in (False, True):
        page = browser.page(phone=phone)
        sign_in(page, portal, email, "/invoices")
        expect(page.get_by_text("You have no invoices yet.")).to_be_visible()
        expect(page.get_by_role("table")).to_have_count(0)
        browser.check(page, "invoices-empty")
        page.context.close()
