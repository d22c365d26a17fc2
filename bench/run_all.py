"""`make bench`: every benchmark, one after the other, then one summary table kept under var/bench/.

Each part is its own script (run alone for its detail); here each runs as a child process with
``BENCH_FIGURES`` pointing at a file where it records its figures (``clinic_shared.testing.benchmarks``).
The summary (figure, value, the side-by-side baseline, target, met/missed) is printed and written to
``var/bench/bench-<UTC time>-<commit>.json`` with the commit and the load average before and after.

Run:  .venv/bin/python bench/run_all.py [--quick] [--only relay,scheduling,...]
      .venv/bin/python bench/run_all.py --compare [BEFORE.json AFTER.json]   (default: the last two runs)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from clinic_shared.testing.benchmarks import (
    Figure,
    comparison_table,
    latest_runs,
    load_runs,
    read_figures,
    run_document,
    summary_table,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "var" / "bench"


@dataclass(frozen=True)
class Part:
    name: str
    script: str
    quick: tuple[str, ...]  # arguments for a smaller run


PARTS = (
    Part("relay", "bench/relay_bench.py", ("--events", "5000", "--repeat", "1")),
    Part(
        "scheduling",
        "services/scheduling/bench/scheduling_bench.py",
        ("--runs", "30", "--seconds", "4", "--no-10x"),
    ),
    Part("portal", "bench/portal_bench.py", ("--requests", "15")),
    Part("staff", "bench/staff_bench.py", ("--requests", "15")),
    Part("consumer", "bench/consumer_bench.py", ("--events", "1000", "--repeat", "1")),
    Part("dispatch", "bench/dispatch_bench.py", ("--messages", "300")),
    Part("end-to-end", "bench/end_to_end_bench.py", ("--quick",)),
)


def commit() -> str:
    done = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
    )
    name = done.stdout.strip() or "unknown"
    return f"{name}+changes" if dirty.stdout.strip() else name


def run_part(part: Part, quick: bool, figures_dir: Path) -> list[Figure]:
    figures_file = figures_dir / f"{part.name}.jsonl"
    command = [sys.executable, str(ROOT / part.script), *(part.quick if quick else ())]
    print(f"\n=== {part.name}: {' '.join(command[1:])}", flush=True)
    started = time.monotonic()
    done = subprocess.run(command, env=os.environ | {"BENCH_FIGURES": str(figures_file)}, check=False)
    print(f"=== {part.name}: {time.monotonic() - started:.0f}s, exit status {done.returncode}", flush=True)
    figures = read_figures(figures_file, part.name)
    if done.returncode != 0:
        figures.append(Figure("the benchmark ran to the end", 0, "x", ">= 1", part=part.name))
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs of every part")
    parser.add_argument("--only", help="comma-separated parts: " + ", ".join(p.name for p in PARTS))
    parser.add_argument("--compare", nargs="*", metavar="RUN.json", help="compare two runs and exit")
    args = parser.parse_args()
    if args.compare is not None:
        paths = [Path(p) for p in args.compare] or latest_runs(RESULTS)
        if len(paths) != 2:
            parser.error(f"two runs to compare are needed; found {len(paths)} under {RESULTS}")
        before, after = load_runs(paths)
        print(comparison_table(before, after))
        return 0
    chosen = set(args.only.split(",")) if args.only else {p.name for p in PARTS}
    unknown = chosen - {p.name for p in PARTS}
    if unknown:
        parser.error(f"unknown parts: {sorted(unknown)}")
    started = datetime.now(UTC)
    load_before = os.getloadavg()
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="bench-figures-") as folder:
        for part in PARTS:
            if part.name in chosen:
                figures += run_part(part, args.quick, Path(folder))
    document = run_document(
        figures,
        commit=commit(),
        load=[*load_before, *os.getloadavg()],
        quick=args.quick,
        started=started.isoformat(timespec="seconds"),
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"bench-{started:%Y%m%dT%H%M%SZ}-{document['commit']}.json"
    out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(
        f"\nSummary ({'quick' if args.quick else 'full'} run of {document['commit']}; load average before "
        f"{' '.join(f'{x:.2f}' for x in load_before)}):\n"
    )
    print(summary_table(figures))
    print(f"\nKept in {out.relative_to(ROOT)}; compare with the previous run: make bench-compare")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
