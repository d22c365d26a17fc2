"""What a long test found (a sweep's counts, a load run's figures), listed at the end of the session under
"Test reports" instead of printed mid-run, where pytest's capture would hide it (pytest-xdist workers' too:
it travels as the test's user property, as the fuzz runs' counts do)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

REPORT_PROPERTY = "report"

log = logging.getLogger(__name__)
_running: list[pytest.Item] = []  # the test this process is running (each xdist worker has its own)


@pytest.fixture(autouse=True)
def _reporting_item(request: pytest.FixtureRequest) -> Iterator[None]:
    _running[:] = [request.node]
    yield
    _running.clear()


def say(*parts: object) -> None:
    """Add a line to the running test's report (outside a test: to the log)."""
    text = " ".join(str(part) for part in parts).strip("\n")
    if _running:
        _running[0].user_properties.append((REPORT_PROPERTY, text))
    else:
        log.info("%s", text)


def report_lines(terminalreporter: Any) -> list[tuple[str, str]]:
    """(test, line) of every report, once each (a property is on each phase's report: teardown's is kept)."""
    return [
        (report.nodeid, str(value))
        for reports in terminalreporter.stats.values()
        for report in reports
        if getattr(report, "when", None) == "teardown"
        for name, value in getattr(report, "user_properties", [])
        if name == REPORT_PROPERTY
    ]
