"""A private 3-node RabbitMQ cluster (clinic_shared.testing.rabbit_cluster) per test module."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from clinic_shared.testing.rabbit_cluster import RabbitCluster, rabbit_cluster

# The shared messaging tests' tables, events and helpers (outbox, inbox, effects, running(), ...).
_SUPPORT = str(Path(__file__).resolve().parents[2] / "shared" / "tests" / "integration")
if _SUPPORT not in sys.path:
    sys.path.insert(0, _SUPPORT)


@pytest.fixture(scope="module")
def cluster() -> Iterator[RabbitCluster]:
    with rabbit_cluster(3) as running:
        yield running
