"""Throw-away RabbitMQ virtual hosts for tests, so every test run has a clean broker namespace."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

from clinic_shared.messaging.policies import DEFAULT_DELIVERY_LIMIT, broker_policies

RABBITMQCTL = os.environ.get("RABBITMQCTL", "rabbitmqctl")


def broker_base() -> str:
    return os.environ.get("TEST_AMQP_BASE", "amqp://guest:guest@127.0.0.1:5672")


class RabbitmqctlError(subprocess.CalledProcessError):
    """A failed rabbitmqctl call whose message says what rabbitmqctl said."""

    def __str__(self) -> str:
        said = (self.stderr or self.stdout or "").strip()[-500:]
        return f"{super().__str__()}: {said}"


def rabbitmqctl(*args: str, timeout: float = 60, attempts: int = 1) -> str:
    """Run rabbitmqctl and return its stdout; raises RabbitmqctlError (a CalledProcessError) on failure.

    ``attempts`` > 1 retries an idempotent call: on a loaded machine the CLI sometimes fails to reach the
    node (seen in CI as exit 64 from add_vhost and set_permissions), though the broker is fine.
    """
    for attempt in range(1, attempts + 1):
        result = subprocess.run([RABBITMQCTL, *args], capture_output=True, text=True, timeout=timeout)
        if result.returncode == 0:
            return result.stdout
        if attempt < attempts:
            time.sleep(attempt)
    raise RabbitmqctlError(result.returncode, result.args, output=result.stdout, stderr=result.stderr)


@contextmanager
def temporary_vhost(prefix: str = "test", *, delivery_limit: int = DEFAULT_DELIVERY_LIMIT) -> Iterator[str]:
    """Create a vhost with full permissions for guest and the broker policies; yield its AMQP URL; delete it
    on exit."""
    name = f"{prefix}-{uuid.uuid4().hex[:12]}"
    rabbitmqctl("add_vhost", name, attempts=3)  # an existing vhost is a success: safe to retry
    try:
        rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*", attempts=3)
        set_policies(name, delivery_limit=delivery_limit)
        yield f"{broker_base()}/{quote(name, safe='')}"
    finally:
        try:
            rabbitmqctl("delete_vhost", name, attempts=3)
        except RabbitmqctlError as error:
            # A retry after an attempt that deleted it yet reported a failure finds nothing: done.
            if "does not exist" not in (error.stderr or "") + (error.stdout or ""):
                raise


def set_policies(vhost: str, *, delivery_limit: int = DEFAULT_DELIVERY_LIMIT) -> None:
    """Set (or change) the broker policies on a test's vhost, as ``broker_users`` does on a real one."""
    for policy in broker_policies(delivery_limit):
        rabbitmqctl(*policy.set_policy_args(vhost), attempts=3)
