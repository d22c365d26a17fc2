"""Who owns the transaction (issue 13): the caller that opened the unit of work (a view, the event consumer,
the dispatcher, the agenda job, the CLI) commits or rolls it back; no use case in the service layer does, and
no event handler does either (the consumer commits after it, with the event's inbox row).

Read from the source (ast), so that a new use case that commits fails here rather than in production, where
it would commit the consumer's inbox row early or throw it away with a rollback.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import notifications

PACKAGE = Path(notifications.__file__).resolve().parent
ENDS_THE_TRANSACTION = frozenset({"commit", "rollback"})


def transaction_enders(source: str) -> list[str]:
    """``line: call`` for each ``<anything>.commit()`` or ``<anything>.rollback()`` in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ENDS_THE_TRANSACTION
        ):
            found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


def modules_that_must_not_end_the_transaction() -> list[Path]:
    return [*sorted((PACKAGE / "service_layer").rglob("*.py")), PACKAGE / "entrypoints" / "handlers.py"]


def test_the_check_sees_a_commit_and_a_rollback() -> None:
    source = "def use_case(uow):\n    uow.repo.add(1)\n    uow.commit()\n    uow.session.rollback()\n"
    assert transaction_enders(source) == ["3: uow.commit()", "4: uow.session.rollback()"]


def test_the_walk_finds_the_use_cases() -> None:
    names = {path.stem for path in modules_that_must_not_end_the_transaction()}
    assert {"appointment_notices", "dispatch", "reference_copies", "preferences", "handlers"} <= names


@pytest.mark.parametrize(
    "path", modules_that_must_not_end_the_transaction(), ids=lambda path: str(path.relative_to(PACKAGE))
)
def test_no_use_case_or_handler_commits_or_rolls_back(path: Path) -> None:
    assert transaction_enders(path.read_text()) == [], (
        "the caller owns the transaction: return, and let the view, consumer or job commit "
        "(a lost race to a unique key goes in uow.conflicts_as)"
    )
