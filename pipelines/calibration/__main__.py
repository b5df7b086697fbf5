"""`python -m pipelines.calibration` (`make calibrate`): how honest are the intervals?

Simulates warehouses whose true effect is known (see ``pipelines.calibration.simulate``),
pushes each through the marts' own code path, and prints per scenario and method the
coverage of the 95% intervals, the false-positive rate where the truth is "no change", and
the median bias. ``--quick`` runs in seconds; ``--write-docs`` replaces the calibration
section of docs/methods.md with the run's tables. Exits 1 when a target is missed (judged on
runs of at least 10 batches per scenario).
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
import time
from dataclasses import replace
from pathlib import Path

from pipelines.calibration.run import QUICK, Settings, check_rates, describe, markdown, run, score, targets
from pipelines.calibration.simulate import SCENARIOS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "methods.md"
START, END = "<!-- calibration:start -->", "<!-- calibration:end -->"
MIN_BATCHES_TO_JUDGE = 10
"""Below this the figures are too noisy to hold against the targets (a --quick run)."""


def main(argv: list[str] | None = None) -> int:
    """Run, print, optionally write docs/methods.md; 0 when every target is met."""
    parser = argparse.ArgumentParser(prog="python -m pipelines.calibration", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run (seconds): 2 batches per scenario, no TWFE reference")
    parser.add_argument("--batches", type=int, help="simulated warehouses per scenario (default 25)")
    parser.add_argument("--treated", type=int, help="deployed workflows per warehouse (default 8)")
    parser.add_argument("--comparison", type=int, help="comparison workflows per warehouse (default 3)")
    parser.add_argument("--workers", type=int, help="processes (default 2)")
    parser.add_argument("--seed", type=int, help="base random seed")
    parser.add_argument("--scenario", action="append", choices=[s.name for s in SCENARIOS], help="only these scenarios")
    parser.add_argument("--write-docs", action="store_true", help=f"replace the calibration section of {DOCS.name}")
    args = parser.parse_args(argv)

    settings = QUICK if args.quick else Settings(batches=25)
    overrides = {k: getattr(args, k) for k in ("batches", "treated", "comparison", "workers", "seed") if getattr(args, k) is not None}
    settings = replace(settings, **overrides)
    scenarios = tuple(s for s in SCENARIOS if not args.scenario or s.name in args.scenario)

    started = time.perf_counter()
    print(f"calibrating: {describe(settings)}", file=sys.stderr)
    estimates, checks = run(settings, scenarios)
    table = score(estimates)
    rates = check_rates(checks)
    met = targets(estimates, table)
    elapsed = time.perf_counter() - started

    body = markdown(table, rates)
    print(body)
    print()
    for method, value in met.coverage_pct.items():
        print(f"{method}: coverage {value:.1f}% where valid (target 93-97%)")
    for method, value in met.false_positive_pct.items():
        print(f"{method}: false positives on nulls {value:.1f}% (target <= 5%)")
    for method, value in met.worst_abs_bias.items():
        print(f"{method}: worst |median bias| where valid {value:.2f} points (target < 2)")
    failures = met.failures()
    judged = settings.batches >= MIN_BATCHES_TO_JUDGE
    if not judged:
        print(f"fewer than {MIN_BATCHES_TO_JUDGE} batches per scenario: too few to judge the targets (run without --quick)")
    else:
        print("all targets met" if not failures else "targets missed: " + "; ".join(failures))
    print(f"finished in {elapsed:.0f}s", file=sys.stderr)

    if args.write_docs:
        summary = "\n".join(
            [f"- {m}: coverage {v:.1f}% where valid (target 93-97%)" for m, v in met.coverage_pct.items()]
            + [f"- {m}: false positives on nulls {v:.1f}% (target at most 5%)" for m, v in met.false_positive_pct.items()]
            + [f"- {m}: worst median bias where valid {v:.2f} points (target below 2)" for m, v in met.worst_abs_bias.items()]
        )
        section = (
            f"{START}\nRun on {dt.date.today().isoformat()} with `python -m pipelines.calibration"
            f"{' --quick' if args.quick else ''}` in {elapsed:.0f}s: {describe(settings)}. "
            "Settings from metrics.yaml (95% intervals, 90-day baseline, p99 caps).\n\n"
            f"{body}\n\n{summary}\n{END}"
        )
        text = DOCS.read_text()
        if START not in text:
            raise SystemExit(f"{DOCS} has no {START} marker")
        DOCS.write_text(re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: section, text, flags=re.S))
        print(f"wrote the calibration section of {DOCS}", file=sys.stderr)
    return 0 if not failures or not judged else 1


if __name__ == "__main__":
    sys.exit(main())
