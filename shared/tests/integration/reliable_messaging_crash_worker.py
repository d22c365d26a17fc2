"""A worker process for the crash and signal tests (run as a script by test_reliable_messaging.py).

Modes:
  before-commit  the handler writes its effect, touches MARKER and hangs before the commit;
  after-commit   the unit of work commits, touches MARKER and hangs before the ack;
  serve          run_worker(relay, consumer) with a plain handler; MARKER is touched once consuming.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from pathlib import Path
from typing import Any

from reliable_messaging_support import (
    EVENT_TYPE,
    OUTBOX,
    START,
    ManualClock,
    TestUnitOfWork,
    make_consumer,
    record_effect,
)

from clinic_shared.db import make_engine, make_session_factory
from clinic_shared.events import Envelope
from clinic_shared.messaging.connection import Backoff
from clinic_shared.messaging.relay import OutboxRelay
from clinic_shared.messaging.worker import run_worker

HANG_SECONDS = 120


def main(pg_url: str, amqp_url: str, marker: Path, mode: str) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(threadName)s %(name)s %(message)s")
    engine = make_engine(pg_url)
    clock = ManualClock(START)

    def hang() -> None:
        marker.touch()
        time.sleep(HANG_SECONDS)

    if mode == "before-commit":

        def handler(uow: Any, envelope: Envelope) -> None:
            record_effect(uow, envelope)
            uow.flush()
            hang()

        make_consumer(engine, amqp_url, clock, {EVENT_TYPE: handler}).run()
        return 0

    if mode == "after-commit":

        class HangingUnitOfWork(TestUnitOfWork):
            def commit(self) -> None:
                super().commit()
                hang()

        consumer = make_consumer(
            engine, amqp_url, clock, uow_factory=lambda: HangingUnitOfWork(engine, clock)
        )
        consumer.run()
        return 0

    if mode == "serve":
        consumer = make_consumer(engine, amqp_url, clock, {EVENT_TYPE: record_effect})
        relay = OutboxRelay(
            make_session_factory(engine),
            OUTBOX,
            amqp_url,
            clock=clock,
            poll_interval=0.05,
            backoff=Backoff(initial=0.05, cap=0.5),
        )

        def announce_ready() -> None:
            if consumer.ready.wait(timeout=60):
                marker.touch()

        threading.Thread(target=announce_ready, daemon=True).start()
        return run_worker(relay, consumer)

    raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4]))
