"""Starts the whole system as real processes (gunicorn web apps and workers) for end-to-end tests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from threading import Lock
from typing import Any, TypeVar

import httpx
from aiosmtpd.controller import Controller
from icalendar import Calendar

from clinic_shared.testing.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SERVICES = ("scheduling", "billing", "notifications")
WEB = "web"  # the web front: no database of its own, talks to the three APIs
T = TypeVar("T")


def wait_for(check: Callable[[], T | None], *, timeout: float = 30, what: str = "condition") -> T:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


class Mailbox:
    """A real SMTP server (aiosmtpd) that keeps every message it receives."""

    def __init__(self) -> None:
        # Each message with the addresses it was sent to (the envelope's: an address with non-ASCII
        # characters is sent with SMTPUTF8 and reads as such there, whatever the header's encoding).
        self.received: list[tuple[list[str], Message]] = []
        self._lock = Lock()
        self.port = free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, enable_SMTPUTF8=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd hook
        with self._lock:
            recipients = [address.lower() for address in envelope.rcpt_tos]
            self.received.append((recipients, message_from_bytes(envelope.content)))
        return "250 OK"

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def to(self, address: str) -> list[Message]:
        with self._lock:
            return [message for recipients, message in self.received if address.lower() in recipients]

    def take_link(self, address: str, page: str, *, timeout: float = 30) -> str:
        """Wait for the message to ``address`` that links to ``{page}/{token}``; return the token and delete
        the message, as its reader would, so later counts of ``to(address)`` see only what came after."""
        pattern = re.compile(rf"/{re.escape(page)}/([A-Za-z0-9_-]+)")

        def find() -> tuple[Message, str] | None:
            for message in self.to(address):
                for part in message.walk():
                    if part.get_content_type() != "text/plain":
                        continue
                    text = part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
                    if match := pattern.search(text):
                        return message, match.group(1)
            return None

        message, token = wait_for(find, timeout=timeout, what=f"a {page} link to {address}")
        with self._lock:
            self.received = [(to, kept) for to, kept in self.received if kept is not message]
        return token


@dataclass
class System:
    """Three services (web + worker each) wired to given databases, a broker vhost and an SMTP server."""

    database_urls: dict[str, str]
    amqp_url: str
    smtp_port: int
    var_dir: Path
    # The SMTP server the system sends to: sign-up links are read from it.
    mailbox: Mailbox | None = None
    with_web: bool = False
    # Settings a test module needs on top of the defaults below (e.g. more gunicorn workers).
    extra_env: dict[str, str] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=lambda: {name: free_port() for name in (*SERVICES, WEB)})
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "VAR_DIR": str(self.var_dir),
                "AMQP_URL": self.amqp_url,
                "JWKS_URL": f"{self.url('scheduling')}/.well-known/jwks.json",
                "SMTP_URL": f"smtp://127.0.0.1:{self.smtp_port}",
                "SMTP_FROM": "Demo Clinic <clinic@example.test>",
                "MAILBOX_DIR": str(self.var_dir / "mailbox"),
                "SMS_SINK_DIR": str(self.var_dir / "sms"),
                "LOG_LEVEL": "WARNING",
                # Confirmations are debounced by default; the tests look at them straight away.
                "NOTIFICATIONS_DEBOUNCE_SECONDS": "0",
                "WEB_CONCURRENCY": "1",
                # "Invoice issued" e-mails link to billing's signed PDF links.
                "BILLING_PUBLIC_URL": self.url("billing"),
                "DOCUMENT_LINK_SECRET": "e2e-document-link-secret-0123456789abcdef",
                "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
                "WEB_PORT": str(self.ports[WEB]),
                "WEB_PUBLIC_URL": self.url(WEB),
                "WEB_SECRET_KEY": "e2e-web-secret-key-0123456789abcdefghijklmnop",
                "WEB_SESSION_FILE": str(self.var_dir / "web-sessions.db"),
                "SCHEDULING_URL": self.url("scheduling"),
                "BILLING_URL": self.url("billing"),
                "NOTIFICATIONS_URL": self.url("notifications"),
            }
        )
        for name in SERVICES:
            env[f"{name.upper()}_DATABASE_URL"] = self.database_urls[name]
            env[f"{name.upper()}_PORT"] = str(self.ports[name])
        env.update(self.extra_env)
        return env

    def cli(self, service: str, *args: str) -> str:
        result = subprocess.run(
            [str(BIN / service), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, f"{service} {' '.join(args)} failed: {result.stderr[-2000:]}"
        return result.stdout

    def start(self) -> None:
        for service in SERVICES:
            self.cli(service, "migrate")
            self.cli(service, "setup-broker")
        for service in SERVICES:
            self.start_process(f"{service}-web")
            self.start_process(f"{service}-worker")
        if self.with_web:
            self.start_process(f"{WEB}-web")
        for service in (*SERVICES, WEB) if self.with_web else SERVICES:
            wait_for(lambda s=service: self._healthy(s), timeout=60, what=f"{service} /healthz")

    def start_process(self, name: str) -> None:
        service, role = name.rsplit("-", 1)
        if role == "web":
            command = [
                str(BIN / "gunicorn"),
                "-c",
                str(ROOT / "deploy/gunicorn.conf.py"),
                "--bind",
                f"127.0.0.1:{self.ports[service]}",
                f"{service}.entrypoints.{'app' if service == WEB else 'api'}:create_app()",
            ]
        else:
            command = [str(BIN / service), "worker"]
        with (self.var_dir / f"{name}.log").open("ab") as log:
            self.processes[name] = subprocess.Popen(command, env=self.env, stdout=log, stderr=log, cwd=ROOT)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        process = self.processes.pop(name)
        process.send_signal(sig)
        process.wait(timeout=30)

    def stop(self) -> None:
        for process in self.processes.values():
            process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
            for path in self.var_dir.glob("*.log")
        )

    def _healthy(self, service: str) -> bool:
        # A gunicorn that could not bind exits, and whatever else took the port may answer /healthz: the
        # API must also say it is this service.
        process = self.processes.get(f"{service}-web")
        if process is not None and process.poll() is not None:
            port = self.ports[service]
            raise AssertionError(f"{service}-web exited with {process.returncode} (port {port})")
        try:
            if httpx.get(f"{self.url(service)}/healthz", timeout=1).status_code != 200:
                return False
            if service == WEB:
                return True
            title = httpx.get(f"{self.url(service)}/openapi.json", timeout=5).json()["info"]["title"]
        except (httpx.HTTPError, ValueError, KeyError):
            return False
        if title.lower() != service:
            raise AssertionError(f"port {self.ports[service]} answers as {title}, not {service}")
        return True


def ics_of(message: Message) -> Calendar:
    """The calendar attached to an e-mail."""
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            return Calendar.from_ical(part.get_payload(decode=True))
    raise AssertionError("no text/calendar attachment")
