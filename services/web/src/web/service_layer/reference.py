"""A clinic's reference data (clinics, treatments, practitioners, rooms, prices in force), kept briefly.

Every booking step shows the same catalogue, identical for every signed-in person and rarely changed, so a
process keeps each answer for a few seconds instead of asking again on every page. Nothing about a patient
is ever kept here; a change made by staff shows within ``ttl_seconds``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
DEFAULT_TTL_SECONDS = 30.0
MAX_ENTRIES = 1024


class ReferenceCache:
    def __init__(self, ttl_seconds: float = DEFAULT_TTL_SECONDS, clock: Callable[[], float] = time.monotonic):
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: str, load: Callable[[], T]) -> T:
        now = self._clock()
        with self._lock:
            found = self._entries.get(key)
        if found is not None and now - found[0] < self._ttl:
            return found[1]  # type: ignore[no-any-return]
        value = load()
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (now, value)
        return value
