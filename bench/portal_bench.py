"""Patient portal page times at demo size: every patient page, signed in as the demo patient.

Starts the whole system as `make run` does (the launcher, its living demo clinic and seed), on throw-away
PostgreSQL databases and a RabbitMQ vhost, signs in to the web front as patient@demo.clinic like a browser
(cookie, CSRF token), then requests each page sequentially and prints p50/p95 of

  - server: the web front's own time for the page, the API calls it makes included (its Server-Timing);
  - client: the whole round trip as the client saw it.

Goal: p95 < 100 ms for every page (server time, API calls included).
Run: .venv/bin/python bench/portal_bench.py [--requests 60] [--warmup 5]
"""

from __future__ import annotations

import argparse
import html
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import urlencode

import httpx

from clinic_shared import demo
from clinic_shared.testing.postgres import temporary_database
from clinic_shared.testing.rabbit import temporary_vhost

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("scheduling", "billing", "notifications", "web")
READY_LINE = "Ctrl-C stops everything"
GOAL_P95_MS = 100.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_demo(var_dir: Path) -> Iterator[str]:
    """The launcher on PostgreSQL with the demo seed; yields the web front's URL."""
    ports = {name: free_port() for name in SERVICES}
    with ExitStack() as stack:
        urls = {name: stack.enter_context(temporary_database(f"bench_{name}")) for name in SERVICES[:3]}
        amqp_url = stack.enter_context(temporary_vhost("bench"))
        env = dict(os.environ) | {
            "VAR_DIR": str(var_dir),
            "AMQP_URL": amqp_url,
            "LOG_LEVEL": "WARNING",
            "WEB_CONCURRENCY": "2",
            **{f"{name.upper()}_PORT": str(port) for name, port in ports.items()},
            **{f"{name.upper()}_DATABASE_URL": url for name, url in urls.items()},
        }
        for name in (
            "WEB_SECRET_KEY",
            "WEB_PUBLIC_URL",
            "SCHEDULING_URL",
            "BILLING_URL",
            "NOTIFICATIONS_URL",
        ):
            env.pop(name, None)
        log_path = var_dir / "run.log"
        with log_path.open("wb") as log:
            launcher = subprocess.Popen(
                [sys.executable, str(ROOT / "deploy/local/run.py")],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            deadline = time.monotonic() + 240
            while READY_LINE not in log_path.read_text(errors="replace"):
                if launcher.poll() is not None or time.monotonic() > deadline:
                    sys.exit(f"the launcher did not come up:\n{log_path.read_text(errors='replace')[-3000:]}")
                time.sleep(0.5)
            yield f"http://127.0.0.1:{ports['web']}"
        finally:
            os.killpg(launcher.pid, signal.SIGINT)
            try:
                launcher.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(launcher.pid, signal.SIGKILL)


def csrf_token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "no CSRF token on the page"
    return found.group(1)


def sign_in(client: httpx.Client) -> None:
    form = client.get("/login")
    response = client.post(
        "/login",
        data={
            "csrf_token": csrf_token(form.text),
            "email": demo.PATIENT.email,
            "password": demo.PATIENT_PASSWORD,
        },
    )
    assert response.status_code == 200, f"sign-in: {response.status_code}"
    assert "/login" not in str(response.url), "sign-in failed"


def first_link(client: httpx.Client, path: str, pattern: str) -> str | None:
    """The first link on ``path`` whose target matches ``pattern`` (e.g. a slot's review link)."""
    found = re.search(rf'href="({pattern}[^"]*)"', client.get(path).text)
    return html.unescape(found.group(1)) if found else None


def pages(client: httpx.Client) -> dict[str, str]:
    choice = {"clinic": str(demo.CLINIC_ID), "treatment": str(demo.IMS_30_ID)}
    times = f"/book/times?{urlencode(choice | {'practitioner': 'any'})}"
    found = {
        "start (signed in)": "/",
        "book: treatment": f"/book/treatment?{urlencode({'clinic': str(demo.CLINIC_ID)})}",
        "book: practitioner": f"/book/practitioner?{urlencode(choice)}",
        "book: free times (a week, any)": times,
        "book: plan": f"/book/plan?{urlencode(choice | {'practitioner': 'any'})}",
        "my appointments": "/appointments",
        "invoices": "/invoices",
        "preferences": "/preferences",
    }
    optional = {
        "book: check and confirm": first_link(client, times, "/book/review"),
        "cancel (told the fee)": first_link(client, "/appointments", r"/appointments/[0-9a-f-]+/cancel"),
        "reschedule: free times": first_link(client, "/appointments", r"/appointments/[0-9a-f-]+/reschedule"),
    }
    found |= {name: path for name, path in optional.items() if path}
    return found


def server_ms(response: httpx.Response) -> float:
    found = re.search(r"app;dur=([0-9.]+)", response.headers.get("server-timing", ""))
    return float(found.group(1)) if found else float("nan")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(client: httpx.Client, path: str, requests: int, warmup: int) -> tuple[list[float], list[float]]:
    for _ in range(warmup):
        client.get(path)
    server, round_trip = [], []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path)
        round_trip.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, f"{path}: {response.status_code}"
        server.append(server_ms(response))
    return server, round_trip


def report(client: httpx.Client, requests: int, warmup: int) -> None:
    targets = pages(client)
    print(f"\nPatient portal at demo size: {requests} sequential requests per page after {warmup} warm-up.")
    print("server = the page's own time with its API calls (Server-Timing); client = the round trip.")
    print(f"{'page':<34} {'server p50':>10} {'p95':>8} {'client p50':>11} {'p95':>8}  goal: p95 < 100 ms")
    worst = 0.0
    for name, path in targets.items():
        server, round_trip = measure(client, path, requests, warmup)
        p95 = percentile(server, 0.95)
        worst = max(worst, p95)
        print(
            f"{name:<34} {statistics.median(server):>8.1f}ms {p95:>6.1f}ms "
            f"{statistics.median(round_trip):>9.1f}ms {percentile(round_trip, 0.95):>6.1f}ms  "
            f"{'met' if p95 < GOAL_P95_MS else 'MISSED'}"
        )
    print(f"worst page p95: {worst:.1f} ms ({'met' if worst < GOAL_P95_MS else 'MISSED'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="portal-bench-") as var,
        running_demo(Path(var)) as web_url,
        httpx.Client(base_url=web_url, timeout=10, follow_redirects=True) as client,
    ):
        sign_in(client)
        report(client, args.requests, args.warmup)


if __name__ == "__main__":
    main()
