"""``/metrics`` under gunicorn with two workers: every scrape, whichever worker answers it, counts the
requests both workers served (``deploy/gunicorn.conf.py`` gives them one multiprocess directory)."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from clinic_shared.testing.ports import free_port

from .system import BIN, ROOT, wait_for

pytestmark = pytest.mark.e2e

REQUESTS = 60


@pytest.fixture
def scheduling_web(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    metrics_dir = tmp_path / "metrics"
    env = dict(os.environ)
    env.update(
        {
            "VAR_DIR": str(tmp_path),
            "SCHEDULING_DATABASE_URL": f"sqlite:///{tmp_path}/scheduling.db",
            "WEB_CONCURRENCY": "2",
            "WEB_THREADS": "1",
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
            "LOG_LEVEL": "WARNING",
        }
    )
    subprocess.run(
        [str(BIN / "scheduling"), "migrate"], env=env, check=True, capture_output=True, timeout=120
    )
    port = free_port()
    command = [
        str(BIN / "gunicorn"),
        "-c",
        str(ROOT / "deploy/gunicorn.conf.py"),
        "--bind",
        f"127.0.0.1:{port}",
        "scheduling.entrypoints.api:create_app()",
    ]
    with (tmp_path / "gunicorn.log").open("ab") as log:
        server = subprocess.Popen(command, env=env, stdout=log, stderr=log, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _ok(f"{url}/healthz"), timeout=60, what="scheduling /healthz")
        yield url, metrics_dir
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    assert not metrics_dir.exists(), "the server removes its metrics directory when it stops"


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def healthz_count(url: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=5).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if (
                sample.name == "http_requests_total"
                and labels["route"] == "/healthz"
                and labels["status"] == "200"
            ):
                return sample.value
    return 0.0


def test_every_scrape_counts_what_both_workers_served(scheduling_web: tuple[str, Path]) -> None:
    url, metrics_dir = scheduling_web
    before = healthz_count(url)
    for _ in range(REQUESTS):  # a new connection each time: the workers share them out
        assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
    scrapes = {healthz_count(url) - before for _ in range(6)}
    assert scrapes == {REQUESTS}, f"every scrape sees all {REQUESTS}: {scrapes}"
    writers = {path.stem.rsplit("_", 1)[-1] for path in metrics_dir.glob("counter_*.db")}
    assert len(writers) >= 2, f"both workers counted: {writers}"
