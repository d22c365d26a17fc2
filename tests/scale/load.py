"""A booking load for the replica tests, and the effects it must leave, read straight from the databases.

Threads of patients book, reschedule (often twice in a row, so the events of one appointment reach the
competing consumers side by side), cancel and book plans through the proxies in front of scheduling's
gunicorn instances, and read their charges (billing) and preferences (notifications) so that every API
serves during the restarts. Each request goes on a new connection: a keep-alive connection would stay pinned
to one instance through the proxy, and a Kubernetes Service balances connections too.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import sqlalchemy as sa

from clinic_shared.messaging.topology import dead_letter_queue_for
from clinic_shared.testing.rabbit import rabbitmqctl
from tests.e2e.journey import Journey, half_hours
from tests.e2e.system import Mailbox, System

ZONE = ZoneInfo("America/Vancouver")
PRACTITIONERS = 6
PATIENTS = 10
# Business answers a correct system may give to legitimate requests (a lost race is a 409).
EXPECTED = {200, 201, 404, 409, 412, 422}


@dataclass
class Clinic:
    id: str
    treatment_type_id: str
    practitioners: list[str]
    patients: list[tuple[str, str]]  # (patient id, token)
    starts: list[datetime]


@dataclass
class Tally:
    """What the load saw: answers by operation and status, and the requests that failed outright."""

    answers: Counter[tuple[str, int]] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, operation: str, response: httpx.Response | Exception) -> httpx.Response | None:
        with self.lock:
            if isinstance(response, Exception):
                self.failures.append(f"{operation}: {type(response).__name__}: {response}")
                return None
            self.answers[(operation, response.status_code)] += 1
            if response.status_code not in EXPECTED:
                self.failures.append(f"{operation}: {response.status_code} {response.text[:200]}")
            return response

    @property
    def operations(self) -> int:
        return sum(self.answers.values()) + len(self.failures)


def set_up_clinic(system: System) -> Clinic:
    journey = Journey(system)
    try:
        admin = journey.first_admin()
        clinic_id = journey.clinic(admin, "Scale IMS", ZONE.key)
        practitioners = [
            journey.practitioner(admin, clinic_id, f"P {n}", f"PT-{n}") for n in range(PRACTITIONERS)
        ]
        treatment_type_id = journey.assessment(admin, clinic_id, minutes=30, price_cents=9000)
        patients = [journey.patient(f"Scale{n}") for n in range(PATIENTS)]
    finally:
        journey.http.close()
    first_day = (datetime.now(ZONE) + timedelta(days=8)).date()
    starts = half_hours(first_day, 40, ZONE)
    return Clinic(
        id=clinic_id,
        treatment_type_id=treatment_type_id,
        practitioners=practitioners,
        patients=[(patient_id, token) for patient_id, _, token in patients],
        starts=starts,
    )


class Patient:
    """One load thread: a seeded mix of what patients do, until ``stop`` or ``operations`` requests."""

    def __init__(self, system: System, clinic: Clinic, tally: Tally, seed: int) -> None:
        self.system = system
        self.clinic = clinic
        self.tally = tally
        self.rng = random.Random(seed)
        self.index = seed % PATIENTS
        self.patient_id, token = clinic.patients[self.index]
        self.headers = {"Authorization": f"Bearer {token}"}
        # No keep-alive: every request is a new connection the proxy balances (see the module docstring).
        self.http = httpx.Client(timeout=60, limits=httpx.Limits(max_keepalive_connections=0))

    def run(self, stop: threading.Event, operations: int, pause: float) -> None:
        try:
            while not stop.is_set() and self.tally.operations < operations:
                self.one_round()
                stop.wait(pause)
        finally:
            self.http.close()

    def one_round(self) -> None:
        roll = self.rng.random()
        if roll < 0.1:
            self.call("plan", "POST", "scheduling", "/plans", self.plan_body())
            return
        if roll < 0.2:
            self.call("charges", "GET", "billing", f"/charges?patient_id={self.patient_id}&page_size=5")
            self.call("preferences", "GET", "notifications", f"/contacts/{self.patient_id}/preferences")
            return
        booked = self.call("book", "POST", "scheduling", "/appointments", self.booking_body())
        if booked is None or booked.status_code != 201:
            return
        appointment = booked.json()["id"]
        for _ in range(self.rng.choice([0, 1, 1, 2])):
            body = {"starts_at": self.rng.choice(self.clinic.starts).isoformat()}
            self.call("reschedule", "POST", "scheduling", f"/appointments/{appointment}/reschedule", body)
        if self.rng.random() < 0.4:
            self.call("cancel", "POST", "scheduling", f"/appointments/{appointment}/cancel", {})

    def catalogue(self) -> dict[str, Any]:
        return {
            "clinic_id": self.clinic.id,
            "practitioner_id": self.rng.choice(self.clinic.practitioners),
            "treatment_type_id": self.clinic.treatment_type_id,
        }

    def booking_body(self) -> dict[str, Any]:
        return self.catalogue() | {"starts_at": self.rng.choice(self.clinic.starts).isoformat()}

    def plan_body(self) -> dict[str, Any]:
        local = self.rng.choice(self.clinic.starts).astimezone(ZONE)
        return self.catalogue() | {
            "sessions": 3,
            "every_weeks": 1,
            "weekday": local.weekday(),
            "local_time": local.strftime("%H:%M"),
            "first_day": local.date().isoformat(),
        }

    def call(
        self, operation: str, method: str, service: str, path: str, body: dict[str, Any] | None = None
    ) -> httpx.Response | None:
        try:
            response = self.http.request(
                method, f"{self.system.url(service)}{path}", json=body, headers=self.headers
            )
        except httpx.HTTPError as exc:
            return self.tally.record(operation, exc)
        return self.tally.record(operation, response)


def run_load(
    system: System,
    clinic: Clinic,
    tally: Tally,
    *,
    threads: int,
    operations: int,
    stop: threading.Event,
    pause: float = 0.0,
) -> list[threading.Thread]:
    """Start the load threads (joined by the caller); they stop at ``operations`` in all or at ``stop``."""
    seed = uuid.uuid4().int % 10_000
    workers = [
        threading.Thread(
            target=Patient(system, clinic, tally, seed + n).run, args=(stop, operations, pause), daemon=True
        )
        for n in range(threads)
    ]
    for worker in workers:
        worker.start()
    return workers


# -- the effects, read from the tables


def _rows(engine: sa.Engine, query: str, **parameters: Any) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(sa.text(query), parameters))


def queue_depths(vhost: str) -> dict[str, int]:
    """The messages in each queue of ``vhost``: ready, or held by a consumer (a retry waiting its backoff)."""
    listed = rabbitmqctl("list_queues", "-p", vhost, "name", "messages", "--quiet", timeout=30)
    rows = (line.split("\t") for line in listed.strip().splitlines())
    return {row[0]: int(row[1]) for row in rows if len(row) == 2 and row[1].isdigit()}


def settled(engines: dict[str, sa.Engine], vhost: str) -> bool:
    """Every outbox row sent, every event consumed (none waiting for a retry), and no delivery due but
    unsent or mid-send."""
    if any(count for name, count in queue_depths(vhost).items() if not name.endswith(".dead-letter")):
        return False
    for name, engine in engines.items():
        if _rows(engine, "SELECT 1 FROM outbox WHERE sent_at IS NULL LIMIT 1"):
            return False
        if name == "notifications" and _rows(
            engine,
            "SELECT 1 FROM deliveries WHERE status = 'sending'"
            " OR (status = 'pending' AND next_attempt_at <= now()) LIMIT 1",
        ):
            return False
    return True


@dataclass
class Effects:
    appointments: int
    charges: int
    copies: int
    deliveries: Counter[str]
    emails_sent: int
    emails_received: int
    faults: dict[str, list[str]]


def sent_emails(engine: sa.Engine) -> set[str]:
    """The Message-ID prefixes (``<delivery id@``) of the e-mail deliveries recorded as sent."""
    rows = _rows(engine, "SELECT id FROM deliveries WHERE channel = 'email' AND status = 'sent'")
    return {f"<{row.id}@" for row in rows}


def check_effects(
    engines: dict[str, sa.Engine], vhost: str, mailbox: Mailbox, first_mail: int, sent_before: set[str]
) -> Effects:
    """Compare billing's charges and notifications' copies with scheduling's appointments, and the e-mails
    the SMTP server received from ``first_mail`` on with the deliveries recorded as sent since
    ``sent_before``: each exactly once. An event dead-lettered is a fault too (its effect is missing)."""
    announced = {
        str(row.id): row
        for row in _rows(
            engines["scheduling"],
            "SELECT id, sequence, status, starts_at, practitioner_id FROM appointments"
            " WHERE status IN ('booked', 'cancelled')",
        )
    }
    charges = _rows(
        engines["billing"],
        "SELECT appointment_id, appointment_sequence, status, starts_at, practitioner_id"
        " FROM charges WHERE kind = 'appointment'",
    )
    copies = {
        str(row.appointment_id): row
        for row in _rows(
            engines["notifications"],
            "SELECT appointment_id, sequence, cancelled, starts_at FROM appointments",
        )
    }
    by_appointment = Counter(str(c.appointment_id) for c in charges)
    charge_of = {str(c.appointment_id): c for c in charges}
    status = {"booked": "planned", "cancelled": "aborted"}
    faults: dict[str, list[str]] = {
        "doubled charges": [a for a, n in by_appointment.items() if n > 1],
        "charges for no appointment": sorted(by_appointment.keys() - announced.keys()),
        "charges out of step": [],
        "copies out of step": [],
        "dead-lettered": [
            f"{name}: {count}"
            for name, count in queue_depths(vhost).items()
            if count and name in {dead_letter_queue_for(service) for service in engines}
        ],
    }
    for appointment_id, row in announced.items():
        want = (row.sequence, status[str(row.status)], row.starts_at, row.practitioner_id)
        charge = charge_of.get(appointment_id)
        got = charge and (
            charge.appointment_sequence,
            str(charge.status),
            charge.starts_at,
            charge.practitioner_id,
        )
        if got != want:
            faults["charges out of step"].append(
                f"{appointment_id}: scheduling {want}, billing {got}; {_history(engines, appointment_id)}"
            )
        copy = copies.get(appointment_id)
        want_copy = (row.sequence, str(row.status) == "cancelled", row.starts_at)
        got_copy = copy and (copy.sequence, copy.cancelled, copy.starts_at)
        if got_copy != want_copy:
            history = _history(engines, appointment_id)
            faults["copies out of step"].append(
                f"{appointment_id}: scheduling {want_copy}, copy {got_copy}; {history}"
            )
    deliveries = _rows(engines["notifications"], "SELECT channel, status FROM deliveries")
    sent = sent_emails(engines["notifications"]) - sent_before
    with mailbox._lock:
        received = [str(message["Message-ID"]) for _, message in mailbox.received[first_mail:]]
    per_id = Counter(message_id.split("@")[0] + "@" for message_id in received)
    faults["e-mails received twice"] = [m for m, n in per_id.items() if n > 1]
    faults["e-mails of no sent delivery"] = sorted(per_id.keys() - sent)
    faults["sent deliveries never received"] = sorted(sent - per_id.keys())
    return Effects(
        appointments=len(announced),
        charges=len(charges),
        copies=len(copies),
        deliveries=Counter(f"{row.channel}/{row.status}" for row in deliveries),
        emails_sent=len(sent),
        emails_received=len(received),
        faults=faults,
    )


def _history(engines: dict[str, sa.Engine], appointment_id: str) -> str:
    """The appointment's events in scheduling's outbox, each with the consumers that applied it: what a
    fault report needs to tell a lost event from a misapplied one."""
    # Matched as text, not cast to JSON: a secret-carrying event's body is emptied once it is sent.
    rows = _rows(
        engines["scheduling"],
        "SELECT event_id, routing_key, body, sent_at FROM outbox"
        " WHERE length(body) > 0 AND convert_from(body, 'UTF8') LIKE :pattern ORDER BY position",
        pattern=f"%{appointment_id}%",
    )
    events = []
    for row in rows:
        data = json.loads(bytes(row.body)).get("data", {})
        if data.get("appointment_id") == appointment_id:
            events.append((row, data.get("sequence")))
    applied: dict[str, set[str]] = {}
    for name in ("billing", "notifications"):
        for row in _rows(engines[name], "SELECT event_id FROM inbox"):
            applied.setdefault(str(row.event_id), set()).add(name)
    return ", ".join(
        f"{event.routing_key}#{sequence} sent={event.sent_at is not None}"
        f" applied by {sorted(applied.get(str(event.event_id), ()))}"
        for event, sequence in events
    )


def wait_settled(engines: dict[str, sa.Engine], vhost: str, timeout: float) -> float:
    began = time.monotonic()
    while not settled(engines, vhost):
        if time.monotonic() - began > timeout:
            raise AssertionError(f"the system did not settle within {timeout}s")
        time.sleep(0.5)
    return time.monotonic() - began
