"""Fuzzing a service's HTTP API from its own OpenAPI document with schemathesis, in-process over WSGI.

``fuzz`` loads the document the app serves (``/openapi.json``) and runs schemathesis' engine over every
operation: the document's examples, the "coverage" phase (boundary and missing values, wrong types,
unexpected methods), then ``max_examples`` random valid and invalid requests per operation, all from a fixed
seed so a run can be repeated. Each request carries the caller's bearer token; the answer must not be a
server error and must be as documented: status, content type, headers and body schema. Stateful sequences
are off: they follow links between operations, which the documents do not declare.

Path and query parameters and top-level body members naming something the test seeded (``patient_id``,
``clinic_id``, ...) take the seeded value half of the time, so the fuzzing phase gets past the 404s.

CI runs ``MAX_EXAMPLES`` per operation from ``SEED``; to search further locally, set ``FUZZ_MAX_EXAMPLES``
and ``FUZZ_SEED`` (e.g. ``FUZZ_MAX_EXAMPLES=200 FUZZ_SEED=7 pytest services/billing -k fuzz``).
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import strategies as st
from schemathesis.engine import events, from_schema
from schemathesis.engine.recorder import ScenarioRecorder

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)
SEED = 20250303
MAX_EXAMPLES = 20
SUMMARY_PROPERTY = "fuzz_cases"
_SHOWN_BODY = 500


@dataclass
class FuzzResult:
    """What a run sent and what went wrong, readable in a test's failure message."""

    label: str
    cases: Counter[str] = field(default_factory=Counter)  # per phase
    operations: set[str] = field(default_factory=set)
    answered_2xx: set[str] = field(default_factory=set)
    statuses: Counter[int] = field(default_factory=Counter)
    checks: Counter[str] = field(default_factory=Counter)  # how often each check ran
    failures: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.cases.values())

    def summary(self) -> str:
        phases = ", ".join(f"{phase} {count}" for phase, count in sorted(self.cases.items()))
        statuses = " ".join(f"{status}x{count}" for status, count in sorted(self.statuses.items()))
        checks = " ".join(f"{name}x{count}" for name, count in sorted(self.checks.items()))
        return (
            f"{self.label}: {self.total} cases ({phases}) over {len(self.operations)} operations, "
            f"{len(self.answered_2xx)} of them answered 2xx; {len(self.failures)} failures, "
            f"{len(self.errors)} errors; statuses {statuses}; checks run {checks}; "
            f"never answered 2xx: {', '.join(sorted(self.operations - self.answered_2xx)) or 'none'}"
        )

    @property
    def passed(self) -> bool:
        return not self.failures and not self.errors

    def record(self, record_property: Callable[[str, object], None]) -> None:
        """Record the summary on the test; ``pytest_terminal_summary`` lists it at the end of the session."""
        record_property(SUMMARY_PROPERTY, self.summary())

    def problems(self) -> str:
        return "\n\n".join([self.summary(), *self.errors, *self.failures])

    def assert_clean(self) -> None:
        """Fail the test listing every failure and error, if any; also fail a run in which no operation
        answered 2xx (its token or seed data would be wrong: nothing past a refusal was tried)."""
        if not self.passed:
            pytest.fail(self.problems(), pytrace=False)
        if not self.answered_2xx:
            pytest.fail(f"no operation answered 2xx: {self.summary()}", pytrace=False)


def api_schema(
    app: Flask,
    *,
    headers: Mapping[str, str],
    known_ids: Mapping[str, uuid.UUID | str] | None = None,
    max_examples: int | None = None,
    seed: int | None = None,
) -> Any:
    """The app's own OpenAPI document as a seeded, bounded schemathesis schema sending ``headers``."""
    config = schemathesis.Config.from_dict(
        {
            "seed": seed or int(os.environ.get("FUZZ_SEED", SEED)),
            "generation": {
                "max-examples": max_examples or int(os.environ.get("FUZZ_MAX_EXAMPLES", MAX_EXAMPLES)),
                "deterministic": True,
                "database": "none",
            },
            "phases": {"stateful": {"enabled": False}},
            "continue-on-failure": True,
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
            "headers": dict(headers),
        }
    )
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app, config=config)
    ids = {name: str(value) for name, value in (known_ids or {}).items()}
    if ids:

        def seeded(generated: Any) -> Any:
            """Each member naming a seeded thing is either its generated value or the seeded id."""
            if not isinstance(generated, dict) or not ids.keys() & generated.keys():
                return st.just(generated)
            return st.fixed_dictionaries(
                {
                    name: st.sampled_from([value, ids[name]]) if name in ids else st.just(value)
                    for name, value in generated.items()
                }
            )

        for part in ("path_parameters", "query", "body"):
            schema.hooks.register_hook_with_name(lambda context, value: seeded(value), f"flatmap_{part}")
    return schema


def fuzz(app: Flask, label: str, *, headers: Mapping[str, str], **options: Any) -> FuzzResult:
    """Run every phase over every operation of ``app``'s document; see ``api_schema`` for ``options``."""
    result = FuzzResult(label)
    schema = api_schema(app, headers=headers, **options)
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            result.cases[event.phase.value] += len(event.recorder.cases)
            _record(result, event.recorder)
        elif isinstance(event, events.NonFatalError):
            result.errors.append(f"ERROR in {event.label}: {type(event.value).__name__}: {event.value}")
        elif isinstance(event, events.FatalError):
            result.errors.append(f"FATAL: {type(event.exception).__name__}: {event.exception}")
        elif isinstance(event, events.Interrupted):
            result.errors.append("the run was interrupted")
        elif isinstance(event, events.EngineFinished):
            result.failures.extend(f"{failure.title}: {failure.message}" for failure in event.failures)
            if event.stop_reason.skip_explanation:
                result.errors.append(f"stopped early: {event.stop_reason.skip_explanation}")
    return result


def _record(result: FuzzResult, recorder: ScenarioRecorder) -> None:
    result.operations.add(recorder.label)
    method = recorder.label.split(" ", 1)[0]
    for sent in recorder.interactions.values():
        if sent.response is not None:
            status = sent.response.status_code
            result.statuses[status] += 1
            # The coverage phase also sends other methods (an OPTIONS answered 200 proves nothing).
            if 200 <= status < 300 and sent.request.method == method:
                result.answered_2xx.add(recorder.label)
    for case_id, checks in recorder.checks.items():
        for check in checks:
            result.checks[check.name] += 1
            if check.failure_info is None:
                continue
            failure = check.failure_info.failure
            interaction = recorder.interactions.get(case_id)
            request = response = ""
            if interaction is not None:
                body = (interaction.request.body or b"")[:_SHOWN_BODY].decode(errors="replace")
                request = f"{interaction.request.method} {interaction.request.uri} {body}"
                if interaction.response is not None:
                    answer = interaction.response.content[:_SHOWN_BODY].decode(errors="replace")
                    response = f"{interaction.response.status_code} {answer}"
            result.failures.append(
                f"{recorder.label} [{check.name}] {failure.title}\n  {failure.message}\n"
                f"  request: {request}\n  response: {response}"
            )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """List every fuzz run's case counts at the end of the session (pytest-xdist workers' too)."""
    lines = {
        str(value)
        for reports in terminalreporter.stats.values()
        for report in reports
        if getattr(report, "when", None) == "teardown"
        for name, value in getattr(report, "user_properties", [])
        if name == SUMMARY_PROPERTY
    }
    if lines:
        terminalreporter.section("API fuzzing (schemathesis)")
        for line in sorted(lines):
            terminalreporter.line(line)
