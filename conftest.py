"""Hooks for the whole test suite: the API fuzz runs' case counts and the long tests' reports, listed at the
end of the session."""

from typing import Any

from clinic_shared.testing import fuzz
from clinic_shared.testing.reporting import _reporting_item, report_lines

__all__ = ["_reporting_item", "pytest_terminal_summary"]


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
