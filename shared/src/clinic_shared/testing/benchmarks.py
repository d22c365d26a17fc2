"""One way for every benchmark to report a figure, and one summary of a whole `make bench` run.

A benchmark script calls ``record(Figure(...))`` for each figure with a target; when the script runs under
``bench/run_all.py`` (which sets ``BENCH_FIGURES`` to a file) the figure is appended there as a JSON line,
otherwise nothing is written (the script's own printout stays the detail). The runner then prints one table
(figure, value, baseline, target, met or missed) and keeps it under ``var/bench/`` as JSON with the commit
and the load average, so that a later run can be compared with this one.

A figure's ``baseline`` is the side-by-side reference it was measured against in the same run (for a ratio:
what was divided by); ratios measured side by side are the figures that count on a shared, noisy machine.
"""

from __future__ import annotations

import json
import operator
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

FIGURES_ENV = "BENCH_FIGURES"
_COMPARE = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


@dataclass(frozen=True)
class Throughput:
    """How many messages one contender handled in how long (a throughput benchmark's side of a ratio)."""

    label: str
    messages: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.messages / self.seconds


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str  # "x" for a ratio, "ms", "req/s", "MB"...
    target: str | None = None  # "< 100", ">= 0.6"; None: context, not judged
    baseline: str | None = None  # what it was measured against, e.g. "bare INSERT 1,180 req/s"
    part: str = ""  # the benchmark it comes from, set by the runner

    def __post_init__(self) -> None:
        if self.target is not None:
            comparison, _, threshold = self.target.partition(" ")
            if comparison not in _COMPARE:
                raise ValueError(f"target {self.target!r}: start with one of {sorted(_COMPARE)}")
            float(threshold)

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        comparison, _, threshold = self.target.partition(" ")
        return bool(_COMPARE[comparison](self.value, float(threshold)))


def record(figure: Figure) -> Figure:
    """Hand a figure to the runner (if any); returns it, for the script's own printout."""
    path = os.environ.get(FIGURES_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(asdict(figure)) + "\n")
    return figure


def read_figures(path: Path, part: str) -> list[Figure]:
    if not path.exists():
        return []
    figures = []
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = json.loads(line) | {"part": part}
        figures.append(Figure(**fields))
    return figures


def verdict(figure: Figure) -> str:
    return {True: "met", False: "MISSED", None: ""}[figure.met]


def format_value(value: float, unit: str) -> str:
    if unit == "x":
        return f"{value:.2f}x"
    if value >= 100:
        return f"{value:,.0f} {unit}"
    return f"{value:.1f} {unit}"


def summary_table(figures: Sequence[Figure]) -> str:
    """Markdown, so that the closing note and a terminal read it alike."""
    lines = ["| part | figure | value | baseline | target | |", "|---|---|---|---|---|---|"]
    for figure in figures:
        lines.append(
            f"| {figure.part} | {figure.name} | {format_value(figure.value, figure.unit)} | "
            f"{figure.baseline or ''} | {figure.target or ''} | {verdict(figure)} |"
        )
    met = sum(1 for figure in figures if figure.met)
    judged = sum(1 for figure in figures if figure.met is not None)
    lines.append(f"\n{met} of {judged} targets met.")
    return "\n".join(lines)


def run_document(
    figures: Sequence[Figure], *, commit: str, load: Sequence[float], quick: bool, started: str
) -> dict[str, Any]:
    return {
        "commit": commit,
        "started": started,
        "quick": quick,
        "load_average": list(load),
        "figures": [asdict(figure) for figure in figures],
    }


def comparison_table(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    """Figure by figure, two runs' documents side by side (figures named alike are compared)."""
    old = {(f["part"], f["name"]): Figure(**f) for f in before["figures"]}
    lines = [
        f"before: {before['commit']} ({before['started']}, load {_load(before)})",
        f"after:  {after['commit']} ({after['started']}, load {_load(after)})",
        "",
        "| part | figure | before | after | change | target | |",
        "|---|---|---|---|---|---|---|",
    ]
    for fields in after["figures"]:
        figure = Figure(**fields)
        previous = old.get((figure.part, figure.name))
        change = ""
        if previous is not None and previous.value:
            change = f"{(figure.value - previous.value) / previous.value:+.0%}"
        was = format_value(previous.value, previous.unit) if previous else "—"
        now = format_value(figure.value, figure.unit)
        cells = [figure.part, figure.name, was, now, change, figure.target or "", verdict(figure)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _load(document: Mapping[str, Any]) -> str:
    return " ".join(f"{value:.2f}" for value in document.get("load_average", []))


def latest_runs(folder: Path, count: int = 2) -> list[Path]:
    return sorted(folder.glob("bench-*.json"))[-count:]


def load_runs(paths: Iterable[Path]) -> list[dict[str, Any]]:
    return [json.loads(path.read_text(encoding="utf-8")) for path in paths]
