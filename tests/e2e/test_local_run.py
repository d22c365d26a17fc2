"""`make run`'s launcher: the embedded default (SQLite under var/) brings every service up, seeded, and
Ctrl-C stops them all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from clinic_shared import demo
from clinic_shared.testing.rabbit import temporary_vhost

from .system import ROOT, SERVICES, free_port, wait_for

pytestmark = pytest.mark.e2e


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_the_launcher_starts_all_services_within_a_minute_and_ctrl_c_stops_them(tmp_path: Path) -> None:
    ports = {name: free_port() for name in SERVICES}
    with temporary_vhost("run") as amqp_url:
        env = dict(os.environ) | {
            "VAR_DIR": str(tmp_path / "var"),
            "AMQP_URL": amqp_url,
            "WEB_CONCURRENCY": "1",
            "NOTIFICATIONS_DEBOUNCE_SECONDS": "0",
            **{f"{name.upper()}_PORT": str(port) for name, port in ports.items()},
        }
        for name in SERVICES:
            env.pop(f"{name.upper()}_DATABASE_URL", None)
        with (tmp_path / "run.log").open("wb") as log:
            launcher = subprocess.Popen(
                [sys.executable, str(ROOT / "deploy/local/run.py")],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            for name, port in ports.items():
                wait_for(lambda p=port: healthy(f"http://127.0.0.1:{p}"), timeout=60, what=f"{name} /healthz")
            output = (tmp_path / "run.log").read_text()
            assert "patient@demo.clinic" in output  # demo credentials are printed
            token = httpx.post(
                f"http://127.0.0.1:{ports['scheduling']}/auth/token",
                json={"email": "patient@demo.clinic", "password": "demo-patient-pass"},
            )
            assert token.status_code == 200
            assert (tmp_path / "var" / "scheduling.db").exists()
            # The seeded clinic and patient reached notifications (their queues existed before the relay
            # ran), so a demo booking is confirmed into the dev mailbox.
            starts = (datetime.now(UTC) + timedelta(days=3)).replace(
                hour=18, minute=0, second=0, microsecond=0
            )
            booked = httpx.post(
                f"http://127.0.0.1:{ports['scheduling']}/appointments",
                headers={"Authorization": f"Bearer {token.json()['access_token']}"},
                json={
                    "clinic_id": str(demo.CLINIC_ID),
                    "practitioner_id": str(demo.PRACTITIONER_ASSESSOR_ID),
                    "treatment_type_id": str(demo.ASSESSMENT_ID),
                    "starts_at": starts.isoformat(),
                },
            )
            assert booked.status_code == 201, booked.text
            mailbox = tmp_path / "var" / "mailbox"
            wait_for(
                lambda: list(mailbox.glob("*.eml")), timeout=30, what="the confirmation in the dev mailbox"
            )
        finally:
            os.killpg(launcher.pid, signal.SIGINT)
            try:
                launcher.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(launcher.pid, signal.SIGKILL)
                raise
        assert all(not healthy(f"http://127.0.0.1:{p}") for p in ports.values())


def test_the_launcher_exits_at_once_with_a_clear_message_when_no_broker_is_reachable(tmp_path: Path) -> None:
    # A loopback address where nothing listens, and not "localhost", so no private node is started.
    env = dict(os.environ) | {
        "VAR_DIR": str(tmp_path / "var"),
        "AMQP_URL": f"amqp://guest:guest@127.0.0.2:{free_port()}/",
    }
    result = subprocess.run(
        [sys.executable, str(ROOT / "deploy/local/run.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "RabbitMQ is not reachable" in lines[0]
    assert "AMQP_URL" in lines[0]
