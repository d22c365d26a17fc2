"""Counting attempts across every worker: how often something happened lately, in Redis or a SQLite file.

A counter lives in a fixed window that its first hit opens: hits within the window add up, and once the
window has ended the next hit starts a new one at 1. A counter can also stand for a mark that lasts a
while (a lock): hit it once with the mark's duration, and it is there until its window ends or it is
cleared.

Two stores share the ``CounterStore`` interface: Redis when ``REDIS_URL`` is set (every host sees the
same counts), and an embedded SQLite file otherwise (every gunicorn worker of one host shares it; WAL, so
readers never wait for the writer, and a busy timeout for writers). Each hit is one atomic statement (a
``MULTI`` transaction on Redis, one upsert on SQLite), so concurrent hits from several workers never lose
a count.
"""

from __future__ import annotations

import math
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class Tally:
    """A counter's value and how long until its window ends."""

    count: int
    resets_in: timedelta


class CounterStore(Protocol):
    """Counters under string keys, each in a window that its first hit opens."""

    def hit(self, key: str, window: timedelta) -> Tally:
        """Add one to ``key``; a key with no open window starts one of length ``window`` at 1."""
        ...

    def peek(self, key: str) -> Tally | None:
        """The counter of ``key`` while its window is open, else None."""
        ...

    def clear(self, *keys: str) -> None:
        """Forget these counters (their next hit starts a new window)."""
        ...


class SqliteCounterStore:
    """Counters in one SQLite file shared by the processes of one host."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self._path = path
        self._clock = clock
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        # One connection per thread (gthread workers), opened on first use: after fork, and only by a
        # process that counts something.
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self._path, timeout=5, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA busy_timeout=5000")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS counters "
                "(key TEXT PRIMARY KEY, count INTEGER NOT NULL, expires REAL NOT NULL)"
            )
            self._local.db = db
        return db

    def hit(self, key: str, window: timedelta) -> Tally:
        db = self._connection()
        now = self._clock()
        rows = db.execute(
            "INSERT INTO counters (key, count, expires) VALUES (:key, 1, :expires) "
            "ON CONFLICT (key) DO UPDATE SET "
            "count = CASE WHEN counters.expires <= :now THEN 1 ELSE counters.count + 1 END, "
            "expires = CASE WHEN counters.expires <= :now THEN excluded.expires ELSE counters.expires END "
            "RETURNING count, expires",
            {"key": key, "now": now, "expires": now + window.total_seconds()},
        ).fetchall()  # fetching every row ends the statement, and with it the write lock
        if secrets.randbelow(500) == 0:  # now and then, forget counters whose window has ended
            db.execute("DELETE FROM counters WHERE expires <= ?", (now,))
        count, expires = rows[0]
        return Tally(int(count), timedelta(seconds=expires - now))

    def peek(self, key: str) -> Tally | None:
        now = self._clock()
        row = (
            self._connection()
            .execute("SELECT count, expires FROM counters WHERE key = ? AND expires > ?", (key, now))
            .fetchone()
        )
        return Tally(int(row[0]), timedelta(seconds=row[1] - now)) if row else None

    def clear(self, *keys: str) -> None:
        if keys:
            marks = ", ".join("?" for _ in keys)
            self._connection().execute(f"DELETE FROM counters WHERE key IN ({marks})", keys)  # noqa: S608


class RedisCounterStore:
    """The same counters in Redis, under ``prefix`` (expiry is Redis's own, on the server's clock)."""

    def __init__(self, url: str, prefix: str) -> None:
        import redis

        self._redis: Any = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._prefix = prefix

    def hit(self, key: str, window: timedelta) -> Tally:
        name = self._prefix + key
        with self._redis.pipeline(transaction=True) as pipe:
            # SET NX opens the window with its expiry; INCR keeps the expiry of an open one.
            pipe.set(name, 0, px=_milliseconds(window), nx=True)
            pipe.incr(name)
            pipe.pttl(name)
            _, count, ttl = pipe.execute()
        return Tally(int(count), timedelta(milliseconds=max(int(ttl), 0)))

    def peek(self, key: str) -> Tally | None:
        name = self._prefix + key
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.get(name)
            pipe.pttl(name)
            raw, ttl = pipe.execute()
        if raw is None or int(ttl) <= 0:
            return None
        return Tally(int(raw), timedelta(milliseconds=int(ttl)))

    def clear(self, *keys: str) -> None:
        if keys:
            self._redis.delete(*(self._prefix + key for key in keys))


def counter_store(
    *, redis_url: str | None, sqlite_file: Path, prefix: str, clock: Callable[[], float] = time.time
) -> CounterStore:
    """Redis when a URL is configured (``prefix`` keeps services apart), else the SQLite file."""
    if redis_url:
        return RedisCounterStore(redis_url, prefix)
    return SqliteCounterStore(sqlite_file, clock)


def _milliseconds(window: timedelta) -> int:
    return max(1, math.ceil(window.total_seconds() * 1000))
