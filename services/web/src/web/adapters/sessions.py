"""Server-side sessions: the browser holds only a random id; tokens and page state stay on the server.

Two stores share one small interface: Redis when ``REDIS_URL`` is set (several hosts), and an embedded
SQLite file otherwise (every gunicorn worker on one host sees the same sessions). ``claim`` is an atomic
set-if-absent, used to accept each rendered form once (a double-submitted booking books once).
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from flask import Flask, Request, Response
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict


class SessionStore(Protocol):
    """JSON values under string keys, each with a time to live."""

    def load(self, key: str) -> Any: ...

    def save(self, key: str, value: Any, ttl_seconds: int) -> None: ...

    def delete(self, key: str) -> None: ...

    def claim(self, key: str, value: Any, ttl_seconds: int) -> Any:
        """Store ``value`` under ``key`` unless present; return the value already there, or None if stored."""
        ...


class SqliteStore:
    """Key/value rows with an expiry in one SQLite file (WAL, so readers never wait for the writer)."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = str(path)
        self._clock = clock
        self._local = threading.local()
        with self._connection() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires REAL)"
            )

    def _connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self._path, timeout=5, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA busy_timeout=5000")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    def load(self, key: str) -> Any:
        row = (
            self._connection()
            .execute("SELECT value FROM kv WHERE key = ? AND expires > ?", (key, self._clock()))
            .fetchone()
        )
        return json.loads(row[0]) if row else None

    def save(self, key: str, value: Any, ttl_seconds: int) -> None:
        db = self._connection()
        now = self._clock()
        db.execute(
            "INSERT INTO kv (key, value, expires) VALUES (?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires = excluded.expires",
            (key, json.dumps(value, separators=(",", ":")), now + ttl_seconds),
        )
        if secrets.randbelow(200) == 0:  # now and then, forget sessions nobody came back to
            db.execute("DELETE FROM kv WHERE expires <= ?", (now,))

    def delete(self, key: str) -> None:
        self._connection().execute("DELETE FROM kv WHERE key = ?", (key,))

    def claim(self, key: str, value: Any, ttl_seconds: int) -> Any:
        db = self._connection()
        now = self._clock()
        db.execute("DELETE FROM kv WHERE key = ? AND expires <= ?", (key, now))
        inserted = db.execute(
            "INSERT OR IGNORE INTO kv (key, value, expires) VALUES (?, ?, ?)",
            (key, json.dumps(value), now + ttl_seconds),
        ).rowcount
        if inserted:
            return None
        row = db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None


class RedisStore:
    """The same interface on Redis (``SET NX EX`` makes ``claim`` atomic across hosts)."""

    def __init__(self, url: str, prefix: str = "web:") -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._prefix = prefix

    def load(self, key: str) -> Any:
        raw = self._redis.get(self._prefix + key)
        return json.loads(raw) if raw else None

    def save(self, key: str, value: Any, ttl_seconds: int) -> None:
        self._redis.set(self._prefix + key, json.dumps(value, separators=(",", ":")), ex=ttl_seconds)

    def delete(self, key: str) -> None:
        self._redis.delete(self._prefix + key)

    def claim(self, key: str, value: Any, ttl_seconds: int) -> Any:
        if self._redis.set(self._prefix + key, json.dumps(value), ex=ttl_seconds, nx=True):
            return None
        raw = self._redis.get(self._prefix + key)
        return json.loads(raw) if raw else None


class ServerSession(CallbackDict[str, Any], SessionMixin):
    def __init__(self, sid: str, initial: Mapping[str, Any] | None = None, *, new: bool) -> None:
        def on_update(_: Any) -> None:
            self.modified = True

        super().__init__(initial or {}, on_update)
        self.sid = sid
        self.new = new
        self.modified = False
        self.previous_sid: str | None = None

    def regenerate(self) -> None:
        """A new id for the same data: called on sign-in so an id planted before it is worthless after."""
        self.previous_sid, self.sid = self.sid, new_session_id()
        self.modified = True


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


SESSION_PREFIX = "session:"
SAVED_AT = "_saved_at"
# An unchanged session is written again this often, so it expires after its TTL of inactivity, not of age.
TOUCH_EVERY_SECONDS = 300


class ServerSessionInterface(SessionInterface):
    """Flask's session, kept in a ``SessionStore`` and keyed by an HttpOnly, SameSite=Lax cookie."""

    def __init__(self, store: SessionStore, ttl_seconds: int) -> None:
        self.store = store
        self.ttl_seconds = ttl_seconds

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        sid = request.cookies.get(self.get_cookie_name(app), "")
        if sid and len(sid) < 128:
            data = self.store.load(SESSION_PREFIX + sid)
            if data is not None:
                return ServerSession(sid, data, new=False)
        return ServerSession(new_session_id(), new=True)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        assert isinstance(session, ServerSession)
        name = self.get_cookie_name(app)
        cookie = {
            "domain": self.get_cookie_domain(app),
            "path": self.get_cookie_path(app),
            "httponly": True,
            "secure": self.get_cookie_secure(app),
            "samesite": "Lax",
        }
        if session.previous_sid:
            self.store.delete(SESSION_PREFIX + session.previous_sid)
        if not session:
            if not session.new:
                self.store.delete(SESSION_PREFIX + session.sid)
                response.delete_cookie(name, **cookie)  # type: ignore[arg-type]
            return
        response.vary.add("Cookie")
        now = time.time()
        if not session.modified and now - float(session.get(SAVED_AT, 0)) < TOUCH_EVERY_SECONDS:
            # Unchanged: leave the stored copy alone (a concurrent request may have changed it).
            return
        session[SAVED_AT] = now
        self.store.save(SESSION_PREFIX + session.sid, dict(session), self.ttl_seconds)
        response.set_cookie(name, session.sid, max_age=self.ttl_seconds, **cookie)  # type: ignore[arg-type]
