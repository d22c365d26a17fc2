"""A throw-away 3-node RabbitMQ cluster on this machine, for tests: no containers, nothing shared with the
main broker.

Each node is a separate ``rabbitmq-server`` (the real scripts in ``/usr/lib/rabbitmq/bin``, run as the
current user, not the ``/usr/sbin`` wrappers that ``su`` to ``rabbitmq`` and ``cd`` into the main broker's
home) with:

- its own short node name (``rabbit-c1@localhost`` ...; the main broker is ``rabbit@localhost``), AMQP port
  and Erlang distribution port, all picked free at start, bound to 127.0.0.1;
- its own ``RABBITMQ_MNESIA_BASE``, ``RABBITMQ_LOG_BASE``, config file, enabled-plugins file (none: no
  management listener to collide on 15672) and an empty ``RABBITMQ_CONF_ENV_FILE``, so
  ``/etc/rabbitmq/rabbitmq-env.conf`` (which names the main node) is never read;
- ``HOME`` set to the cluster's directory, holding one ``.erlang.cookie`` (mode 0400): the server and every
  ``rabbitmqctl`` call read the cookie from ``$HOME`` (``RABBITMQ_ERLANG_COOKIE`` is deprecated on 3.10),
  so the nodes and the CLI share it and never see the main broker's cookie.

They register with the machine's epmd, like the main broker. The cluster is formed with ``rabbitmqctl -n
<node> stop_app; join_cluster <first>; start_app``. ``close`` stops every node (``rabbitmqctl stop``) and then
kills the process group of each ``rabbitmq-server`` it started (beam, erl_child_setup, inet_gethost): no
node survives a failed test. Only processes this helper started are ever signalled.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from clinic_shared.testing.ports import free_port

SBIN = Path(os.environ.get("RABBITMQ_SBIN", "/usr/lib/rabbitmq/bin"))
CLUSTER_SIZE = 3
_START_TIMEOUT = 120.0


class ClusterError(RuntimeError):
    pass


@dataclass
class RabbitNode:
    """One node of a ``RabbitCluster``; ``process`` is its ``rabbitmq-server`` (a process group leader)."""

    name: str
    amqp_port: int
    dist_port: int
    base: Path
    env: dict[str, str] = field(repr=False)
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.amqp_port}/%2F"

    @property
    def log_dir(self) -> Path:
        return self.base / "log"

    def accepts_connections(self, timeout: float = 1.0) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.amqp_port), timeout=timeout):
                return True
        except OSError:
            return False


class RabbitCluster:
    """Start with ``start()`` (or use ``rabbit_cluster()``), always ``close()``."""

    def __init__(self, size: int = CLUSTER_SIZE, *, base_dir: Path | None = None, prefix: str = "rabbit-c"):
        if size < 1:
            raise ValueError("size must be >= 1")
        self._own_dir = base_dir is None
        self.base = Path(base_dir or tempfile.mkdtemp(prefix="rabbit-cluster-"))
        self.home = self.base / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        cookie = self.home / ".erlang.cookie"
        if not cookie.exists():
            cookie.write_text(secrets.token_hex(20).upper())
            cookie.chmod(0o400)
        # Distinct names per cluster so two runs (or a straggler from a crashed one) never collide in epmd.
        tag = secrets.token_hex(2)
        self.nodes = [self._define(f"{prefix}{i}-{tag}@localhost", i) for i in range(1, size + 1)]

    # -- definition ---------------------------------------------------------------------------------------

    def _define(self, name: str, index: int) -> RabbitNode:
        base = self.base / f"node{index}"
        for sub in ("mnesia", "log", "etc"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        amqp_port, dist_port = free_port(), free_port()
        while dist_port == amqp_port:
            dist_port = free_port()
        config = base / "etc" / "rabbitmq.conf"
        config.write_text(
            "\n".join(
                [
                    f"listeners.tcp.1 = 127.0.0.1:{amqp_port}",
                    "loopback_users.guest = true",
                    "disk_free_limit.absolute = 10MB",
                    "vm_memory_high_watermark.relative = 0.2",
                    "log.console = false",
                    "log.file.level = info",
                    "cluster_partition_handling = pause_minority",
                    "",
                ]
            )
        )
        (base / "etc" / "enabled_plugins").write_text("[].\n")
        (base / "etc" / "rabbitmq-env.conf").write_text("")
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("RABBITMQ_", "ERL_")) and key not in {"NODENAME", "CONFIG_FILE"}
        }
        env.update(
            HOME=str(self.home),
            RABBITMQ_NODENAME=name,
            RABBITMQ_USE_LONGNAME="false",
            RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_NODE_PORT=str(amqp_port),
            RABBITMQ_DIST_PORT=str(dist_port),
            RABBITMQ_CONF_ENV_FILE=str(base / "etc" / "rabbitmq-env.conf"),
            RABBITMQ_CONFIG_FILE=str(config),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(base / "etc" / "advanced.config"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(base / "etc" / "enabled_plugins"),
            RABBITMQ_MNESIA_BASE=str(base / "mnesia"),
            RABBITMQ_LOG_BASE=str(base / "log"),
            RABBITMQ_PID_FILE=str(base / "rabbit.pid"),
            ERL_EPMD_ADDRESS="127.0.0.1",
            # Two cores shared by three nodes: keep each VM small and polite.
            # Distribution on loopback only, as the main broker's.
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=(
                "+S 1:1 +sbwt none +sbwtdcpu none +sbwtdio none -kernel inet_dist_use_interface {127,0,0,1}"
            ),
        )
        return RabbitNode(name=name, amqp_port=amqp_port, dist_port=dist_port, base=base, env=env)

    # -- life cycle ---------------------------------------------------------------------------------------

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    @property
    def amqp_url(self) -> str:
        """Every node's URL, comma-separated: the form ``AMQP_URL`` accepts for a cluster."""
        return ",".join(self.urls)

    def start(self, timeout: float = _START_TIMEOUT) -> RabbitCluster:
        """Boot every node, join the others to the first, wait until all run; raises ClusterError."""
        for node in self.nodes:
            self._spawn(node)
        for node in self.nodes:
            self.await_startup(node, timeout)
        first = self.nodes[0]
        for node in self.nodes[1:]:
            self.ctl(node, "stop_app")
            self.ctl(node, "join_cluster", first.name)
            self.ctl(node, "start_app")
            self.await_startup(node, timeout)
        self.await_cluster(timeout=timeout)
        return self

    def _spawn(self, node: RabbitNode) -> None:
        log = open(node.base / "log" / "server.out", "ab")  # noqa: SIM115 - owned by the child
        try:
            node.process = subprocess.Popen(
                [str(SBIN / "rabbitmq-server")],
                env=node.env,
                cwd=node.base,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()

    def ctl(self, node: RabbitNode, *args: str, timeout: float = 90, check: bool = True) -> str:
        """Run ``rabbitmqctl -n <node> args`` with the cluster's cookie; returns stdout."""
        return self._cli("rabbitmqctl", node, *args, timeout=timeout, check=check)

    def _cli(self, tool: str, node: RabbitNode, *args: str, timeout: float, check: bool) -> str:
        try:
            result = subprocess.run(
                [str(SBIN / tool), "-n", node.name, *args],
                env=node.env,
                cwd=node.base,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as exc:
            raise ClusterError(f"{tool} {' '.join(args)} on {node.name} timed out") from exc
        if check and result.returncode != 0:
            raise ClusterError(
                f"{tool} {' '.join(args)} on {node.name} failed ({result.returncode}): "
                f"{result.stdout.strip()} {result.stderr.strip()}"
            )
        return result.stdout

    def await_startup(self, node: RabbitNode, timeout: float = _START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if node.process is not None and node.process.poll() is not None:
                raise ClusterError(f"{node.name} exited with {node.process.returncode}; see {node.log_dir}")
            try:
                self.ctl(node, "await_startup", "--timeout", "10", timeout=30)
                if node.accepts_connections():
                    return
            except ClusterError:
                pass
            if time.monotonic() > deadline:
                raise ClusterError(f"{node.name} did not start within {timeout}s; see {node.log_dir}")
            time.sleep(0.5)

    def running_nodes(self, via: RabbitNode | None = None) -> set[str]:
        out = self.ctl(via or self.nodes[0], "eval", "rabbit_nodes:all_running().", timeout=30)
        return {part.strip(" '\n[]") for part in out.replace("\n", "").strip("[]").split(",") if part.strip()}

    def await_cluster(self, expected: int | None = None, timeout: float = 60) -> None:
        """Wait until ``expected`` (default all) nodes are running members of one cluster."""
        want = len(self.nodes) if expected is None else expected
        deadline = time.monotonic() + timeout
        seen: set[str] = set()
        while time.monotonic() < deadline:
            for via in self.nodes:
                with contextlib.suppress(ClusterError):
                    seen = self.running_nodes(via)
                    if len(seen) >= want:
                        return
                    break
            time.sleep(0.5)
        raise ClusterError(f"cluster has {sorted(seen)} running, wanted {want}")

    def running_node(self) -> RabbitNode:
        for node in self.nodes:
            if node.accepts_connections():
                return node
        raise ClusterError("no node accepts connections")

    # -- faults -------------------------------------------------------------------------------------------

    def stop_app(self, node: RabbitNode) -> None:
        """Stop the RabbitMQ application (AMQP listener closed, clients cut); the Erlang VM keeps running."""
        self.ctl(node, "stop_app")

    def start_app(self, node: RabbitNode, timeout: float = _START_TIMEOUT) -> None:
        self.ctl(node, "start_app", timeout=timeout)
        self.await_startup(node, timeout)

    def kill(self, node: RabbitNode) -> None:
        """SIGKILL the node's whole process group (as a crash would)."""
        if node.process is not None and node.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(node.process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                node.process.wait(timeout=10)

    def restart(self, node: RabbitNode, timeout: float = _START_TIMEOUT) -> None:
        """Boot a killed node again on its own data; it rejoins the cluster by itself."""
        if node.process is not None and node.process.poll() is None:
            raise ClusterError(f"{node.name} is still running")
        self._spawn(node)
        self.await_startup(node, timeout)

    # -- teardown -----------------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop every node, kill what is left of the processes it started, remove its directory."""
        for node in self.nodes:
            if node.process is not None and node.process.poll() is None:
                with contextlib.suppress(ClusterError, OSError):
                    self.ctl(node, "stop", timeout=30, check=False)
        for node in self.nodes:
            process = node.process
            if process is None:
                continue
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=15)
            # The group outlives the script when beam (or its helpers) lingers: kill it regardless.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
        if self._own_dir and not os.environ.get("KEEP_RABBIT_CLUSTER_DIR"):
            subprocess.run(["rm", "-rf", str(self.base)], check=False)

    def __enter__(self) -> RabbitCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def rabbit_cluster(size: int = CLUSTER_SIZE, *, base_dir: Path | None = None) -> Iterator[RabbitCluster]:
    """A running cluster of ``size`` nodes for the duration of the block; torn down even when start fails."""
    cluster = RabbitCluster(size, base_dir=base_dir)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.close()
