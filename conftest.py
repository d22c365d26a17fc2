"""Hooks for the whole test suite: a test's folder says how it runs; the API fuzz runs' case counts and the
long tests' reports are listed at the end of the session."""

from typing import Any

import pytest

from clinic_shared.testing import fuzz
from clinic_shared.testing.reporting import _reporting_item, report_lines

__all__ = ["_reporting_item", "pytest_collection_modifyitems", "pytest_terminal_summary"]

# A test under one of these folders runs in that stage of `make test`, whatever its parameters (an API test
# on SQLite beside its PostgreSQL twin included): the folder is the one place that says how a test runs.
_FOLDER_MARKS = {"integration": pytest.mark.integration, "e2e": pytest.mark.e2e}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        folders = item.path.relative_to(item.config.rootpath).parts[:-1]  # not the clone's own location
        for folder, mark in _FOLDER_MARKS.items():
            if folder in folders and item.get_closest_marker(mark.name) is None:
                item.add_marker(mark)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    fuzz.pytest_terminal_summary(terminalreporter)
    lines = report_lines(terminalreporter)
    if lines:
        terminalreporter.section("Test reports")
        shown = None
        for nodeid, line in lines:
            if nodeid != shown:
                terminalreporter.line(nodeid)
                shown = nodeid
            terminalreporter.line(f"  {line}")
