"""Who owns the transaction (issue 13): the caller that opened the unit of work (a view, the event consumer,
the waitlist sweep, the CLI, the demo seed) commits or rolls it back; no use case in the service layer does,
and no event handler does either (the consumer commits after it, with the event's inbox row).

Read from the source (ast, clinic_shared.testing.transaction_ownership), so that a new use case that commits
fails here rather than in production, where it would commit the consumer's inbox row early or throw it away
with a rollback.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import scheduling
from clinic_shared.testing.transaction_ownership import ADVICE, transaction_enders, use_case_modules

PACKAGE = Path(scheduling.__file__).resolve().parent


def modules_that_must_not_end_the_transaction() -> list[Path]:
    return use_case_modules(PACKAGE, "entrypoints/handlers.py")


def test_the_walk_finds_the_use_cases() -> None:
    names = {path.stem for path in modules_that_must_not_end_the_transaction()}
    assert {"appointments", "auth", "plans", "waitlist", "rescheduling", "handlers"} <= names


@pytest.mark.parametrize(
    "path", modules_that_must_not_end_the_transaction(), ids=lambda path: str(path.relative_to(PACKAGE))
)
def test_no_use_case_or_handler_commits_or_rolls_back(path: Path) -> None:
    assert transaction_enders(path.read_text()) == [], ADVICE
