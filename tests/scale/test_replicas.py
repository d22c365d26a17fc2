"""Replicas and rollouts: 3 workers and 2 gunicorn instances per service under a booking load, then a rolling
restart of every process, one at a time, while the load goes on. Every effect must happen exactly once.

Each service's two gunicorn instances sit behind ``RoundRobinProxy`` (tests/e2e/system.py), standing in for
a Kubernetes Service: connections are balanced in turn, and the proxy fails over only when a backend
refuses the connection (nothing sent, nothing done twice; nginx's ``proxy_next_upstream error`` for a
request not yet passed on). A rollout takes an instance out of the rotation before its SIGTERM, as an
endpoint leaves a Service before its pod is told to stop, and back once its replacement answers /healthz.
SIGTERM must then let gunicorn finish what it is serving, and let a worker stop taking deliveries, finish
and ack the one in hand, record its relay's confirms and exit 0 within the grace period.

Checked afterwards, from the databases and the SMTP server (figures printed; run with ``-s``):
- no request failed (a transport error or a 5xx; a lost race answered 409 is a business answer);
- every booked or cancelled appointment has exactly one charge in billing and one copy in notifications,
  both at the appointment's last sequence, time, practitioner and state (events of one appointment handled
  by competing consumers never leave an older version, nor a cancelled appointment charged);
- every e-mail delivery recorded as sent reached the SMTP server exactly once, and nothing else did.

Disruptive (it stops and starts processes under load on a 2-core machine): it runs alone.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import sqlalchemy as sa

from clinic_shared.messaging.connection import vhost_of
from clinic_shared.testing.postgres import temporary_database
from clinic_shared.testing.rabbit import rabbitmqctl, temporary_vhost
from clinic_shared.testing.reporting import say
from tests.e2e.system import SERVICES, Mailbox, System, wait_for

from .load import Clinic, Tally, check_effects, run_load, sent_emails, set_up_clinic, wait_settled

pytestmark = [pytest.mark.e2e, pytest.mark.disruptive]

WEB_REPLICAS = 2
WORKER_REPLICAS = 3
THREADS = 6
STEADY_OPERATIONS = 1500
# During the rollout the load threads pause between rounds, leaving the 2 cores some room to start the
# replacements; the load still overlaps every SIGTERM.
ROLLOUT_THREADS = 4
ROLLOUT_PAUSE = 0.05
GRACE_SECONDS = 30.0  # Kubernetes' default terminationGracePeriodSeconds


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    box.start()
    yield box
    box.stop()


@pytest.fixture(scope="module")
def replicated(mailbox: Mailbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    var_dir = tmp_path_factory.mktemp("replicas")
    with ExitStack() as stack:
        urls = {name: stack.enter_context(temporary_database(f"scale_{name}")) for name in SERVICES}
        system = System(
            database_urls=urls,
            amqp_url=stack.enter_context(temporary_vhost("scale")),
            smtp_port=mailbox.port,
            var_dir=var_dir,
            mailbox=mailbox,
            web_replicas=WEB_REPLICAS,
            worker_replicas=WORKER_REPLICAS,
            # INFO: a restarted worker says when its consumer is consuming again (its readiness).
            extra_env={"WEB_CONCURRENCY": "1", "WEB_THREADS": "4", "LOG_LEVEL": "INFO"},
        )
        try:
            system.start()
        except BaseException as failure:
            system.stop()
            failure.add_note(system.logs())
            raise
        try:
            wait_for(lambda: _consumers_at(system, WORKER_REPLICAS), timeout=60, what="every consumer")
            yield system
        finally:
            system.stop()


@pytest.fixture(scope="module")
def engines(replicated: System) -> Iterator[dict[str, sa.Engine]]:
    made = {name: sa.create_engine(replicated.database_urls[name]) for name in SERVICES}
    yield made
    for engine in made.values():
        engine.dispose()


@pytest.fixture(scope="module")
def clinic(replicated: System, engines: dict[str, sa.Engine]) -> Clinic:
    set_up = set_up_clinic(replicated)
    wait_settled(engines, vhost_of(replicated.amqp_url), timeout=60)
    return set_up


def _consumers_at(system: System, replicas: int) -> bool:
    """Each service's queue has ``replicas`` consumers (one per worker process)."""
    vhost = vhost_of(system.amqp_url)
    listed = rabbitmqctl("list_queues", "-p", vhost, "name", "consumers", "--quiet", timeout=30)
    counts = dict(line.split("\t") for line in listed.strip().splitlines()[1:] if "\t" in line)
    return all(counts.get(service) == str(replicas) for service in SERVICES)


def _consuming_since(log: Path, offset: int) -> bool:
    """The worker logged, after ``offset``, that its consumer is consuming (consumer.py, at INFO)."""
    with log.open("rb") as lines:
        lines.seek(offset)
        return b": consuming" in lines.read()


def _report(title: str, tally: Tally, elapsed: float) -> None:
    say(f"\n{title}: {tally.operations} requests in {elapsed:.1f} s ({tally.operations / elapsed:.0f}/s)")
    for (operation, status), count in sorted(tally.answers.items()):
        say(f"  {operation:<12} {status}  {count}")
    say(f"  failed requests: {len(tally.failures)}")
    for failure in tally.failures[:10]:
        say(f"    {failure}")


def _settle_and_check(
    system: System, engines: dict[str, sa.Engine], mailbox: Mailbox, first_mail: int, before: set[str]
) -> None:
    vhost = vhost_of(system.amqp_url)
    settling = wait_settled(engines, vhost, timeout=120)
    effects = check_effects(engines, vhost, mailbox, first_mail, before)
    say(f"  settled {settling:.1f} s after the load")
    say(
        f"  appointments booked or cancelled: {effects.appointments}, charges: {effects.charges},"
        f" notification copies: {effects.copies}"
    )
    say(f"  deliveries: {dict(sorted(effects.deliveries.items()))}")
    say(f"  e-mails sent (recorded): {effects.emails_sent}, received at SMTP: {effects.emails_received}")
    for name, faults in effects.faults.items():
        say(f"  {name}: {len(faults)}")
    assert effects.appointments > 0
    assert {name: faults[:5] for name, faults in effects.faults.items() if faults} == {}


def test_three_workers_and_two_web_instances_per_service_do_every_effect_once(
    replicated: System, clinic: Clinic, engines: dict[str, sa.Engine], mailbox: Mailbox
) -> None:
    first_mail, before = len(mailbox.received), sent_emails(engines["notifications"])
    tally = Tally()
    began = time.monotonic()
    for thread in run_load(
        replicated, clinic, tally, threads=THREADS, operations=STEADY_OPERATIONS, stop=threading.Event()
    ):
        thread.join()
    _report("steady load", tally, time.monotonic() - began)
    _settle_and_check(replicated, engines, mailbox, first_mail, before)
    assert tally.operations >= STEADY_OPERATIONS
    assert tally.failures == []


def _restart(system: System, name: str) -> tuple[float, int | None, float]:
    """SIGTERM ``name``, wait for it to exit, start its replacement and wait until it serves.

    A web instance leaves its proxy's rotation first (and a moment passes for connections already routed to
    it to be accepted), and returns to it once it answers. Returns (seconds to exit, exit code, seconds until
    the replacement is ready).
    """
    web = "-web" in name
    proxy = system.proxies[name.split("-", 1)[0]] if web else None
    port = system.instance_port(name) if web else 0
    if proxy is not None:
        proxy.drain(port)
        time.sleep(0.5)
    process = system.processes.pop(name)
    log = system.var_dir / f"{name}.log"
    log_offset = log.stat().st_size
    began = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        code: int | None = process.wait(timeout=GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        code = None  # not within the grace period: the test fails on it
    stopped = time.monotonic() - began
    system.start_process(name)
    if web:
        wait_for(lambda: system.web_healthy(name), timeout=60, what=f"{name} to serve again")
        assert proxy is not None
        proxy.undrain(port)
    else:
        wait_for(lambda: _consuming_since(log, log_offset), timeout=60, what=f"{name} to consume")
    return stopped, code, time.monotonic() - began - stopped


def test_a_rolling_restart_of_every_process_under_load_fails_no_request_and_loses_no_effect(
    replicated: System, clinic: Clinic, engines: dict[str, sa.Engine], mailbox: Mailbox
) -> None:
    first_mail, before = len(mailbox.received), sent_emails(engines["notifications"])
    tally = Tally()
    stop = threading.Event()
    began = time.monotonic()
    threads = run_load(
        replicated, clinic, tally, threads=ROLLOUT_THREADS, operations=10**9, stop=stop, pause=ROLLOUT_PAUSE
    )
    restarts: dict[str, tuple[float, int | None, float]] = {}
    try:
        time.sleep(2)  # the load is running before the first process goes
        for name in replicated.process_names("web") + replicated.process_names("worker"):
            restarts[name] = _restart(replicated, name)
        time.sleep(2)  # and goes on with every process replaced
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    _report("rolling restart under load", tally, time.monotonic() - began)
    say("  process                  exit  code  ready")
    for name, (stopped, code, ready) in restarts.items():
        say(f"  {name:<24} {stopped:4.1f}s {code!s:>4}  {ready:4.1f}s")
    for name in replicated.proxies:
        proxy = replicated.proxies[name]
        say(f"  proxy {name}: {proxy.connections} connections, {proxy.failovers} failovers")
    _settle_and_check(replicated, engines, mailbox, first_mail, before)
    assert tally.failures == []
    assert {name: code for name, (_, code, _) in restarts.items() if code != 0} == {}
    assert max(stopped for stopped, _, _ in restarts.values()) < GRACE_SECONDS
