"""Fixtures for shared tests: a throw-away PostgreSQL database and RabbitMQ vhost per test."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from clinic_shared.db import make_engine
from clinic_shared.testing.postgres import temporary_database
from clinic_shared.testing.rabbit import temporary_vhost


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "integration: needs real PostgreSQL and/or RabbitMQ")
    # --import-mode=importlib does not put test directories on sys.path; the messaging tests share a helper
    # module with the worker script they spawn, so it must be importable by plain name.
    helpers = str(Path(__file__).parent / "integration")
    if helpers not in sys.path:
        sys.path.insert(0, helpers)


@pytest.fixture
def pg_url() -> Iterator[str]:
    with temporary_database("shared") as url:
        yield url


@pytest.fixture
def amqp_url() -> Iterator[str]:
    with temporary_vhost("shared") as url:
        yield url


@pytest.fixture
def engine(pg_url: str) -> Iterator[Engine]:
    """An engine on a throw-away PostgreSQL database with the messaging tests' outbox, inbox, effects."""
    from reliable_messaging_support import METADATA  # on sys.path once pytest_configure has run

    engine = make_engine(pg_url)
    METADATA.create_all(engine)
    yield engine
    engine.dispose()
