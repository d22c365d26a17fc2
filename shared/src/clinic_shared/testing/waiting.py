"""Waiting in tests: poll until something holds, and run a ``run(stop)`` loop in a thread for a block."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T], timeout: float = 20, interval: float = 0.05, *, what: str = ""
) -> T:
    """Poll ``predicate`` until it returns something truthy (returned); fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what or 'condition'} not met within {timeout}s")
        time.sleep(interval)


@contextmanager
def running(target: Callable[[threading.Event], None], name: str) -> Iterator[threading.Event]:
    """Run ``target(stop)`` in a thread for the duration of the block; fail if it crashed or does not stop."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def body() -> None:
        try:
            target(stop)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    thread = threading.Thread(target=body, name=name, daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive(), f"{name} did not stop"
    assert not errors, f"{name} crashed: {errors!r}"
