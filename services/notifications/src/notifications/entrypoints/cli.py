"""The `notifications` command: migrate the database, seed the demo reminder policy, run the worker."""

from __future__ import annotations

import uuid
from datetime import time
from pathlib import Path

import click

from clinic_shared import demo
from clinic_shared.logging import configure_logging
from clinic_shared.messaging import topology
from clinic_shared.migrations import upgrade
from clinic_shared.tokens import Principal
from notifications.bootstrap import bootstrap
from notifications.config import NotificationsSettings
from notifications.service_layer import reminder_policies

MIGRATIONS = Path(__file__).resolve().parent.parent / "adapters" / "migrations"
# Whoever runs this command holds the deployment's database credentials: an organisation-wide admin.
OPERATOR = Principal(account_id=uuid.UUID(int=0), roles=frozenset({"admin"}))


@click.group()
def main() -> None:
    """Notifications service administration."""


@main.command()
def migrate() -> None:
    """Apply database migrations."""
    settings = NotificationsSettings.from_env()
    upgrade(settings.common.database_url, MIGRATIONS)
    click.echo("notifications: database is up to date")


@main.command("setup-broker")
def setup_broker() -> None:
    """Declare this service's exchange, queues and bindings (run before any worker starts)."""
    from notifications.entrypoints.handlers import SUBSCRIPTION

    common = NotificationsSettings.from_env().common
    topology.setup_broker(
        common.amqp_url,
        producer="notifications",
        subscription=SUBSCRIPTION,
    )
    click.echo("notifications: broker topology is declared")


@main.command()
def worker() -> None:
    """Consume scheduling's events and send the messages they call for, until SIGTERM/SIGINT."""
    from notifications.entrypoints import worker as worker_module

    settings = NotificationsSettings.from_env()
    configure_logging("notifications", settings.common.log_level)
    raise SystemExit(worker_module.run(bootstrap(settings, pre_ping=False)))


@main.command("seed-demo")
def seed_demo() -> None:
    """Give the demo clinic its reminder policy (e-mail a day ahead, SMS 2 hours ahead) unless it has one."""
    settings = NotificationsSettings.from_env()
    configure_logging("notifications", settings.common.log_level)
    c = bootstrap(settings)
    try:
        with c.uow() as uow:
            seeded = uow.repo.reminder_policy(demo.CLINIC_ID) is not None
            if not seeded:
                reminder_policies.change_reminder_policy(
                    uow,
                    OPERATOR,
                    reminder_policies.ChangeReminderPolicy(
                        clinic_id=demo.CLINIC_ID,
                        email_hours_before=24,
                        sms_hours_before=2,
                        skip_when_confirmed=True,
                        quiet_hours_start=time(21),
                        quiet_hours_end=time(8),
                    ),
                )
                uow.commit()
    finally:
        c.engine.dispose()
    click.echo(f"notifications: demo reminder policy {'already set' if seeded else 'set'}")
