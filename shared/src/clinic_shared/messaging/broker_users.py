"""One broker user per service, allowed only what that service declares, publishes and consumes; and the
vhost's policies (``policies``), converged in the same step.

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
``definitions`` writes the same as a definitions document that a broker loads at boot
(``load_definitions``): ``deploy/rabbitmq/definitions.dev.json`` is it with the development passwords of
``docker-compose.yml``, regenerated with ``--definitions --dev`` (a test keeps the two equal).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from clinic_shared.messaging.outbox import exchange_for
from clinic_shared.messaging.policies import (
    DEFAULT_DELIVERY_LIMIT,
    Run,
    apply_policies,
    broker_policies,
    rabbitmqctl,
)
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


# docker-compose.yml's passwords (development only: production sets <SERVICE>_AMQP_PASSWORD from secrets).
DEV_PASSWORDS = {service: f"{service}-dev-only" for service in SERVICES}
# The management UI's login in development (the services never use it).
DEV_ADMIN = ("clinic", "clinic")


def password_hash(password: str, salt: bytes) -> str:
    """RabbitMQ's ``rabbit_password_hashing_sha256``: base64 of a 4-byte salt and SHA-256(salt + password)."""
    if len(salt) != 4:
        raise ValueError("RabbitMQ salts are 4 bytes")
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def definitions(
    vhost: str,
    passwords: Mapping[str, str],
    *,
    admin: tuple[str, str] | None = None,
    user_name: Callable[[str], str] = user_for,
    salt: Callable[[str], bytes] = lambda _user: os.urandom(4),
    delivery_limit: int = DEFAULT_DELIVERY_LIMIT,
) -> dict[str, object]:
    """A definitions document with the vhost, each service's user and its grants, the vhost's policies (and,
    for development, an administrator for the management UI)."""
    users: list[dict[str, object]] = []
    permissions: list[dict[str, str]] = []

    def add(user: str, password: str, tags: list[str], grant: Permissions) -> None:
        users.append(
            {
                "name": user,
                "password_hash": password_hash(password, salt(user)),
                "hashing_algorithm": "rabbit_password_hashing_sha256",
                "tags": tags,
                "limits": {},
            }
        )
        grants = {"configure": grant.configure, "write": grant.write, "read": grant.read}
        permissions.append({"user": user, "vhost": vhost} | grants)

    if admin is not None:
        add(admin[0], admin[1], ["administrator"], Permissions(".*", ".*", ".*"))
    for service in SERVICES:
        add(user_name(service), passwords[service], [], permissions_for(service))
    policies = [policy.as_definition(vhost) for policy in broker_policies(delivery_limit)]
    return {"users": users, "vhosts": [{"name": vhost}], "permissions": permissions, "policies": policies}


def dev_definitions() -> dict[str, object]:
    """What ``deploy/rabbitmq/definitions.dev.json`` holds: the same bytes every time (salts from names)."""
    return definitions(
        "ims", DEV_PASSWORDS, admin=DEV_ADMIN, salt=lambda user: hashlib.sha256(user.encode()).digest()[:4]
    )


def definitions_json(document: Mapping[str, object]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def converge(
    vhost: str,
    passwords: Mapping[str, str],
    *,
    services: Sequence[str] = SERVICES,
    run: Run = rabbitmqctl,
    user_name: Callable[[str], str] = user_for,
    delivery_limit: int = DEFAULT_DELIVERY_LIMIT,
) -> list[str]:
    """Create the vhost and each service's user if missing, set their passwords and permissions and the
    vhost's policies; return what was done, one line per step, without the passwords. (Users are broker-wide:
    tests name their own.)"""

    def check(args: Sequence[str], *, allow: str | None = None) -> None:
        done = run(args)
        if done.returncode != 0 and not (allow and allow in (done.stderr + done.stdout)):
            raise RuntimeError(f"rabbitmqctl {args[0]} failed: {(done.stderr or done.stdout).strip()}")

    steps: list[str] = []
    check(["add_vhost", vhost], allow="already exists")
    steps.append(f"vhost {vhost}")
    for service in services:
        user, password = user_name(service), passwords[service]
        # "--": a generated password may start with "-", which rabbitmqctl would read as an option.
        check(["add_user", "--", user, password], allow="already exists")
        check(["change_password", "--", user, password])
        grant = permissions_for(service)
        check(["set_permissions", "-p", vhost, user, grant.configure, grant.write, grant.read])
        steps.append(
            f"user {user} on {vhost}: configure {grant.configure} write {grant.write} read {grant.read}"
        )
    return steps + apply_policies(vhost, delivery_limit=delivery_limit, run=run)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m clinic_shared.messaging.broker_users",
        description="Create or update one RabbitMQ user per service with only the permissions it needs. "
        "Passwords come from <SERVICE>_AMQP_PASSWORD (e.g. BILLING_AMQP_PASSWORD).",
    )
    parser.add_argument("--vhost", default=os.environ.get("AMQP_VHOST", "ims"))
    parser.add_argument(
        "--delivery-limit",
        type=int,
        default=int(os.environ.get("DELIVERY_LIMIT", DEFAULT_DELIVERY_LIMIT)),
        help="redeliveries before a failing message is dead-lettered (DELIVERY_LIMIT, default %(default)s)",
    )
    parser.add_argument("--print", action="store_true", help="print the permissions only; change nothing")
    parser.add_argument(
        "--definitions",
        action="store_true",
        help="print a definitions document (JSON) for the broker to load at boot; change nothing",
    )
    parser.add_argument(
        "--dev", action="store_true", help="with --definitions: docker-compose.yml's development passwords"
    )
    args = parser.parse_args(argv)
    if args.definitions and args.dev:
        sys.stdout.write(definitions_json(dev_definitions()))
        return 0
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
    if args.definitions:
        document = definitions(args.vhost, passwords, delivery_limit=args.delivery_limit)
        sys.stdout.write(definitions_json(document))
        return 0
    for step in converge(args.vhost, passwords, delivery_limit=args.delivery_limit):
        sys.stdout.write(step + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
