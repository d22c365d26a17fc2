"""The `billing` command and the migrations it applies, on SQLite (embedded mode) and PostgreSQL."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import inspect, select

from billing.adapters import orm
from billing.entrypoints.cli import MIGRATIONS, main
from clinic_shared import demo
from clinic_shared.db import make_engine
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
    "invoices",
    "invoice_lines",
    "number_counters",
    "credit_notes",
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
