"""Reference data kept briefly, and a page's independent API calls made side by side."""

from __future__ import annotations

import threading
import time

import pytest

from web.service_layer.concurrency import together
from web.service_layer.reference import ReferenceCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_an_answer_is_reused_within_its_time_and_asked_again_after() -> None:
    clock = Clock()
    cache = ReferenceCache(ttl_seconds=30, clock=clock)
    loads: list[int] = []

    def load() -> int:
        loads.append(1)
        return len(loads)

    assert cache.get("/clinics/1", load) == 1
    clock.now = 29
    assert cache.get("/clinics/1", load) == 1
    clock.now = 31
    assert cache.get("/clinics/1", load) == 2
    assert cache.get("/clinics/2", load) == 3  # another key, its own answer


def test_a_failed_load_is_not_kept() -> None:
    cache = ReferenceCache()

    def broken() -> int:
        raise RuntimeError("scheduling is down")

    with pytest.raises(RuntimeError):
        cache.get("/clinics/1", broken)
    assert cache.get("/clinics/1", lambda: 7) == 7


def test_calls_run_side_by_side_and_keep_their_order() -> None:
    started = threading.Barrier(3, timeout=2)  # all three must be in flight at once, or this times out

    def call(value: int) -> int:
        started.wait()
        return value

    begin = time.monotonic()
    assert together(lambda: call(1), lambda: call(2), lambda: call(3)) == [1, 2, 3]
    assert time.monotonic() - begin < 2


def test_a_failing_call_is_raised() -> None:
    def fails() -> int:
        raise ValueError("409")

    with pytest.raises(ValueError, match="409"):
        together(lambda: 1, fails)
