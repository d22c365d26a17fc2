"""`make run`: check the broker, migrate and seed each service, run every process in the foreground.

Honcho runs the Procfile's processes as a child of this launcher. Once every web process answers
/healthz, the post-start seed runs (billing's demo invoices need the charges the workers relay from
scheduling's events), then the credentials and the address to open are printed. Ctrl-C (SIGINT) or
SIGTERM is passed on to honcho, which stops them all; the launcher exits with honcho's status.

The embedded default is SQLite files under var/ for each service; set <SERVICE>_DATABASE_URL to use
PostgreSQL. Nothing here hangs: every wait has a deadline.
"""

from __future__ import annotations

import functools
import http.client
import importlib.util
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import FrameType
from urllib.parse import urlparse

from clinic_shared import demo
from clinic_shared.messaging.connection import vhost_of
from clinic_shared.messaging.policies import DEFAULT_DELIVERY_LIMIT, apply_policies

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PROCFILE = ROOT / "deploy/local/Procfile"
DEFAULT_AMQP_URL = "amqp://guest:guest@localhost:5672/%2F"
SERVICES = ("scheduling", "billing", "notifications")
WEB = "web"  # the web front (services/web): the Procfile's "web" process
HEALTHY_WITHIN = 90.0  # seconds for every web process to answer /healthz after honcho starts
POST_START_WITHIN = 120.0  # seconds for the post-start seed
PRIVATE_NODE = "ims-dev@localhost"  # the node ensure_broker starts when no broker answers


def log(message: str) -> None:
    print(f"[run] {message}", flush=True)


def reachable(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def ensure_broker(env: dict[str, str]) -> None:
    """Use the broker at AMQP_URL; if it is down and rabbitmq-server is installed, start a private node."""
    url = urlparse(env.get("AMQP_URL", DEFAULT_AMQP_URL))
    host, port = url.hostname or "localhost", url.port or 5672
    if reachable(host, port):
        return
    server = shutil.which("rabbitmq-server")
    if server is None or host not in {"localhost", "127.0.0.1"}:
        sys.exit(
            f"RabbitMQ is not reachable at {host}:{port}. Start one (`rabbitmq-server -detached`, or "
            "`docker compose up -d rabbitmq`) or point AMQP_URL at yours, then run `make run` again."
        )
    base = Path(env["VAR_DIR"]).resolve() / "rabbitmq"
    base.mkdir(parents=True, exist_ok=True)
    log(f"RabbitMQ is down; starting a private node under {base}")
    node_env = env | {
        "RABBITMQ_NODENAME": PRIVATE_NODE,
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(port + 20000),
        "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
        "RABBITMQ_LOG_BASE": str(base / "log"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
    }
    subprocess.run([server, "-detached"], env=node_env, check=False, timeout=60)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if reachable(host, port):
            return
        time.sleep(0.5)
    sys.exit(f"Started a private RabbitMQ node but {host}:{port} stayed closed for 60 s; see {base / 'log'}")


def set_broker_policies(env: dict[str, str]) -> None:
    """The vhost's policies (delivery limit, dead-lettering), set with rabbitmqctl on a broker of this machine
    (its usual node, else the private one ensure_broker starts). A broker elsewhere, such as docker compose's,
    loads them from its definitions; without them a message that keeps failing is redelivered for ever."""
    url = urlparse(env["AMQP_URL"])
    vhost = vhost_of(env["AMQP_URL"])
    limit = int(env.get("DELIVERY_LIMIT", DEFAULT_DELIVERY_LIMIT))
    if shutil.which("rabbitmqctl") is None or url.hostname not in {"localhost", "127.0.0.1"}:
        log(f"set the broker policies on {vhost!r} yourself: python -m clinic_shared.messaging.broker_users")
        return
    failures = []
    for node in (env.get("RABBITMQ_NODENAME"), PRIVATE_NODE):
        run = functools.partial(rabbitmqctl_on, node, env)
        try:
            for step in apply_policies(vhost, delivery_limit=limit, run=run):
                log(step)
            return
        except RuntimeError as failure:
            failures.append(str(failure))
    log("could not set the broker policies (" + "; ".join(failures) + ")")


def rabbitmqctl_on(
    node: str | None, env: dict[str, str], args: Sequence[str]
) -> subprocess.CompletedProcess[str]:
    command = ["rabbitmqctl", "-q", *(["-n", node] if node else []), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)


def kept_secret(var_dir: Path, name: str) -> str:
    """A secret made once and kept under var/keys, so what it signs survives restarts."""
    path = var_dir / "keys" / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def document_link_secret(var_dir: Path) -> str:
    """Billing's link secret: links in the dev mailbox keep working after a restart."""
    return kept_secret(var_dir, "document-link-secret")


def web_secret_key(var_dir: Path) -> str:
    """The web front's session key: signed-in browsers stay signed in after a restart."""
    return kept_secret(var_dir, "web-secret-key")


class StepFailed(Exception):
    def __init__(self, command: str, returncode: int, output: str) -> None:
        super().__init__(f"`{command}` failed (exit status {returncode})")
        self.output = output


def prepare_service(service: str, env: dict[str, str]) -> str:
    """Migrate, declare the broker topology, seed the demo; returns what the steps printed."""
    printed = []
    for step in ("migrate", "setup-broker", "seed-demo"):
        result = subprocess.run(
            [str(BIN / service), step], env=env, capture_output=True, text=True, timeout=300, check=False
        )
        printed.append(result.stdout + result.stderr)  # stderr: warnings such as a skipped demo visit
        if result.returncode != 0:
            raise StepFailed(f"{service} {step}", result.returncode, "".join(printed))
    return "".join(printed)


def prepare(env: dict[str, str]) -> None:
    """Prepare the three services side by side (they share nothing but the broker's idempotent declares).

    Every consumer's queue must exist before the first event is relayed, or it would miss it: the
    workers start only after this. Scheduling's seed plays the demo's recent past with its clock set
    back; its events wait in the outbox meanwhile, and billing's prices and fee policy (seeded here too)
    are in place before they arrive.
    """
    log(f"migrating and seeding {', '.join(SERVICES)}")
    with ThreadPoolExecutor(len(SERVICES)) as pool:
        futures = [pool.submit(prepare_service, service, env) for service in SERVICES]
    for future in futures:
        print(future.result(), end="", flush=True)


def web_installed() -> bool:
    """Whether the web front's app can be imported here (services/web may not be installed yet)."""
    try:
        return importlib.util.find_spec("web.entrypoints.app") is not None
    except ImportError:
        return False


def procfile_processes(with_web: bool) -> list[str]:
    names = []
    for line in PROCFILE.read_text().splitlines():
        name, colon, _ = line.partition(":")
        if colon and name.strip() and not name.lstrip().startswith("#"):
            names.append(name.strip())
    return [name for name in names if with_web or name != WEB]


class Honcho:
    """Honcho as a child process; SIGINT and SIGTERM sent to the launcher are passed on to it.

    On Ctrl-C the terminal signals honcho too; a second signal changes nothing for honcho.
    """

    def __init__(self, env: dict[str, str], processes: list[str]) -> None:
        self.stopping = False
        self.process: subprocess.Popen[bytes] | None = None
        signal.signal(signal.SIGINT, self._forward)
        signal.signal(signal.SIGTERM, self._forward)
        command = [str(BIN / "honcho"), "-d", str(ROOT), "-f", str(PROCFILE), "start", *processes]
        self.process = subprocess.Popen(command, env=env)
        if self.stopping:  # a signal came before honcho existed
            self.process.send_signal(signal.SIGTERM)

    def _forward(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signum)

    @property
    def running(self) -> bool:
        return not self.stopping and self.process is not None and self.process.poll() is None

    def wait(self) -> int:
        assert self.process is not None
        return self.process.wait()


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:  # noqa: S310 - our own http URL
            return response.status == 200
    except (urllib.error.URLError, http.client.HTTPException, OSError):  # not up, or not HTTP
        return False


def wait_healthy(urls: dict[str, str], honcho: Honcho) -> bool:
    """Wait until every web process answers /healthz; False if honcho stopped or the deadline passed."""
    pending = dict(urls)
    deadline = time.monotonic() + HEALTHY_WITHIN
    while pending:
        if not honcho.running:
            return False
        pending = {name: url for name, url in pending.items() if not healthy(url)}
        if pending and time.monotonic() > deadline:
            log(f"{', '.join(pending)} did not answer /healthz in {HEALTHY_WITHIN:.0f} s; see the log above")
            return False
        time.sleep(0.25)
    return True


def post_start(command: list[str], env: dict[str, str], honcho: Honcho) -> bool:
    """Run a seed step that needs the services running; stop it if honcho stops or it overruns."""
    # Its own session: Ctrl-C reaches the launcher and honcho, and the launcher ends this step itself.
    step = subprocess.Popen(command, env=env, start_new_session=True)
    deadline = time.monotonic() + POST_START_WITHIN
    while True:
        try:
            return step.wait(timeout=0.25) == 0
        except subprocess.TimeoutExpired:
            if honcho.running and time.monotonic() < deadline:
                continue
        step.terminate()
        try:
            step.wait(timeout=10)
        except subprocess.TimeoutExpired:
            step.kill()
            step.wait()
        return False


def banner(env: dict[str, str], with_web: bool) -> None:
    width = max(len(email) for _, email, _ in demo.credentials())
    lines = ["The demo clinic is ready. Sign in with:"]
    lines += [f"  {label:<14} {email:<{width}}  {password}" for label, email, password in demo.credentials()]
    lines.append(
        "APIs: "
        + "  ".join(f"{name} http://127.0.0.1:{env[f'{name.upper()}_PORT']}/docs" for name in SERVICES)
        + f"  (dev mailbox: {env['MAILBOX_DIR']})"
    )
    if with_web:
        lines.append(f"open {env['WEB_PUBLIC_URL']}    Ctrl-C stops everything")
    else:
        lines.append(
            f"open http://127.0.0.1:{env['SCHEDULING_PORT']}/docs (the web front, services/web, is not "
            "installed)    Ctrl-C stops everything"
        )
    for line in lines:
        log(line)


def main() -> None:
    env = dict(os.environ)
    env.setdefault("VAR_DIR", str(ROOT / "var"))
    env.setdefault("AMQP_URL", DEFAULT_AMQP_URL)
    env.setdefault("BIND_HOST", "127.0.0.1")
    env.setdefault("SCHEDULING_PORT", "8001")
    env.setdefault("BILLING_PORT", "8002")
    env.setdefault("NOTIFICATIONS_PORT", "8003")
    env.setdefault("WEB_PORT", "8000")
    for service in SERVICES:
        env.setdefault(f"{service.upper()}_URL", f"http://127.0.0.1:{env[f'{service.upper()}_PORT']}")
    env.setdefault("WEB_PUBLIC_URL", f"http://127.0.0.1:{env['WEB_PORT']}")
    env.setdefault("JWKS_URL", f"http://127.0.0.1:{env['SCHEDULING_PORT']}/.well-known/jwks.json")
    env.setdefault("MAILBOX_DIR", str(Path(env["VAR_DIR"]) / "mailbox"))
    env.setdefault("SMS_SINK_DIR", str(Path(env["VAR_DIR"]) / "sms"))
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    Path(env["VAR_DIR"]).mkdir(parents=True, exist_ok=True)
    env.setdefault("BILLING_PUBLIC_URL", f"http://127.0.0.1:{env['BILLING_PORT']}")
    if "DOCUMENT_LINK_SECRET" not in env:
        env["DOCUMENT_LINK_SECRET"] = document_link_secret(Path(env["VAR_DIR"]))
    if "WEB_SECRET_KEY" not in env:
        env["WEB_SECRET_KEY"] = web_secret_key(Path(env["VAR_DIR"]))
    ensure_broker(env)
    set_broker_policies(env)
    try:
        prepare(env)
    except StepFailed as failure:
        print(failure.output, end="", file=sys.stderr)
        sys.exit(f"{failure}; see above")
    except KeyboardInterrupt:
        sys.exit(130)
    with_web = web_installed()
    if not with_web:
        log("the web front (services/web) is not installed; starting the services without it")
    honcho = Honcho(env, procfile_processes(with_web))
    names = [*SERVICES, WEB] if with_web else list(SERVICES)
    urls = {name: f"http://127.0.0.1:{env[f'{name.upper()}_PORT']}" for name in names}
    if wait_healthy(urls, honcho) and honcho.running:
        if not post_start([str(BIN / "billing"), "seed-demo", "--invoices"], env, honcho) and honcho.running:
            log("the demo invoices were not seeded (see above); everything else is running")
        if honcho.running:
            banner(env, with_web)
    sys.exit(honcho.wait())


if __name__ == "__main__":
    main()
