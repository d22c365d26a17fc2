"""Independent API calls of one page side by side: the page waits for the slowest call, not their sum."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()
MAX_WORKERS = 16
THREAD_PREFIX = "api-call"


def _pool() -> ThreadPoolExecutor:
    """One pool per process, made on first use (after gunicorn has forked, never before)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=MAX_WORKERS, thread_name_prefix=THREAD_PREFIX)
        return _POOL


def together(*calls: Callable[[], Any]) -> list[Any]:
    """Each call's result, in order; the first failure is raised once all have finished."""
    if len(calls) <= 1 or threading.current_thread().name.startswith(THREAD_PREFIX):
        # Already on a pool thread: waiting there for other pool threads could starve the pool.
        return [call() for call in calls]
    # Each call runs in a copy of the page's context, so its API call joins the page's trace.
    futures: list[Future[Any]] = [_pool().submit(contextvars.copy_context().run, call) for call in calls]
    return [future.result() for future in futures]
