"""Database plumbing every service uses: engines, sessions, a UTC datetime type and error mapping.

SQLite (the embedded default) starts every transaction with ``BEGIN IMMEDIATE`` so writers are
serialized; PostgreSQL uses psycopg 3. Engines are built by the caller after fork, never at import.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Engine, Enum, MetaData, Select, create_engine, event, exc, func, select
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them as naive UTC text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Deterministic constraint names, so every service's migrations can refer to (and drop) them by name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def service_metadata() -> MetaData:
    """A MetaData for one service's database, with the project's constraint naming convention."""
    return MetaData(naming_convention=NAMING_CONVENTION)


def str_enum(enum_cls: type[enum.Enum], name: str, length: int = 20) -> Enum:
    """A string column holding an enum's values; not a native enum and no CHECK, so a new value needs no
    migration."""
    return Enum(
        enum_cls, name=name, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e]
    )


def normalize_url(url: str) -> str:
    """Use psycopg 3 for plain ``postgresql://`` URLs."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; for SQLite, serialize writers with BEGIN IMMEDIATE and enable WAL."""
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Take over transaction control from pysqlite so BEGIN IMMEDIATE is ours to issue.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
    return create_engine(url, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


# SQLSTATEs: 23505 unique_violation, 23P01 exclusion_violation, 40001 serialization_failure,
# 40P01 deadlock_detected.
CONFLICT_SQLSTATES = frozenset({"23505", "23P01"})
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
_SQLITE_CONSTRAINT = re.compile(r"UNIQUE constraint failed|constraint failed", re.IGNORECASE)


def sqlstate(error: exc.DBAPIError) -> str | None:
    """The SQLSTATE of a driver error, or None where the driver has none (SQLite)."""
    return getattr(error.orig, "sqlstate", None)


def is_conflict(error: exc.DBAPIError) -> bool:
    """True when the error is a uniqueness or exclusion violation on any backend."""
    state = sqlstate(error)
    if state is not None:
        return state in CONFLICT_SQLSTATES
    return isinstance(error, exc.IntegrityError) and bool(_SQLITE_CONSTRAINT.search(str(error.orig)))


def is_retryable(error: exc.DBAPIError) -> bool:
    """True for serialization failures and deadlocks, and SQLite's 'database is locked'."""
    state = sqlstate(error)
    if state is not None:
        return state in RETRYABLE_SQLSTATES
    return "database is locked" in str(error.orig)


def constraint_name(error: exc.DBAPIError) -> str | None:
    """Name of the violated constraint where the driver reports it (psycopg does)."""
    diag = getattr(error.orig, "diag", None)
    return getattr(diag, "constraint_name", None)


__all__ = [
    "Session",
    "UTCDateTime",
    "constraint_name",
    "is_conflict",
    "is_retryable",
    "make_engine",
    "make_session_factory",
    "normalize_url",
    "sqlstate",
]


def counted_page(
    session: Session,
    query: Select[Any],
    order_by: Sequence[Any],
    offset: int,
    limit: int,
    *,
    entities: bool = True,
) -> tuple[Sequence[Any], int]:
    """A page of ``query`` in ``order_by`` (its entities, or its rows when not ``entities``) and how many
    it has in all. A page shorter than ``limit`` (and not an empty one past the first) is the last, so its
    total is known without a second statement: most lists fit in one page."""
    ordered = query.order_by(*order_by).offset(offset).limit(limit)
    rows = (session.scalars(ordered) if entities else session.execute(ordered)).all()
    if len(rows) < limit and (rows or offset == 0):
        return rows, offset + len(rows)
    return rows, session.scalar(select(func.count()).select_from(query.subquery())) or 0
