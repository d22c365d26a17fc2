"""Scheduling benchmark: slot-search latency over a year of history, and booking throughput vs a bare INSERT.

Seeds a throw-away PostgreSQL database with one clinic, 20 practitioners (Mon-Fri 08:00-18:00) and about
20,000 appointments over a year, then prints:
  - slot-search latency p50/p95 (through the Flask app, in process) for a week and a month window, for one
    practitioner and for any qualified one; again after adding 10x more (older) history;
  - booking throughput (req/s) through gunicorn beside a bare Flask endpoint that does one INSERT on the
    same server and database, with the same workers and the same client; the ratio is the figure to watch.

Targets (issue 14): slot search p95 < 15 ms; 10x history at most 1.1x; booking >= 0.6x the bare endpoint.
Run: .venv/bin/python services/scheduling/bench/scheduling_bench.py [--runs N] [--seconds S] [--no-10x]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import insert, text

from clinic_shared.migrations import upgrade
from clinic_shared.testing.benchmarks import Figure, record
from clinic_shared.testing.ports import free_port
from clinic_shared.testing.postgres import temporary_database
from scheduling.adapters import orm
from scheduling.bootstrap import Container, bootstrap
from scheduling.config import SchedulingSettings
from scheduling.domain.model import AppointmentKind
from scheduling.entrypoints.api import create_app
from scheduling.entrypoints.cli import MIGRATIONS
from scheduling.service_layer import accounts, availability, clinic_setup
from scheduling.service_layer.tenancy import OPERATOR

HERE = Path(__file__).resolve().parent
ZONE = ZoneInfo("America/Vancouver")
PRACTITIONERS = 20
GRID = [
    dtime(8, 0),
    dtime(9, 15),
    dtime(10, 30),
    dtime(11, 45),
    dtime(13, 0),
    dtime(14, 15),
    dtime(15, 30),
    dtime(16, 45),
]
PER_DAY = 4  # 20 practitioners x ~257 working days x 4 = ~20,500 a year
WORKERS = 2
THREADS = 4
CLIENTS = 8
SEARCH_P95_MS = 15
HISTORY_COST = 1.1
BOOKING_RATIO = 0.6


def settings(url: str, var_dir: str) -> dict[str, str]:
    return {"SCHEDULING_DATABASE_URL": url, "VAR_DIR": var_dir, "LOG_LEVEL": "WARNING"}


def seed_catalogue(c: Container) -> dict[str, object]:
    with c.uow() as uow:
        clinic = clinic_setup.create_clinic(
            uow,
            OPERATOR,
            clinic_setup.CreateClinic(
                "BENCH", "Bench IMS", "America/Vancouver", "1 Main St", "+16045550100", "b@x.test"
            ),
        )
        uow.commit()
    practitioners = []
    for n in range(PRACTITIONERS):
        with c.uow() as uow:
            p = clinic_setup.add_practitioner(
                uow, OPERATOR, clinic_setup.AddPractitioner(clinic.id, f"PT {n}", f"PT-{n}", n % 2 == 0)
            )
            uow.commit()
        practitioners.append(p.id)
        with c.uow() as uow:
            availability.set_working_hours(
                uow,
                OPERATOR,
                clinic.id,
                p.id,
                [availability.WeeklySpan(d, dtime(8), dtime(18)) for d in range(5)],
            )
            uow.commit()
    with c.uow() as uow:
        assess = clinic_setup.add_treatment_type(
            uow,
            OPERATOR,
            clinic_setup.AddTreatmentType(
                clinic.id, "ASSESS", "Assessment", AppointmentKind.ASSESSMENT, 60, 10
            ),
        )
        uow.commit()
    with c.uow() as uow:
        ims = clinic_setup.add_treatment_type(
            uow,
            OPERATOR,
            clinic_setup.AddTreatmentType(clinic.id, "IMS30", "IMS 30", AppointmentKind.TREATMENT, 30, 0),
        )
        uow.commit()
    with c.uow() as uow:
        accounts.create_staff_account(
            uow,
            c.hasher,
            OPERATOR,
            accounts.CreateStaffAccount(
                "admin@bench.test", "bench admin pass", ["admin"], organisation_wide=True
            ),
        )
        uow.commit()
    with c.uow() as uow:
        patient = accounts.register_patient(
            uow,
            c.hasher,
            accounts.RegisterPatient(
                email="p@bench.test",
                first_name="Pat",
                last_name="Bench",
                phone=None,
                language="en",
                password="bench patient pass",  # noqa: S106 - a throw-away bench database
            ),
        )
        uow.commit()
    return {
        "clinic": clinic.id,
        "practitioners": practitioners,
        "assess": assess.id,
        "ims": ims.id,
        "patient": patient.id,
    }


def weekdays(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        if day.weekday() < 5:
            yield day
        day += timedelta(days=1)


def seed_appointments(
    c: Container, cat: dict[str, object], first: date, last: date, rng: random.Random
) -> int:
    """Bulk-insert non-overlapping assessments (60 + 10 min) on a 75-minute grid, PER_DAY a day each."""
    now = datetime.now(UTC)
    rows = []
    for day in weekdays(first, last):
        for practitioner in cat["practitioners"]:  # type: ignore[attr-defined]
            for at in rng.sample(GRID, PER_DAY):
                starts = datetime.combine(day, at, tzinfo=ZONE).astimezone(UTC)
                past = starts < now
                rows.append(
                    {
                        "id": uuid.uuid4(),
                        "clinic_id": cat["clinic"],
                        "practitioner_id": practitioner,
                        "patient_id": cat["patient"],
                        "treatment_type_id": cat["assess"],
                        "kind": "assessment",
                        "starts_at": starts,
                        "ends_at": starts + timedelta(minutes=60),
                        "occupied_until": starts + timedelta(minutes=70),
                        "late_cancel_window": timedelta(hours=24),
                        "booked_at": starts - timedelta(days=14),
                        "status": "fulfilled" if past else "booked",
                        "sequence": 0,
                        "late_cancellation": False,
                        "fee_waived": False,
                        # One bench patient holds every row, at the same times with several practitioners:
                        # flagged as allowed overlaps, or ex_appointments_patient_overlap refuses them.
                        "allow_patient_overlap": True,
                    }
                )
    with c.engine.begin() as conn:
        for i in range(0, len(rows), 5000):
            conn.execute(insert(orm.appointments), rows[i : i + 5000])
        conn.execute(text("ANALYZE appointments"))
    return len(rows)


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure_search(
    c: Container, cat: dict[str, object], days: int, one: bool, runs: int
) -> tuple[float, float, int]:
    app = create_app(container=c)
    client = app.test_client()
    token = c.signing_key.issue(
        subject=uuid.uuid4(),
        roles=["admin"],
        issuer=c.settings.common.jwt_issuer,
        audience=c.settings.common.jwt_audience,
        now=datetime.now(UTC),
        ttl=timedelta(hours=1),
    )
    headers = {"Authorization": f"Bearer {token}"}
    rng = random.Random(7)
    today = datetime.now(ZONE).date()
    samples: list[float] = []
    count = 0
    for i in range(runs + 20):
        start = today + timedelta(days=rng.randint(1, 60))
        query = {
            "treatment_type_id": str(cat["ims"]),
            "from": start.isoformat(),
            "to": (start + timedelta(days=days - 1)).isoformat(),
            "page_size": "50",
        }
        if one:
            query["practitioner_id"] = str(cat["practitioners"][0])  # type: ignore[index]
        t0 = time.perf_counter()
        response = client.get(f"/clinics/{cat['clinic']}/slots", headers=headers, query_string=query)
        elapsed = (time.perf_counter() - t0) * 1000
        assert response.status_code == 200, response.json
        if i >= 20:
            samples.append(elapsed)
            count = int(json.loads(response.headers["X-Pagination"])["total"])
    return percentile(samples, 0.5), percentile(samples, 0.95), count


def search_table(c: Container, cat: dict[str, object], runs: int) -> dict[str, tuple[float, float, int]]:
    results = {}
    for label, days in (("week", 7), ("month", 30)):
        for who, one in (("one practitioner", True), ("any qualified", False)):
            results[f"{label}, {who}"] = measure_search(c, cat, days, one, runs)
    return results


def serve(
    app_spec: str, env: dict[str, str], chdir: Path | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    command = [
        str(Path(sys.executable).with_name("gunicorn")),
        "-w",
        str(WORKERS),
        "-k",
        "gthread",
        "--threads",
        str(THREADS),
        "-b",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
    ]
    if chdir is not None:
        command += ["--chdir", str(chdir)]
    process = subprocess.Popen([*command, app_spec], env=os.environ | env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            time.sleep(1.0)  # let every worker finish booting (load() warms up as well)
            return process, port
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"gunicorn for {app_spec} did not start")


def load(
    port: int,
    path: str,
    headers: dict[str, str],
    bodies: Callable[[int], Iterator[dict[str, str]]],
    seconds: float,
    warmup: float = 0.0,
) -> tuple[float, dict[int, int]]:
    """CLIENTS keep-alive connections POST as fast as they can for ``warmup`` + ``seconds``; returns 2xx/s
    and statuses of the last ``seconds``. The warm-up lets every worker finish booting and importing on a
    busy machine (a big app takes longer than the bare one) and draws from the same bodies."""
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS, action=lambda: clock.append(time.monotonic()))
    clock: list[float] = []

    def client(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        local: dict[int, int] = {}
        source = bodies(n)
        start.wait()
        measure_from = clock[0] + warmup
        stop_at = measure_from + seconds
        while (now := time.monotonic()) < stop_at:
            conn.request(
                "POST",
                path,
                body=json.dumps(next(source)),
                headers=headers | {"Content-Type": "application/json"},
            )
            response = conn.getresponse()
            response.read()
            if now >= measure_from:
                local[response.status] = local.get(response.status, 0) + 1
        conn.close()
        with lock:
            for k, v in local.items():
                statuses[k] = statuses.get(k, 0) + v

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ok = sum(v for k, v in statuses.items() if 200 <= k < 300)
    return ok / seconds, statuses


def booking_bodies(cat: dict[str, object]) -> Callable[[int], Iterator[dict[str, str]]]:
    """Each client books its own practitioner's free grid times, far beyond the seeded year."""
    first = datetime.now(ZONE).date() + timedelta(days=400)

    def bodies(n: int) -> Iterator[dict[str, str]]:
        practitioners = cat["practitioners"][n::CLIENTS]  # type: ignore[index]
        for day in weekdays(first, first + timedelta(days=3000)):
            for practitioner in practitioners:
                for at in GRID:
                    yield {
                        "clinic_id": str(cat["clinic"]),
                        "practitioner_id": str(practitioner),
                        "treatment_type_id": str(cat["assess"]),
                        "patient_id": str(cat["patient"]),
                        "starts_at": datetime.combine(day, at, tzinfo=ZONE).isoformat(),
                        # The clients book one patient at the same times with their own practitioners.
                        "allow_patient_overlap": True,
                    }

    return bodies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100, help="slot searches per configuration")
    parser.add_argument("--seconds", type=float, default=8.0, help="duration of each throughput run")
    parser.add_argument("--no-10x", action="store_true", help="skip the 10x-history measurement")
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="unmeasured load before each throughput run"
    )
    parser.add_argument("--booking-only", action="store_true", help="measure booking throughput alone")
    args = parser.parse_args()
    rng = random.Random(42)
    with tempfile.TemporaryDirectory() as var_dir, temporary_database("scheduling_bench") as url:
        upgrade(url, MIGRATIONS)
        env = settings(url, var_dir)
        c = bootstrap(SchedulingSettings.from_env(env))
        cat = seed_catalogue(c)
        today = datetime.now(ZONE).date()
        t0 = time.perf_counter()
        seeded = seed_appointments(c, cat, today - timedelta(days=270), today + timedelta(days=95), rng)
        print(
            f"seeded {seeded} appointments for {PRACTITIONERS} practitioners "
            f"in {time.perf_counter() - t0:.1f}s"
        )

        base = {} if args.booking_only else search_table(c, cat, args.runs)
        if base:
            print("\nslot search (GET /clinics/{id}/slots, IMS 30 min, in-process Flask client), ms:")
            print(f"  {'window':<28} {'p50':>7} {'p95':>7} {'slots':>7}")
        for label, (p50, p95, count) in base.items():
            print(f"  {label:<28} {p50:7.1f} {p95:7.1f} {count:7d}")
            record(
                Figure(
                    f"slot search p95, {label}", p95, "ms", f"< {SEARCH_P95_MS}", baseline=f"p50 {p50:.1f} ms"
                )
            )

        if base and not args.no_10x:
            t0 = time.perf_counter()
            more = seed_appointments(
                c, cat, today - timedelta(days=270 + 9 * 365), today - timedelta(days=271), rng
            )
            print(
                f"\nadded {more} older appointments (total {seeded + more}) "
                f"in {time.perf_counter() - t0:.1f}s"
            )
            heavy = search_table(c, cat, args.runs)
            print(f"  {'window':<28} {'p50':>7} {'p95':>7} {'p95 x':>7}")
            for label, (p50, p95, _) in heavy.items():
                print(f"  {label:<28} {p50:7.1f} {p95:7.1f} {p95 / base[label][1]:7.2f}")
                record(
                    Figure(
                        f"slot search p95 with 10x history / 1x, {label}",
                        p95 / base[label][1],
                        "x",
                        f"<= {HISTORY_COST}",
                        baseline=f"1x: {base[label][1]:.1f} ms",
                    )
                )

        token = c.signing_key.issue(
            subject=uuid.uuid4(),
            roles=["admin"],
            issuer=c.settings.common.jwt_issuer,
            audience=c.settings.common.jwt_audience,
            now=datetime.now(UTC),
            ttl=timedelta(hours=1),
        )
        with c.engine.begin() as conn:
            conn.execute(
                text(
                    "CREATE TABLE bench_bare_bookings (id uuid PRIMARY KEY, practitioner_id uuid NOT NULL, "
                    "starts_at timestamptz NOT NULL)"
                )
            )
        c.engine.dispose()
        print(
            f"\nbooking throughput: gunicorn -w {WORKERS} -k gthread --threads {THREADS}, "
            f"{CLIENTS} keep-alive clients, {args.seconds:.0f}s each after {args.warmup:.0f}s warm-up"
        )
        results = {}
        for label, spec, path, headers, chdir in (
            ("bare INSERT", "bare_app:create_app()", "/bare", {}, HERE),
            (
                "POST /appointments",
                "scheduling.entrypoints.api:create_app()",
                "/appointments",
                {"Authorization": f"Bearer {token}"},
                None,
            ),
        ):
            process, port = serve(spec, env, chdir)
            try:
                rate, statuses = load(port, path, headers, booking_bodies(cat), args.seconds, args.warmup)
            finally:
                process.terminate()
                process.wait(timeout=30)
            results[label] = rate
            print(f"  {label:<20} {rate:8.0f} req/s   statuses {dict(sorted(statuses.items()))}")
        ratio = results["POST /appointments"] / results["bare INSERT"]
        print(f"  ratio booking / bare: {ratio:.2f} (target >= {BOOKING_RATIO})")
        record(
            Figure(
                "booking: POST /appointments / bare one-INSERT endpoint",
                ratio,
                "x",
                f">= {BOOKING_RATIO}",
                baseline=f"bare INSERT {results['bare INSERT']:,.0f} req/s",
            )
        )


if __name__ == "__main__":
    main()
