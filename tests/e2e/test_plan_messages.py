"""A treatment plan through the real system: one summary (every session in one invitation) instead of one
confirmation per session, and one cancellation for the plan instead of one per session.

Real gunicorn apps and workers, PostgreSQL, RabbitMQ and an SMTP server started by the test.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from .journey import Journey
from .system import Mailbox, System, ics_of, wait_for

pytestmark = pytest.mark.e2e

VANCOUVER = ZoneInfo("America/Vancouver")


def test_a_plan_is_confirmed_and_cancelled_as_a_plan(
    system: System, mailbox: Mailbox, journey: Journey
) -> None:
    admin = journey.first_admin()
    catalogue = journey.clinic_with_assessment(admin, price_cents=12000)
    patient_id, email, patient = journey.patient()
    first_day = (datetime.now(VANCOUVER) + timedelta(days=8)).date()

    plan = journey.ok(
        "POST",
        "scheduling",
        "/plans",
        patient,
        json=catalogue
        | {
            "sessions": 3,
            "weekday": first_day.weekday(),
            "local_time": "10:00",
            "first_day": first_day.isoformat(),
        },
    )
    session_ids = [s["id"] for s in plan["sessions"]]
    assert len(session_ids) == 3

    (summary,) = wait_for(lambda: mailbox.to(email), timeout=30, what="the plan summary")
    assert summary["Subject"].startswith("Your treatment plan at Vancouver IMS: 3 sessions from")
    invitation = ics_of(summary)
    assert str(invitation["METHOD"]) == "REQUEST"
    assert sorted(str(e["UID"]).split("@")[0] for e in invitation.walk("VEVENT")) == sorted(session_ids)

    def logged() -> list[dict]:
        return journey.ok("GET", "notifications", f"/deliveries?patient_id={patient_id}&page_size=100", admin)

    # The summary goes out after every session's booking was handled (same transaction, in order).
    kinds = {d["kind"] for d in logged()}
    assert "booking_confirmation" not in kinds
    assert {"plan_summary", "reminder", "online_booking_alert"} <= kinds
    alerts = [d for d in logged() if d["kind"] == "online_booking_alert"]
    assert len(alerts) == 1

    journey.ok("POST", "scheduling", f"/plans/{plan['id']}/cancel", patient, json={})
    messages = wait_for(
        lambda: (m := mailbox.to(email)) and len(m) >= 2 and m, timeout=30, what="the cancellation"
    )
    cancellation = messages[1]
    assert cancellation["Subject"] == "Your treatment plan at Vancouver IMS is cancelled"
    removed = ics_of(cancellation)
    assert str(removed["METHOD"]) == "CANCEL"
    assert sorted(str(e["UID"]).split("@")[0] for e in removed.walk("VEVENT")) == sorted(session_ids)

    log = logged()
    assert "cancellation" not in {d["kind"] for d in log}
    reminders = [d for d in log if d["kind"] == "reminder"]
    assert reminders
    assert {d["status"] for d in reminders} == {"skipped"}
    assert len(mailbox.to(email)) == 2
