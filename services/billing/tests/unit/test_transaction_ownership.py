"""Who owns the transaction (issue 13): the caller that opened the unit of work (a view, the event consumer,
a job, the CLI) commits or rolls it back; no use case in the service layer does, and no event handler does
either (the consumer commits after it, with the event's inbox row; a lost race is undone in a savepoint,
``uow.conflicts_as``).

Read from the source (ast, clinic_shared.testing.transaction_ownership), so that a new use case that commits
fails here rather than in production.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import billing
from clinic_shared.testing.transaction_ownership import ADVICE, transaction_enders, use_case_modules

PACKAGE = Path(billing.__file__).resolve().parent
# Not a use case but a job: it is given a unit-of-work factory and opens (and commits) one short
# transaction per batch of keys it purges, so that a long purge never holds locks for long.
OWNS_ITS_TRANSACTIONS = {"idempotency_keys"}


def modules_that_must_not_end_the_transaction() -> list[Path]:
    modules = use_case_modules(PACKAGE, "entrypoints/handlers.py")
    return [path for path in modules if path.stem not in OWNS_ITS_TRANSACTIONS]


def test_the_walk_finds_the_use_cases() -> None:
    names = {path.stem for path in modules_that_must_not_end_the_transaction()}
    assert {"charges", "invoices", "payments", "coverages", "reference_copies", "handlers"} <= names


@pytest.mark.parametrize(
    "path", modules_that_must_not_end_the_transaction(), ids=lambda path: str(path.relative_to(PACKAGE))
)
def test_no_use_case_or_handler_commits_or_rolls_back(path: Path) -> None:
    assert transaction_enders(path.read_text()) == [], ADVICE
