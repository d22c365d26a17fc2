"""The `billing` command and the migrations it applies, on SQLite (embedded mode) and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import insert, inspect, select

from billing.adapters import orm
from billing.entrypoints.cli import MIGRATIONS, main
from clinic_shared import demo
from clinic_shared.db import make_engine
from clinic_shared.migrations import upgrade
from clinic_shared.testing.postgres import temporary_database

TABLES = {
    "clinics",
    "practitioners",
    "treatment_types",
    "patients",
    "price_list_entries",
    "charges",
    "inbox",
    "outbox",
    "billing_policies",
    "clinic_tax_registrations",
    "invoices",
    "invoice_lines",
    "number_counters",
    "credit_notes",
    "credit_note_lines",
    "payments",
    "allocations",
    "credit_applications",
    "idempotency_keys",
    "audit_entries",
    "packages",
}


def run(args: list[str], **env: str | None) -> str:
    result = CliRunner(env={"BILLING_DATABASE_URL": None, "VAR_DIR": None} | env).invoke(main, args)
    assert result.exit_code == 0, result.output
    return result.output


def table_names(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_migrate_creates_the_embedded_database_under_var_dir(tmp_path: Path) -> None:
    output = run(["migrate"], VAR_DIR=str(tmp_path / "var"))

    assert "up to date" in output
    database = tmp_path / "var" / "billing.db"
    assert database.exists()
    assert table_names(f"sqlite:///{database}") >= TABLES
    run(["migrate"], VAR_DIR=str(tmp_path / "var"))


@pytest.mark.integration
def test_migrate_builds_the_postgresql_schema() -> None:
    with temporary_database("billing_cli") as url:
        run(["migrate"], BILLING_DATABASE_URL=url)
        run(["migrate"], BILLING_DATABASE_URL=url)
        assert table_names(url) >= TABLES


def test_migrations_match_the_orm_tables(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, orm.metadata) == []
    finally:
        engine.dispose()


def test_migrations_downgrade_to_nothing_and_back(sqlite_url: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database_url"] = sqlite_url
    command.downgrade(config, "base")
    assert table_names(sqlite_url) <= {"alembic_version"}
    command.upgrade(config, "head")
    assert table_names(sqlite_url) >= TABLES


def test_seed_demo_prices_the_demo_clinic_once_without_its_copy(database_url: str) -> None:
    first = run(["seed-demo"], BILLING_DATABASE_URL=database_url)
    again = run(["seed-demo"], BILLING_DATABASE_URL=database_url)

    assert "4 added" in first
    assert "0 added" in again
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            t = orm.price_list_entries.c
            rows = conn.execute(
                select(t.treatment_type_id, t.amount_cents, t.currency, t.effective_from).where(
                    t.clinic_id == demo.CLINIC_ID
                )
            ).all()
            clinic_copies = conn.execute(select(orm.clinics.c.id)).all()
    finally:
        engine.dispose()
    assert sorted(rows) == sorted(
        (treatment_id, cents, "CAD", date(2020, 1, 1)) for treatment_id, cents in demo.DEMO_PRICES.items()
    )
    assert demo.CLINIC_ID not in {row.id for row in clinic_copies}


@contextmanager
def empty_database(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path}/billing.db"
    else:
        with temporary_database("billing_0004") as url:
            yield url


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def test_credit_notes_issued_before_0004_are_given_their_lines(kind: str, tmp_path: Path) -> None:
    when = datetime(2025, 3, 3, 17, 0, tzinfo=UTC)
    clinic, patient, invoice = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    visit, fee, partial, void = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with empty_database(kind, tmp_path) as url:
        upgrade(url, MIGRATIONS, "0003")
        engine = make_engine(url)
        try:
            with engine.begin() as conn:
                conn.execute(
                    insert(orm.invoices).values(
                        id=invoice,
                        clinic_id=clinic,
                        patient_id=patient,
                        payer_kind="patient",
                        currency="CAD",
                        status="cancelled",
                        number="VAN-2025-000001",
                        issued_at=when,
                        credited_cents=18900,
                        paid_cents=0,
                        created_at=when,
                        updated_at=when,
                    )
                )
                for position, (line_id, cents) in enumerate(((visit, 12000), (fee, 6000))):
                    conn.execute(
                        insert(orm.invoice_lines).values(
                            id=line_id,
                            invoice_id=invoice,
                            payer_kind="patient",
                            description="IMS",
                            service_date=date(2025, 3, 3),
                            amount_cents=cents,
                            currency="CAD",
                            tax_rate_bp=500,
                            tax_cents=cents // 20,
                            position=position,
                        )
                    )
                for number, (note_id, cents, voids) in enumerate(
                    ((partial, 3150, False), (void, 15750, True))
                ):
                    conn.execute(
                        insert(orm.credit_notes).values(
                            id=note_id,
                            invoice_id=invoice,
                            clinic_id=clinic,
                            patient_id=patient,
                            number=f"VAN-CN-2025-00000{number + 1}",
                            amount_cents=cents,
                            currency="CAD",
                            reason="before 0004",
                            voids_invoice=voids,
                            issued_at=when.replace(minute=number),
                            issued_by=uuid.uuid4(),
                        )
                    )

            upgrade(url, MIGRATIONS)

            c = orm.credit_note_lines.c
            with engine.connect() as conn:
                rows = conn.execute(
                    select(c.credit_note_id, c.invoice_line_id, c.amount_cents, c.tax_cents, c.position)
                ).all()
        finally:
            engine.dispose()
    assert sorted(rows, key=lambda r: (r.credit_note_id == void, r.position)) == [
        (partial, visit, 2000, 100, 0),
        (partial, fee, 1000, 50, 1),
        (void, visit, 10000, 500, 0),
        (void, fee, 5000, 250, 1),
    ]
