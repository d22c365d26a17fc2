"""Throw-away RabbitMQ virtual hosts for tests, so every test run has a clean broker namespace."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

RABBITMQCTL = os.environ.get("RABBITMQCTL", "rabbitmqctl")


def broker_base() -> str:
    return os.environ.get("TEST_AMQP_BASE", "amqp://guest:guest@127.0.0.1:5672")


def rabbitmqctl(*args: str, timeout: float = 60) -> str:
    """Run rabbitmqctl and return its stdout; raises CalledProcessError on failure."""
    result = subprocess.run([RABBITMQCTL, *args], check=True, capture_output=True, text=True, timeout=timeout)
    return result.stdout


@contextmanager
def temporary_vhost(prefix: str = "test") -> Iterator[str]:
    """Create a vhost with full permissions for guest; yield its AMQP URL; delete it on exit."""
    name = f"{prefix}-{uuid.uuid4().hex[:12]}"
    rabbitmqctl("add_vhost", name)
    try:
        rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        yield f"{broker_base()}/{quote(name, safe='')}"
    finally:
        rabbitmqctl("delete_vhost", name)
