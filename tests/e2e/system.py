"""Starts the whole system as real processes (gunicorn web apps and workers) for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from threading import Lock, Thread
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
# "scheduling-web", "billing-worker", "notifications-worker-3": service, role and (from 2 on) replica number.
PROCESS_NAME = re.compile(r"^(?P<service>[a-z]+)-(?P<role>web|worker)(?:-(?P<replica>[0-9]+))?$")


def process_name(service: str, role: str, replica: int = 1) -> str:
    """The first replica keeps the plain name ("billing-worker") that single-replica tests use."""
    return f"{service}-{role}" if replica == 1 else f"{service}-{role}-{replica}"


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
    # Replicas per service: gunicorn instances (each with WEB_CONCURRENCY workers) and worker processes.
    # With more than one gunicorn per service, ``ports`` are those of a RoundRobinProxy in front of them
    # (a Kubernetes Service, in effect) and ``instance_ports`` those of the instances.
    web_replicas: int = 1
    worker_replicas: int = 1
    ports: dict[str, int] = field(default_factory=lambda: {name: free_port() for name in (*SERVICES, WEB)})
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    instance_ports: dict[str, list[int]] = field(default_factory=dict)
    proxies: dict[str, RoundRobinProxy] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for service in (*SERVICES, WEB):
            if self.web_replicas == 1:
                self.instance_ports.setdefault(service, [self.ports[service]])
            else:
                self.instance_ports.setdefault(service, [free_port() for _ in range(self.web_replicas)])

    @property
    def services(self) -> tuple[str, ...]:
        return (*SERVICES, WEB) if self.with_web else SERVICES

    def process_names(self, role: str) -> list[str]:
        replicas = self.web_replicas if role == "web" else self.worker_replicas
        services = self.services if role == "web" else SERVICES
        return [process_name(s, role, n) for s in services for n in range(1, replicas + 1)]

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
        if self.web_replicas > 1:
            for service in self.services:
                self.proxies[service] = RoundRobinProxy(self.ports[service], self.instance_ports[service])
        for name in self.process_names("web") + self.process_names("worker"):
            self.start_process(name)
        for service in self.services:
            wait_for(lambda s=service: self._healthy(s), timeout=60, what=f"{service} /healthz")

    def start_process(self, name: str) -> None:
        match = PROCESS_NAME.match(name)
        assert match is not None, f"not a process name: {name}"
        service, role = match["service"], match["role"]
        if role == "web":
            port = self.instance_ports[service][int(match["replica"] or 1) - 1]
            command = [
                str(BIN / "gunicorn"),
                "-c",
                str(ROOT / "deploy/gunicorn.conf.py"),
                "--bind",
                f"127.0.0.1:{port}",
                f"{service}.entrypoints.{'app' if service == WEB else 'api'}:create_app()",
            ]
        else:
            command = [str(BIN / service), "worker"]
        with (self.var_dir / f"{name}.log").open("ab") as log:
            self.processes[name] = subprocess.Popen(command, env=self.env, stdout=log, stderr=log, cwd=ROOT)

    def instance_port(self, name: str) -> int:
        """The port a web process (by name) listens on."""
        match = PROCESS_NAME.match(name)
        if match is None or match["role"] != "web":
            raise ValueError(f"not a web process: {name}")
        return self.instance_ports[match["service"]][int(match["replica"] or 1) - 1]

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        process = self.processes.pop(name)
        process.send_signal(sig)
        process.wait(timeout=30)

    def stop(self) -> None:
        for proxy in self.proxies.values():
            proxy.close()
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
        names = [process_name(service, "web", n) for n in range(1, self.web_replicas + 1)]
        return all(self.web_healthy(name) for name in names)

    def web_healthy(self, name: str) -> bool:
        """The web process answers /healthz on its own port, as the service it should be."""
        service = name.split("-", 1)[0]
        port = self.instance_port(name)
        # A gunicorn that could not bind exits, and whatever else took the port may answer /healthz: the
        # API must also say it is this service.
        process = self.processes.get(name)
        if process is not None and process.poll() is not None:
            log = (self.var_dir / f"{name}.log").read_text(errors="replace")[-2000:]
            raise AssertionError(f"{name} exited with {process.returncode} (port {port}):\n{log}")
        url = f"http://127.0.0.1:{port}"
        try:
            if httpx.get(f"{url}/healthz", timeout=5).status_code != 200:
                return False
            if service == WEB:
                return True
            title = httpx.get(f"{url}/openapi.json", timeout=5).json()["info"]["title"]
        except (httpx.HTTPError, ValueError, KeyError):
            return False
        if title.lower() != service:
            raise AssertionError(f"port {port} answers as {title}, not {service}")
        return True


class RoundRobinProxy:
    """A TCP load balancer in front of a service's gunicorn instances, as a Kubernetes Service would be.

    Each client connection goes to the next backend in turn and is piped both ways until either side
    closes. It fails over only when the connection to a backend is refused (nothing was sent, so nothing
    can be done twice), like nginx's ``proxy_next_upstream error`` for a request not yet passed on. A
    backend can be taken out of the rotation (``drain``) before its process is stopped and put back once its
    replacement answers, as an endpoint leaves a Service before its pod gets SIGTERM.
    """

    def __init__(self, port: int, backends: list[int]) -> None:
        self.backends = list(backends)
        self.drained: set[int] = set()
        self.connections = 0
        self.failovers = 0
        self.refused = 0  # client connections closed because no backend took them
        self._turn = 0
        self._lock = Lock()
        self._listener = socket.create_server(("127.0.0.1", port), backlog=512)
        self._closed = False
        Thread(target=self._accept, name=f"proxy-{port}", daemon=True).start()

    def drain(self, port: int) -> None:
        with self._lock:
            self.drained.add(port)

    def undrain(self, port: int) -> None:
        with self._lock:
            self.drained.discard(port)

    def close(self) -> None:
        self._closed = True
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            Thread(target=self._serve, args=(client,), daemon=True).start()

    def _candidates(self) -> list[int]:
        with self._lock:
            self.connections += 1
            live = [port for port in self.backends if port not in self.drained] or list(self.backends)
            self._turn += 1
            start = self._turn % len(live)
            return live[start:] + live[:start]

    def _serve(self, client: socket.socket) -> None:
        upstream = None
        for attempt, port in enumerate(self._candidates()):
            try:
                upstream = socket.create_connection(("127.0.0.1", port), timeout=5)
            except OSError:
                continue
            if attempt:
                with self._lock:
                    self.failovers += 1
            break
        if upstream is None:
            with self._lock:
                self.refused += 1
            client.close()
            return
        upstream.settimeout(None)
        self._pipe(client, upstream)

    @staticmethod
    def _pipe(client: socket.socket, upstream: socket.socket) -> None:
        peers = {client: upstream, upstream: client}
        with selectors.DefaultSelector() as selector:
            for sock in peers:
                selector.register(sock, selectors.EVENT_READ)
            try:
                while peers:
                    for key, _ in selector.select(timeout=60):
                        source = key.fileobj
                        assert isinstance(source, socket.socket)
                        data = source.recv(65536)
                        if not data:
                            # Half-close: pass the end of the stream on, keep reading the other way.
                            selector.unregister(source)
                            target = peers.pop(source)
                            with contextlib.suppress(OSError):
                                target.shutdown(socket.SHUT_WR)
                            continue
                        peers[source].sendall(data)
            except OSError:
                pass
            finally:
                client.close()
                upstream.close()


def ics_of(message: Message) -> Calendar:
    """The calendar attached to an e-mail."""
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            return Calendar.from_ical(part.get_payload(decode=True))
    raise AssertionError("no text/calendar attachment")
