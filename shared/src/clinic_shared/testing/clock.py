"""A clock tests move by hand; safe to read from the threads of a running consumer or server."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class ManualClock:
    __test__ = False

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 11, 2, 17, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta | None = None, /, **parts: float) -> None:
        """Move on by ``delta`` or by ``timedelta(**parts)`` (``clock.advance(minutes=5)``)."""
        with self._lock:
            self._now += (delta or timedelta()) + timedelta(**parts)

    def set(self, instant: datetime) -> None:
        with self._lock:
            self._now = instant
