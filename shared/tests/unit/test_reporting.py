"""Long tests' reports: said during the test, listed once at the end of the session."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from clinic_shared.testing.reporting import REPORT_PROPERTY, report_lines, say


def test_a_report_travels_with_the_running_test(request: pytest.FixtureRequest) -> None:
    say("\nswept", 3, "routes")
    assert (REPORT_PROPERTY, "swept 3 routes") in request.node.user_properties


def test_the_summary_lists_each_report_once_from_its_teardown() -> None:
    properties = [(REPORT_PROPERTY, "swept 3 routes"), ("other", "x")]
    call, teardown = (
        SimpleNamespace(nodeid="t.py::a", when=phase, user_properties=properties)
        for phase in ("call", "teardown")
    )
    reporter = SimpleNamespace(stats={"passed": [call], "": [teardown]})
    assert report_lines(reporter) == [("t.py::a", "swept 3 routes")]
