"""End to end: a booking's 201 to its charge in billing and its messages in notifications, at a steady rate.

Starts the whole system as the end-to-end tests do (``tests/e2e/system.py``: gunicorn and a worker per
service, on throw-away PostgreSQL databases and a RabbitMQ vhost, e-mail to a local SMTP server), sets up a
clinic, practitioners, a price and patients through the APIs (``tests/scale/load.py``), then books at a
steady rate through scheduling's API (each booking a free slot, as its patient). For every booking answered
201 it measures, against the client's wall-clock UTC time of the 201 (same machine):

(a) billing: the charge's ``created_at`` (charges, kind appointment);
(b) notifications: the latest ``created_at`` of its confirmation and reminder deliveries;

and prints p50/p95/p99 and the bookings whose effect had not come ``--settle`` seconds after the last booking
("lost": a backlog still draining counts here too, so read it with the p99). Targets: p95 < 150 ms,
p99 < 300 ms, none lost. Then the resident memory of each gunicorn worker and each service worker process
after the load: target < 120 MB each.

Usage: ``.venv/bin/python bench/end_to_end_bench.py [--rate 50] [--seconds 60] [--settle 60]``
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from clinic_shared.testing.benchmarks import Figure, record
from clinic_shared.testing.postgres import temporary_database
from clinic_shared.testing.rabbit import temporary_vhost

try:  # the system and its set-up live with the end-to-end and scale tests, imported from the repository
    from tests.e2e.system import SERVICES, Mailbox, System
    from tests.scale.load import Clinic, set_up_clinic
except ModuleNotFoundError:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.e2e.system import SERVICES, Mailbox, System
    from tests.scale.load import Clinic, set_up_clinic

P95_MS, P99_MS, RSS_MB = 150.0, 300.0, 120.0
CLIENT_THREADS = 32


@dataclass
class Booked:
    """What the client saw of each booking: appointment id -> wall-clock UTC time of its 201."""

    at: dict[str, datetime] = field(default_factory=dict)
    statuses: Counter[str] = field(default_factory=Counter)
    late_starts: int = 0  # requests the pool started more than a period after their turn
    lock: threading.Lock = field(default_factory=threading.Lock)


def book_steadily(system: System, clinic: Clinic, rate: float, seconds: float) -> tuple[Booked, float]:
    """Issue ``rate`` bookings a second for ``seconds`` (open loop: a slow answer never delays the next)."""
    total = int(rate * seconds)
    slots = len(clinic.practitioners) * len(clinic.starts)
    if total > slots:
        raise SystemExit(f"{total} bookings asked for, only {slots} free slots set up")
    booked = Booked()
    local = threading.local()
    url = f"{system.url('scheduling')}/appointments"

    def book(i: int, due: float) -> None:
        if time.monotonic() - due > 1 / rate:
            with booked.lock:
                booked.late_starts += 1
        # Slot i: practitioner i mod P at start i div P; that practitioner's own patient, so no patient
        # ever has two appointments at once.
        n = i % len(clinic.practitioners)
        _patient_id, token = clinic.patients[n % len(clinic.patients)]
        body = {
            "clinic_id": clinic.id,
            "practitioner_id": clinic.practitioners[n],
            "treatment_type_id": clinic.treatment_type_id,
            "starts_at": clinic.starts[i // len(clinic.practitioners)].isoformat(),
        }
        if not hasattr(local, "http"):
            local.http = httpx.Client(timeout=30)
        try:
            response = local.http.post(url, json=body, headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            with booked.lock:
                booked.statuses[type(exc).__name__] += 1
            return
        answered = datetime.now(UTC)
        with booked.lock:
            booked.statuses[str(response.status_code)] += 1
            if response.status_code == 201:
                booked.at[response.json()["id"]] = answered

    started = time.monotonic()
    with ThreadPoolExecutor(CLIENT_THREADS, thread_name_prefix="booking") as pool:
        for i in range(total):
            due = started + i / rate
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            pool.submit(book, i, due)
    return booked, time.monotonic() - started


def rows(engine: sa.Engine, query: str) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(sa.text(query)))


def utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def effects(engines: dict[str, sa.Engine]) -> tuple[dict[str, datetime], dict[str, datetime]]:
    """Per appointment: when its charge was created, and when the last of its confirmation and reminders
    was (only appointments with both kinds of message count as recorded)."""
    charges = {
        str(row.appointment_id): utc(row.created_at)
        for row in rows(
            engines["billing"], "SELECT appointment_id, created_at FROM charges WHERE kind = 'appointment'"
        )
    }
    kinds: dict[str, set[str]] = {}
    latest: dict[str, datetime] = {}
    for row in rows(
        engines["notifications"],
        "SELECT appointment_id, kind, created_at FROM deliveries"
        " WHERE kind IN ('booking_confirmation', 'reminder')",
    ):
        appointment = str(row.appointment_id)
        kinds.setdefault(appointment, set()).add(str(row.kind))
        created = utc(row.created_at)
        latest[appointment] = max(created, latest.get(appointment, created))
    messages = {a: at for a, at in latest.items() if kinds[a] == {"booking_confirmation", "reminder"}}
    return charges, messages


def wait_for_effects(
    engines: dict[str, sa.Engine], booked: Booked, timeout: float
) -> tuple[dict[str, datetime], dict[str, datetime]]:
    deadline = time.monotonic() + timeout
    while True:
        charges, messages = effects(engines)
        if (booked.at.keys() <= charges.keys() and booked.at.keys() <= messages.keys()) or (
            time.monotonic() > deadline
        ):
            return charges, messages
        time.sleep(1.0)


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))] if ordered else float("nan")


def report_stage(stage: str, booked: Booked, recorded: dict[str, datetime]) -> None:
    delays = [(recorded[a] - at).total_seconds() * 1000 for a, at in booked.at.items() if a in recorded]
    lost = len(booked.at.keys() - recorded.keys())
    p50, p95, p99 = (percentile(delays, f) for f in (0.5, 0.95, 0.99))
    verdict = {True: "met", False: "MISSED"}
    print(
        f"{stage:<44} {len(delays):>7} {p50:>8.1f} {p95:>8.1f} {p99:>8.1f} {lost:>5}   "
        f"p95 {verdict[p95 < P95_MS]}, p99 {verdict[p99 < P99_MS]}, lost {verdict[lost == 0]}"
    )
    record(Figure(f"201 -> {stage}: p50", p50, "ms"))
    record(Figure(f"201 -> {stage}: p95", p95, "ms", f"< {P95_MS:g}"))
    record(Figure(f"201 -> {stage}: p99", p99, "ms", f"< {P99_MS:g}"))
    record(Figure(f"201 -> {stage}: lost", lost, "bookings", "<= 0"))


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def process_memory(system: System) -> list[tuple[str, int, float]]:
    """(label, pid, RSS MB) of each gunicorn worker (the master's children) and each service worker."""
    found = []
    for name, process in system.processes.items():
        if name.endswith("-web"):
            pids = [(f"{name} gunicorn worker {n}", pid) for n, pid in enumerate(children(process.pid), 1)]
        else:
            pids = [(name, process.pid)] + [(f"{name} child", pid) for pid in children(process.pid)]
        for label, pid in pids:
            mb = rss_mb(pid)
            if mb is not None:
                found.append((label, pid, mb))
    return found


def print_memory(memory: Iterable[tuple[str, int, float]]) -> None:
    print(f"\n{'process (after the load)':<44} {'pid':>7} {'RSS MB':>8}")
    for label, pid, mb in memory:
        print(f"{label:<44} {pid:>7} {mb:>8.1f}   {'met' if mb < RSS_MB else 'MISSED'} (< {RSS_MB:g} MB)")
        record(Figure(f"RSS {label}", mb, "MB", f"< {RSS_MB:g}"))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=50.0, help="bookings per second")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to book")
    parser.add_argument("--settle", type=float, default=60.0, help="seconds to wait for the last effects")
    parser.add_argument("--web-concurrency", default="2", help="gunicorn workers per service")
    parser.add_argument("--quick", action="store_true", help="20 bookings/s for 15 s")
    args = parser.parse_args(argv)
    if args.quick:
        args.rate, args.seconds = 20.0, 15.0

    mailbox = Mailbox()
    mailbox.start()
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as var_dir, ExitStack() as stack:
        stack.callback(mailbox.stop)
        urls = {name: stack.enter_context(temporary_database(f"bench_{name}")) for name in SERVICES}
        system = System(
            database_urls=urls,
            amqp_url=stack.enter_context(temporary_vhost("bench")),
            smtp_port=mailbox.port,
            var_dir=Path(var_dir),
            mailbox=mailbox,
            extra_env={"WEB_CONCURRENCY": args.web_concurrency},
        )
        stack.callback(system.stop)  # stopped before the databases and vhost are dropped
        try:
            system.start()
        except BaseException:
            print(system.logs())
            raise
        engines = {name: sa.create_engine(url) for name, url in urls.items()}
        for engine in engines.values():
            stack.callback(engine.dispose)
        clinic = set_up_clinic(system)
        print(f"\nbooking {args.rate:g}/s for {args.seconds:g} s through scheduling's API ...", flush=True)
        booked, took = book_steadily(system, clinic, args.rate, args.seconds)
        charges, messages = wait_for_effects(engines, booked, args.settle)
        memory = process_memory(system)

    statuses = ", ".join(f"{status}: {count}" for status, count in sorted(booked.statuses.items()))
    achieved = sum(booked.statuses.values()) / took
    print(
        f"\n{sum(booked.statuses.values())} bookings in {took:.1f} s ({achieved:.1f}/s; answers {statuses};"
        f" {booked.late_starts} started late by the client)\n"
    )
    print(f"{'from the 201 to':<44} {'seen':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'lost':>5}")
    report_stage("charge created in billing", booked, charges)
    report_stage("confirmation + reminder in notifications", booked, messages)
    record(Figure("bookings answered 201", len(booked.at), "bookings", baseline=f"asked {args.rate:g}/s"))
    print_memory(memory)


if __name__ == "__main__":
    main()
