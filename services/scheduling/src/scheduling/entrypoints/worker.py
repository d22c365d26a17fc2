"""Scheduling's worker process: relays the outbox to RabbitMQ (scheduling consumes no events yet)."""

from __future__ import annotations

from clinic_shared.messaging.relay import OutboxRelay
from clinic_shared.messaging.worker import run_worker
from scheduling.adapters import orm
from scheduling.bootstrap import Container


def run(container: Container) -> int:
    common = container.settings.common
    relay = OutboxRelay(
        container.session_factory,
        orm.outbox,
        common.amqp_url,
        clock=container.clock,
        batch_size=common.relay_batch_size,
    )
    return run_worker(relay, None)
