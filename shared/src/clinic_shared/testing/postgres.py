"""Throw-away PostgreSQL databases for tests, created on the local server and dropped afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def admin_url() -> str:
    return os.environ.get("TEST_POSTGRES_ADMIN_URL", DEFAULT_ADMIN_URL)


def _url_for(database: str) -> str:
    base = admin_url().rsplit("/", 1)[0]
    return f"{base}/{database}"


@contextmanager
def temporary_database(prefix: str = "test") -> Iterator[str]:
    """Create a uniquely named database and yield its SQLAlchemy URL; drop it (forcefully) on exit."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield "postgresql+psycopg://" + _url_for(name).split("://", 1)[1]
    finally:
        with psycopg.connect(admin_url(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
