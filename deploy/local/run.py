"""`make run`: check the broker, migrate and seed each service, then run every process in the foreground.

Ctrl-C (SIGINT) stops them all. The embedded default is SQLite files under var/ for each service; set
<SERVICE>_DATABASE_URL to use PostgreSQL. Nothing here hangs: every wait has a deadline.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DEFAULT_AMQP_URL = "amqp://guest:guest@localhost:5672/%2F"


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
        "RABBITMQ_NODENAME": "ims-dev@localhost",
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


def document_link_secret(var_dir: Path) -> str:
    """Billing's link secret, made once and kept under var/ so links in the dev mailbox survive restarts."""
    path = var_dir / "keys" / "document-link-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def prepare(env: dict[str, str]) -> None:
    for service in ("scheduling", "billing", "notifications"):
        subprocess.run([str(BIN / service), "migrate"], env=env, check=True, timeout=300)
        # Every consumer's queue must exist before the first event is relayed, or it would miss it.
        subprocess.run([str(BIN / service), "setup-broker"], env=env, check=True, timeout=60)
    subprocess.run([str(BIN / "scheduling"), "seed-demo"], env=env, check=True, timeout=120)
    subprocess.run([str(BIN / "billing"), "seed-demo"], env=env, check=True, timeout=120)


def main() -> None:
    env = dict(os.environ)
    env.setdefault("VAR_DIR", str(ROOT / "var"))
    env.setdefault("AMQP_URL", DEFAULT_AMQP_URL)
    env.setdefault("BIND_HOST", "127.0.0.1")
    env.setdefault("SCHEDULING_PORT", "8001")
    env.setdefault("BILLING_PORT", "8002")
    env.setdefault("NOTIFICATIONS_PORT", "8003")
    env.setdefault("JWKS_URL", f"http://127.0.0.1:{env['SCHEDULING_PORT']}/.well-known/jwks.json")
    env.setdefault("MAILBOX_DIR", str(Path(env["VAR_DIR"]) / "mailbox"))
    env.setdefault("SMS_SINK_DIR", str(Path(env["VAR_DIR"]) / "sms"))
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    Path(env["VAR_DIR"]).mkdir(parents=True, exist_ok=True)
    env.setdefault("BILLING_PUBLIC_URL", f"http://127.0.0.1:{env['BILLING_PORT']}")
    if "DOCUMENT_LINK_SECRET" not in env:
        env["DOCUMENT_LINK_SECRET"] = document_link_secret(Path(env["VAR_DIR"]))
    ensure_broker(env)
    prepare(env)
    log(
        f"scheduling http://127.0.0.1:{env['SCHEDULING_PORT']}/docs  "
        f"billing http://127.0.0.1:{env['BILLING_PORT']}/docs  "
        f"notifications http://127.0.0.1:{env['NOTIFICATIONS_PORT']}/docs  "
        f"(dev mailbox: {env['MAILBOX_DIR']}); Ctrl-C stops everything"
    )
    honcho = [str(BIN / "honcho"), "-d", str(ROOT), "-f", str(ROOT / "deploy/local/Procfile"), "start"]
    os.execvpe(honcho[0], honcho, env)  # noqa: S606 - replace this process so Ctrl-C reaches honcho directly


if __name__ == "__main__":
    main()
