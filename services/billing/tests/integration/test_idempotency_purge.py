"""Idempotency-Keys are kept for the retention and then purged in batches: by the worker and by the CLI.

Each test runs on SQLite and on PostgreSQL (the ``database_url`` fixture is parametrized over both).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from billing.adapters import orm
from billing.bootstrap import Container, bootstrap
from billing.entrypoints.worker import idempotency_purge
from billing.service_layer import idempotency_keys
from billing.service_layer.unit_of_work import BillingUnitOfWork

from ..conftest import NOW, ManualClock, billing_settings
from .test_migrations_and_cli import run

RETENTION = timedelta(hours=168)


@pytest.fixture
def keys(database_url: str, clock: ManualClock) -> Iterator[Container]:
    """A container over the test database whose clock the test sets."""
    container = bootstrap(billing_settings(database_url), clock=clock)
    yield container
    container.engine.dispose()


def store_keys(
    container: Container, clock: ManualClock, account_id: uuid.UUID, ages: dict[str, timedelta]
) -> None:
    """One stored response per key, created ``age`` before NOW."""
    for key, age in ages.items():
        clock.set(NOW - age)
        with container.uow() as uow:
            uow.repo.claim_idempotency_key(account_id, key, "f" * 64, clock.now())
            uow.repo.store_response(account_id, key, 201, {"key": key})
            uow.commit()
    clock.set(NOW)


def keys_of(container: Container, account_id: uuid.UUID) -> set[str]:
    with container.engine.connect() as conn:
        t = orm.idempotency_keys.c
        return set(conn.execute(select(t.key).where(t.account_id == account_id)).scalars())


def test_keys_older_than_the_retention_are_purged_in_batches_and_newer_ones_kept(
    keys: Container, clock: ManualClock
) -> None:
    account_id = uuid.uuid4()
    old = {f"old-{n}": RETENTION + timedelta(minutes=n + 1) for n in range(7)}
    young = {"young": RETENTION - timedelta(minutes=1), "fresh": timedelta(0)}
    store_keys(keys, clock, account_id, old | young)

    purged = idempotency_keys.purge_idempotency_keys(keys.uow, RETENTION, batch_size=3)

    assert purged >= len(old)  # on PostgreSQL the module's other tests may have left old keys too
    assert keys_of(keys, account_id) == set(young)
    assert idempotency_keys.purge_idempotency_keys(keys.uow, RETENTION, batch_size=3) == 0


def test_the_purge_deletes_one_batch_per_transaction(keys: Container, clock: ManualClock) -> None:
    account_id = uuid.uuid4()
    store_keys(keys, clock, account_id, {f"k{n}": RETENTION * 2 for n in range(5)})
    commits: list[int] = []
    make = keys.uow

    def counting_uow() -> BillingUnitOfWork:
        uow = make()
        original = uow.commit

        def commit() -> None:
            commits.append(1)
            original()

        uow.commit = commit  # type: ignore[method-assign]
        return uow

    idempotency_keys.purge_idempotency_keys(counting_uow, RETENTION, batch_size=2)

    assert keys_of(keys, account_id) == set()
    assert len(commits) >= 3  # 2 + 2 + 1 (plus a batch or two of other tests' keys on PostgreSQL)


def test_the_cli_verb_purges_expired_keys_and_honours_the_setting(
    keys: Container, clock: ManualClock, database_url: str
) -> None:
    account_id = uuid.uuid4()
    now = datetime.now(tz=NOW.tzinfo)
    clock.set(now)
    for key, age in {"ancient": timedelta(days=30), "yesterday": timedelta(hours=30)}.items():
        clock.set(now - age)
        with keys.uow() as uow:
            uow.repo.claim_idempotency_key(account_id, key, "f" * 64, clock.now())
            uow.commit()

    default = run(["purge-idempotency-keys"], BILLING_DATABASE_URL=database_url)
    assert keys_of(keys, account_id) == {"yesterday"}
    shorter = run(
        ["purge-idempotency-keys"], BILLING_DATABASE_URL=database_url, IDEMPOTENCY_KEY_RETENTION_HOURS="24"
    )

    assert "older than 168 hours" in default
    assert "older than 24 hours" in shorter
    assert keys_of(keys, account_id) == set()


def test_the_worker_loop_purges_on_start_and_stops_when_told(keys: Container, clock: ManualClock) -> None:
    account_id = uuid.uuid4()
    store_keys(keys, clock, account_id, {"stale": RETENTION * 2, "live": timedelta(hours=1)})
    stop = threading.Event()
    purger = idempotency_purge(keys.uow, RETENTION, interval=3600)
    thread = threading.Thread(target=purger.run, args=(stop,))

    thread.start()
    for _ in range(100):
        if keys_of(keys, account_id) == {"live"}:
            break
        stop.wait(0.05)
    stop.set()
    thread.join(timeout=5)

    assert not thread.is_alive()
    assert keys_of(keys, account_id) == {"live"}
