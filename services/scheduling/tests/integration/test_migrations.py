"""Scheduling's migrations match its models on SQLite and PostgreSQL, and go down and up again."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from clinic_shared.db import make_engine
from scheduling.adapters import orm
from scheduling.entrypoints.cli import MIGRATIONS


def test_the_migrations_produce_exactly_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, orm.metadata) == []
    finally:
        engine.dispose()


def test_the_migrations_downgrade_to_nothing_and_back(database_url: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database_url"] = database_url
    command.downgrade(config, "base")
    engine = make_engine(database_url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        command.upgrade(config, "head")
        assert set(orm.metadata.tables) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
