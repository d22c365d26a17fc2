"""The web path never touches the broker: with RabbitMQ stopped, bookings still succeed, and once it is
back every event arrives (charges and emails), none lost and none doubled.

This stops the shared local broker, so it is marked disruptive and runs alone.
"""

from __future__ import annotations

import subprocess

import httpx
import pytest

from clinic_shared.testing.rabbit import rabbitmqctl

from .journey import Journey, next_week_at
from .system import Mailbox, System, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.disruptive]

BOOKINGS = 5


def broker_accepts_connections() -> bool:
    try:
        rabbitmqctl("await_startup", "--timeout", "5", timeout=15)
        return True
    except subprocess.SubprocessError:
        return False


def test_bookings_succeed_while_the_broker_is_down_and_every_event_arrives_afterwards(
    system: System, mailbox: Mailbox, journey: Journey
) -> None:
    admin = journey.first_admin()
    catalogue = journey.clinic_with_assessment(admin, price_cents=9000)
    billing_clerk = journey.staff(admin, "billing", catalogue["clinic_id"])
    patients = [journey.patient(f"P{i}") for i in range(BOOKINGS)]

    rabbitmqctl("stop_app")
    try:
        appointments = []
        for i, (_, _, token) in enumerate(patients):
            response = journey.book(token, catalogue, next_week_at(16, day_offset=i))
            assert response.status_code == 201, response.text
            appointments.append(response.json()["id"])
        ready = httpx.get(f"{system.url('scheduling')}/readyz", timeout=10)
        assert ready.status_code == 503
        assert ready.json()["checks"]["broker"] == "unavailable"
    finally:
        rabbitmqctl("start_app")
    wait_for(broker_accepts_connections, timeout=60, what="the broker to restart")

    def all_charged() -> list[dict] | None:
        charges = journey.ok("GET", "billing", "/charges?page_size=100", billing_clerk)
        return charges if {c["appointment_id"] for c in charges} >= set(appointments) else None

    charges = wait_for(all_charged, timeout=90, what="every booking's charge after the outage")
    mine = [c for c in charges if c["appointment_id"] in appointments]
    assert len(mine) == BOOKINGS  # none doubled
    for _, email, _ in patients:
        wait_for(lambda e=email: mailbox.to(e), timeout=60, what=f"the confirmation to {email}")
    assert all(len(mailbox.to(email)) == 1 for _, email, _ in patients)
