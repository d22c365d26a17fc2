"""Notifications' dispatcher sending a backlog of e-mails and SMS, against bare smtplib and httpx loops.

Creates a throw-away database (notifications' migrations), starts a local SMTP server (aiosmtpd) and a local
Twilio-shaped HTTP stand-in (201 with a message sid), records the backlog through notifications' own
handlers (the clinic, practitioner, treatment and patients, then N bookings: one confirmation each, due at
once; reminders stay scheduled), and measures messages/s of:

(a) the dispatcher, built as ``notifications worker`` builds it, draining N e-mail confirmations
    (claim, render, send, record; ``SmtpMailer`` opens a connection per message) vs the same messages as
    the server received them, sent by a bare loop of ``smtplib.SMTP.send_message`` over one connection;
(b) the same for N SMS confirmations vs bare ``httpx.Client.post`` of the same forms (one client).

Targets: each >= 0.5x its bare loop.
Usage: ``.venv/bin/python bench/dispatch_bench.py [--messages 1000] [--batch-size 20]``
"""

from __future__ import annotations

import argparse
import email
import email.policy
import json
import logging
import smtplib
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from clinic_shared.events import Envelope, new_event
from clinic_shared.migrations import upgrade
from clinic_shared.testing.benchmarks import Figure, Throughput, record
from clinic_shared.testing.ports import free_port
from clinic_shared.testing.postgres import temporary_database
from clinic_shared.testing.tokens import TestIssuer
from notifications.adapters import orm
from notifications.bootstrap import Container, bootstrap
from notifications.config import NotificationsSettings
from notifications.entrypoints import worker
from notifications.entrypoints.cli import MIGRATIONS
from notifications.entrypoints.dispatcher import Dispatcher
from notifications.entrypoints.handlers import HANDLERS

TARGET_RATIO = 0.5
ACCOUNT, AUTH_TOKEN = "AC0123", "s3cret"
MESSAGES_PATH = f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
SENDER_PHONE = "+16045550000"


class Mailbox:
    """aiosmtpd handler keeping each message's bytes (the bare loop replays them)."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd hook
        with self._lock:
            self.received.append(envelope.original_content or envelope.content)
        return "250 OK queued"

    def take(self) -> list[bytes]:
        with self._lock:
            taken, self.received = self.received, []
        return taken


class TwilioStandIn(BaseHTTPRequestHandler):
    """Answers ``POST .../Messages.json`` with 201 and a sid, keeping the connection alive (HTTP/1.1)."""

    protocol_version = "HTTP/1.1"
    forms: list[dict[str, str]] = []
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        form = {key: values[0] for key, values in parse_qs(body.decode()).items()}
        with self.lock:
            self.forms.append(form)
            sid = f"SM{len(self.forms):08d}"
        ok = self.path == MESSAGES_PATH
        answer = json.dumps({"sid": sid, "status": "queued"} if ok else {"code": 404}).encode()
        self.send_response(201 if ok else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    @classmethod
    def take(cls) -> list[dict[str, str]]:
        with cls.lock:
            taken, cls.forms = cls.forms, []
        return taken


def event(event_type: str, data: dict[str, Any]) -> Envelope:
    return new_event(event_type, data, producer="scheduling", occurred_at=datetime.now(UTC))


class Clinic:
    """Scheduling's events about one clinic, practitioner and treatment type, for notifications' handlers."""

    def __init__(self) -> None:
        self.clinic_id, self.practitioner_id, self.treatment_type_id = (
            uuid.uuid4(),
            uuid.uuid4(),
            uuid.uuid4(),
        )
        self._next_start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=14)

    def catalogue(self) -> list[Envelope]:
        return [
            event(
                "scheduling.clinic.changed",
                {
                    "clinic_id": self.clinic_id,
                    "code": "BENCH",
                    "name": "Bench IMS Clinic",
                    "timezone": "America/Vancouver",
                    "address": "1 Main St, Vancouver BC",
                    "phone": "+16045550199",
                    "email": "front@bench.test",
                    "currency": "CAD",
                },
            ),
            event(
                "scheduling.practitioner.changed",
                {
                    "practitioner_id": self.practitioner_id,
                    "clinic_id": self.clinic_id,
                    "display_name": "Dr. Ida Needham",
                    "registration_number": "PT-1001",
                    "active": True,
                },
            ),
            event(
                "scheduling.treatment_type.changed",
                {
                    "treatment_type_id": self.treatment_type_id,
                    "clinic_id": self.clinic_id,
                    "code": "IMS30",
                    "name": "IMS session, 30 min",
                    "kind": "treatment",
                    "duration_minutes": 30,
                    "active": True,
                },
            ),
        ]

    def patient(self, patient_id: uuid.UUID, email_address: str, phone: str | None) -> Envelope:
        return event(
            "scheduling.patient.registered",
            {
                "patient_id": patient_id,
                "first_name": "Pat",
                "last_name": "Bench",
                "email": email_address,
                "phone": phone,
                "language": "en",
            },
        )

    def booked(self, patient_id: uuid.UUID) -> Envelope:
        starts_at, self._next_start = self._next_start, self._next_start + timedelta(minutes=30)
        facts = {
            "appointment_id": uuid.uuid4(),
            "clinic_id": self.clinic_id,
            "practitioner_id": self.practitioner_id,
            "patient_id": patient_id,
            "treatment_type_id": self.treatment_type_id,
            "kind": "treatment",
            "starts_at": starts_at,
            "ends_at": starts_at + timedelta(minutes=30),
            "sequence": 0,
        }
        return event("scheduling.appointment.booked", facts | {"booked_via": "staff"})


def apply(container: Container, events: Sequence[Envelope]) -> None:
    """Through notifications' handlers, each in its own unit of work (as its consumer applies them)."""
    for envelope in events:
        with container.uow() as uow:
            HANDLERS[envelope.type](uow, envelope)
            uow.commit()


def pending(container: Container, channel: str) -> int:
    t = orm.deliveries
    query = select(func.count()).where(
        t.c.channel == channel, t.c.status == "pending", t.c.next_attempt_at <= datetime.now(UTC)
    )
    with container.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def drain(container: Container, dispatcher: Dispatcher, channel: str, n: int, label: str) -> Throughput:
    """Time dispatch passes until ``n`` messages went out (as the worker's loop calls them, back to back)."""
    due = pending(container, channel)
    if due != n:
        raise SystemExit(f"{due} {channel} deliveries due, not {n}")
    sent = 0
    started = time.perf_counter()
    while sent < n:
        sent_now = dispatcher.dispatch_due()
        report = dispatcher.last_report
        if sent_now == 0 or report.failed or report.retrying:
            raise SystemExit(f"the dispatcher stalled after {sent} of {n}: {report}")
        sent += sent_now
    return Throughput(label, n, time.perf_counter() - started)


def bare_smtp(port: int, raw: Sequence[bytes]) -> Throughput:
    messages: list[EmailMessage] = [
        email.message_from_bytes(body, policy=email.policy.default)  # type: ignore[misc]
        for body in raw
    ]
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        for message in messages:
            smtp.send_message(message)
    elapsed = time.perf_counter() - started
    return Throughput("bare smtplib send_message, one connection", len(messages), elapsed)


def bare_httpx(base_url: str, forms: Sequence[dict[str, str]]) -> Throughput:
    started = time.perf_counter()
    with httpx.Client(auth=(ACCOUNT, AUTH_TOKEN), timeout=10) as client:
        for form in forms:
            response = client.post(f"{base_url}{MESSAGES_PATH}", data=form)
            if response.status_code != 201:
                raise SystemExit(f"the stand-in answered {response.status_code}")
    return Throughput("bare httpx posts, one client", len(forms), time.perf_counter() - started)


def run(
    args: argparse.Namespace, pg_url: str, var_dir: Path, smtp_port: int, sms_url: str
) -> dict[str, Throughput]:
    environ = {
        "NOTIFICATIONS_DATABASE_URL": pg_url,
        "VAR_DIR": str(var_dir),
        "MAILBOX_DIR": str(var_dir / "mailbox"),
        "SMS_SINK_DIR": str(var_dir / "sms"),
        "SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
        "SMTP_FROM": "Bench Clinic <clinic@bench.test>",
        "SMS_PROVIDER_URL": sms_url.replace("://", f"://{ACCOUNT}:{AUTH_TOKEN}@"),
        "SMS_FROM": SENDER_PHONE,
        # Confirmations fall due at once instead of after the two-minute debounce.
        "NOTIFICATIONS_DEBOUNCE_SECONDS": "0",
    }
    # pre_ping off, as `notifications worker` runs (cli.py): its connections are checked by use, not pinged
    container = bootstrap(
        NotificationsSettings.from_env(environ), verifier=TestIssuer().verifier(), pre_ping=False
    )
    try:
        # As the worker wires it: the transports counted per channel, the container's policy.
        dispatcher = Dispatcher(
            container.uow, worker.counted(container.transports), container.policy, batch_size=args.batch_size
        )
        clinic = Clinic()
        by_mail, by_sms = uuid.uuid4(), uuid.uuid4()
        apply(
            container,
            [
                *clinic.catalogue(),
                clinic.patient(by_mail, "pat@bench.test", None),  # no phone: e-mail only
                clinic.patient(by_sms, "erased@patient.invalid", "+16045550100"),  # undeliverable: SMS only
            ],
        )
        results: dict[str, Throughput] = {}
        for channel, patient_id in (("email", by_mail), ("sms", by_sms)):
            apply(container, [clinic.booked(patient_id) for _ in range(args.messages)])
            results[channel] = drain(
                container, dispatcher, channel, args.messages, f"dispatcher, {channel} (claim, render, send)"
            )
        return results
    finally:
        container.engine.dispose()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=1000, help="messages per channel")
    parser.add_argument(
        "--batch-size", type=int, default=20, help="the dispatcher's batch (the worker's default)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    mailbox = Mailbox()
    smtp_port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=smtp_port)
    stand_in = ThreadingHTTPServer(("127.0.0.1", 0), TwilioStandIn)
    stand_in.daemon_threads = True
    sms_url = f"http://127.0.0.1:{stand_in.server_address[1]}"
    threading.Thread(target=stand_in.serve_forever, name="twilio-stand-in", daemon=True).start()
    controller.start()
    try:
        with temporary_database("bench_dispatch") as pg_url, tempfile.TemporaryDirectory() as var_dir:
            upgrade(pg_url, MIGRATIONS)
            dispatched = run(args, pg_url, Path(var_dir), smtp_port, sms_url)
        mails, forms = mailbox.take(), TwilioStandIn.take()
        if len(mails) != args.messages or len(forms) != args.messages:
            raise SystemExit(f"the servers received {len(mails)} e-mails and {len(forms)} SMS")
        bare = {"email": bare_smtp(smtp_port, mails), "sms": bare_httpx(sms_url, forms)}
    finally:
        controller.stop()
        stand_in.shutdown()
        stand_in.server_close()

    print(f"\n{args.messages} booking confirmations per channel, dispatcher batch {args.batch_size}\n")
    print(f"{'sender':<44} {'messages':>9} {'seconds':>8} {'msg/s':>8} {'x bare':>7}")
    verdicts: list[str] = []
    for channel in ("email", "sms"):
        for result in (bare[channel], dispatched[channel]):
            print(
                f"{result.label:<44} {result.messages:>9} {result.seconds:>8.2f} {result.rate:>8.0f}"
                f" {result.rate / bare[channel].rate:>7.2f}"
            )
        ratio = dispatched[channel].rate / bare[channel].rate
        verdicts.append(
            f"{channel}: dispatcher / bare = {ratio:.2f} (target >= {TARGET_RATIO}):"
            f" {'met' if ratio >= TARGET_RATIO else 'MISSED'}"
        )
        what = {"email": "bare smtplib, one connection", "sms": "bare httpx posts"}[channel]
        baseline = f"{what} {bare[channel].rate:,.0f} msg/s"
        record(Figure(f"dispatcher {channel} sends", dispatched[channel].rate, "msg/s", baseline=baseline))
        record(Figure(f"dispatcher {channel} / {what}", ratio, "x", f">= {TARGET_RATIO}", baseline=baseline))
    print()
    print("\n".join(verdicts))


if __name__ == "__main__":
    main()
