"""The Redis counter store on the real Redis at 127.0.0.1:6379: the same contract as the SQLite one."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
import redis

from clinic_shared.throttle import RedisCounterStore, counter_store

pytestmark = pytest.mark.integration

REDIS_URL = "redis://127.0.0.1:6379/0"
WINDOW = timedelta(minutes=15)


@pytest.fixture
def prefix() -> Iterator[str]:
    prefix = f"test-throttle-{uuid.uuid4().hex}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


def test_hits_add_up_in_a_window_that_expires_on_its_own(prefix: str) -> None:
    store = RedisCounterStore(REDIS_URL, prefix)
    first = store.hit("k", WINDOW)
    assert first.count == 1
    assert WINDOW - timedelta(seconds=5) < first.resets_in <= WINDOW
    assert store.hit("k", WINDOW).count == 2
    assert store.hit("other", WINDOW).count == 1
    ttl_ms = redis.Redis.from_url(REDIS_URL).pttl(f"{prefix}k")
    assert 0 < ttl_ms <= WINDOW.total_seconds() * 1000, "the window's expiry is set in Redis"

    store.hit("short", timedelta(milliseconds=200))
    time.sleep(0.5)
    assert store.peek("short") is None
    assert store.hit("short", timedelta(milliseconds=200)).count == 1


def test_peek_reads_without_counting_and_clear_forgets(prefix: str, tmp_path: Path) -> None:
    store = counter_store(redis_url=REDIS_URL, sqlite_file=tmp_path / "unused.db", prefix=prefix)
    assert isinstance(store, RedisCounterStore), "a configured Redis is used"
    assert store.peek("k") is None
    store.hit("k", WINDOW)
    store.hit("k", WINDOW)
    for _ in range(2):
        tally = store.peek("k")
        assert tally is not None
        assert tally.count == 2
    store.clear("k", "never-hit")
    assert store.peek("k") is None


def test_concurrent_hits_never_lose_a_count(prefix: str) -> None:
    store = RedisCounterStore(REDIS_URL, prefix)
    with ThreadPoolExecutor(8) as pool:
        counts = list(pool.map(lambda _: store.hit("shared", WINDOW).count, range(400)))
    assert sorted(counts) == list(range(1, 401))
