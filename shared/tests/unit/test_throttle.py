"""The SQLite counter store: windows opened by the first hit, and no lost count between processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

from clinic_shared.throttle import SqliteCounterStore, Tally, counter_store

WINDOW = timedelta(minutes=15)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_hits_add_up_within_the_window_and_start_again_after_it(tmp_path: Path) -> None:
    clock = Clock()
    store = SqliteCounterStore(tmp_path / "counters.db", clock)
    assert store.hit("k", WINDOW) == Tally(1, WINDOW)
    clock.now += 60
    assert store.hit("k", WINDOW) == Tally(2, WINDOW - timedelta(seconds=60))
    assert store.hit("other", WINDOW).count == 1
    clock.now += WINDOW.total_seconds() - 60
    assert store.peek("k") is None, "the window has ended"
    assert store.hit("k", WINDOW) == Tally(1, WINDOW)


def test_peek_reads_without_counting_and_clear_forgets(tmp_path: Path) -> None:
    store = SqliteCounterStore(tmp_path / "counters.db", Clock())
    assert store.peek("k") is None
    store.hit("k", WINDOW)
    store.hit("k", WINDOW)
    store.hit("j", WINDOW)
    assert store.peek("k") == Tally(2, WINDOW)
    assert store.peek("k") == Tally(2, WINDOW)
    store.clear("k", "j", "never-hit")
    assert store.peek("k") is None
    assert store.peek("j") is None
    store.clear()


def test_nothing_is_written_until_something_is_counted(tmp_path: Path) -> None:
    counter_store(redis_url=None, sqlite_file=tmp_path / "var" / "counters.db", prefix="p:")
    assert not (tmp_path / "var").exists()


def test_processes_sharing_the_file_never_lose_a_count(tmp_path: Path) -> None:
    path = tmp_path / "counters.db"
    script = textwrap.dedent(
        f"""
        from datetime import timedelta
        from pathlib import Path
        from clinic_shared.throttle import SqliteCounterStore
        store = SqliteCounterStore(Path({str(path)!r}))
        print(" ".join(str(store.hit("shared", timedelta(minutes=5)).count) for _ in range(100)))
        """
    )
    workers = [
        subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) for _ in range(4)
    ]
    seen = []
    for worker in workers:
        out, _ = worker.communicate(timeout=120)
        assert worker.returncode == 0
        seen.extend(int(count) for count in out.split())
    assert sorted(seen) == list(range(1, 401)), "each hit saw its own count"
    tally = SqliteCounterStore(path).peek("shared")
    assert tally is not None
    assert tally.count == 400
