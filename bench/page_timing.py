"""What the page benchmarks share: the whole system started as `make run` starts it (launcher, demo seed)
on throw-away PostgreSQL databases and a RabbitMQ vhost, a browser-like sign-in to the web front, and
timing a page by its own Server-Timing (its API calls included) and by the client's round trip.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

from clinic_shared.testing.ports import free_port
from clinic_shared.testing.postgres import temporary_database
from clinic_shared.testing.rabbit import temporary_vhost

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("scheduling", "billing", "notifications", "web")
READY_LINE = "Ctrl-C stops everything"
GOAL_P95_MS = 100.0


@contextmanager
def running_demo(var_dir: Path) -> Iterator[dict[str, str]]:
    """The launcher on PostgreSQL with the demo seed; yields each service's URL and its database's."""
    ports = {name: free_port() for name in SERVICES}
    with ExitStack() as stack:
        urls = {name: stack.enter_context(temporary_database(f"bench_{name}")) for name in SERVICES[:3]}
        amqp_url = stack.enter_context(temporary_vhost("bench"))
        env = dict(os.environ) | {
            "VAR_DIR": str(var_dir),
            "AMQP_URL": amqp_url,
            "LOG_LEVEL": "WARNING",
            "WEB_CONCURRENCY": "2",
            # Confirmations go out as the fill books, not two minutes later in the middle of the timing.
            "NOTIFICATIONS_DEBOUNCE_SECONDS": "0",
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
            yield (
                {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
                | {f"{name}_database": url for name, url in urls.items()}
                | {"session": str(launcher.pid)}
            )  # the launcher leads the session of every process it starts
        finally:
            os.killpg(launcher.pid, signal.SIGINT)
            try:
                launcher.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(launcher.pid, signal.SIGKILL)


def session_cpu_seconds(session: int) -> float:
    """CPU time so far of every process of ``session`` (the launcher's: the whole system), from /proc."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            after_name = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # a process that ended meanwhile
        # After the name: state, ppid, pgrp, session, ... utime (12th), stime (13th).
        if int(after_name[3]) == session:
            ticks += int(after_name[11]) + int(after_name[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def wait_until_settled(
    session: str, *, busy_share: float = 0.05, window: float = 2.0, limit: float = 180.0
) -> float:
    """Wait until the system's processes together use under ``busy_share`` of a core over ``window`` seconds:
    the work a fill set off (consumers, relay, dispatcher) is done and does not run into the measurement.
    Returns the seconds waited (``limit`` at most)."""
    started = time.monotonic()
    used = session_cpu_seconds(int(session))
    while time.monotonic() - started < limit:
        time.sleep(window)
        now = session_cpu_seconds(int(session))
        if now - used < busy_share * window:
            break
        used = now
    return time.monotonic() - started


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
