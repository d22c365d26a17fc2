"""Who owns the transaction (issue 13), checked from the source: the caller that opened the unit of work (a
view, the event consumer, a periodic job, the CLI) commits or rolls it back; no use case and no event handler
does (the consumer commits after a handler, with the event's inbox row).

Read with ``ast``, so that a new use case that commits fails a unit test rather than production, where it
would commit the consumer's inbox row early or throw it away with a rollback. Each service's
``tests/unit/test_transaction_ownership.py`` names its modules and asserts ``transaction_enders`` finds none.
"""

from __future__ import annotations

import ast
from pathlib import Path

ENDS_THE_TRANSACTION = frozenset({"commit", "rollback"})
ADVICE = (
    "the caller owns the transaction: return, and let the view, consumer or job commit "
    "(a lost race to a unique key goes in uow.conflicts_as)"
)


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
    return sorted(found, key=lambda line: int(line.split(":", 1)[0]))


def use_case_modules(package: Path, *also: str) -> list[Path]:
    """Every module of ``package``'s service layer, then ``also`` (paths inside ``package``, e.g. the event
    handlers ``entrypoints/handlers.py``)."""
    return [*sorted((package / "service_layer").rglob("*.py")), *(package / path for path in also)]
