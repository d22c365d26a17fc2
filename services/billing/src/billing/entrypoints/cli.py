"""The `billing` command: migrate the database, seed the demo billing, run the worker, purge old keys."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click

from billing.bootstrap import Container, bootstrap
from billing.config import BillingSettings
from billing.service_layer import idempotency_keys
from clinic_shared import demo
from clinic_shared.logging import configure_logging
from clinic_shared.messaging import topology
from clinic_shared.migrations import upgrade

MIGRATIONS = Path(__file__).resolve().parent.parent / "adapters" / "migrations"


def _container(*, pre_ping: bool = True) -> Container:
    settings = BillingSettings.from_env()
    configure_logging("billing", settings.common.log_level)
    return bootstrap(settings, pre_ping=pre_ping)


@click.group()
def main() -> None:
    """Billing service administration."""


@main.command()
def migrate() -> None:
    """Apply database migrations."""
    settings = BillingSettings.from_env()
    upgrade(settings.common.database_url, MIGRATIONS)
    click.echo("billing: database is up to date")


@main.command("setup-broker")
def setup_broker() -> None:
    """Declare this service's exchange, queues and bindings (run before any worker starts)."""
    from billing.entrypoints.handlers import SUBSCRIPTION

    common = BillingSettings.from_env().common
    topology.setup_broker(common.amqp_url, producer="billing", subscription=SUBSCRIPTION)
    click.echo("billing: broker topology is declared")


@main.command()
def worker() -> None:
    """Consume scheduling's events and run the outbox relay until SIGTERM/SIGINT."""
    from billing.entrypoints import worker as worker_module

    raise SystemExit(worker_module.run(_container(pre_ping=False)))


@main.command("seed-demo")
@click.option(
    "--invoices",
    is_flag=True,
    help="Once the services run: wait for the demo visits' charges, invoice them, record payments.",
)
@click.option("--wait-seconds", type=click.IntRange(min=1), default=60, show_default=True)
def seed_demo(invoices: bool, wait_seconds: int) -> None:
    """Seed the demo clinic's prices (from 2020-01-01, CAD) and fee policy unless it has them.

    With --invoices (after the workers have started, since charges come from scheduling's events):
    an issued invoice for past visits and a payment on it. Idempotent either way.
    """
    from billing.entrypoints import demo_seed

    settings = BillingSettings.from_env()
    configure_logging("billing", settings.common.log_level)
    ids = demo.SeedIds()
    c = bootstrap(settings, id_factory=ids)
    try:
        if invoices:
            try:
                added = demo_seed.seed_invoices(c, ids, timedelta(seconds=wait_seconds))
            except demo_seed.NotReady as error:
                raise click.ClickException(f"billing: demo invoices not seeded: {error}") from None
            click.echo(f"billing: demo invoices ready ({', '.join(added) if added else 'nothing to add'})")
            return
        prices = demo_seed.seed_prices(c)
        policy = demo_seed.seed_policy(c)
    finally:
        c.engine.dispose()
    click.echo(f"billing: demo prices ready ({prices} added, {len(demo.DEMO_PRICES) - prices} already set)")
    click.echo(f"billing: demo fee policy {'set' if policy else 'already set'}")


@main.command("purge-idempotency-keys")
@click.option(
    "--older-than-hours",
    type=click.IntRange(min=1),
    default=None,
    help="Override IDEMPOTENCY_KEY_RETENTION_HOURS for this run.",
)
def purge_idempotency_keys(older_than_hours: int | None) -> None:
    """Delete Idempotency-Keys older than the retention, in batches (the worker also does this hourly).

    A request repeated with a purged key is treated as a new request.
    """
    c = _container()
    hours = older_than_hours or c.settings.idempotency_key_retention_hours
    try:
        purged = idempotency_keys.purge_idempotency_keys(c.uow, timedelta(hours=hours))
    finally:
        c.engine.dispose()
    click.echo(f"billing: purged {purged} idempotency key(s) older than {hours} hours")
