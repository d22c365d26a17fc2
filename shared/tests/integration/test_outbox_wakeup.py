"""The outbox announces committed rows and a running relay publishes them at once, not at its next poll.

On real PostgreSQL (the trigger, LISTEN/NOTIFY) and RabbitMQ; each service's migrations create the trigger.
"""

from __future__ import annotations

import threading
import time
from importlib import import_module
from pathlib import Path

import pytest
from reliable_messaging_support import (
    EXCHANGE,
    OUTBOX,
    START,
    add_to_outbox,
    blocking_channel,
    clinic_changed,
    running,
)
from sqlalchemy import Engine, select, text

from clinic_shared.db import make_engine, make_session_factory
from clinic_shared.messaging.connection import Backoff
from clinic_shared.messaging.outbox import OutboxWriter
from clinic_shared.messaging.outbox_wakeup import OutboxWakeup
from clinic_shared.messaging.relay import OutboxRelay
from clinic_shared.messaging.topology import declare_exchange
from clinic_shared.migrations import upgrade
from clinic_shared.testing.clock import ManualClock
from clinic_shared.testing.postgres import temporary_database

pytestmark = pytest.mark.integration

OUTBOX_TRIGGERS = "SELECT tgname FROM pg_trigger WHERE tgrelid = 'outbox'::regclass AND NOT tgisinternal"
SOON = 3.0  # far below the relay's poll interval in these tests


class Wakes:
    def __init__(self) -> None:
        self.count = 0
        self._changed = threading.Condition()

    def __call__(self) -> None:
        with self._changed:
            self.count += 1
            self._changed.notify_all()

    def wait_beyond(self, count: int, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self.count > count, timeout=timeout)


def test_a_committed_insert_wakes_the_listener_and_a_rolled_back_one_does_not(engine: Engine) -> None:
    wakes = Wakes()
    wakeup = OutboxWakeup(engine, OUTBOX.name, wakes, backoff=Backoff(0.05, 0.5))
    clock, writer = ManualClock(START), OutboxWriter(OUTBOX)
    with running(wakeup.run, "outbox-wakeup"):
        assert wakes.wait_beyond(0, SOON), "listening starts with a wake (rows written before it listened)"
        settled = wakes.count
        with make_session_factory(engine)() as session:
            writer.add(session, clinic_changed(clock, 1))
            session.flush()
            assert not wakes.wait_beyond(settled, 0.5), "announced before the commit"
            session.commit()
        assert wakes.wait_beyond(settled, SOON), "no wake after the commit"
        settled = wakes.count
        with make_session_factory(engine)() as session:
            writer.add(session, clinic_changed(clock, 2))
            session.flush()
            session.rollback()
        assert not wakes.wait_beyond(settled, 1.0), "a rolled-back insert woke the relay"


def test_a_running_relay_publishes_a_committed_row_long_before_its_next_poll(
    engine: Engine, amqp_url: str
) -> None:
    with blocking_channel(amqp_url) as channel:  # somewhere for the event to go
        declare_exchange(channel, EXCHANGE)
        channel.queue_declare("audit", durable=True, arguments={"x-queue-type": "quorum"})
        channel.queue_bind("audit", EXCHANGE, "#")
    clock = ManualClock(START)
    relay = OutboxRelay(
        make_session_factory(engine), OUTBOX, amqp_url, clock=clock, poll_interval=60.0, wake_on=engine
    )
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop,), daemon=True)
    thread.start()
    try:
        time.sleep(1.0)  # the relay has polled once and idles for a minute
        started = time.monotonic()
        add_to_outbox(engine, [clinic_changed(clock, 7)])
        while time.monotonic() - started < SOON:
            with engine.connect() as connection:
                if connection.execute(select(OUTBOX.c.sent_at)).scalar_one() is not None:
                    break
            time.sleep(0.02)
        else:
            pytest.fail("the committed row waited for the relay's next poll")
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()


SERVICES = {
    "scheduling": "scheduling.entrypoints.cli",
    "billing": "billing.entrypoints.cli",
    "notifications": "notifications.entrypoints.cli",
}


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_each_services_migrations_make_its_outbox_announce_rows(service: str) -> None:
    migrations: Path = import_module(SERVICES[service]).MIGRATIONS
    with temporary_database(f"wakeup_{service}") as url:
        upgrade(url, migrations)
        engine = make_engine(url)
        try:
            with engine.connect() as connection:
                triggers = connection.execute(text(OUTBOX_TRIGGERS)).scalars()
                assert list(triggers) == ["outbox_announce_rows"]
        finally:
            engine.dispose()
