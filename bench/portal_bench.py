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
import re
import statistics
import tempfile
from pathlib import Path
from urllib.parse import urlencode

import httpx
from page_timing import GOAL_P95_MS, measure, percentile, running_demo

from clinic_shared import demo
from clinic_shared.testing.benchmarks import Figure, record
from web.testing import sign_in_over_http as sign_in


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
        record(Figure(f"portal page server p95: {name}", p95, "ms", f"< {GOAL_P95_MS:g}"))
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
        running_demo(Path(var)) as urls,
        httpx.Client(base_url=urls["web"], timeout=10, follow_redirects=True) as client,
    ):
        sign_in(client, demo.PATIENT.email, demo.PATIENT_PASSWORD)
        report(client, args.requests, args.warmup)


if __name__ == "__main__":
    main()
