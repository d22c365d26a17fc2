"""`make run`'s launcher: the embedded default (SQLite under var/) brings every service up with a living demo
clinic (hours, history, a plan, an invoice and its payment), seeding twice adds nothing, and Ctrl-C stops
them all."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from clinic_shared import demo
from clinic_shared.testing.ports import free_port
from clinic_shared.testing.rabbit import temporary_vhost

from .system import BIN, ROOT, wait_for

pytestmark = pytest.mark.e2e

BACKENDS = ("scheduling", "billing", "notifications")
CLINIC_ZONE = ZoneInfo("America/Vancouver")
# The demo clinic's opening hours by weekday (0 = Monday): Mon-Fri 08:00-18:00, Sat 09:00-13:00.
OPENING_HOURS = {**{day: (time(8), time(18)) for day in range(5)}, 5: (time(9), time(13))}
READY_LINE = "Ctrl-C stops everything"


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


class Api:
    """The running launcher's public APIs, signed in as one demo account."""

    def __init__(self, ports: dict[str, int], email: str, password: str) -> None:
        self.ports = ports
        token = httpx.post(
            f"{self.url('scheduling')}/auth/token", json={"email": email, "password": password}, timeout=10
        )
        assert token.status_code == 200, token.text
        self.headers = {"Authorization": f"Bearer {token.json()['access_token']}"}

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def get(self, service: str, path: str, **params: Any) -> httpx.Response:
        response = httpx.get(f"{self.url(service)}{path}", params=params, headers=self.headers, timeout=10)
        assert response.status_code == 200, f"GET {path}: {response.status_code} {response.text}"
        return response

    def all(self, service: str, path: str, **params: Any) -> list[dict[str, Any]]:
        """Every item of a paginated list."""
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            response = self.get(service, path, page=page, page_size=100, **params)
            items += response.json()
            total = json.loads(response.headers.get("X-Pagination", "{}")).get("total", len(items))
            if len(items) >= total or not response.json():
                return items
            page += 1

    def total(self, service: str, path: str, **params: Any) -> int:
        response = self.get(service, path, page_size=1, **params)
        return int(json.loads(response.headers["X-Pagination"])["total"])


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_the_launcher_starts_a_living_demo_clinic_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    with_web = importlib.util.find_spec("web.entrypoints.app") is not None
    ports = {name: free_port() for name in (*BACKENDS, "web")}
    var = tmp_path / "var"
    with temporary_vhost("run") as amqp_url:
        env = dict(os.environ) | {
            "VAR_DIR": str(var),
            "AMQP_URL": amqp_url,
            "WEB_CONCURRENCY": "1",
            "NOTIFICATIONS_DEBOUNCE_SECONDS": "0",
            **{f"{name.upper()}_PORT": str(port) for name, port in ports.items()},
        }
        for name in BACKENDS:
            env.pop(f"{name.upper()}_DATABASE_URL", None)
        for name in ("DOCUMENT_LINK_SECRET", "WEB_SECRET_KEY", "WEB_PUBLIC_URL", "BILLING_PUBLIC_URL"):
            env.pop(name, None)
        for name in BACKENDS:
            env.pop(f"{name.upper()}_URL", None)
        log_path = tmp_path / "run.log"
        with log_path.open("wb") as log:
            launcher = subprocess.Popen(
                [sys.executable, str(ROOT / "deploy/local/run.py")],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            # The banner comes after every /healthz answered and the post-start seed (invoices) ran.
            wait_for(lambda: READY_LINE in log_path.read_text(), timeout=90, what="the launcher's banner")
            output = log_path.read_text()
            assert "not seeded" not in output
            for email in ("patient@demo.clinic", "frontdesk@demo.clinic", "billing@demo.clinic"):
                assert email in output  # demo credentials are printed
            for name in BACKENDS:
                assert healthy(f"http://127.0.0.1:{ports[name]}"), name
            assert (var / "scheduling.db").exists()
            web_key = var / "keys" / "web-secret-key"
            assert web_key.stat().st_mode & 0o777 == 0o600
            assert len(web_key.read_text().strip()) >= 32
            if with_web:
                assert f"open http://127.0.0.1:{ports['web']}" in output
                assert healthy(f"http://127.0.0.1:{ports['web']}")
            else:
                assert "web front (services/web) is not installed" in output

            patient = Api(ports, demo.PATIENT.email, demo.PATIENT_PASSWORD)
            admin = Api(ports, demo.ADMIN.email, demo.ADMIN.password)
            clerk = Api(ports, demo.BILLING.email, demo.BILLING.password)
            Api(ports, demo.FRONT_DESK.email, demo.FRONT_DESK.password)  # the front desk can sign in
            if with_web:
                _each_staff_role_opens_its_pages(f"http://127.0.0.1:{ports['web']}")
            now = datetime.now(UTC)

            today = now.astimezone(CLINIC_ZONE).date()
            slots = _slots_inside_opening_hours(patient, today)
            _the_patient_has_a_past_a_future_and_a_plan(patient, now)
            _an_issued_invoice_has_a_payment_and_fees_were_charged(patient, clerk)

            # The seeded clinic and patient reached notifications (their queues existed before the relay
            # ran), so a booking in the first free slot from tomorrow is confirmed into the dev mailbox.
            tomorrow = datetime.combine(today + timedelta(days=1), time(0), tzinfo=CLINIC_ZONE)
            slot = next(s for s in slots if at(s["starts_at"]) >= tomorrow)
            booked = httpx.post(
                f"{patient.url('scheduling')}/appointments",
                headers=patient.headers,
                json={
                    "clinic_id": str(demo.CLINIC_ID),
                    "practitioner_id": slot["practitioner_id"],
                    "treatment_type_id": str(demo.ASSESSMENT_ID),
                    "starts_at": slot["starts_at"],
                },
            )
            assert booked.status_code == 201, booked.text
            on_day = _long_date(at(slot["local_starts_at"]).date())
            wait_for(
                lambda: _mail_to(var / "mailbox", demo.PATIENT.email, f"{on_day} is confirmed"),
                timeout=30,
                what="the confirmation in the dev mailbox",
            )

            # Seeding again (as a second `make run` would) adds nothing.
            counts = _counts(admin, clerk)
            outputs = _cli_side_by_side(
                env,
                ["scheduling", "seed-demo"],
                ["billing", "seed-demo"],
                ["notifications", "seed-demo"],
                ["billing", "seed-demo", "--invoices"],
            )
            assert "(nothing to add)" in outputs[0]
            assert "(0 added, 4 already set)" in outputs[1]
            assert "fee policy already set" in outputs[1]
            assert "already set" in outputs[2]
            assert "(nothing to add)" in outputs[3]
            assert _counts(admin, clerk) == counts
        finally:
            os.killpg(launcher.pid, signal.SIGINT)
            try:
                launcher.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(launcher.pid, signal.SIGKILL)
                raise
        assert all(not healthy(f"http://127.0.0.1:{p}") for p in ports.values())


def _each_staff_role_opens_its_pages(web_url: str) -> None:
    """Every demo staff account signs in to the web front and opens the pages its role has."""
    from web.testing import sign_in_over_http

    pages = {
        demo.FRONT_DESK: {
            "/staff/day": "day-title",
            "/staff/patients": "Patients",
            "/staff/waitlist": "Waitlist",
        },
        demo.PRACTITIONER: {"/staff/day": "day-title"},
        demo.BILLING: {"/staff/billing": "Charges to invoice", "/staff/billing/reports": "Billing reports"},
        demo.ADMIN: {
            "/staff/clinic": "Clinic set-up",
            "/staff/clinic/staff": "Staff",
            "/staff/day": "day-title",
        },
    }
    for account, paths in pages.items():
        with httpx.Client(base_url=web_url, timeout=30, follow_redirects=True) as browser:
            sign_in_over_http(browser, account.email, account.password)
            for path, shown in paths.items():
                page = browser.get(path)
                assert page.status_code == 200, (account.email, path, page.status_code)
                assert shown in page.text, (account.email, path)
            assert browser.get("/staff/clinic").status_code == (200 if account is demo.ADMIN else 403)


def _slots_inside_opening_hours(patient: Api, today: date) -> list[dict[str, Any]]:
    """A week of assessment slots, each inside the opening hours in the clinic's own zone."""
    slots = patient.all(
        "scheduling",
        f"/clinics/{demo.CLINIC_ID}/slots",
        treatment_type_id=str(demo.ASSESSMENT_ID),
        **{"from": today.isoformat(), "to": (today + timedelta(days=7)).isoformat()},
    )
    assert len(slots) > 20
    for slot in slots:
        starts = at(slot["starts_at"]).astimezone(CLINIC_ZONE)
        ends = at(slot["ends_at"]).astimezone(CLINIC_ZONE)
        assert starts.weekday() in OPENING_HOURS, slot  # never on Sunday
        opens, closes = OPENING_HOURS[starts.weekday()]
        assert opens <= starts.time(), slot  # never at midnight
        assert ends.time() <= closes, slot
        assert ends.date() == starts.date(), slot
        local = at(slot["local_starts_at"])
        assert (local, local.utcoffset()) == (starts, starts.utcoffset()), slot
    assert {at(s["starts_at"]).astimezone(CLINIC_ZONE).date() for s in slots} - {today}
    return slots


def _the_patient_has_a_past_a_future_and_a_plan(patient: Api, now: datetime) -> None:
    appointments = patient.all("scheduling", "/appointments")
    assert {a["patient_id"] for a in appointments} == {str(demo.PATIENT_ID)}
    past = {(a["kind"], a["status"]) for a in appointments if at(a["starts_at"]) < now}
    assert past == {("assessment", "fulfilled"), ("treatment", "fulfilled")}
    ahead = [a["status"] for a in appointments if at(a["starts_at"]) > now]
    assert ahead.count("booked") == len(ahead) >= 4  # three plan sessions and a review
    (plan,) = patient.all("scheduling", "/plans")
    assert (plan["id"], plan["status"]) == (str(demo.PAT_PLAN_ID), "active")
    assert (plan["completed_sessions"], plan["remaining_sessions"]) == (3, 3)


def _an_issued_invoice_has_a_payment_and_fees_were_charged(patient: Api, clerk: Api) -> None:
    (invoice,) = patient.all("billing", "/invoices")
    assert invoice["status"] == "issued"
    assert invoice["number"].startswith("VAN-")
    assert len(invoice["lines"]) == 4  # the assessment and three IMS sessions
    assert 0 < invoice["paid_cents"] < invoice["total_cents"]
    (payment,) = patient.all("billing", "/payments")
    assert [a["invoice_id"] for a in payment["allocations"]] == [invoice["id"]]
    assert {i["status"] for i in clerk.all("billing", "/invoices")} == {"issued", "balanced"}
    kinds = {c["kind"] for c in clerk.all("billing", "/charges")}
    assert {"late_cancel_fee", "no_show_fee"} <= kinds


def _long_date(day: date) -> str:
    """How the e-mails write a day, e.g. "December 2, 2026"."""
    return f"{day:%B} {day.day}, {day.year}"


def _mail_to(mailbox: Path, address: str, subject_part: str) -> bool:
    index = mailbox / "index.jsonl"
    if not index.exists():
        return False
    entries = [json.loads(line) for line in index.read_text().splitlines() if line.strip()]
    return any(e["to"] == address and subject_part in e["subject"] for e in entries)


def _counts(admin: Api, clerk: Api) -> dict[str, int]:
    return {
        "appointments": admin.total("scheduling", "/appointments"),
        "plans": admin.total("scheduling", "/plans"),
        "rooms": admin.total("scheduling", f"/clinics/{demo.CLINIC_ID}/rooms"),
        "opening hours": len(admin.get("scheduling", f"/clinics/{demo.CLINIC_ID}/opening-hours").json()),
        "charges": clerk.total("billing", "/charges"),
        "invoices": clerk.total("billing", "/invoices"),
        "payments": clerk.total("billing", "/payments"),
    }


def _cli_side_by_side(env: dict[str, str], *commands: list[str]) -> list[str]:
    """Run service commands at once (each touches only its own database); their outputs, in order."""
    running = [
        subprocess.Popen(
            [str(BIN / service), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for service, *args in commands
    ]
    outputs = []
    for command, process in zip(commands, running, strict=True):
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, f"{' '.join(command)}: {stderr[-2000:]}"
        outputs.append(stdout)
    return outputs


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
