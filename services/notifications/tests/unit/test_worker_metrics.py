"""Notifications' worker metrics: sends counted per channel at the transports' boundary, and the lag of the
oldest due delivery read from the database at scrape time."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.registry import REGISTRY
from sqlalchemy import create_engine, insert

from clinic_shared.testing.clock import ManualClock
from notifications.adapters import orm
from notifications.domain.channels import Channel
from notifications.domain.deliveries import DeliveryStatus
from notifications.domain.kinds import DeliveryKind
from notifications.entrypoints.worker import DeliveryLagCollector, counted
from notifications.service_layer.dispatch import Transports
from notifications.service_layer.ports import OutgoingEmail, OutgoingSms, TransportError


def value(name: str, channel: str) -> float:
    return REGISTRY.get_sample_value(name, {"channel": channel}) or 0.0


class Renderer:
    def email(self, notice: Any) -> OutgoingEmail:
        raise RuntimeError("template bug")

    def sms(self, notice: Any) -> OutgoingSms:
        return OutgoingSms(key="k", to="+15145550100", body="hi")


class Transport:
    def __init__(self, fail: bool) -> None:
        self.fail = fail

    def close(self) -> None:
        pass

    def send(self, _message: Any) -> str | None:
        if self.fail:
            raise TransportError("refused", permanent=True)
        return "provider-1"


def test_sends_and_failures_are_counted_per_channel_and_the_transports_behave_as_before() -> None:
    transports = counted(
        Transports(renderer=Renderer(), mailer=Transport(fail=False), sms=Transport(fail=True))
    )
    before = {
        (name, channel): value(name, channel)
        for name in ("deliveries_sent_total", "delivery_failures_total")
        for channel in ("email", "sms")
    }
    email = OutgoingEmail(message_id="m", to="a@example.com", subject="s", text="t", html="h", language="en")
    assert transports.mailer.send(email) == "provider-1"
    with pytest.raises(TransportError):
        transports.sms.send(transports.renderer.sms(object()))  # type: ignore[arg-type]
    with pytest.raises(RuntimeError):
        transports.renderer.email(object())  # type: ignore[arg-type]

    delta = {key: value(*key) - n for key, n in before.items()}
    assert delta == {
        ("deliveries_sent_total", "email"): 1,
        ("deliveries_sent_total", "sms"): 0,
        ("delivery_failures_total", "email"): 1,  # the rendering failed
        ("delivery_failures_total", "sms"): 1,  # the provider refused it
    }


def test_the_reminder_lag_is_how_long_ago_the_oldest_pending_due_delivery_fell_due(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/notifications.db")
    orm.deliveries.metadata.create_all(engine)
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    clock = ManualClock(now)
    collector = DeliveryLagCollector(engine, clock)

    def scrape() -> dict[str, float]:
        return {family.name: family.samples[0].value for family in collector.collect()}

    assert scrape() == {"deliveries_due_unsent": 0, "reminder_lag_seconds": 0}

    def delivery(status: DeliveryStatus, due: timedelta) -> dict[str, Any]:
        return {
            "id": uuid.uuid4(),
            "key": uuid.uuid4().hex,
            "channel": Channel.EMAIL,
            "kind": DeliveryKind.REMINDER,
            "status": status,
            "appointment_id": uuid.uuid4(),
            "sequence": 1,
            "event_id": uuid.uuid4(),
            "attempts": 0,
            "next_attempt_at": now + due,
            "created_at": now - timedelta(days=1),
            "updated_at": now - timedelta(days=1),
        }

    with engine.begin() as connection:
        connection.execute(
            insert(orm.deliveries),
            [
                delivery(DeliveryStatus.PENDING, -timedelta(minutes=2)),  # the oldest due: 120 s late
                delivery(DeliveryStatus.PENDING, -timedelta(seconds=5)),
                delivery(DeliveryStatus.PENDING, timedelta(minutes=10)),  # not due yet (a retry's delay)
                delivery(DeliveryStatus.SENT, -timedelta(hours=1)),  # done
            ],
        )
    assert scrape() == {"deliveries_due_unsent": 2, "reminder_lag_seconds": 120}
    clock.advance(timedelta(seconds=30))
    assert scrape()["reminder_lag_seconds"] == 150


def test_a_database_that_cannot_answer_leaves_the_lag_out_of_the_scrape(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/empty.db")  # no deliveries table
    assert list(DeliveryLagCollector(engine, ManualClock()).collect()) == []
