"""Practitioners' daily agenda: recorded once a day from the clinic's local agenda time, listing the day's
appointments in clinic time (first name, treatment), sent to the address an admin set; never after the day."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any

from flask.testing import FlaskClient

from clinic_shared.testing.tokens import TestIssuer
from notifications.bootstrap import Container
from notifications.domain.deliveries import DeliveryStatus
from notifications.domain.kinds import DeliveryKind
from notifications.domain.reasons import EXPIRED
from notifications.entrypoints.agenda import AgendaScheduler
from notifications.entrypoints.dispatcher import Dispatcher
from notifications.service_layer.agenda import record_daily_agendas

DAY = datetime(2025, 3, 10, 16, 0, tzinfo=UTC)  # 09:00 PDT on Monday, March 10
AGENDA_DUE = datetime(2025, 3, 10, 13, 30, tzinfo=UTC)  # 06:30 PDT


def set_address(client: FlaskClient, issuer: TestIssuer, events: Any, email: str | None) -> Any:
    return client.put(
        f"/practitioners/{events.practitioner_id}/agenda-address",
        json={"email": email},
        headers=issuer.headers("admin"),
    )


def test_the_agenda_lists_the_day_in_clinic_time_and_is_sent_once(
    container: Container,
    client: FlaskClient,
    issuer: TestIssuer,
    apply: Callable[..., None],
    events: Any,
    transport: Any,
    clock: Any,
) -> None:
    apply(*events.catalogue(phone=None))
    assert set_address(client, issuer, events, "ida@demo.clinic").json["agenda_email"] == "ida@demo.clinic"
    apply(
        events.booked(starts_at=DAY + timedelta(hours=2), appointment_id=uuid.uuid4()),
        events.booked(starts_at=DAY),
        events.booked(starts_at=DAY + timedelta(days=1), appointment_id=uuid.uuid4()),  # tomorrow
    )
    cancelled = uuid.uuid4()
    apply(events.booked(starts_at=DAY + timedelta(hours=4), appointment_id=cancelled))
    apply(events.cancelled(starts_at=DAY + timedelta(hours=4), appointment_id=cancelled))
    sender = Dispatcher.from_container(container)
    sender.dispatch_due()
    transport.emails.clear()

    scheduler = AgendaScheduler(container.uow, time(6, 30))
    clock.set(AGENDA_DUE - timedelta(minutes=1))
    assert scheduler.record_due() == 0
    clock.set(AGENDA_DUE)
    assert scheduler.record_due() == 1
    assert scheduler.record_due() == 0
    sender.dispatch_due()
    (agenda,) = [e for e in transport.emails if e.to == "ida@demo.clinic"]  # besides the day's reminders
    assert agenda.subject == "Your agenda for March 10, 2025: 2 appointments at Demo IMS Clinic"
    assert "9:00 AM \u2013 9:30 AM  Pat, IMS session, 30 min" in agenda.text
    assert "11:00 AM \u2013 11:30 AM  Pat, IMS session, 30 min" in agenda.text
    assert agenda.calendar is None


def test_no_agenda_without_an_address_and_none_after_its_day(
    container: Container,
    client: FlaskClient,
    issuer: TestIssuer,
    apply: Callable[..., None],
    events: Any,
    transport: Any,
    clock: Any,
) -> None:
    apply(*events.catalogue(phone=None), events.booked(starts_at=DAY))
    clock.set(AGENDA_DUE)
    with container.uow() as uow:
        assert record_daily_agendas(uow) == 0
    set_address(client, issuer, events, "ida@demo.clinic")
    with container.uow() as uow:
        assert record_daily_agendas(uow) == 1
        uow.commit()
    clock.set(datetime(2025, 3, 11, 7, 0, tzinfo=UTC))  # midnight PDT: the day is over, the worker was down
    sender = Dispatcher.from_container(container)
    transport.emails.clear()
    sender.dispatch_due()
    assert [e.to for e in transport.emails if e.to == "ida@demo.clinic"] == []
    with container.uow() as uow:
        (agenda,) = uow.repo.list_deliveries(offset=0, limit=10, kind=DeliveryKind.PRACTITIONER_AGENDA)[0]
    assert (agenda.status, agenda.last_error) == (DeliveryStatus.SKIPPED, EXPIRED)


def test_only_admins_set_the_agenda_address_of_a_known_practitioner(
    client: FlaskClient, issuer: TestIssuer, apply: Callable[..., None], events: Any
) -> None:
    apply(events.practitioner_changed())
    headers = issuer.headers("front_desk")
    url = f"/practitioners/{events.practitioner_id}/agenda-address"
    assert client.put(url, json={"email": "x@demo.clinic"}, headers=headers).status_code == 403
    unknown = f"/practitioners/{uuid.uuid4()}/agenda-address"
    assert (
        client.put(unknown, json={"email": "x@demo.clinic"}, headers=issuer.headers("admin")).status_code
        == 404
    )
    assert set_address(client, issuer, events, "not-an-address").status_code == 422
