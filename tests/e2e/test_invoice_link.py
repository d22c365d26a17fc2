"""An issued invoice reaches the patient by e-mail with a signed link that opens its PDF without signing in.

Real gunicorn apps and workers, PostgreSQL, RabbitMQ and an SMTP server started by the test.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.message import Message

import httpx
import pytest

from .journey import Journey
from .system import Mailbox, System, wait_for

pytestmark = pytest.mark.e2e


def text_of(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
    raise AssertionError("no text/plain part")


def test_an_issued_invoice_is_e_mailed_with_a_link_to_its_pdf(
    system: System, mailbox: Mailbox, journey: Journey
) -> None:
    admin = journey.first_admin()
    catalogue = journey.clinic_with_assessment(admin, price_cents=12000)
    clinic_id = catalogue["clinic_id"]
    clerk = journey.staff(admin, "billing", clinic_id)
    journey.ok(
        "PUT",
        "billing",
        f"/clinics/{clinic_id}/billing-policy",
        admin,
        json={"currency": "CAD", "late_cancel_fee_mode": "fixed", "late_cancel_fee_value": 5000},
    )
    patient_id, email, patient = journey.patient()

    # Cancelled three hours ahead: inside the 24-hour window, so billing charges the late-cancellation fee.
    soon = (datetime.now(UTC) + timedelta(hours=4)).replace(minute=0, second=0, microsecond=0)
    booked = journey.book(patient, catalogue, soon)
    assert booked.status_code == 201, booked.text
    journey.ok("POST", "scheduling", f"/appointments/{booked.json()['id']}/cancel", patient, json={})

    def fee() -> list[dict]:
        charges = journey.ok("GET", "billing", f"/charges?patient_id={patient_id}", clerk)
        return [c for c in charges if c["kind"] == "late_cancel_fee" and c["status"] == "billable"]

    wait_for(fee, timeout=30, what="the late-cancellation fee")
    draft = journey.ok(
        "POST", "billing", "/invoices", clerk, json={"clinic_id": clinic_id, "patient_id": patient_id}
    )
    invoice = journey.ok("POST", "billing", f"/invoices/{draft['id']}/issue", clerk)

    def invoice_mail() -> list[Message]:
        return [m for m in mailbox.to(email) if invoice["number"] in str(m["Subject"])]

    (message,) = wait_for(invoice_mail, timeout=30, what="the invoice e-mail")
    match = re.search(r"http://\S+/documents/[\w.-]+", text_of(message))
    assert match, text_of(message)
    link = match.group(0)
    assert link.startswith(system.url("billing"))

    opened = httpx.get(link, timeout=10)  # no bearer token: the link is the credential
    assert opened.status_code == 200, opened.text
    assert opened.headers["content-type"] == "application/pdf"
    assert opened.headers["cache-control"] == "private, no-store"
    assert opened.content.startswith(b"%PDF")
    tampered = httpx.get(link[:-2] + ("AA" if not link.endswith("AA") else "BB"), timeout=10)
    assert tampered.status_code == 404
    assert tampered.headers["content-type"].startswith("application/problem+json")
