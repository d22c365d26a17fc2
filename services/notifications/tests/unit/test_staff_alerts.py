"""Front-desk alerts (to the clinic's e-mail): late cancellations and online bookings, once each."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from notifications.bootstrap import Container
from notifications.entrypoints.dispatcher import Dispatcher


def test_a_late_cancellation_alerts_the_front_desk_once_without_an_invitation(
    container: Container, apply: Callable[..., None], events: Any, transport: Any, clock: Any
) -> None:
    apply(*events.catalogue(phone=None), events.booked())
    sender = Dispatcher.from_container(container)
    sender.dispatch_due()
    transport.emails.clear()
    clock.set(datetime(2025, 3, 10, 15, 0, tzinfo=UTC))  # an hour before the appointment
    late = events.cancelled(late=True)
    apply(late, late)
    sender.dispatch_due()
    alerts = [e for e in transport.emails if e.to == "front@demo.clinic"]
    (alert,) = alerts
    assert alert.subject == "Late cancellation: Monday, March 10, 2025, 9:00 AM with Dr. Ida Needham"
    assert alert.calendar is None
    assert "Pat cancelled inside the late-cancellation window" in alert.text
    assert [e.to for e in transport.emails if e.to != "front@demo.clinic"] == ["pat@example.com"]


def test_a_timely_cancellation_sends_no_alert(
    container: Container, apply: Callable[..., None], events: Any, transport: Any
) -> None:
    sender = Dispatcher.from_container(container)
    apply(*events.catalogue(phone=None), events.booked())
    sender.dispatch_due()
    apply(events.cancelled(late=False))
    sender.dispatch_due()
    assert [e.to for e in transport.emails] == ["pat@example.com", "pat@example.com"]


def test_an_online_booking_alerts_the_front_desk_once(
    container: Container, apply: Callable[..., None], events: Any, transport: Any
) -> None:
    online = events.booked(booked_via="online")
    apply(*events.catalogue(phone=None), online, online)
    Dispatcher.from_container(container).dispatch_due()
    (alert,) = [e for e in transport.emails if e.to == "front@demo.clinic"]
    assert alert.subject == "New online booking: Monday, March 10, 2025, 9:00 AM with Dr. Ida Needham"
    assert alert.calendar is None
    assert "Pat booked online." in alert.text


def test_a_booking_made_by_staff_sends_no_alert(
    container: Container, apply: Callable[..., None], events: Any, transport: Any
) -> None:
    apply(*events.catalogue(phone=None), events.booked(booked_via="staff"))
    Dispatcher.from_container(container).dispatch_due()
    assert [e.to for e in transport.emails] == ["pat@example.com"]
