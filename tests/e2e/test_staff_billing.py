"""The billing clerk's day in a browser, against the real system (issue 12, journey 2).

Staff seed the story through the real APIs: a clinic with a late-cancellation fee, a patient whose late
cancellation was invoiced already, a visit that took place, and the patient's ICBC claim. The clerk then signs
in, opens Billing, sees the visit's charge, drafts the split invoice (ICBC's part and the patient's), issues
both, records one payment over two invoices (the rest kept as credit), refunds part of that credit from the
patient's page, downloads the PDF and voids ICBC's invoice with a credit note.
"""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect
from pypdf import PdfReader

from .browser import Browser
from .system import System, wait_for
from .test_staff_day import VANCOUVER, RecordingJourney, sign_in

pytestmark = pytest.mark.e2e


@dataclass
class Story:
    clerk_email: str
    clerk_password: str
    patient_id: str
    fee_invoice_number: str


@pytest.fixture
def journey(portal: System) -> Iterator[RecordingJourney]:
    client = RecordingJourney(portal)
    yield client
    client.http.close()


def money(journey: RecordingJourney, path: str, token: str, body: dict) -> dict:
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())}
    response = journey.http.post(f"{journey.system.url('billing')}{path}", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def seed(journey: RecordingJourney) -> Story:
    admin = journey.first_admin()
    catalogue = journey.clinic_with_assessment(admin, price_cents=12000)
    clinic_id = catalogue["clinic_id"]
    clerk = journey.staff(admin, "billing", clinic_id)
    account = journey.staff_accounts[-1]
    journey.ok(
        "PUT",
        "billing",
        f"/clinics/{clinic_id}/billing-policy",
        admin,
        json={"currency": "CAD", "late_cancel_fee_mode": "fixed", "late_cancel_fee_value": 4000},
    )
    patient_id, _, patient = journey.patient("Lea")

    def billable(kind: str) -> list[dict]:
        charges = journey.ok("GET", "billing", f"/charges?patient_id={patient_id}", clerk)
        return [c for c in charges if c["kind"] == kind and c["status"] == "billable"]

    # A late cancellation, invoiced already: the patient's oldest open invoice ($40.00).
    soon = (datetime.now(UTC) + timedelta(hours=4)).replace(minute=0, second=0, microsecond=0)
    booked = journey.book(patient, catalogue, soon)
    assert booked.status_code == 201, booked.text
    journey.ok("POST", "scheduling", f"/appointments/{booked.json()['id']}/cancel", patient, json={})
    wait_for(lambda: billable("late_cancel_fee"), timeout=30, what="the late-cancellation fee")
    draft = journey.ok(
        "POST", "billing", "/invoices", clerk, json={"clinic_id": clinic_id, "patient_id": patient_id}
    )
    fee_invoice = journey.ok("POST", "billing", f"/invoices/{draft['id']}/issue", clerk)

    # A visit that took place ($120.00), waiting in the clerk's queue.
    starts_at = (datetime.now(UTC) + timedelta(seconds=3)).replace(microsecond=0)
    visit = journey.ok(
        "POST",
        "scheduling",
        "/appointments",
        admin,
        json=catalogue | {"patient_id": patient_id, "starts_at": starts_at.isoformat()},
    )

    def completed() -> bool:
        response = journey.call("POST", "scheduling", f"/appointments/{visit['id']}/complete", admin)
        return response.status_code == 200

    wait_for(completed, timeout=30, what="the visit to have started and be marked done")
    wait_for(lambda: billable("appointment"), timeout=30, what="the visit's charge")
    # ICBC pays $80.00 of each visit; the patient pays the rest.
    journey.ok(
        "POST",
        "billing",
        f"/patients/{patient_id}/coverages",
        clerk,
        json={
            "clinic_id": clinic_id,
            "payer_kind": "icbc",
            "claim_number": "ICBC-4471",
            "date_of_injury": "2026-11-20",
            "insurer_fee_cents": 8000,
        },
    )
    return Story(account["email"], account["password"], patient_id, fee_invoice["number"])


def test_the_billing_clerk_invoices_a_split_visit_takes_a_payment_and_voids_an_invoice(
    portal: System, browser: Browser, journey: RecordingJourney, tmp_path: Path
) -> None:
    story = seed(journey)
    page = browser.page()
    sign_in(page, portal, story.clerk_email, story.clerk_password)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Billing").click()
    expect(page.get_by_role("heading", name="Charges to invoice", level=1)).to_be_visible()
    patient = page.locator("section", has=page.get_by_role("heading", name="Lea Li"))
    expect(patient).to_contain_text("$120.00")
    expect(patient).to_contain_text("ICBC (claim ICBC-4471)")
    browser.check(page, "staff-billing-queue")

    # The patient's billing: the clerk adds an extended health plan that began last month, then ends it.
    patient.get_by_role("link", name=re.compile("^Open patient")).click()
    expect(page.get_by_role("heading", name="Lea Li", level=1)).to_be_visible()
    coverages = page.locator("section.patient-billing")
    expect(coverages.locator("li.panel", has_text="ICBC, ICBC-4471")).to_contain_text("Up to $80.00 a visit")
    patient_url = page.url
    add_an_extended_health_plan_then_end_it(page, browser)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Billing").click()
    patient = page.locator("section", has=page.get_by_role("heading", name="Lea Li"))

    # The split: ICBC's draft opens, with each payer's share of the visit.
    patient.get_by_role("button", name=re.compile("^Draft split invoice: ICBC and patient")).click()
    expect(page.get_by_role("heading", name="Draft invoice", level=1)).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("The drafts are ready")
    row = page.get_by_role("row").filter(has_text="IMS assessment")
    expect(row.get_by_role("cell").nth(4)).to_have_text("$80.00")  # ICBC's share
    expect(row.get_by_role("cell").nth(5)).to_have_text("$40.00")  # the patient's
    browser.check(page, "staff-billing-invoice-draft")
    icbc_invoice_url = page.url

    page.get_by_role("button", name="Issue both invoices").click()
    expect(page.get_by_role("status")).to_contain_text("Issued: ")
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text(re.compile(r"^Invoice \S+"))
    icbc_number = heading.inner_text().removeprefix("Invoice ").strip()
    expect(page.locator("dd .tag")).to_have_text("Issued")

    # One payment over two invoices: the fee and the patient's part, oldest first; the rest is credit.
    page.get_by_role("link", name="Record a payment").click()
    expect(page.get_by_role("heading", name="Record a payment", level=1)).to_be_visible()
    fee_field = page.get_by_label(re.compile(f"^Invoice {story.fee_invoice_number} \\(Patient\\)"))
    expect(fee_field).to_have_value("40.00")
    page.get_by_label(re.compile(f"^Invoice {icbc_number} \\(ICBC\\)")).fill("")
    amount = page.get_by_label("Amount received (CAD)")
    amount.fill("12.345")
    page.get_by_role("button", name="Record payment").click()
    expect(page).to_have_title(re.compile("^Error: Record a payment"))
    expect(page.locator("#amount-error")).to_contain_text("no more than 2 digits after the decimal point")
    browser.check(page, "staff-billing-payment-error")
    page.get_by_label("Amount received (CAD)").fill("100")
    page.get_by_label(re.compile(f"^Invoice {icbc_number} \\(ICBC\\)")).fill("")
    page.get_by_label("Card").check()
    page.get_by_role("button", name="Record payment").click()
    expect(page.get_by_role("status")).to_have_text(
        "Payment of $100.00 recorded; $20.00 is kept as the patient's credit."
    )
    expect(page.get_by_text("The patient already has $20.00 of credit.")).to_be_visible()
    browser.check(page, "staff-billing-payment")
    refund_part_of_the_credit(page, browser, patient_url)

    # ICBC's invoice as a PDF, through the web front.
    page.goto(icbc_invoice_url)
    with page.expect_download() as downloading:
        page.get_by_role("link", name=re.compile("^Download PDF")).click()
    saved = tmp_path / downloading.value.suggested_filename
    downloading.value.save_as(saved)
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(saved.read_bytes())).pages)
    assert icbc_number in text
    assert "80.00" in text

    # ICBC denies the claim: void its invoice with a credit note.
    page.get_by_label("Reason").fill("Claim denied by ICBC")
    page.get_by_role("button", name="Issue credit note").click()
    expect(page.get_by_role("status")).to_contain_text("is issued.")
    expect(page.locator("dd .tag")).to_have_text("Void")
    expect(page.locator(".credit-notes")).to_contain_text("Claim denied by ICBC")
    expect(page.locator(".billing-audit")).to_contain_text("Voided by a credit note")
    browser.check(page, "staff-billing-invoice-void")

    # The reports: nothing left owed, the day's card payment, and each as a CSV file.
    page.get_by_role("link", name="Back to billing").click()
    page.get_by_role("link", name="Billing reports").click()
    expect(page.get_by_role("heading", name="Billing reports", level=1)).to_be_visible()
    expect(page.get_by_text("Nothing is owed.")).to_be_visible()
    payments = page.locator("section", has=page.get_by_role("heading", name="Payments by day and method"))
    expect(payments.get_by_role("row").filter(has_text="Card")).to_contain_text("$100.00")
    browser.check(page, "staff-billing-reports")
    with page.expect_download() as downloading:
        payments.get_by_role("link", name=re.compile("^Download as CSV")).click()
    csv_file = tmp_path / "payments.csv"
    downloading.value.save_as(csv_file)
    lines = csv_file.read_text().splitlines()
    assert lines[0].startswith("day,method,count,received_cents")
    assert any(",card,1,10000," in line for line in lines[1:]), lines

    sell_a_package(page, browser, patient_url)

    # On a phone, in French: the invoice's lines stack, nothing scrolls sideways.
    phone = browser.page(phone=True)
    sign_in(phone, portal, story.clerk_email, story.clerk_password)
    phone.goto(f"{icbc_invoice_url}?lang=fr")
    expect(phone.get_by_role("heading", name=f"Facture {icbc_number}", level=1)).to_be_visible()
    expect(phone.locator("dd .tag")).to_have_text("Annulée")
    browser.check(phone, "staff-billing-invoice-fr")
    phone.goto(patient_url)  # the patient's billing, the form to add a coverage open
    ended = phone.locator("li.panel", has_text="Assurance complémentaire, GS-20931")
    expect(ended.locator("h4 .tag")).to_have_text("Terminée")
    phone.get_by_text("Ajouter une couverture", exact=True).click()
    browser.check(phone, "staff-billing-patient-fr")


def boxes(scope: Locator, day: date) -> None:
    scope.get_by_label("Day", exact=True).fill(str(day.day))
    scope.get_by_label("Month", exact=True).fill(str(day.month))
    scope.get_by_label("Year", exact=True).fill(str(day.year))


def add_an_extended_health_plan_then_end_it(page: Page, browser: Browser) -> None:
    """On the patient's page: a missing policy number is said beside its field; a last day before the first
    is refused by billing beside the date; ended yesterday, the plan is marked ended and offers no end."""
    today = datetime.now(VANCOUVER).date()
    page.get_by_text("Add a coverage", exact=True).click()
    # Only the chosen payer's fields are shown (CSS, no script needed).
    expect(page.get_by_label("Policy number", exact=True)).to_be_hidden()
    page.get_by_label("WorkSafeBC", exact=True).check()
    expect(page.get_by_label("Employer's name", exact=True)).to_be_visible()
    expect(page.get_by_label("Claim number", exact=True)).to_be_visible()
    expect(page.get_by_label("Policy number", exact=True)).to_be_hidden()
    page.get_by_label("Extended health plan", exact=True).check()
    expect(page.get_by_label("Employer's name", exact=True)).to_be_hidden()
    expect(page.get_by_label("Claim number", exact=True)).to_be_hidden()
    browser.check(page, "staff-billing-add-coverage")
    page.get_by_label("Share of each visit covered, as a percentage").fill("80")
    page.get_by_role("button", name="Add coverage").click()
    expect(page).to_have_title(re.compile("^Error: Lea Li"))
    expect(page.locator("#policy_number-error")).to_contain_text("Enter the policy number")
    browser.check(page, "staff-billing-patient-error")
    page.get_by_label("Policy number", exact=True).fill("GS-20931")
    page.get_by_label("Most it pays per visit (CAD)").fill("50")
    boxes(page.get_by_role("group", name="First day (optional)"), today - timedelta(days=30))
    page.get_by_role("button", name="Add coverage").click()
    expect(page.get_by_role("status")).to_have_text("The coverage is added.")
    plan = page.locator("li.panel", has_text="Extended health, GS-20931")
    expect(plan).to_contain_text("80% of each visit")
    expect(plan).to_contain_text("$50.00")
    expect(plan.locator("h4 .tag")).to_have_text("Open")

    plan.get_by_text("End this coverage").click()
    boxes(plan, today - timedelta(days=31))  # before its first day: billing refuses it
    plan.get_by_role("button", name="End coverage").click()
    expect(page).to_have_title(re.compile("^Error: Lea Li"))
    expect(plan.locator(".error-message")).to_contain_text("the same as or after the coverage's first day")
    boxes(plan, today - timedelta(days=1))
    plan.get_by_role("button", name="End coverage").click()
    expect(page.get_by_role("status")).to_contain_text("The coverage's last day is")
    expect(plan.locator("h4 .tag")).to_have_text("Ended")
    expect(plan).to_contain_text("(Ended)")
    expect(plan.get_by_role("button", name="End coverage")).to_have_count(0)
    browser.check(page, "staff-billing-patient")


def sell_a_package(page: Page, browser: Browser, patient_url: str) -> None:
    """On the patient's page: a package without a name is refused beside the name; sold with a last day
    in 90 days, its draft invoice opens with the package on it, and the patient's page lists it."""
    last_day = datetime.now(VANCOUVER).date() + timedelta(days=90)
    page.goto(patient_url)
    page.get_by_text("Sell a package", exact=True).click()
    form = page.locator("details.sell-package")
    form.get_by_label("Treatment", exact=True).select_option(label="IMS assessment")
    form.get_by_label("Sessions", exact=True).fill("6")
    form.get_by_label("Price of the package (CAD)").fill("540")
    form.get_by_role("button", name="Sell package").click()
    expect(page).to_have_title(re.compile("^Error: Lea Li"))
    expect(page.locator("#package_name-error")).to_contain_text("Enter the package's name")
    form.get_by_label("Name", exact=True).fill("IMS 6-pack")
    boxes(form.get_by_role("group", name="Last day of use (optional)"), last_day)
    form.get_by_role("button", name="Sell package").click()
    expect(page.get_by_role("heading", name="Draft invoice", level=1)).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("The package IMS 6-pack is sold.")
    expect(page.get_by_role("row").filter(has_text="IMS 6-pack")).to_contain_text("$540.00")
    page.goto(patient_url)
    row = page.locator("table", has=page.get_by_role("columnheader", name="Use by")).get_by_role(
        "row", name=re.compile("IMS 6-pack")
    )
    expect(row).to_contain_text(f"{last_day:%B} {last_day.day}, {last_day.year}")
    browser.check(page, "staff-billing-package")


def refund_part_of_the_credit(page: Page, browser: Browser, patient_url: str) -> None:
    """On the patient's page, the $20.00 the payment left as credit: more than that is refused beside the
    amount; $5.00 is paid back, the refund listed with its reason and a link to the payment it refunds."""
    page.goto(patient_url)
    paid = page.locator("li.panel", has=page.get_by_role("heading", name="Payment of $100.00"))
    expect(paid).to_contain_text("Left as credit$20.00")
    paid.locator("summary", has_text="Refund").click()
    amount = paid.get_by_label("Amount to refund (CAD)")
    expect(amount).to_have_value("20.00")  # what is left to refund
    amount.fill("25")
    paid.get_by_label("Reason for the refund").fill("Overpaid at the desk")
    paid.get_by_role("button", name="Refund payment").click()
    expect(page).to_have_title(re.compile("^Error: Lea Li"))
    expect(paid.locator(".error-message")).to_contain_text(
        "Enter no more than what is left of this payment as credit, $20.00"
    )
    expect(paid.get_by_label("Reason for the refund")).to_have_value("Overpaid at the desk")
    paid.get_by_label("Amount to refund (CAD)").fill("5")
    paid.get_by_role("button", name="Refund payment").click()
    expect(page.get_by_role("status")).to_have_text("$5.00 of the payment of $100.00 is refunded.")
    refund = page.locator("li.panel", has=page.get_by_role("heading", name="Refund of $5.00"))
    expect(refund).to_contain_text("Overpaid at the desk")
    original = refund.get_by_role("link", name=re.compile(r"^\$100\.00 received"))
    expect(original).to_have_attribute("href", re.compile("^#payment-"))
    expect(paid).to_contain_text("Left as credit$15.00")
    expect(paid).to_contain_text("Refunded$5.00")
    expect(page.get_by_text("Credit at this clinic: $15.00")).to_be_visible()
    refund.scroll_into_view_if_needed()
    browser.check(page, "staff-billing-refund")
