"""Scheduling's worker against real RabbitMQ and PostgreSQL: a patient's confirmation marks the appointment.

The worker runs as `scheduling worker` wires it, on its own vhost; the test publishes
notifications.appointment.confirmation_received as notifications' relay would and waits for the consumer.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pika
import pytest

from clinic_shared.events import Envelope, dump_event, new_event
from clinic_shared.messaging.consumer import Outcome
from clinic_shared.messaging.worker import run_worker
from clinic_shared.testing.clock import ManualClock
from clinic_shared.testing.rabbit import temporary_vhost
from scheduling.bootstrap import Container, bootstrap
from scheduling.config import SchedulingSettings
from scheduling.entrypoints import worker

from ..conftest import Api, Catalogue
from .test_api import booking
from .test_lifecycle import events_of

pytestmark = pytest.mark.integration

WAIT = 15.0


class Outcomes:
    """Collects the consumer's reports; ``wait`` blocks until a condition over them holds."""

    def __init__(self) -> None:
        self.items: list[tuple[Envelope | None, Outcome]] = []
        self._cond = threading.Condition()

    def __call__(self, envelope: Envelope | None, outcome: Outcome) -> None:
        with self._cond:
            self.items.append((envelope, outcome))
            self._cond.notify_all()

    def wait(self, predicate: Callable[[], bool]) -> None:
        deadline = time.monotonic() + WAIT
        with self._cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out; outcomes so far: {self.items}")
                self._cond.wait(remaining)


@pytest.fixture
def amqp_url() -> Iterator[str]:
    with temporary_vhost("scheduling") as url:
        yield url


def confirmation(appointment_id: str, patient_id: str) -> Envelope:
    return new_event(
        "notifications.appointment.confirmation_received",
        {
            "appointment_id": uuid.UUID(appointment_id),
            "patient_id": uuid.UUID(patient_id),
            "channel": "sms",
            "received_at": datetime.now(UTC),
        },
        producer="notifications",
        occurred_at=datetime.now(UTC),
    )


def test_a_confirmation_from_notifications_marks_the_appointment_confirmed_once(
    api: Api,
    catalogue: Catalogue,
    clock: ManualClock,
    container: Container,
    amqp_url: str,
    database_url: str,
    tmp_path: Path,
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("the worker is exercised against PostgreSQL; SQLite is the embedded single-process mode")
    patient, headers = api.register_patient("confirm@example.test")
    appointment = api.client.post("/appointments", headers=headers, json=booking(catalogue, clock)).json
    outcomes = Outcomes()
    settings = SchedulingSettings.from_env(
        {"SCHEDULING_DATABASE_URL": database_url, "AMQP_URL": amqp_url, "VAR_DIR": str(tmp_path)}
    )
    worker_container = bootstrap(settings, clock=clock)
    consumer = worker.build_consumer(worker_container, on_processed=outcomes)
    stop = threading.Event()
    thread = threading.Thread(
        target=lambda: run_worker(None, consumer, stop=stop, install_signal_handlers=False), daemon=True
    )
    thread.start()
    try:
        assert consumer.ready.wait(WAIT), "the consumer did not start"
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        channel = connection.channel()
        channel.confirm_delivery()
        event = confirmation(appointment["id"], patient["id"])
        stranger = confirmation(appointment["id"], str(uuid.uuid4()))
        for envelope in (stranger, event, event):
            channel.basic_publish(
                "notifications.events",
                envelope.type,
                dump_event(envelope),
                properties=pika.BasicProperties(
                    content_type="application/json", delivery_mode=2, message_id=str(envelope.id)
                ),
                mandatory=True,
            )
        outcomes.wait(lambda: len(outcomes.items) == 3)
        connection.close()
    finally:
        stop.set()
        thread.join(timeout=30)
        worker_container.engine.dispose()
    assert [str(o) for _, o in outcomes.items].count("duplicate") == 1
    confirmed = events_of(container, "scheduling.appointment.confirmed")
    assert len(confirmed) == 1
    assert str(confirmed[0].data["appointment_id"]) == appointment["id"]
    assert confirmed[0].causation_id == event.id
    shown = api.client.get(f"/appointments/{appointment['id']}", headers=headers).json
    assert shown["confirmed_at"] is not None
