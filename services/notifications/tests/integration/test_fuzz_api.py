"""Notifications' API fuzzed from its own OpenAPI document (schemathesis) on PostgreSQL, as a patient and as
the front desk: no server error, and every answer as the document describes it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from clinic_shared.testing.fuzz import fuzz
from clinic_shared.testing.tokens import TestIssuer
from notifications.bootstrap import bootstrap
from notifications.config import NotificationsSettings
from notifications.entrypoints.api import create_app
from notifications.entrypoints.handlers import HANDLERS

pytestmark = pytest.mark.integration


@pytest.fixture
def app(
    pg_url: str,
    make_settings: Callable[..., NotificationsSettings],
    clock: Any,
    issuer: TestIssuer,
    transport: Any,
    events: Any,
) -> Iterator[Flask]:
    """A clinic, practitioner, treatment type and patient known from scheduling, and a booked appointment
    (so its confirmation is in the delivery log)."""
    container = bootstrap(
        make_settings(pg_url), clock=clock, verifier=issuer.verifier(), mailer=transport, sms=transport
    )
    for event in [*events.catalogue(), events.booked()]:
        with container.uow() as uow:
            HANDLERS[event.type](uow, event)
            uow.commit()
    yield create_app(container=container)
    container.engine.dispose()


@pytest.mark.parametrize("role", ["patient", "front_desk"])
def test_every_answer_is_as_documented(
    role: str,
    app: Flask,
    issuer: TestIssuer,
    events: Any,
    record_property: Callable[[str, object], None],
) -> None:
    deliveries = app.test_client().get("/deliveries", headers=issuer.headers("admin")).json
    assert deliveries, "the booking should have put a confirmation in the delivery log"
    headers = (
        issuer.headers("patient", patient_id=events.patient_id)
        if role == "patient"
        else issuer.headers(role, clinic_id=events.clinic_id)
    )
    result = fuzz(
        app,
        f"notifications as {role}",
        headers=headers,
        known_ids={
            "patient_id": events.patient_id,
            "clinic_id": events.clinic_id,
            "practitioner_id": events.practitioner_id,
            "delivery_id": deliveries[0]["id"],
        },
    )
    result.record(record_property)
    result.assert_clean()
