"""The `scheduling` command: migrate, seed the demo, create staff, rotate signing keys, run the worker."""

from __future__ import annotations

import uuid
from pathlib import Path

import click

from clinic_shared import demo
from clinic_shared.clock import SystemClock
from clinic_shared.logging import configure_logging
from clinic_shared.messaging import topology
from clinic_shared.migrations import upgrade
from scheduling.bootstrap import Container, bootstrap, key_ring
from scheduling.config import SchedulingSettings
from scheduling.domain.errors import SchedulingError
from scheduling.service_layer import accounts, auth, tenancy

MIGRATIONS = Path(__file__).resolve().parent.parent / "adapters" / "migrations"


def _container(*, pre_ping: bool = True) -> Container:
    settings = SchedulingSettings.from_env()
    configure_logging("scheduling", settings.common.log_level)
    return bootstrap(settings, pre_ping=pre_ping)


@click.group()
def main() -> None:
    """Scheduling service administration."""


@main.command()
def migrate() -> None:
    """Apply database migrations."""
    settings = SchedulingSettings.from_env()
    upgrade(settings.common.database_url, MIGRATIONS)
    click.echo("scheduling: database is up to date")


@main.command("setup-broker")
def setup_broker() -> None:
    """Declare this service's exchange and its queues before any worker starts."""
    from scheduling.entrypoints.handlers import SUBSCRIPTION

    common = SchedulingSettings.from_env().common
    topology.setup_broker(
        common.amqp_url,
        producer="scheduling",
        subscription=SUBSCRIPTION,
    )
    click.echo("scheduling: broker topology is declared")


@main.command()
def worker() -> None:
    """Run the outbox relay and the event consumer until SIGTERM/SIGINT."""
    from scheduling.entrypoints import worker as worker_module

    raise SystemExit(worker_module.run(_container(pre_ping=False)))


@main.command("create-staff")
@click.option("--email", required=True)
@click.option("--password", required=True, prompt=True, hide_input=True)
@click.option("--role", "roles", multiple=True, required=True)
@click.option("--clinic", "clinic_id", type=click.UUID, default=None, help="The clinic the roles hold in.")
@click.option(
    "--organisation-wide",
    is_flag=True,
    default=False,
    help="The roles hold in every clinic (e.g. the first admin, who creates the clinics).",
)
def create_staff(
    email: str, password: str, roles: tuple[str, ...], clinic_id: uuid.UUID | None, organisation_wide: bool
) -> None:
    """Create a staff account in one clinic (--clinic) or organisation-wide (--organisation-wide; e.g. the
    first admin)."""
    if (clinic_id is None) == (not organisation_wide):
        raise click.UsageError("give exactly one of --clinic and --organisation-wide")
    c = _container()
    try:
        with c.uow() as uow:
            # The same password policy as the API: an operator's password is no weaker than a patient's.
            account = auth.create_staff_account(
                uow,
                c.hasher,
                c.password_policy,
                tenancy.OPERATOR,
                accounts.CreateStaffAccount(
                    email, password, roles, clinic_id=clinic_id, organisation_wide=organisation_wide
                ),
            )
            uow.commit()
    except SchedulingError as refused:
        raise click.ClickException(str(refused)) from None
    finally:
        c.engine.dispose()
    click.echo(f"created staff account {account.id}")


@main.command("rotate-signing-key")
def rotate_signing_key() -> None:
    """Add a new token signing key (it signs within seconds) and delete keys whose tokens have all expired.

    Prints the new kid. Running web workers pick the key up without a restart.
    """
    ring = key_ring(SchedulingSettings.from_env(), SystemClock())
    new, removed = ring.rotate()
    for old in removed:
        click.echo(f"scheduling: removed expired signing key {old.kid}", err=True)
    click.echo(new.kid)


@main.command("seed-demo")
def seed_demo() -> None:
    """Seed the living demo clinic: hours, rooms, staff, patients and a few weeks of visits (idempotent).

    Past visits are played through the use cases with a clock set back in time; see demo_seed.py.
    """
    from scheduling.entrypoints import demo_seed

    settings = SchedulingSettings.from_env()
    configure_logging("scheduling", settings.common.log_level)
    clock, ids = demo.SeedClock(), demo.SeedIds()
    now = clock.now()
    c = bootstrap(settings, clock=clock, id_factory=ids)
    try:
        seeder = demo_seed.Seeder(c, clock, ids, now)
        added = seeder.seed()
    finally:
        c.engine.dispose()
    for skipped in seeder.skipped:
        click.echo(f"scheduling: demo history skipped {skipped}", err=True)
    summary = f"{len(added)} records added" if added else "nothing to add"
    click.echo(f"Demo clinic 'VAN' ({demo.CLINIC_TIMEZONE}) is ready ({summary}). Sign in with:")
    for label, email, password in demo.credentials():
        click.echo(f"  {label:<14} {email:<26} {password}")
