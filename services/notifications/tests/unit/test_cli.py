"""The `notifications` command line."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import create_engine, inspect

from notifications.entrypoints.cli import main


def test_migrate_creates_the_sqlite_database_and_is_repeatable(tmp_path: Path) -> None:
    database = tmp_path / "nested" / "notifications.db"
    env = {"NOTIFICATIONS_DATABASE_URL": f"sqlite:///{database}"}
    runner = CliRunner()
    for _ in range(2):
        result = runner.invoke(main, ["migrate"], env=env)
        assert result.exit_code == 0, result.output
        assert "notifications: database is up to date" in result.output
    engine = create_engine(f"sqlite:///{database}")
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {
        "contacts",
        "clinics",
        "practitioners",
        "treatment_types",
        "deliveries",
        "inbox",
        "outbox",
    } <= tables


def test_offers_migrate_and_worker() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "migrate" in result.output
    assert "worker" in result.output
