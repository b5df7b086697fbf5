"""Run the pipeline's own estimators on simulated batches and score them against the truth.

Each batch goes through the code path of the marts: ``build_item_periods`` (the SQL files
``workflow_cutoffs``, ``workflow_windows`` and ``item_periods``), ``compute_value_metrics``,
``weekly_metrics.sql``, ``two_group_results``, ``weekly_results``, ``compute_effect_views``
and ``compute_method_checks``, on an in-memory DuckDB. The team-weighted estimate (shown by
the mix-shift check) is computed for every deployed workflow, and the workflow-clustered
two-way fixed effects of ``pipelines.calibration.did_twfe`` is run on a subset as the reference the
published DiD replaced.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import duckdb
import pandas as pd
import polars as pl

from pipelines.asset_helpers import write_table
from pipelines.calibration.did_twfe import did_relative
from pipelines.calibration.simulate import SCENARIOS, Scenario, write_batch
from pipelines.measurement.method_checks import CHECK_NAMES, compute_method_checks, team_weighted_changes
from pipelines.measurement.views import (
    build_weekly_metrics,
    compute_effect_views,
    two_group_results,
    weekly_results,
)
from pipelines.metrics import assets as metrics_assets
from pipelines.metrics.config import MetricsConfig, load_config
from pipelines.metrics.value_metrics import compute_value_metrics

METHOD_LABELS = {
    "before_after": "before/after",
    "diff_in_diff": "diff-in-diff (published)",
    "team_weighted": "before/after, team-weighted",
    "assisted_vs_unassisted": "assisted vs unassisted",
    "twfe_workflow_clustered": "TWFE, workflow-clustered (did.py)",
}
TWFE_METRICS = ("cycle_time_hours", "touchpoints_per_item")


@dataclass(frozen=True)
class Settings:
    """How much to simulate."""

    batches: int = 12
    treated: int = 8
    comparison: int = 3
    twfe_per_batch: int = 1
    """Deployed workflows per batch that also get the slow workflow-clustered TWFE reference."""
    seed: int = 20240601
    workers: int = 2


QUICK = Settings(batches=2, treated=6, comparison=3, twfe_per_batch=0)


def run_pipeline(con: duckdb.DuckDBPyConnection, config: MetricsConfig) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The marts' code path on whatever staging tables ``con`` holds: (effect_views, method_checks)."""
    settings = config.settings
    metrics_assets.build_item_periods(con, settings)
    write_table(con, "marts.value_metrics", compute_value_metrics(con, config))
    build_weekly_metrics(con, config)
    groups = two_group_results(con, config)
    weekly = weekly_results(con, config)
    views = compute_effect_views(con, config, groups, weekly)
    checks = compute_method_checks(con, config, weekly, groups)
    return views, checks


def _twfe_rows(con: duckdb.DuckDBPyConnection, treated: list[str], comparison: list[str], alpha: float) -> list[dict]:
    """did.py's workflow-clustered TWFE (wild cluster bootstrap below 10 clusters) on the weekly levels."""
    weekly = con.sql("select * from marts.weekly_metrics where value is not null").df()
    deployed_on = pd.Timestamp(con.execute("select min(deployed_on) from staging.workflows").fetchall()[0][0])
    rows = []
    for workflow_id in treated:
        for metric in TWFE_METRICS:
            of_metric = weekly[weekly.metric == metric]
            mine = of_metric[of_metric.workflow_id == workflow_id]
            others = of_metric[
                of_metric.workflow_id.isin(comparison) & of_metric.week_start_on.isin(mine.week_start_on)
            ]
            panel = pd.concat([mine, others]).assign(
                week=lambda f: pd.to_datetime(f.week_start_on),
                y=lambda f: f.value,
                treated=lambda f, treated_id=workflow_id: f.workflow_id == treated_id,
                post=lambda f: pd.to_datetime(f.week_start_on) >= deployed_on,
            )
            result = did_relative(panel, alpha, n_resamples=999)
            rows.append(
                {"workflow_id": workflow_id, "metric": metric, "view": "twfe_workflow_clustered",
                 "estimate_pct": result.estimate_pct, "ci_low_pct": result.ci_low_pct, "ci_high_pct": result.ci_high_pct}
            )  # fmt: skip
    return rows


def run_batch(args: tuple[Scenario, int, Settings]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One simulated warehouse: every estimate with its truth, and every check's status."""
    scenario, index, settings = args
    config = load_config()
    con = duckdb.connect()
    con.execute("set threads = 1")
    try:
        batch = write_batch(
            con, scenario, seed=settings.seed + 1000 * index + SCENARIOS.index(scenario),
            n_treated=settings.treated, n_comparison=settings.comparison,
        )  # fmt: skip
        views, checks = run_pipeline(con, config)
        extra = []
        for (workflow_id, metric), change in team_weighted_changes(con, config, batch.treated).items():
            extra.append(
                {"workflow_id": workflow_id, "metric": metric, "view": "team_weighted",
                 "estimate_pct": change.estimate_pct, "ci_low_pct": change.ci_low_pct, "ci_high_pct": change.ci_high_pct}
            )  # fmt: skip
        if settings.twfe_per_batch:
            extra += _twfe_rows(con, batch.treated[: settings.twfe_per_batch], batch.comparison, config.alpha)
    finally:
        con.close()
    estimates = pl.concat(
        [
            views.select("workflow_id", "metric", "view", "estimate_pct", "ci_low_pct", "ci_high_pct"),
            pl.DataFrame(
                extra,
                schema=dict(
                    zip(
                        ("workflow_id", "metric", "view", "estimate_pct", "ci_low_pct", "ci_high_pct"),
                        (pl.String,) * 3 + (pl.Float64,) * 3,
                    )
                ),
            ),
        ]  # fmt: skip
    ).with_columns(pl.col(pl.Float64).fill_nan(None))
    effects = {metric: 100 * scenario.true_effect(metric) for metric in config.metrics}
    truth = (
        pl.when(pl.col("view") == "assisted_vs_unassisted")
        .then(0.0)
        .otherwise(pl.col("metric").replace_strict(effects, return_dtype=pl.Float64))
    )
    estimates = estimates.with_columns(
        pl.lit(scenario.name).alias("scenario"), pl.lit(index).alias("batch"), truth.alias("truth")
    )
    checks = checks.with_columns(pl.lit(scenario.name).alias("scenario"), pl.lit(index).alias("batch"))
    return estimates, checks


def run(settings: Settings, scenarios: tuple[Scenario, ...] = SCENARIOS) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Every batch of every scenario, on ``settings.workers`` processes."""
    jobs = [(scenario, index, settings) for scenario in scenarios for index in range(settings.batches)]
    if settings.workers > 1 and len(jobs) > 1:
        import multiprocessing as mp

        ctx = mp.get_context("spawn" if os.name == "nt" else "fork")
        with ctx.Pool(settings.workers) as pool:
            parts = pool.map(run_batch, jobs, chunksize=1)
    else:
        parts = [run_batch(job) for job in jobs]
    return pl.concat([p[0] for p in parts]), pl.concat([p[1] for p in parts])


def score(estimates: pl.DataFrame) -> pl.DataFrame:
    """Per scenario and method: coverage, false positives (true effect 0), bias and typical error, in points."""
    scored = estimates.filter(pl.col("ci_low_pct").is_not_null() & pl.col("ci_high_pct").is_not_null()).with_columns(
        ((pl.col("ci_low_pct") <= pl.col("truth")) & (pl.col("truth") <= pl.col("ci_high_pct"))).alias("covered"),
        ((pl.col("ci_low_pct") > 0) | (pl.col("ci_high_pct") < 0)).alias("claims_change"),
        (pl.col("estimate_pct") - pl.col("truth")).alias("error"),
    )
    totals = estimates.group_by("scenario", "view").agg(pl.len().alias("rows"))
    table = (
        scored.group_by("scenario", "view")
        .agg(
            pl.len().alias("estimated"),
            (100 * pl.col("covered").mean()).alias("coverage_pct"),
            (100 * pl.col("claims_change").filter(pl.col("truth") == 0).mean()).alias("false_positive_pct"),
            pl.col("error").median().alias("median_bias_points"),
            pl.col("error").abs().median().alias("median_abs_error_points"),
            (pl.col("ci_high_pct") - pl.col("ci_low_pct")).median().alias("median_ci_width_points"),
        )
        .join(totals, on=["scenario", "view"], how="right")
    )
    order_s = {s.name: i for i, s in enumerate(SCENARIOS)}
    order_m = {m: i for i, m in enumerate(METHOD_LABELS)}
    return table.sort(
        pl.col("scenario").replace_strict(order_s, default=99), pl.col("view").replace_strict(order_m, default=99)
    ).select(
        "scenario",
        "view",
        "rows",
        "estimated",
        "coverage_pct",
        "false_positive_pct",
        "median_bias_points",
        "median_abs_error_points",
        "median_ci_width_points",
    )


def check_rates(checks: pl.DataFrame) -> pl.DataFrame:
    """Per scenario and check: the share of applicable rows that warn, in percent."""
    wide = (
        checks.filter(pl.col("status") != "not_applicable")
        .group_by("scenario", "check_name")
        .agg((100 * (pl.col("status") == "warn").mean()).alias("warn_pct"), pl.len().alias("rows"))
        .pivot(on="check_name", index="scenario", values="warn_pct")
        .sort(pl.col("scenario").replace_strict({s.name: i for i, s in enumerate(SCENARIOS)}, default=99))
    )
    return wide.select("scenario", *[c for c in CHECK_NAMES if c in wide.columns])


@dataclass(frozen=True)
class Targets:
    """Whether the published estimators meet the calibration targets where they are valid."""

    coverage_pct: dict[str, float]
    false_positive_pct: dict[str, float]
    worst_abs_bias: dict[str, float]

    def failures(self) -> list[str]:
        """Targets missed, in words (empty when all are met)."""
        out = []
        for method, value in self.coverage_pct.items():
            if not 93 <= value <= 97:
                out.append(f"{method}: coverage {value:.1f}% outside 93-97%")
        for method, value in self.false_positive_pct.items():
            if value > 5:
                out.append(f"{method}: false positives {value:.1f}% above 5%")
        for method, value in self.worst_abs_bias.items():
            if value >= 2:
                out.append(f"{method}: median bias {value:.2f} points, not below 2")
        return out


def targets(estimates: pl.DataFrame, table: pl.DataFrame) -> Targets:
    """Pooled coverage, null false positives and worst |median bias| of before/after and DiD where each is valid."""
    valid = {s.name: s.valid for s in SCENARIOS}
    coverage, fp, bias = {}, {}, {}
    for method in ("before_after", "diff_in_diff"):
        scenarios = [name for name, methods in valid.items() if method in methods]
        rows = estimates.filter(
            pl.col("scenario").is_in(scenarios) & (pl.col("view") == method) & pl.col("ci_low_pct").is_not_null()
        )
        if rows.height == 0:
            continue
        covered = (rows["ci_low_pct"] <= rows["truth"]) & (rows["truth"] <= rows["ci_high_pct"])
        coverage[method] = 100 * float(covered.mean())
        nulls = rows.filter(pl.col("truth") == 0)
        if nulls.height:
            fp[method] = 100 * float(((nulls["ci_low_pct"] > 0) | (nulls["ci_high_pct"] < 0)).mean())
        own = table.filter(pl.col("scenario").is_in(scenarios) & (pl.col("view") == method))
        bias[method] = float(own["median_bias_points"].abs().max())
    return Targets(coverage, fp, bias)


def fmt(value: float | None, digits: int = 1) -> str:
    """A number for a table cell; blank when missing."""
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def markdown(table: pl.DataFrame, rates: pl.DataFrame, valid_only: bool = False) -> str:
    """The scoring table and the checks' warning rates as markdown."""
    valid = {s.name: s.valid for s in SCENARIOS}
    lines = [
        "| scenario | method | valid here | estimated / rows | coverage % | false positives % | median bias (points) | median abs. error (points) | median CI width (points) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in table.iter_rows(named=True):
        is_valid = r["view"] in valid.get(r["scenario"], ())
        if valid_only and not is_valid:
            continue
        lines.append(
            f"| {r['scenario']} | {METHOD_LABELS.get(r['view'], r['view'])} | {'yes' if is_valid else 'no'} | "
            f"{r['estimated'] or 0} / {r['rows']} | {fmt(r['coverage_pct'])} | {fmt(r['false_positive_pct'])} | "
            f"{fmt(r['median_bias_points'], 2)} | {fmt(r['median_abs_error_points'], 1)} | {fmt(r['median_ci_width_points'], 1)} |"
        )
    checks = [c for c in rates.columns if c != "scenario"]
    lines += [
        "",
        "Warning rate of each method check: % of the rows where it applies (status not `not_applicable`).",
        "",
        "| scenario | " + " | ".join(checks) + " |",
        "| --- |" + " --- |" * len(checks),
    ]
    for r in rates.iter_rows(named=True):
        lines.append(f"| {r['scenario']} | " + " | ".join(fmt(r[c]) for c in checks) + " |")
    return "\n".join(lines)


def quick_coverage(
    settings: Settings = QUICK, scenario_names: tuple[str, ...] = ("null", "effect")
) -> dict[str, float]:
    """Coverage of before/after and DiD on a small run (for the test suite)."""
    scenarios = tuple(s for s in SCENARIOS if s.name in scenario_names)
    estimates, _ = run(settings, scenarios)
    out = {}
    for method in ("before_after", "diff_in_diff"):
        rows = estimates.filter((pl.col("view") == method) & pl.col("ci_low_pct").is_not_null())
        out[method] = 100 * float(
            ((rows["ci_low_pct"] <= rows["truth"]) & (rows["truth"] <= rows["ci_high_pct"])).mean()
        )
    return out


def describe(settings: Settings) -> str:
    """The settings of a run in one line."""
    return (
        f"{settings.batches} batches per scenario x {settings.treated} deployed + {settings.comparison} comparison "
        f"workflows (~8 items a day each, 18 baseline weeks of data, 90-day baseline window); "
        f"TWFE reference on {settings.twfe_per_batch} deployed workflow(s) per batch x {len(TWFE_METRICS)} metrics; seed {settings.seed}"
    )


__all__ = ["QUICK", "Settings", "check_rates", "describe", "markdown", "quick_coverage", "run", "score", "targets"]
