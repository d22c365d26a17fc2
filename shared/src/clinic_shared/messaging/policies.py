"""The broker policies: how often a consumer queue redelivers, how it dead-letters, when it refuses publishes.

RabbitMQ takes a queue's settings from its declaration arguments or from a policy, and a declaration's
arguments can never change afterwards (redeclaring with other values fails with ``406 PRECONDITION_FAILED``).
So a consumer queue is declared with only what is part of the topology (``topology.consumer_queue_arguments``:
the quorum type, which RabbitMQ 3.10 cannot take from a policy, and where its dead letters go, like a binding)
and what an operator may want to tune is one vhost-wide policy: raising the delivery limit is ``set_policy``
again, applied to the live queues, with nothing recreated.

* ``ims-consumer-queues`` applies to every queue of the vhost except dead-letter queues and archives:
  ``delivery-limit`` (a message that keeps failing is dead-lettered after limit + 1 deliveries, reason
  ``delivery_limit``; 3.10 has no default, so a queue without the policy redelivers a poison message for
  ever), ``dead-letter-strategy: at-least-once`` (the broker keeps a dead-lettered message until the
  dead-letter queue confirms it) and ``overflow: reject-publish``, which that strategy requires.

Where a policy and an argument both set a key, RabbitMQ 3.10 takes the lower ``delivery-limit`` and the
argument for the others: queues declared by an older release (with all of these as arguments) are converted
by ``setup-broker`` (``topology.setup_broker``), which deletes such a queue only while it is empty.

``broker_users`` converges the policy together with the vhost and the users (``rabbitmqctl set_policy``) and
writes it into the definitions document a broker loads at boot; ``DELIVERY_LIMIT`` is the one setting, read
by the consumers too (they log "delivery n of at most m" and count the last one as dead-lettered).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

DEFAULT_DELIVERY_LIMIT = 5
# Every queue but "<consumer>.dead-letter" and "<producer>.events.unconsumed" (PCRE, as the broker reads it).
CONSUMER_QUEUE_PATTERN = r"^(?!.*\.(dead-letter|unconsumed)$)"


@dataclass(frozen=True)
class Policy:
    name: str
    pattern: str
    definition: Mapping[str, object] = field(default_factory=dict)
    apply_to: str = "queues"
    priority: int = 0

    def set_policy_args(self, vhost: str) -> list[str]:
        """``rabbitmqctl`` arguments that create or replace this policy on ``vhost``."""
        return [
            "set_policy",
            "-p",
            vhost,
            "--priority",
            str(self.priority),
            "--apply-to",
            self.apply_to,
            self.name,
            self.pattern,
            json.dumps(dict(self.definition), sort_keys=True),
        ]

    def as_definition(self, vhost: str) -> dict[str, object]:
        """The policy as an entry of a definitions document's ``policies``."""
        return {
            "vhost": vhost,
            "name": self.name,
            "pattern": self.pattern,
            "apply-to": self.apply_to,
            "priority": self.priority,
            "definition": dict(self.definition),
        }


def consumer_queue_policy(delivery_limit: int = DEFAULT_DELIVERY_LIMIT) -> Policy:
    if delivery_limit < 0:
        raise ValueError("delivery_limit must be >= 0")
    return Policy(
        name="ims-consumer-queues",
        pattern=CONSUMER_QUEUE_PATTERN,
        definition={
            "delivery-limit": delivery_limit,
            "dead-letter-strategy": "at-least-once",
            "overflow": "reject-publish",
        },
    )


def broker_policies(delivery_limit: int = DEFAULT_DELIVERY_LIMIT) -> list[Policy]:
    """Every policy of the vhost (one today; a list so that a second one is added here, not beside it)."""
    return [consumer_queue_policy(delivery_limit)]


Run = Callable[[Sequence[str]], subprocess.CompletedProcess[str]]


def rabbitmqctl(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """``rabbitmqctl -q`` here (on the node ``RABBITMQ_NODENAME`` names, if set: rabbitmqctl reads it)."""
    command = ["rabbitmqctl", "-q", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def apply_policies(
    vhost: str, *, delivery_limit: int = DEFAULT_DELIVERY_LIMIT, run: Run = rabbitmqctl
) -> list[str]:
    """Create or replace every policy on ``vhost`` (safe to repeat); return one line per policy set."""
    steps = []
    for policy in broker_policies(delivery_limit):
        done = run(policy.set_policy_args(vhost))
        if done.returncode != 0:
            said = (done.stderr or done.stdout).strip()
            raise RuntimeError(f"rabbitmqctl set_policy {policy.name} on {vhost} failed: {said}")
        settings = json.dumps(dict(policy.definition), sort_keys=True)
        steps.append(f"policy {policy.name} on {vhost}: {settings}")
    return steps
