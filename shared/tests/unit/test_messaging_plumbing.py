"""Backoff, connection parameters and queue arguments: the pure parts of clinic_shared.messaging."""

from __future__ import annotations

import json
import random
import re
import threading
import time

import pytest
from sqlalchemy.exc import OperationalError

from clinic_shared.messaging.connection import Backoff, connection_parameters
from clinic_shared.messaging.policies import consumer_queue_policy
from clinic_shared.messaging.topology import (
    DEAD_LETTER_EXCHANGE,
    Subscription,
    consumer_queue_arguments,
)
from clinic_shared.messaging.worker import PeriodicJob, run_worker


def test_backoff_grows_exponentially_within_its_jitter_band_and_is_capped() -> None:
    backoff = Backoff(initial=0.5, cap=30, jitter=0.5, rng=random.Random(7))
    for attempt, base in enumerate([0.5, 1, 2, 4, 8, 16, 30, 30, 30]):
        assert base * 0.5 <= backoff.delay(attempt) <= base
    assert backoff.delay(10_000) <= 30


def test_backoff_counts_attempts_until_reset() -> None:
    backoff = Backoff(initial=1, cap=100, jitter=0)
    assert [backoff.next_delay() for _ in range(4)] == [1, 2, 4, 8]
    backoff.reset()
    assert backoff.next_delay() == 1


def test_backoff_wait_returns_at_once_when_stopped() -> None:
    stop = threading.Event()
    stop.set()
    assert Backoff(initial=60, cap=60).wait(stop) is True


def test_backoff_rejects_a_cap_below_the_initial_delay() -> None:
    with pytest.raises(ValueError, match="initial"):
        Backoff(initial=5, cap=1)


def test_connection_parameters_connect_once_with_heartbeat_and_blocked_timeout() -> None:
    params = connection_parameters(
        "amqp://u:p@broker:5673/clinic?heartbeat=600", heartbeat=10, blocked_connection_timeout=20
    )
    assert (params.host, params.port, params.virtual_host) == ("broker", 5673, "clinic")
    assert params.heartbeat == 10
    assert params.blocked_connection_timeout == 20
    assert params.connection_attempts == 1
    assert params.socket_timeout == 5
    assert params.stack_timeout == 15


def test_consumer_queue_is_declared_with_what_never_changes_and_tuned_by_the_policy() -> None:
    assert consumer_queue_arguments("billing") == {
        "x-queue-type": "quorum",
        "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
        "x-dead-letter-routing-key": "billing",
    }
    assert consumer_queue_policy(7).definition == {
        "delivery-limit": 7,
        "dead-letter-strategy": "at-least-once",
        "overflow": "reject-publish",
    }


def test_the_consumer_queue_policy_leaves_dead_letter_queues_and_archives_alone() -> None:
    pattern = re.compile(consumer_queue_policy().pattern)
    assert [
        name
        for name in ("billing", "notifications", "billing.dead-letter", "scheduling.events.unconsumed")
        if pattern.search(name)
    ] == ["billing", "notifications"]


def test_a_policy_is_set_with_rabbitmqctl_and_written_into_definitions_alike() -> None:
    policy = consumer_queue_policy(3)
    args = policy.set_policy_args("ims")
    assert args[:7] == ["set_policy", "-p", "ims", "--priority", "0", "--apply-to", "queues"]
    assert args[7:9] == ["ims-consumer-queues", policy.pattern]
    assert json.loads(args[9]) == policy.as_definition("ims")["definition"]
    with pytest.raises(ValueError, match="delivery_limit"):
        consumer_queue_policy(-1)


def test_subscription_names_its_queues_after_the_consumer() -> None:
    subscription = Subscription("notifications", {"scheduling.events": ["scheduling.appointment.*"]})
    assert subscription.queue == "notifications"
    assert subscription.dead_letter_queue == "notifications.dead-letter"


def test_run_worker_stops_every_loop_and_fails_when_one_crashes() -> None:
    others_stopped = threading.Event()

    def steady(stop: threading.Event) -> None:
        stop.wait(30)
        others_stopped.set()

    def crashing(_stop: threading.Event) -> None:
        raise RuntimeError("boom")

    loops = {"steady": steady, "crashing": crashing}
    assert run_worker(None, None, extra=loops, install_signal_handlers=False) == 1
    assert others_stopped.is_set()


def test_run_worker_returns_zero_once_stopped() -> None:
    stop = threading.Event()
    stop.set()
    assert run_worker(None, None, stop=stop, extra={"idle": lambda s: s.wait(30)}) == 0


def test_a_periodic_job_runs_at_once_waits_out_database_errors_and_stops_when_told() -> None:
    stop = threading.Event()
    outcomes = iter([OperationalError("SELECT 1", {}, Exception("down")), None, None])
    calls: list[float] = []

    def work() -> None:
        calls.append(time.monotonic())
        outcome = next(outcomes)
        if outcome is not None:
            raise outcome
        if len(calls) == 3:
            stop.set()

    job = PeriodicJob("test job", work, interval=0.05, backoff=Backoff(initial=0.01, cap=0.01, jitter=0))
    thread = threading.Thread(target=job.run, args=(stop,))
    thread.start()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert len(calls) == 3  # the failed call was retried after the backoff, then the interval passed
    assert calls[2] - calls[1] >= 0.05


def test_a_periodic_job_lets_other_errors_stop_the_worker() -> None:
    def broken() -> None:
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        PeriodicJob("broken", broken, interval=1).run(threading.Event())
