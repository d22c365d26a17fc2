"""The `scheduling` command: migrate, seed the demo clinic, create staff accounts, run the worker."""

from __future__ import annotations

import uuid
from pathlib import Path

import click

from clinic_shared import demo
from clinic_shared.logging import configure_logging
from clinic_shared.messaging import topology
from clinic_shared.migrations import upgrade
from scheduling.bootstrap import Container, bootstrap
from scheduling.config import SchedulingSettings
from scheduling.domain.errors import Conflict
from scheduling.domain.model import AppointmentKind, Clinic
from scheduling.service_layer import services

MIGRATIONS = Path(__file__).resolve().parent.parent / "adapters" / "migrations"

DEMO_ADMIN = ("admin@demo.clinic", "demo-admin-pass")
DEMO_BILLING = ("billing@demo.clinic", "demo-billing-pass")
DEMO_PRACTITIONER = ("ims@demo.clinic", "demo-practitioner-pass")
DEMO_PATIENT = ("patient@demo.clinic", "demo-patient-pass")


def _container() -> Container:
    settings = SchedulingSettings.from_env()
    configure_logging("scheduling", settings.common.log_level)
    return bootstrap(settings)


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
        delivery_limit=common.delivery_limit,
    )
    click.echo("scheduling: broker topology is declared")


@main.command()
def worker() -> None:
    """Run the outbox relay and the event consumer until SIGTERM/SIGINT."""
    from scheduling.entrypoints import worker as worker_module

    raise SystemExit(worker_module.run(_container()))


@main.command("create-staff")
@click.option("--email", required=True)
@click.option("--password", required=True, prompt=True, hide_input=True)
@click.option("--role", "roles", multiple=True, required=True)
def create_staff(email: str, password: str, roles: tuple[str, ...]) -> None:
    """Create a staff account (e.g. the first admin)."""
    c = _container()
    with c.uow() as uow:
        account = services.create_staff_account(
            uow, c.hasher, services.CreateStaffAccount(email, password, roles)
        )
    click.echo(f"created staff account {account.id}")


@main.command("seed-demo")
def seed_demo() -> None:
    """Create the demo clinic, practitioners, treatment types, a patient, a billing clerk and an admin."""
    c = _container()
    with c.uow() as uow:
        seeded = uow.repo.get(Clinic, demo.CLINIC_ID) is not None
    if not seeded:
        _seed_catalogue(c)
    _ensure_account(c, *DEMO_ADMIN, ["admin"])
    _ensure_account(c, *DEMO_BILLING, ["billing"])
    _ensure_account(c, *DEMO_PRACTITIONER, ["practitioner"], demo.PRACTITIONER_IMS_ID)
    try:
        with c.uow() as uow:
            services.register_patient(
                uow,
                c.hasher,
                services.RegisterPatient(
                    DEMO_PATIENT[0], DEMO_PATIENT[1], "Pat", "Demo", "+16045550100", "en"
                ),
            )
    except Conflict:
        pass
    click.echo("Demo clinic 'VAN' (America/Vancouver) is ready. Sign in at POST /auth/token with:")
    for label, (email, password) in {
        "admin": DEMO_ADMIN,
        "billing clerk": DEMO_BILLING,
        "practitioner": DEMO_PRACTITIONER,
        "patient": DEMO_PATIENT,
    }.items():
        click.echo(f"  {label:<14} {email:<24} {password}")


def _seed_catalogue(c: Container) -> None:
    with c.uow() as uow:
        services.create_clinic(
            uow,
            services.CreateClinic(
                code="VAN",
                name="Demo IMS Clinic",
                timezone="America/Vancouver",
                address="100 Main St, Vancouver BC",
                phone="+16045550199",
                email="front@demo.clinic",
                clinic_id=demo.CLINIC_ID,
            ),
        )
    practitioners = [
        (demo.PRACTITIONER_IMS_ID, "Dr. Ida Needham", "PT-1001", True),
        (demo.PRACTITIONER_ASSESSOR_ID, "Sam Assessor", "PT-1002", False),
    ]
    for practitioner_id, name, registration, ims in practitioners:
        with c.uow() as uow:
            services.add_practitioner(
                uow, services.AddPractitioner(demo.CLINIC_ID, name, registration, ims, practitioner_id)
            )
    catalogue = [
        (demo.ASSESSMENT_ID, "ASSESS60", "IMS assessment", AppointmentKind.ASSESSMENT, 60),
        (demo.IMS_30_ID, "IMS30", "IMS session, 30 min", AppointmentKind.TREATMENT, 30),
        (demo.IMS_45_ID, "IMS45", "IMS session, 45 min", AppointmentKind.TREATMENT, 45),
        (demo.IMS_60_ID, "IMS60", "IMS session, 60 min", AppointmentKind.TREATMENT, 60),
    ]
    for treatment_id, code, name, kind, minutes in catalogue:
        with c.uow() as uow:
            services.add_treatment_type(
                uow,
                services.AddTreatmentType(
                    demo.CLINIC_ID,
                    code,
                    name,
                    kind,
                    minutes,
                    buffer_minutes=10,
                    treatment_type_id=treatment_id,
                ),
            )


def _ensure_account(
    c: Container, email: str, password: str, roles: list[str], practitioner_id: uuid.UUID | None = None
) -> None:
    try:
        with c.uow() as uow:
            services.create_staff_account(
                uow,
                c.hasher,
                services.CreateStaffAccount(email, password, roles, demo.CLINIC_ID, practitioner_id),
            )
    except Conflict:
        pass
