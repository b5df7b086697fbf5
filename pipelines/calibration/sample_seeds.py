"""Does the bundled sample tell its stories on any seed, or only on a lucky one?

For each seed, the sample generator writes a complete input folder (the same code as
``make sample``, only the seed differs), the real build (``python -m pipelines.cli build``,
in a subprocess with its own warehouse) runs on it, and every story is checked against the
truth the generator wrote in ``expected/``:

* once the scorecard publishes a ``decision`` and the generator an ``expected_decision``:
  the story is right when the decision is the expected one (``scale`` and ``close_gaps``
  count as the same: they differ only in the governance gate, not in value);
* until then: when the quadrant is the expected one and the primary metric's verdict is the
  one its true effect should earn (``expected_verdict``).

Target: every story right on at least 90% of the seeds.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
import polars as pl

DEFAULT_SEEDS = tuple(range(1, 11))
"""Ten seeds (not including the bundled sample's 141), as issue 11 asks."""
STORY_TARGET = 90.0
ROOT = Path(__file__).resolve().parents[2]


def check_seed(seed: int) -> pl.DataFrame:
    """One seed: generate, build, and compare each story with its truth (one row per workflow)."""
    from pipelines.sample.generate import generate

    with tempfile.TemporaryDirectory(prefix=f"opvalue-sample-{seed}-") as folder:
        inputs, warehouse = Path(folder) / "inputs", Path(folder) / "warehouse.duckdb"
        generate(inputs, seed=seed, log=lambda *_: None)
        env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
        env.update(OPVALUE_INPUT_DIR=str(inputs), OPVALUE_WAREHOUSE=str(warehouse), PYTHONPATH=str(ROOT))
        done = subprocess.run(
            [sys.executable, "-m", "pipelines.cli", "build"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if not warehouse.exists():
            raise RuntimeError(f"the build of sample seed {seed} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            scorecard = con.sql("select * from marts.workflow_scorecard").pl()
        finally:
            con.close()
        stories = pl.read_csv(inputs / "expected" / "stories.csv", infer_schema_length=0)
        effects = pl.read_csv(inputs / "expected" / "true_effects.csv", infer_schema_length=0)
    return compare(scorecard, stories, effects).with_columns(pl.lit(seed).alias("seed"))


def compare(scorecard: pl.DataFrame, stories: pl.DataFrame, effects: pl.DataFrame) -> pl.DataFrame:
    """Per story: what was expected, what the build published, and whether it is right."""
    primary = effects.filter(pl.col("is_primary") == "true").select(
        "workflow_id",
        pl.when(pl.col("expected_verdict") != "not_deployed")
        .then(pl.col("expected_verdict"))
        .alias("expected_verdict"),
    )
    by_decision = "decision" in scorecard.columns and "expected_decision" in stories.columns
    published = scorecard.select(
        "workflow_id", "quadrant", "primary_verdict",
        (pl.col("decision") if "decision" in scorecard.columns else pl.lit(None, dtype=pl.String)).alias("decision"),
    )  # fmt: skip
    joined = (
        stories.select(
            "workflow_id",
            "expected_quadrant",
            (
                pl.col("expected_decision") if "expected_decision" in stories.columns else pl.lit(None, dtype=pl.String)
            ).alias("expected_decision"),
        )  # fmt: skip
        .join(primary, on="workflow_id", how="left")
        .join(published, on="workflow_id", how="left")
    )
    if by_decision:
        # scale and close_gaps differ only in the ready-to-scale gate (governance), not in value.
        same = pl.col("decision").replace({"close_gaps": "scale"})
        right = same.eq_missing(pl.col("expected_decision").replace({"close_gaps": "scale"}))
    else:
        right = pl.col("quadrant").eq_missing(pl.col("expected_quadrant")) & (
            pl.col("expected_verdict").is_null() | pl.col("primary_verdict").eq_missing(pl.col("expected_verdict"))
        )
    return joined.with_columns(
        right.alias("right"), pl.lit("decision" if by_decision else "verdict and quadrant").alias("judged_on")
    )


def story_rates(seeds, workers: int = 2) -> pl.DataFrame:
    """Per story: how often it came out right over ``seeds``, and what it got instead when wrong."""
    seeds = list(seeds)
    if workers > 1 and len(seeds) > 1:
        from concurrent.futures import ThreadPoolExecutor

        # Threads suffice: each build is its own process.
        with ThreadPoolExecutor(workers) as pool:
            parts = list(pool.map(check_seed, seeds))
    else:
        parts = [check_seed(seed) for seed in seeds]
    checks = pl.concat(parts)
    wrong_as = (
        pl.when(pl.col("judged_on") == "decision")
        .then(pl.col("decision"))
        .otherwise(
            pl.concat_str(pl.col("quadrant").fill_null("-"), pl.col("primary_verdict").fill_null("-"), separator="/")
        )
    )
    return (
        checks.group_by("workflow_id", maintain_order=True)
        .agg(
            pl.col("expected_decision").first(),
            pl.col("expected_quadrant").first(),
            pl.col("expected_verdict").first(),
            pl.col("judged_on").first(),
            pl.len().alias("seeds"),
            (100 * pl.col("right").mean()).alias("right_pct"),
            pl.concat_str(pl.lit("seed "), pl.col("seed").cast(pl.String), pl.lit(": "), wrong_as)
            .filter(~pl.col("right"))
            .alias("wrong"),
        )
        .with_columns(pl.col("wrong").list.join("; "))
    )


def sample_markdown(rates: pl.DataFrame) -> str:
    """The per-story rates as a markdown table with pass/miss against the target."""
    seeds = int(rates["seeds"].max()) if rates.height else 0
    judged = rates["judged_on"].first() if rates.height else ""
    lines = [
        f"Bundled sample over {seeds} seeds (judged on: {judged}; target: each story right on >= {STORY_TARGET:.0f}% of seeds).",
        "",
        "| story | expected | right % | status | wrong on |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in rates.iter_rows(named=True):
        expected = (
            r["expected_decision"]
            if r["judged_on"] == "decision"
            else f"{r['expected_quadrant']} / {r['expected_verdict'] or '-'}"
        )
        status = "pass" if r["right_pct"] >= STORY_TARGET else "miss"
        lines.append(f"| {r['workflow_id']} | {expected} | {r['right_pct']:.0f} | {status} | {r['wrong'] or ''} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m pipelines.calibration.sample_seeds``: the sample-seed part of ``make calibrate``
    alone (no simulated worlds); prints the per-story table, 0 when every story meets the target."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m pipelines.calibration.sample_seeds", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--seeds", type=int, default=len(DEFAULT_SEEDS), help=f"seeds 1..N (default {len(DEFAULT_SEEDS)})"
    )
    parser.add_argument("--workers", type=int, default=2, help="builds at once (default 2)")
    args = parser.parse_args(argv)
    rates = story_rates(range(1, args.seeds + 1), workers=args.workers)
    print(sample_markdown(rates))
    return 0 if (rates["right_pct"] >= STORY_TARGET).all() else 1


__all__ = ["DEFAULT_SEEDS", "STORY_TARGET", "check_seed", "compare", "main", "sample_markdown", "story_rates"]


if __name__ == "__main__":
    sys.exit(main())
