"""Running each service's Alembic migrations (one history per service, one database per service)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import MetaData, pool

from clinic_shared.db import make_engine, normalize_url


def upgrade(database_url: str, script_location: Path, revision: str = "head") -> None:
    """Apply migrations up to ``revision``; creates the directory of a SQLite file if needed."""
    from alembic import command
    from alembic.config import Config

    url = normalize_url(database_url)
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.attributes["database_url"] = url
    command.upgrade(config, revision)


def run_env(target_metadata: MetaData) -> None:
    """Body of a service's Alembic env.py: online migrations against the configured database."""
    from alembic import context

    config = context.config
    url = config.attributes.get("database_url") or context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise RuntimeError("no database URL given to the migrations")
    engine = make_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
