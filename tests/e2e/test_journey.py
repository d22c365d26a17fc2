"""The journey that proves the backbone: book, charge, confirm by email; cancel, abort, email again.

Everything is real: gunicorn web apps and workers as separate processes, PostgreSQL, RabbitMQ, and an
SMTP server started by the test.
"""

from __future__ import annotations

import pytest

from .journey import Journey, next_week_at
from .system import Mailbox, System, ics_of, wait_for

pytestmark = pytest.mark.e2e


def test_booking_charges_and_confirms_then_cancelling_aborts_and_notifies(
    system: System, mailbox: Mailbox, journey: Journey
) -> None:
    admin = journey.first_admin()
    catalogue = journey.clinic_with_assessment(admin, price_cents=12000)
    billing_clerk = journey.staff(admin, "billing", catalogue["clinic_id"])
    patient_id, email, patient = journey.patient()

    booked = journey.book(patient, catalogue, next_week_at(17))
    assert booked.status_code == 201, booked.text
    assert booked.headers["Server"] == "ims-clinic"  # gunicorn's name and version are not advertised
    assert booked.headers["Cache-Control"] == "no-store"
    appointment = booked.json()

    def charge_with(status: str) -> dict | None:
        charges = journey.ok("GET", "billing", f"/charges?appointment_id={appointment['id']}", billing_clerk)
        return charges[0] if charges and charges[0]["status"] == status else None

    charge = wait_for(lambda: charge_with("planned"), timeout=30, what="a planned charge")
    assert charge["amount_cents"] == 12000
    assert charge["currency"] == "CAD"
    assert charge["patient_id"] == patient_id

    confirmation = wait_for(lambda: mailbox.to(email), timeout=30, what="the confirmation email")[0]
    event = ics_of(confirmation).walk("VEVENT")[0]
    assert str(event["UID"]).startswith(appointment["id"])
    assert int(event["SEQUENCE"]) == 0

    cancelled = journey.call(
        "POST", "scheduling", f"/appointments/{appointment['id']}/cancel", patient, json={}
    )
    assert cancelled.status_code == 200, cancelled.text
    wait_for(lambda: charge_with("aborted"), timeout=30, what="the charge to be aborted")
    messages = wait_for(
        lambda: (m := mailbox.to(email)) and len(m) >= 2 and m, timeout=30, what="the cancellation"
    )
    cancellation = ics_of(messages[1])
    assert str(cancellation["METHOD"]) == "CANCEL"
    assert int(cancellation.walk("VEVENT")[0]["SEQUENCE"]) == 1
    # Patients only see their own charges.
    own = journey.ok("GET", "billing", "/charges", patient)
    assert {c["patient_id"] for c in own} == {patient_id}
    _, _, stranger = journey.patient("Bob")
    assert journey.call("GET", "billing", f"/charges/{charge['id']}", stranger).status_code == 404
