"""A listing's page and its total: the total is counted by a second statement only when the page cannot
tell it (a full page, or an empty one past the first). PostgreSQL and SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, Table, event, insert, select

from clinic_shared.db import counted_page, make_engine, make_session_factory

pytestmark = pytest.mark.integration

ITEMS = Table("items", MetaData(), Column("id", Integer, primary_key=True))


@pytest.fixture(params=["sqlite", "pg"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = (
        f"sqlite:///{tmp_path / 'items.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    engine = make_engine(url)
    ITEMS.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(ITEMS), [{"id": n} for n in range(1, 24)])  # 23 items
    yield engine
    engine.dispose()


def page(engine: Engine, offset: int, limit: int) -> tuple[list[int], int, int]:
    """The page's ids, the total, and how many statements it took."""
    statements: list[str] = []
    listen = lambda *args: statements.append(args[2])  # noqa: E731 - (conn, cursor, statement, ...)
    event.listen(engine, "before_cursor_execute", listen)
    try:
        with make_session_factory(engine)() as session:
            rows, total = counted_page(
                session, select(ITEMS.c.id), [ITEMS.c.id], offset, limit, entities=False
            )
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    return [row.id for row in rows], total, sum("SELECT" in s.upper() for s in statements)


def test_a_page_shorter_than_asked_is_the_last_and_needs_no_count(engine: Engine) -> None:
    assert page(engine, 0, 100) == (list(range(1, 24)), 23, 1)
    assert page(engine, 20, 10) == ([21, 22, 23], 23, 1)


def test_a_full_page_counts_the_rest(engine: Engine) -> None:
    assert page(engine, 0, 10) == (list(range(1, 11)), 23, 2)
    assert page(engine, 13, 10) == (list(range(14, 24)), 23, 2), "exactly full: more may follow"


def test_an_empty_page_past_the_end_still_says_how_many_there_are(engine: Engine) -> None:
    assert page(engine, 40, 10) == ([], 23, 2)


def test_an_empty_list_is_one_statement(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(ITEMS.delete())
    assert page(engine, 0, 10) == ([], 0, 1)
