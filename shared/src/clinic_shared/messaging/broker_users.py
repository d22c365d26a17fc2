"""One broker user per service, allowed only what that service declares, publishes and consumes.

RabbitMQ grants per vhost three regular expressions over resource names: *configure* (declare and delete
exchanges and queues), *write* (publish to an exchange; bind a queue, on the queue's side) and *read*
(consume from a queue; bind, on the exchange's side). What each service touches follows from the topology
(``topology``) and the list of who consumes what (``subscriptions.CONSUMED``), so the grants are derived
from them here rather than written by hand beside them:

* its own ``<service>.events`` exchange and its archive queue ``<service>.events.unconsumed``: configure,
  write (publish, bind the archive) and read (the exchange side of the archive's bindings);
* if it consumes, its queue ``<service>`` and ``<service>.dead-letter``: configure, write (bindings) and
  read (consume, inspect); the shared ``dead-letter`` exchange and the producers' exchanges it binds from:
  configure (every declaration re-declares them, identically) and read (their side of the bindings); and
  write on ``dead-letter``, which RabbitMQ requires to declare a queue that dead-letters into it (so a
  service could put a message into another's dead-letter queue: those are inspected, never consumed).

Nothing grants writing to another service's exchange or reading another service's queue: a compromised
billing worker cannot publish a ``scheduling.appointment.cancelled`` nor drain the notifications queue.
``guest`` stays for local development only (it can only connect from localhost anyway).

``converge`` applies the grants with ``rabbitmqctl`` and is safe to run on every deploy: it creates the
vhost and users that are missing, sets each password from the environment, and replaces the permissions.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from clinic_shared.messaging.outbox import exchange_for
from clinic_shared.messaging.subscriptions import CONSUMED
from clinic_shared.messaging.topology import DEAD_LETTER_EXCHANGE, archive_queue_for, dead_letter_queue_for

SERVICES = ("scheduling", "billing", "notifications")


@dataclass(frozen=True)
class Permissions:
    configure: str
    write: str
    read: str


def _exactly(names: Sequence[str]) -> str:
    return "^(" + "|".join(re.escape(name) for name in sorted(set(names))) + ")$"


def source_exchanges(service: str, registry: Mapping[str, frozenset[str]] = CONSUMED) -> list[str]:
    """The producers' exchanges a consuming service binds its queue to."""
    return sorted({exchange_for(event_type.split(".", 1)[0]) for event_type in registry.get(service, ())})


def permissions_for(service: str, registry: Mapping[str, frozenset[str]] = CONSUMED) -> Permissions:
    own_exchange = exchange_for(service)
    produced = [own_exchange, archive_queue_for(own_exchange)]
    if service not in registry:
        return Permissions(configure=_exactly(produced), write=_exactly(produced), read=_exactly(produced))
    queues = [service, dead_letter_queue_for(service)]
    bound_from = [*source_exchanges(service, registry), DEAD_LETTER_EXCHANGE]
    return Permissions(
        configure=_exactly([*produced, *queues, *bound_from]),
        # RabbitMQ wants write on the dead-letter exchange to declare a queue that dead-letters into it.
        write=_exactly([*produced, *queues, DEAD_LETTER_EXCHANGE]),
        read=_exactly([*produced, *queues, *bound_from]),
    )


def user_for(service: str) -> str:
    return f"ims-{service}"


Run = Callable[[Sequence[str]], subprocess.CompletedProcess[str]]


def _rabbitmqctl(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=60, check=False
    )


def converge(
    vhost: str,
    passwords: Mapping[str, str],
    *,
    services: Sequence[str] = SERVICES,
    run: Run = _rabbitmqctl,
) -> list[str]:
    """Create the vhost and each service's user if missing, set their passwords and permissions; return what
    was done, one line per step, without the passwords."""

    def check(args: Sequence[str], *, allow: str | None = None) -> None:
        done = run(args)
        if done.returncode != 0 and not (allow and allow in (done.stderr + done.stdout)):
            raise RuntimeError(f"rabbitmqctl {args[0]} failed: {(done.stderr or done.stdout).strip()}")

    steps: list[str] = []
    check(["add_vhost", vhost], allow="already exists")
    steps.append(f"vhost {vhost}")
    for service in services:
        user, password = user_for(service), passwords[service]
        check(["add_user", user, password], allow="already exists")
        check(["change_password", user, password])
        grant = permissions_for(service)
        check(["set_permissions", "-p", vhost, user, grant.configure, grant.write, grant.read])
        steps.append(
            f"user {user} on {vhost}: configure {grant.configure} write {grant.write} read {grant.read}"
        )
    return steps


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m clinic_shared.messaging.broker_users",
        description="Create or update one RabbitMQ user per service with only the permissions it needs. "
        "Passwords come from <SERVICE>_AMQP_PASSWORD (e.g. BILLING_AMQP_PASSWORD).",
    )
    parser.add_argument("--vhost", default=os.environ.get("AMQP_VHOST", "ims"))
    parser.add_argument("--print", action="store_true", help="print the permissions only; change nothing")
    args = parser.parse_args(argv)
    if args.print:
        for service in SERVICES:
            grant = permissions_for(service)
            line = f"{user_for(service)}\tconfigure {grant.configure}\twrite {grant.write}\tread {grant.read}"
            sys.stdout.write(line + "\n")
        return 0
    missing = [s for s in SERVICES if not os.environ.get(f"{s.upper()}_AMQP_PASSWORD")]
    if missing:
        parser.error("set " + ", ".join(f"{s.upper()}_AMQP_PASSWORD" for s in missing))
    passwords = {s: os.environ[f"{s.upper()}_AMQP_PASSWORD"] for s in SERVICES}
    for step in converge(args.vhost, passwords):
        sys.stdout.write(step + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
