"""A storm: thousands of mixed concurrent requests on one clinic, then the invariants read from the databases.

Sixteen threads book, reschedule, cancel, book plans, join the waitlist and claim offers against the running
system (gunicorn with several workers, PostgreSQL, RabbitMQ), with deliberate duels: two changes of one
appointment sent at the same moment. Afterwards, straight from the tables:

- nobody is in two places at once (practitioner, room, patient);
- every 2xx answer agrees with what was stored (the answer with the highest sequence is the stored row);
- every appointment's events carry strictly increasing sequences, one event per sequence;
- every held time (a waitlist offer) is pointed at by exactly one open offer;
- once the queues drain, billing has one charge per announced appointment, in the matching state.

The figures (operations by answer, violations) are printed; every violation count must be 0.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy as sa

from clinic_shared.testing.reporting import say

from .conftest import running_system
from .journey import Journey, half_hours
from .system import Mailbox, System, wait_for

pytestmark = pytest.mark.e2e

THREADS = 16
OPERATIONS_PER_THREAD = 130  # 2,080 in all
PRACTITIONERS = 8
ROOMS = 5
PATIENTS = 24
ZONE = ZoneInfo("America/Vancouver")
# Answers a well-behaved service may give a storm of legitimate requests; anything else is a defect.
EXPECTED = {200, 201, 404, 409, 412, 422}


@pytest.fixture(scope="module")
def storm_system(mailbox: Mailbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    # Several processes and threads per API, as production runs them, so requests really overlap.
    extra = {"WEB_CONCURRENCY": "2", "WEB_THREADS": "8"}
    with running_system(
        mailbox, tmp_path_factory.mktemp("storm"), with_web=False, extra_env=extra
    ) as running:
        yield running


@dataclass
class Clinic:
    id: str
    treatment_type_id: str
    practitioners: list[str]
    staff: str
    patients: list[tuple[str, str]]  # (patient id, token)
    starts: list[datetime]  # the grid of start times the storm aims at


@dataclass
class Ledger:
    """What the storm saw: answers by operation, appointment states as answered, live appointments."""

    answers: Counter[tuple[str, int]] = field(default_factory=Counter)
    states: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    owners: dict[str, int] = field(default_factory=dict)  # appointment id -> patient index
    plans: dict[str, int] = field(default_factory=dict)  # plan id -> patient index
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, operation: str, response: httpx.Response, patient: int | None = None) -> Any:
        body = response.json() if response.headers.get("content-type", "").endswith("json") else None
        with self.lock:
            self.answers[(operation, response.status_code)] += 1
            if response.status_code < 300 and body is not None:
                for appointment in _appointments_in(body):
                    self.states[appointment["id"]].append(appointment)
                    if patient is not None:
                        self.owners.setdefault(appointment["id"], patient)
                if operation == "plan" and patient is not None:
                    self.plans[body["id"]] = patient
        return body

    def some_appointment(self, rng: random.Random) -> tuple[str, int] | None:
        with self.lock:
            if not self.owners:
                return None
            # Recent appointments are the ones other threads are also touching.
            recent = list(self.owners.items())[-40:]
            return rng.choice(recent)


def _appointments_in(body: Any) -> list[dict[str, Any]]:
    if isinstance(body, dict) and "sequence" in body and "starts_at" in body:
        return [body]
    if isinstance(body, dict) and isinstance(body.get("sessions"), list):
        return [s for s in body["sessions"] if isinstance(s, dict) and "sequence" in s]
    return []


def _set_up(journey: Journey) -> Clinic:
    admin = journey.first_admin()
    clinic_id = journey.clinic(admin, "Storm IMS", ZONE.key)
    practitioners = [
        journey.practitioner(admin, clinic_id, f"Practitioner {n}", f"PT-{n}") for n in range(PRACTITIONERS)
    ]
    for n in range(ROOMS):
        journey.ok("POST", "scheduling", f"/clinics/{clinic_id}/rooms", admin, json={"name": f"Room {n}"})
    # An assessment needs no earlier clearance, so every patient may book it any number of times.
    treatment_type_id = journey.assessment(admin, clinic_id, minutes=30, price_cents=9000)
    staff = journey.staff(admin, "front_desk", clinic_id)
    patients = [journey.patient(f"Storm{n}") for n in range(PATIENTS)]
    # Three days, eight clinic hours each, every half hour: dense enough that requests collide.
    first_day = (datetime.now(ZONE) + timedelta(days=8)).date()
    starts = half_hours(first_day, 3, ZONE)
    return Clinic(
        id=clinic_id,
        treatment_type_id=treatment_type_id,
        practitioners=practitioners,
        staff=staff,
        patients=[(patient_id, token) for patient_id, _, token in patients],
        starts=starts,
    )


class Stormer:
    """One thread's share of the storm: a seeded mix of what patients and the front desk do."""

    def __init__(self, system: System, clinic: Clinic, ledger: Ledger, seed: int) -> None:
        self.clinic = clinic
        self.ledger = ledger
        self.rng = random.Random(seed)
        self.http = httpx.Client(base_url=system.url("scheduling"), timeout=30)
        self.duel = ThreadPoolExecutor(2)

    def run(self, operations: int) -> None:
        actions = [
            (self.book, 30),
            (self.reschedule, 18),
            (self.cancel, 12),
            (self.duel_on_one_appointment, 10),
            (self.book_plan, 8),
            (self.cancel_plan, 3),
            (self.join_waitlist, 9),
            (self.claim_offers, 10),
        ]
        choices, weights = zip(*actions, strict=True)
        try:
            for _ in range(operations):
                self.rng.choices(choices, weights)[0]()
        finally:
            self.http.close()
            self.duel.shutdown()

    # -- what patients and staff do

    def book(self) -> None:
        patient = self.rng.randrange(PATIENTS)
        body = self._catalogue() | {"starts_at": self._start().isoformat()}
        if self.rng.random() < 0.2:  # the front desk books for a patient who phoned
            body["patient_id"] = self.clinic.patients[patient][0]
            response = self._post("/appointments", body, self.clinic.staff)
        else:
            response = self._post("/appointments", body, self._token(patient))
        self.ledger.record("book", response, patient)

    def reschedule(self) -> None:
        self._change("reschedule", *self._target())

    def cancel(self) -> None:
        self._change("cancel", *self._target())

    def duel_on_one_appointment(self) -> None:
        """Two changes of one appointment at the same moment: the lost-update race."""
        appointment, patient = self._target()
        if appointment is None:
            return
        pair = self.rng.choice([("cancel", "reschedule"), ("reschedule", "reschedule"), ("cancel", "cancel")])
        gate = threading.Barrier(2)

        def one(change: str) -> None:
            gate.wait()
            self._change(change, appointment, patient, client=httpx.Client(base_url=str(self.http.base_url)))

        for future in [self.duel.submit(one, change) for change in pair]:
            future.result()

    def book_plan(self) -> None:
        patient = self.rng.randrange(PATIENTS)
        local = self._start().astimezone(ZONE)
        body = self._catalogue() | {
            "sessions": 3,
            "every_weeks": 1,
            "weekday": local.weekday(),
            "local_time": local.strftime("%H:%M"),
            "first_day": local.date().isoformat(),
        }
        self.ledger.record("plan", self._post("/plans", body, self._token(patient)), patient)

    def cancel_plan(self) -> None:
        with self.ledger.lock:
            plans = list(self.ledger.plans.items())
        if not plans:
            return
        plan_id, patient = self.rng.choice(plans)
        body: dict[str, Any] = {}
        plan = self.http.get(f"/plans/{plan_id}", headers=self._auth(self._token(patient)))
        if plan.status_code == 200 and plan.json()["sessions"] and self.rng.random() < 0.5:
            body["from_appointment_id"] = self.rng.choice(plan.json()["sessions"])["id"]
        response = self._post(f"/plans/{plan_id}/cancel", body, self._token(patient))
        self.ledger.record("cancel_plan", response, patient)

    def join_waitlist(self) -> None:
        patient = self.rng.randrange(PATIENTS)
        earliest = self._start()
        body = {
            "clinic_id": self.clinic.id,
            "treatment_type_id": self.clinic.treatment_type_id,
            "not_before": earliest.isoformat(),
            "not_after": (earliest + timedelta(hours=self.rng.choice([2, 6, 24]))).isoformat(),
            "practitioner_id": self.rng.choice([None, *self.clinic.practitioners]),
        }
        self.ledger.record("join_waitlist", self._post("/waitlist", body, self._token(patient)), patient)

    def claim_offers(self) -> None:
        patient = self.rng.randrange(PATIENTS)
        token = self._token(patient)
        entries = self.http.get("/waitlist", params={"page_size": 100}, headers=self._auth(token))
        self.ledger.record("list_waitlist", entries)
        for entry in entries.json() if entries.status_code == 200 else []:
            if entry["status"] == "offered":
                claimed = self._post(f"/waitlist/{entry['id']}/claim", {}, token)
                self.ledger.record("claim", claimed, patient)

    # -- plumbing

    def _change(
        self, change: str, appointment: str | None, patient: int, client: httpx.Client | None = None
    ) -> None:
        if appointment is None:
            return
        by_staff = self.rng.random() < 0.3
        token = self.clinic.staff if by_staff else self._token(patient)
        if change == "cancel":
            body: dict[str, Any] = {}
        else:
            body = {"starts_at": self._start().isoformat()}
            if by_staff and self.rng.random() < 0.5:
                body["practitioner_id"] = self.rng.choice(self.clinic.practitioners)
        http = client or self.http
        try:
            response = http.post(
                f"/appointments/{appointment}/{change}", json=body, headers=self._auth(token)
            )
        finally:
            if client is not None:
                client.close()
        self.ledger.record(change, response)

    def _target(self) -> tuple[str | None, int]:
        picked = self.ledger.some_appointment(self.rng)
        return picked if picked else (None, 0)

    def _catalogue(self) -> dict[str, Any]:
        return {
            "clinic_id": self.clinic.id,
            "practitioner_id": self.rng.choice(self.clinic.practitioners),
            "treatment_type_id": self.clinic.treatment_type_id,
        }

    def _start(self) -> datetime:
        return self.rng.choice(self.clinic.starts)

    def _token(self, patient: int) -> str:
        return self.clinic.patients[patient][1]

    def _post(self, path: str, body: dict[str, Any], token: str) -> httpx.Response:
        return self.http.post(path, json=body, headers=self._auth(token))

    @staticmethod
    def _auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


# -- the invariants, read from the tables


def _overlaps(db: sa.Connection, party: str, until: str) -> list[Any]:
    return list(
        db.execute(
            sa.text(
                f"""
                SELECT a.id, b.id FROM appointments a JOIN appointments b
                  ON a.{party} = b.{party} AND a.id < b.id
                 AND a.starts_at < b.{until} AND b.starts_at < a.{until}
                WHERE a.status <> 'cancelled' AND b.status <> 'cancelled'
                """  # noqa: S608 - fixed column names from this module
            )
        )
    )


def _answers_disagreeing_with_rows(db: sa.Connection, ledger: Ledger) -> list[str]:
    rows = {
        str(row.id): row
        for row in db.execute(
            sa.text("SELECT id, sequence, status, starts_at, practitioner_id FROM appointments")
        )
    }
    wrong = []
    for appointment_id, answers in ledger.states.items():
        top = max(answer["sequence"] for answer in answers)
        latest = {
            (a["status"], datetime.fromisoformat(a["starts_at"]), a["practitioner_id"])
            for a in answers
            if a["sequence"] == top
        }
        row = rows[appointment_id]
        stored = (str(row.status), row.starts_at.astimezone(UTC), str(row.practitioner_id))
        if row.sequence != top or latest != {stored}:
            wrong.append(f"{appointment_id}: answered {top} {latest}, stored {row.sequence} {stored}")
    return wrong


def _event_sequence_faults(db: sa.Connection) -> tuple[list[str], set[str]]:
    """Appointments whose events repeat or go back in sequence; and the appointments ever announced."""
    seen: dict[str, list[int]] = defaultdict(list)
    announced: set[str] = set()
    for row in db.execute(sa.text("SELECT routing_key, body FROM outbox ORDER BY position")):
        if not row.routing_key.startswith("scheduling.appointment."):
            continue  # (a relayed sign-up or reset link's body is emptied: it held a secret)
        data = json.loads(row.body).get("data", {})
        if "sequence" not in data:
            continue
        seen[data["appointment_id"]].append(data["sequence"])
        if row.routing_key == "scheduling.appointment.booked":
            announced.add(data["appointment_id"])
    faults = [
        f"{appointment_id}: {sequences}"
        for appointment_id, sequences in seen.items()
        if any(later <= earlier for earlier, later in pairwise(sequences))
    ]
    return faults, announced


def _orphan_holds(db: sa.Connection) -> list[Any]:
    return list(
        db.execute(
            sa.text(
                """
                SELECT a.id FROM appointments a
                WHERE a.status = 'proposed'
                  AND (SELECT count(*) FROM waitlist_entries w
                        WHERE w.offer_appointment_id = a.id AND w.status = 'offered') <> 1
                UNION ALL
                SELECT w.offer_appointment_id FROM waitlist_entries w
                  JOIN appointments a ON a.id = w.offer_appointment_id
                WHERE w.status = 'offered' AND a.status <> 'proposed'
                """
            )
        )
    )


def _charges_out_of_step(scheduling: sa.Connection, billing: sa.Connection, announced: set[str]) -> list[str]:
    expected_status = {"booked": "planned", "cancelled": "aborted"}
    appointments = {
        str(row.id): row
        for row in scheduling.execute(
            sa.text("SELECT id, sequence, status, starts_at, practitioner_id FROM appointments")
        )
        if str(row.id) in announced
    }
    charges = {
        str(row.appointment_id): row
        for row in billing.execute(
            sa.text(
                "SELECT appointment_id, appointment_sequence, status, starts_at, practitioner_id "
                "FROM charges WHERE kind = 'appointment'"
            )
        )
    }
    wrong = [f"charge for unknown appointment {a}" for a in charges.keys() - appointments.keys()]
    for appointment_id, row in appointments.items():
        charge = charges.get(appointment_id)
        want = (row.sequence, expected_status.get(str(row.status), "?"), row.starts_at, row.practitioner_id)
        got = charge and (
            charge.appointment_sequence,
            str(charge.status),
            charge.starts_at,
            charge.practitioner_id,
        )
        if got != want:
            wrong.append(f"{appointment_id}: scheduling {want}, billing {got}")
    return wrong


def _outbox_drained(db: sa.Connection) -> bool:
    return db.execute(sa.text("SELECT count(*) FROM outbox WHERE sent_at IS NULL")).scalar_one() == 0


def test_a_storm_of_concurrent_changes_keeps_every_invariant(storm_system: System) -> None:
    journey = Journey(storm_system)
    try:
        clinic = _set_up(journey)
    finally:
        journey.http.close()
    ledger = Ledger()
    stormers = [Stormer(storm_system, clinic, ledger, seed=n) for n in range(THREADS)]
    threads = [threading.Thread(target=s.run, args=(OPERATIONS_PER_THREAD,)) for s in stormers]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began

    engines = {name: sa.create_engine(storm_system.database_urls[name]) for name in ("scheduling", "billing")}
    try:
        with engines["scheduling"].connect() as scheduling:
            overlaps = {
                party: _overlaps(scheduling, party, until)
                for party, until in (
                    ("practitioner_id", "occupied_until"),
                    ("room_id", "occupied_until"),
                    ("patient_id", "ends_at"),
                )
            }
            disagreeing = _answers_disagreeing_with_rows(scheduling, ledger)
            sequence_faults, announced = _event_sequence_faults(scheduling)
            orphans = _orphan_holds(scheduling)
        wait_for(
            lambda: _with(engines["scheduling"], _outbox_drained),
            timeout=120,
            what="scheduling's outbox to drain",
        )

        def billing_caught_up() -> list[str] | None:
            with engines["scheduling"].connect() as s, engines["billing"].connect() as b:
                wrong = _charges_out_of_step(s, b, announced)
            return None if wrong else ["in step"]

        try:
            wait_for(billing_caught_up, timeout=120, what="billing's charges to match the appointments")
            charge_faults: list[str] = []
        except AssertionError:
            with engines["scheduling"].connect() as s, engines["billing"].connect() as b:
                charge_faults = _charges_out_of_step(s, b, announced)
    finally:
        for engine in engines.values():
            engine.dispose()

    operations = sum(ledger.answers.values())
    unexpected = {key: n for key, n in ledger.answers.items() if key[1] not in EXPECTED}
    violations = {
        "unexpected answers": sum(unexpected.values()),
        "practitioner overlaps": len(overlaps["practitioner_id"]),
        "room overlaps": len(overlaps["room_id"]),
        "patient overlaps": len(overlaps["patient_id"]),
        "answers disagreeing with stored rows": len(disagreeing),
        "appointments with repeated or backward event sequences": len(sequence_faults),
        "orphan holds": len(orphans),
        "charges out of step with appointments": len(charge_faults),
    }
    say(
        f"\nstorm: {operations} requests from {THREADS} threads in {elapsed:.1f} s "
        f"({operations / elapsed:.0f}/s)"
    )
    for (operation, status), count in sorted(ledger.answers.items()):
        say(f"  {operation:<14} {status}  {count}")
    say(f"  appointments touched: {len(ledger.states)}, announced to billing: {len(announced)}")
    for name, count in violations.items():
        say(f"  {name}: {count}")
    details = disagreeing[:5] + sequence_faults[:5] + charge_faults[:5] + [str(o) for o in orphans[:5]]
    assert operations >= 2000
    assert violations == dict.fromkeys(violations, 0), "\n".join([str(unexpected), *details])


def _with(engine: sa.Engine, check: Any) -> Any:
    with engine.connect() as connection:
        return check(connection)
