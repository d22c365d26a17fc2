"""The `billing` command: migrate the database, seed the demo prices, run the worker, purge old keys."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import click

from billing.bootstrap import Container, bootstrap
from billing.config import BillingSettings
from billing.service_layer import invoicing, services
from clinic_shared import demo
from clinic_shared.logging import configure_logging
from clinic_shared.messaging import topology
from clinic_shared.migrations import upgrade

MIGRATIONS = Path(__file__).resolve().parent.parent / "adapters" / "migrations"

DEMO_PRICES_FROM = date(2020, 1, 1)
DEMO_CURRENCY = "CAD"


def _container() -> Container:
    settings = BillingSettings.from_env()
    configure_logging("billing", settings.common.log_level)
    return bootstrap(settings)


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
    topology.setup_broker(
        common.amqp_url, producer="billing", subscription=SUBSCRIPTION, delivery_limit=common.delivery_limit
    )
    click.echo("billing: broker topology is declared")


@main.command()
def worker() -> None:
    """Consume scheduling's events and run the outbox relay until SIGTERM/SIGINT."""
    from billing.entrypoints import worker as worker_module

    raise SystemExit(worker_module.run(_container()))


@main.command("seed-demo")
def seed_demo() -> None:
    """Give the demo clinic's treatment types their prices (from 2020-01-01, CAD) unless they have some."""
    c = _container()
    added = 0
    for treatment_type_id, cents in demo.DEMO_PRICES.items():
        with c.uow() as uow:
            entry = services.set_initial_price(
                uow,
                services.SetPrice(
                    clinic_id=demo.CLINIC_ID,
                    treatment_type_id=treatment_type_id,
                    amount_cents=cents,
                    currency=DEMO_CURRENCY,
                    effective_from=DEMO_PRICES_FROM,
                ),
            )
        added += entry is not None
    c.engine.dispose()
    click.echo(f"billing: demo prices ready ({added} added, {len(demo.DEMO_PRICES) - added} already set)")


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
        purged = invoicing.purge_idempotency_keys(c.uow, timedelta(hours=hours))
    finally:
        c.engine.dispose()
    click.echo(f"billing: purged {purged} idempotency key(s) older than {hours} hours")
