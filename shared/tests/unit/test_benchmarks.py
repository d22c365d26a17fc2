"""The benchmark figures: targets judged, recorded for the runner, summarised and compared."""

from __future__ import annotations

from pathlib import Path

import pytest

from clinic_shared.testing.benchmarks import (
    Figure,
    comparison_table,
    read_figures,
    record,
    run_document,
    summary_table,
)


def test_a_target_is_judged_by_its_comparison() -> None:
    assert Figure("booking / bare", 0.61, "x", ">= 0.6").met is True
    assert Figure("booking / bare", 0.42, "x", ">= 0.6").met is False
    assert Figure("day view p95", 100.0, "ms", "< 100").met is False
    assert Figure("context", 3.0, "ms").met is None
    with pytest.raises(ValueError, match="start with one of"):
        Figure("typo", 1.0, "ms", "about 100")


def test_figures_reach_the_runner_only_when_it_listens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    figure = Figure("slot search p95, week", 12.5, "ms", "< 15", baseline="p50 9.0 ms")
    monkeypatch.delenv("BENCH_FIGURES", raising=False)
    assert record(figure) == figure
    path = tmp_path / "figures.jsonl"
    monkeypatch.setenv("BENCH_FIGURES", str(path))
    record(figure)
    record(Figure("booking / bare", 0.42, "x", ">= 0.6"))
    assert [(f.part, f.name, f.met) for f in read_figures(path, "scheduling")] == [
        ("scheduling", "slot search p95, week", True),
        ("scheduling", "booking / bare", False),
    ]
    assert read_figures(tmp_path / "absent.jsonl", "relay") == []


def test_the_summary_says_what_was_met_and_a_comparison_shows_the_change() -> None:
    figures = [
        Figure("booking / bare", 0.42, "x", ">= 0.6", baseline="bare 1,200 req/s", part="scheduling"),
        Figure("day view p95", 116.0, "ms", "< 100", part="staff"),
        Figure("queue p95", 47.0, "ms", "< 100", part="staff"),
    ]
    table = summary_table(figures)
    assert "| scheduling | booking / bare | 0.42x | bare 1,200 req/s | >= 0.6 | MISSED |" in table
    assert "| staff | queue p95 | 47.0 ms |  | < 100 | met |" in table
    assert table.endswith("1 of 3 targets met.")

    before = run_document(figures, commit="aaa", load=[1.0, 0.5, 0.2], quick=False, started="t0")
    faster = [Figure("day view p95", 87.0, "ms", "< 100", part="staff"), *figures[:1]]
    after = run_document(faster, commit="bbb", load=[0.3], quick=True, started="t1")
    comparison = comparison_table(before, after)
    assert "| staff | day view p95 | 116 ms | 87.0 ms | -25% | < 100 | met |" in comparison
    assert "| scheduling | booking / bare | 0.42x | 0.42x | +0% | >= 0.6 | MISSED |" in comparison
