"""The three views of each effect, computed from DuckDB aggregates.

* ``before_after``: copied from ``marts.value_metrics``.
* ``assisted_vs_unassisted``: post-period items with and without AI assistance, through the
  very estimators of the before/after (``pipelines.metrics.value_metrics``), with the
  unassisted items in the baseline's place.
* ``diff_in_diff``: each deployed workflow against the pooled comparison workflows on
  ``marts.weekly_metrics`` (``pipelines.measurement.estimators.ratio_did``).

DuckDB reduces items to sufficient statistics and weekly aggregates; only cycle times
(needed for medians and Kaplan-Meier) reach Python item by item, as in the before/after.
Loops run over workflows and metrics, never over items.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import polars as pl

from pipelines.measurement.estimators import (
    FEW_WEEKS,
    Composite,
    RatioDid,
    comparison_composite,
    ratio_did,
    weekly_effects,
)
from pipelines.metrics.config import MetricsConfig
from pipelines.metrics.value_metrics import durations_by, median_result, moment_result, period_stats_sql
from pipelines.sqlfiles import run_script, sql_text
from pipelines.stats.checks import NoveltyTrend, novelty_slope
from pipelines.stats.intervals import MomentStats
from pipelines.stats.verdicts import verdict

VIEW_LABELS = {
    "before_after": "before/after (observational)",
    "assisted_vs_unassisted": "association (self-selected)",
}

EFFECT_VIEWS_SCHEMA: dict[str, pl.DataType] = {
    "workflow_id": pl.String,
    "metric": pl.String,
    "view": pl.String,
    "estimate_pct": pl.Float64,
    "ci_low_pct": pl.Float64,
    "ci_high_pct": pl.Float64,
    "n_treated": pl.Int64,
    "n_comparison": pl.Int64,
    "label": pl.String,
}

TWO_GROUP_COMPARISONS = ("placebo", "assisted")


def deployed_workflows(con: duckdb.DuckDBPyConnection) -> list[tuple[str, Any, Any, Any, Any]]:
    """(workflow_id, baseline_start_on, deployed_on, post_start_on, post_end_on) of every deployed workflow."""
    return con.execute(
        "select workflow_id, baseline_start_on, deployed_on, post_start_on, post_end_on "
        "from intermediate.workflow_windows order by workflow_id"
    ).fetchall()


def build_weekly_metrics(con: duckdb.DuckDBPyConnection, config: MetricsConfig) -> None:
    """Create ``marts.weekly_metrics`` (needs ``intermediate.item_periods`` and staging)."""
    con.execute("create schema if not exists marts")
    run_script(con, sql_text(__file__, "weekly_metrics"), {"cap_quantile": config.settings["cap_quantile"]})


# --- two groups of items through the before/after estimators --------------------------------


def placebo_offset_days(config: MetricsConfig) -> int:
    """Days from the baseline start to the fake go-live of the placebo check: mid-baseline."""
    return int(config.settings["baseline_days"]) // 2


def two_group_results(con: duckdb.DuckDBPyConnection, config: MetricsConfig) -> pl.DataFrame:
    """Placebo and assisted-vs-unassisted comparisons, one row per comparison, workflow and metric.

    Builds the temp table ``comparison_items`` and runs each comparison through
    ``moment_result`` / ``median_result`` and ``verdict``: the code of the before/after,
    so the two can only differ in which items sit on each side.
    """
    run_script(con, sql_text(__file__, "comparison_items"), {"placebo_offset_days": placebo_offset_days(config)})
    alpha = config.alpha
    settings = config.settings
    closed = {
        (r[0], r[1], r[2]): (r[3], r[4])
        for r in con.execute(
            "select comparison, workflow_id, side, count(*), count(*) filter (where is_closed) "
            "from temp.main.comparison_items group by all"
        ).fetchall()
    }
    moments = {
        (r[0], r[1], r[2], r[3]): MomentStats(n=r[4], total=r[5], total_sq=r[6])
        for r in con.execute(period_stats_sql("temp.main.comparison_items", "comparison, workflow_id, side")).fetchall()
    }
    durations = _durations(con)
    empty = MomentStats(0, 0.0, 0.0)
    rows: list[dict[str, Any]] = []
    for workflow_id, *_ in deployed_workflows(con):
        for comparison in TWO_GROUP_COMPARISONS:
            n_b, closed_b = closed.get((comparison, workflow_id, "baseline"), (0, 0))
            n_p, closed_p = closed.get((comparison, workflow_id, "post"), (0, 0))
            for name, definition in config.metrics.items():
                events = None
                if definition.aggregation == "median":
                    result = median_result(durations.get(comparison, {}), workflow_id, alpha)
                else:
                    base = moments.get((comparison, workflow_id, "baseline", name), empty)
                    post = moments.get((comparison, workflow_id, "post", name), empty)
                    if definition.aggregation == "share":
                        events = int(round(base.total + post.total))
                        base = MomentStats.from_events(base.total, base.n)
                        post = MomentStats.from_events(post.total, post.n)
                    result = moment_result(base, post, definition.aggregation, alpha)
                rows.append(
                    {
                        "comparison": comparison,
                        "workflow_id": workflow_id,
                        "metric": name,
                        "n_baseline": result["n_baseline"],
                        "n_post": result["n_post"],
                        "items_baseline": n_b,
                        "items_post": n_p,
                        "n_baseline_closed": closed_b,
                        "n_post_closed": closed_p,
                        "events": events,
                        "change_pct": result["change_pct"],
                        "ci_low_pct": result["ci_low_pct"],
                        "ci_high_pct": result["ci_high_pct"],
                        "p_value": result["p_value"],
                        "note": result.get("note"),
                        "verdict": verdict(
                            result["ci_low_pct"],
                            result["ci_high_pct"],
                            closed_b,
                            closed_p,
                            events_total=events,
                            min_closed=int(settings["min_closed_items"]),
                            min_events=int(settings["min_events"]),
                        ),
                    }
                )
    schema = {
        "comparison": pl.String, "workflow_id": pl.String, "metric": pl.String,
        "n_baseline": pl.Int64, "n_post": pl.Int64, "items_baseline": pl.Int64, "items_post": pl.Int64,
        "n_baseline_closed": pl.Int64, "n_post_closed": pl.Int64, "events": pl.Int64,
        "change_pct": pl.Float64, "ci_low_pct": pl.Float64, "ci_high_pct": pl.Float64,
        "p_value": pl.Float64, "note": pl.String, "verdict": pl.String,
    }  # fmt: skip
    return pl.DataFrame(rows, schema=schema).with_columns(pl.col(pl.Float64).fill_nan(None))


def _durations(con: duckdb.DuckDBPyConnection) -> dict[str, dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]]:
    """Cycle times and closed flags per comparison, workflow and side."""
    table = con.sql(
        "select comparison, workflow_id, side, cycle_time_hours, is_closed from temp.main.comparison_items"
    ).pl()
    groups: dict[str, dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]] = {}
    for (comparison, workflow_id, side), arrays in durations_by(table, ["comparison", "workflow_id", "side"]).items():
        groups.setdefault(comparison, {})[(workflow_id, side)] = arrays
    return groups


# --- weekly series: difference-in-differences, parallel trends, novelty -----------------------


@dataclass(frozen=True)
class WeeklyResult:
    """What the weekly series of one deployed workflow and metric say."""

    workflow_id: str
    metric: str
    did: RatioDid
    n_comparison_workflows: int
    items_treated: int
    items_comparison: int
    pre_trend: NoveltyTrend | None
    """Slope of the weekly gap to the comparisons over the baseline weeks (None: no comparisons)."""
    post_trend: NoveltyTrend
    """Slope of the weekly effect over the post weeks (against the comparisons when there are any)."""
    weeks_baseline: int
    weeks_post: int


def weekly_results(con: duckdb.DuckDBPyConnection, config: MetricsConfig) -> list[WeeklyResult]:
    """DiD against the comparison workflows, plus the baseline and post trends of the weekly effect.

    For each deployed workflow the comparison workflows' weeks are taken at the workflow's
    own weeks and split at its own go-live, so every workflow is compared with the same
    calendar weeks; workflows are estimated one at a time (no staggered-TWFE bias).
    """
    weekly = con.sql(
        "select workflow_id, metric, week_start_on, value, n, is_post, weeks_since_deployment "
        "from marts.weekly_metrics"
    ).pl()
    comparisons = [
        r[0]
        for r in con.execute(
            "select distinct weekly.workflow_id from marts.weekly_metrics as weekly "
            "inner join staging.workflows as workflows using (workflow_id) "
            "where workflows.deployed_on is null order by 1"
        ).fetchall()
    ]
    weeks = weekly.get_column("week_start_on").unique().sort()
    week_index = {w: i for i, w in enumerate(weeks.to_list())}
    n_weeks = len(week_index)
    deployed = [row[0] for row in deployed_workflows(con)]
    results: list[WeeklyResult] = []
    for metric in config.metrics:
        of_metric = weekly.filter(pl.col("metric") == metric).with_columns(
            pl.col("week_start_on").replace_strict(week_index, return_dtype=pl.Int64).alias("week")
        )
        comp_values, comp_counts = _comparison_matrix(of_metric, comparisons, n_weeks)
        by_workflow = of_metric.filter(pl.col("workflow_id").is_in(deployed)).partition_by(
            "workflow_id", as_dict=True
        )
        for workflow_id in deployed:
            part = by_workflow.get((workflow_id,))
            if part is None:
                part = of_metric.clear()
            part = part.sort("week")
            results.append(_one_workflow(workflow_id, metric, part, comp_values, comp_counts, n_weeks))
    return results


def _comparison_matrix(of_metric: pl.DataFrame, comparisons: list[str], n_weeks: int) -> tuple[np.ndarray, np.ndarray]:
    """Comparison workflows x weeks matrices of weekly values (NaN) and items (0)."""
    values = np.full((len(comparisons), n_weeks), np.nan)
    counts = np.zeros((len(comparisons), n_weeks))
    if not comparisons:
        return values, counts
    rows = of_metric.filter(pl.col("workflow_id").is_in(comparisons))
    position = {w: i for i, w in enumerate(comparisons)}
    r = rows.get_column("workflow_id").replace_strict(position, return_dtype=pl.Int64).to_numpy()
    c = rows.get_column("week").to_numpy()
    values[r, c] = rows.get_column("value").fill_null(np.nan).to_numpy()
    counts[r, c] = rows.get_column("n").to_numpy()
    return values, counts


def _one_workflow(
    workflow_id: str,
    metric: str,
    part: pl.DataFrame,
    comp_values: np.ndarray,
    comp_counts: np.ndarray,
    n_weeks: int,
) -> WeeklyResult:
    week = part.get_column("week").to_numpy().astype(np.int64)
    a = part.get_column("value").fill_null(np.nan).to_numpy().astype(float)
    n = part.get_column("n").to_numpy().astype(float)
    post = part.get_column("is_post").to_numpy().astype(bool)
    since = part.get_column("weeks_since_deployment").to_numpy().astype(float)
    baseline_mask = np.zeros(n_weeks, dtype=bool)
    baseline_mask[week[~post]] = True
    composite: Composite = comparison_composite(comp_values, comp_counts, baseline_mask)
    c = composite.value[week] if week.size else np.empty(0)
    has_comparison = composite.n_workflows > 0 and np.isfinite(c).any()
    if has_comparison:
        did = ratio_did(a, n, c, post)
    else:
        did = RatioDid(math.nan, math.nan, math.nan, math.nan, math.nan, math.nan, 0, 0, None)
    used = np.isfinite(a) & (n > 0) & (np.isfinite(c) if has_comparison else True)
    effects = weekly_effects(a, n, c if has_comparison else None, post)
    pre_trend = novelty_slope(since[~post], effects[~post], n[~post]) if has_comparison else None
    post_trend = novelty_slope(since[post], effects[post], n[post])
    return WeeklyResult(
        workflow_id=workflow_id,
        metric=metric,
        did=did,
        n_comparison_workflows=composite.n_workflows,
        items_treated=int(n[used].sum()),
        items_comparison=int(composite.items[week[used]].sum()) if has_comparison else 0,
        pre_trend=pre_trend,
        post_trend=post_trend,
        weeks_baseline=int((used & ~post).sum()),
        weeks_post=int((used & post).sum()),
    )


def did_label(result: WeeklyResult, n_comparison_workflows_total: int) -> str:
    """The diff_in_diff row's label: what was compared, or why nothing could be."""
    prefix = "difference-in-differences"
    if n_comparison_workflows_total == 0:
        return f"{prefix} not estimable: no comparison workflow (a workflow with items and no deployed_on)"
    if result.n_comparison_workflows == 0:
        return f"{prefix} not estimable: no comparison workflow has data in this workflow's weeks with a non-zero baseline"
    if not math.isfinite(result.did.estimate_pct):
        return f"{prefix} not estimable: {result.did.note}"
    k = result.n_comparison_workflows
    label = (
        f"{prefix} vs {k} comparison workflow{'s' if k != 1 else ''}, {result.did.weeks_baseline} baseline + "
        f"{result.did.weeks_post} post weeks (own estimate: no staggered-go-live bias)"
    )
    if min(result.did.weeks_baseline, result.did.weeks_post) < FEW_WEEKS:
        label += f"; interval unreliable: fewer than {FEW_WEEKS} weeks in a period"
    return label


def compute_effect_views(
    con: duckdb.DuckDBPyConnection,
    config: MetricsConfig,
    groups: pl.DataFrame | None = None,
    weekly: list[WeeklyResult] | None = None,
) -> pl.DataFrame:
    """Every effect view row: before/after, assisted vs unassisted, and difference-in-differences.

    ``groups`` (:func:`two_group_results`) and ``weekly`` (:func:`weekly_results`) may be
    passed in when already computed (the calibration shares them with the method checks).
    """
    before_after = con.sql(
        f"""
        select workflow_id, metric, 'before_after' as view, change_pct as estimate_pct, ci_low_pct, ci_high_pct,
               n_post as n_treated, n_baseline as n_comparison, '{VIEW_LABELS["before_after"]}' as label
        from marts.value_metrics
        """
    ).pl()
    groups = two_group_results(con, config) if groups is None else groups
    assisted = groups.filter(pl.col("comparison") == "assisted").select(
        "workflow_id",
        "metric",
        pl.lit("assisted_vs_unassisted").alias("view"),
        pl.col("change_pct").alias("estimate_pct"),
        "ci_low_pct",
        "ci_high_pct",
        pl.col("n_post").alias("n_treated"),
        pl.col("n_baseline").alias("n_comparison"),
        pl.concat_str(
            pl.lit(VIEW_LABELS["assisted_vs_unassisted"]),
            pl.when(pl.col("n_post") < 2)
            .then(pl.lit("; too few assisted items to compare"))
            .when(pl.col("n_baseline") < 2)
            .then(pl.lit("; too few unassisted items to compare"))
            .when(pl.col("change_pct").is_null())
            .then(pl.lit("; no relative difference: the unassisted value is zero or not estimable"))
            .when(pl.col("verdict") == "insufficient_data")
            .then(pl.lit("; little data: indicative only"))
            .otherwise(pl.lit("")),
        ).alias("label"),
    )
    results = weekly_results(con, config) if weekly is None else weekly
    n_comparisons = con.execute(
        "select count(distinct weekly.workflow_id) from marts.weekly_metrics as weekly "
        "inner join staging.workflows as workflows using (workflow_id) where workflows.deployed_on is null"
    ).fetchall()[0][0]
    did = pl.DataFrame(
        [
            {
                "workflow_id": r.workflow_id,
                "metric": r.metric,
                "view": "diff_in_diff",
                "estimate_pct": r.did.estimate_pct,
                "ci_low_pct": r.did.ci_low_pct,
                "ci_high_pct": r.did.ci_high_pct,
                "n_treated": r.items_treated,
                "n_comparison": r.items_comparison,
                "label": did_label(r, n_comparisons),
            }
            for r in results
        ],
        schema=EFFECT_VIEWS_SCHEMA,
    )
    frame = pl.concat([part.cast(EFFECT_VIEWS_SCHEMA) for part in (before_after, assisted, did)], how="vertical")
    order = {"before_after": 0, "assisted_vs_unassisted": 1, "diff_in_diff": 2}
    return (
        frame.with_columns(pl.col(pl.Float64).fill_nan(None))
        .with_columns(pl.col("view").replace_strict(order, return_dtype=pl.Int8).alias("_order"))
        .sort("workflow_id", "metric", "_order")
        .drop("_order")
    )
