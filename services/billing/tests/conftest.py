"""Fixtures for billing's tests: migrated SQLite and PostgreSQL databases, a RabbitMQ vhost, an app client.

PostgreSQL databases and RabbitMQ vhosts are created per test module (they take a second or two each);
tests share them and therefore always work with fresh random ids, never with totals over a whole table.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from billing.bootstrap import Container, bootstrap
from billing.config import BillingSettings
from billing.entrypoints.api import create_app
from billing.entrypoints.cli import MIGRATIONS
from clinic_shared.migrations import upgrade
from clinic_shared.testing.clock import ManualClock
from clinic_shared.testing.postgres import temporary_database
from clinic_shared.testing.rabbit import temporary_vhost
from clinic_shared.testing.tokens import TestIssuer

# Monday 3 March 2025, 09:00 in Vancouver.
NOW = datetime(2025, 3, 3, 17, 0, tzinfo=UTC)


def billing_settings(
    database_url: str,
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/%2F",
    extra: Mapping[str, str] | None = None,
) -> BillingSettings:
    """Settings as the environment would give them, pointing at the test's database and broker."""
    return BillingSettings.from_env(
        {"BILLING_DATABASE_URL": database_url, "AMQP_URL": amqp_url, "VAR_DIR": "/nonexistent"}
        | dict(extra or {})
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def issuer() -> TestIssuer:
    return TestIssuer()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/billing.db"
    upgrade(url, MIGRATIONS)
    return url


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with temporary_database("billing") as url:
        upgrade(url, MIGRATIONS)
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test using it runs on SQLite (embedded mode) and on PostgreSQL."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


@pytest.fixture(scope="module")
def amqp_url() -> Iterator[str]:
    with temporary_vhost("billing") as url:
        yield url


@pytest.fixture
def container(database_url: str, clock: ManualClock, issuer: TestIssuer) -> Iterator[Container]:
    c = bootstrap(billing_settings(database_url), clock=clock, verifier=issuer.verifier())
    yield c
    c.engine.dispose()


@pytest.fixture
def client(container: Container) -> FlaskClient:
    app = create_app(container=container)
    app.testing = True
    return app.test_client()
