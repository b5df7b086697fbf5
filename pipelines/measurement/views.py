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
from concurrent.futures import ThreadPoolExecutor
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
    placebo_in_space_pct,
    ratio_did,
    weekly_effects,
)
from pipelines.metrics.config import MetricsConfig
from pipelines.metrics.value_metrics import Groups, Window, build_rho, compare, load_groups, load_windows, to_frame
from pipelines.sqlfiles import run_script, sql_text
from pipelines.stats.diagnostics import NoveltyTrend, SegmentedTrend, novelty_slope, segmented_trend

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
    "is_identifiable": pl.Boolean,
    "n_comparison_workflows": pl.Int64,
    "placebo_p_value": pl.Float64,
}

TWO_GROUP_COMPARISONS = ("placebo", "assisted")
TWO_GROUP_SCHEMA: dict[str, pl.DataType] = {
    "comparison": pl.String, "workflow_id": pl.String, "metric": pl.String,
    "n_baseline": pl.Int64, "n_post": pl.Int64, "items_baseline": pl.Int64, "items_post": pl.Int64,
    "n_baseline_closed": pl.Int64, "n_post_closed": pl.Int64, "events": pl.Int64,
    "change_pct": pl.Float64, "ci_low_pct": pl.Float64, "ci_high_pct": pl.Float64,
    "p_value": pl.Float64, "note": pl.String, "verdict": pl.String,
}  # fmt: skip


def deployed_workflows(con: duckdb.DuckDBPyConnection) -> list[Window]:
    """Every deployed workflow's windows, in workflow order (``value_metrics.load_windows``)."""
    return list(load_windows(con).values())


def build_weekly_metrics(con: duckdb.DuckDBPyConnection, config: MetricsConfig) -> None:
    """Create ``marts.weekly_metrics`` (needs ``intermediate.item_periods`` and staging)."""
    con.execute("create schema if not exists marts")
    run_script(con, sql_text(__file__, "weekly_metrics"), {"cap_quantile": config.settings["cap_quantile"]})


# --- two groups of items through the before/after estimators --------------------------------


def placebo_offset_days(config: MetricsConfig) -> int:
    """Days from the baseline start to the fake go-live of the placebo check: mid-baseline."""
    return int(config.settings["baseline_days"]) // 2


def two_group_items(con: duckdb.DuckDBPyConnection, config: MetricsConfig) -> Groups:
    """The SQL half of :func:`two_group_results`: the temp table ``comparison_items`` (on
    ``con``) and its per-week statistics and cycle times."""
    run_script(con, sql_text(__file__, "comparison_items"), {"placebo_offset_days": placebo_offset_days(config)})
    return load_groups(con, "temp.main.comparison_items", ["comparison", "workflow_id"], "side")


def two_group_results(
    con: duckdb.DuckDBPyConnection, config: MetricsConfig, groups: Groups | None = None
) -> pl.DataFrame:
    """Placebo and assisted-vs-unassisted comparisons, one row per comparison, workflow and metric.

    Builds the temp table ``comparison_items`` (unless ``groups``, :func:`two_group_items`, is
    given) and runs each comparison through ``value_metrics.compare``, the engine of the
    before/after, so the two can only differ in which items sit on each side.
    """
    groups = two_group_items(con, config) if groups is None else groups
    rho = build_rho(con, config)
    rows: list[dict[str, Any]] = []
    for window in deployed_workflows(con):
        for comparison in TWO_GROUP_COMPARISONS:
            n_b, _ = groups.counts.get((comparison, window.workflow_id, "baseline"), (0, 0))
            n_p, _ = groups.counts.get((comparison, window.workflow_id, "post"), (0, 0))
            for name, definition in config.metrics.items():
                result = compare(
                    name, definition, groups, (comparison, window.workflow_id), ("baseline", "post"), config, rho=rho
                )
                rows.append(
                    {**result, "comparison": comparison, "workflow_id": window.workflow_id, "metric": name,
                     "items_baseline": n_b, "items_post": n_p, "events": result["n_events"]}
                )  # fmt: skip
    return to_frame(rows, TWO_GROUP_SCHEMA)


def effect_inputs(
    con: duckdb.DuckDBPyConnection, config: MetricsConfig, concurrent: bool = False
) -> tuple[pl.DataFrame, list[WeeklyResult]]:
    """:func:`two_group_results` and :func:`weekly_results`, what the effect views and the
    method checks rest on.

    ``concurrent``: the two-group comparisons' SQL (a pass over every item in its window and
    the per-week aggregates, mostly DuckDB's time) runs on a second connection to the same
    database (``con.cursor()``) in a thread, while the weekly series' statistics (Python, one
    core) run here; DuckDB releases the GIL while it works. Both read committed tables only,
    and each half computes what it computed alone, so the results are the same. Only where
    ``con`` holds nothing a second connection cannot see: not inside a ``pipelines.changes``
    scope, whose ``USE`` of an attached catalog is the connection's own.
    """
    if not concurrent:
        return two_group_results(con, config), weekly_results(con, config)
    cursor = _second_connection(con)
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="two-group-sql") as pool:
            pending = pool.submit(two_group_items, cursor, config)
            weekly = weekly_results(con, config)
            groups = pending.result()
    finally:
        cursor.close()
    return two_group_results(con, config, groups), weekly


def _second_connection(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Another connection to ``con``'s database, reading the same default catalog and schema
    (a cursor starts from the database's default, which a ``USE`` on ``con`` may have moved)."""
    cursor = con.cursor()
    database, schema = con.execute("select current_database(), current_schema()").fetchall()[0]
    cursor.execute(f"use {_quoted(database)}.{_quoted(schema)}")
    return cursor


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


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
    n_comparison_both: int = 0
    """Comparison workflows with items in both this workflow's baseline and post weeks."""
    placebo_estimates_pct: tuple[float, ...] = ()
    """Placebo-in-space: each comparison workflow as a pretend-treated one against the others."""
    trend: SegmentedTrend | None = None
    """The weekly gap to the comparisons over baseline and post weeks together: a linear trend
    plus a step at go-live (None: no comparisons)."""

    def identifiable(self, config: MetricsConfig) -> bool:
        """The DiD is identifiable with enough comparison workflows and an estimate."""
        return self.n_comparison_both >= int(config.settings["min_comparison_workflows"]) and math.isfinite(
            self.did.estimate_pct
        )

    def placebo_p_value(self, config: MetricsConfig) -> float:
        """Share of placebo estimates at least as far from 0 (log scale) as the real one, counting it.

        NaN with fewer than ``min_placebo_comparisons`` placebo estimates."""
        placebos = np.log1p(np.asarray([p for p in self.placebo_estimates_pct if math.isfinite(p)]) / 100)
        if placebos.size < int(config.settings["min_placebo_comparisons"]) or not math.isfinite(self.did.estimate_pct):
            return math.nan
        real = abs(math.log1p(self.did.estimate_pct / 100))
        return float((1 + (np.abs(placebos) >= real - 1e-12).sum()) / (1 + placebos.size))


def weekly_results(con: duckdb.DuckDBPyConnection, config: MetricsConfig) -> list[WeeklyResult]:
    """DiD against the comparison workflows, plus the baseline and post trends of the weekly effect.

    For each deployed workflow the comparison workflows' weeks are taken at the workflow's
    own weeks and split at its own go-live, so every workflow is compared with the same
    calendar weeks; workflows are estimated one at a time (no staggered-TWFE bias).
    """
    weekly = con.sql(
        "select workflow_id, metric, week_start_on, value, n, is_post, weeks_since_deployment from marts.weekly_metrics"
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
    deployed = [window.workflow_id for window in deployed_workflows(con)]
    # The week shocks' autocorrelation, pooled over every workflow, metric and period from the
    # items' weekly sums (where the item noise is known), as for the before/after: the weekly
    # series here cannot separate persistence from noise on their own.
    rho = build_rho(con, config)
    jobs: list[tuple] = []
    for metric in config.metrics:
        of_metric = weekly.filter(pl.col("metric") == metric).with_columns(
            pl.col("week_start_on").replace_strict(week_index, return_dtype=pl.Int64).alias("week")
        )
        comp_values, comp_counts = _comparison_matrix(of_metric, comparisons, n_weeks)
        by_workflow = _weekly_series(of_metric.filter(pl.col("workflow_id").is_in(deployed)))
        for workflow_id in deployed:
            part = by_workflow.get(workflow_id, _WeeklySeries.empty())
            jobs.append((workflow_id, metric, part, comp_values, comp_counts))
    return [_one_workflow(*job, n_weeks, config, rho) for job in jobs]


@dataclass(frozen=True)
class _WeeklySeries:
    """One deployed workflow's weekly rows of one metric, in week order, as arrays."""

    week: np.ndarray
    value: np.ndarray
    """NaN where the week has no value."""
    n: np.ndarray
    is_post: np.ndarray
    since: np.ndarray
    """Weeks since deployment."""

    @classmethod
    def empty(cls) -> _WeeklySeries:
        return cls(np.empty(0, dtype=np.int64), np.empty(0), np.empty(0), np.empty(0, dtype=bool), np.empty(0))


def _weekly_series(rows: pl.DataFrame) -> dict[str, _WeeklySeries]:
    """Each workflow's rows of ``rows`` (one metric) as arrays in week order: one sort and one
    conversion of each column for every workflow together, sliced per workflow (a frame per
    workflow cost a polars query each, 850 of them at 5M items)."""
    rows = rows.sort("workflow_id", "week")
    ids = rows.get_column("workflow_id").to_list()
    week = rows.get_column("week").to_numpy().astype(np.int64)
    value = rows.get_column("value").fill_null(np.nan).to_numpy().astype(float)
    n = rows.get_column("n").to_numpy().astype(float)
    is_post = rows.get_column("is_post").to_numpy().astype(bool)
    since = rows.get_column("weeks_since_deployment").to_numpy().astype(float)
    out: dict[str, _WeeklySeries] = {}
    start = 0
    for end in range(1, len(ids) + 1):
        if end == len(ids) or ids[end] != ids[start]:
            out[ids[start]] = _WeeklySeries(*(column[start:end].copy() for column in (week, value, n, is_post, since)))
            start = end
    return out


def _did_inputs(
    part: _WeeklySeries, comp_values: np.ndarray, comp_counts: np.ndarray, n_weeks: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, Composite]:
    """A deployed workflow's weeks, values, items, post flags, and its comparison composite at those weeks."""
    week, a, n, post = part.week, part.value, part.n, part.is_post
    baseline_mask = np.zeros(n_weeks, dtype=bool)
    baseline_mask[week[~post]] = True
    composite = comparison_composite(comp_values, comp_counts, baseline_mask)
    c = composite.value[week] if week.size else np.empty(0)
    return week, a, n, post, c, composite


def _on_grid(week: np.ndarray, values: np.ndarray, n_weeks: int, fill: object = np.nan) -> np.ndarray:
    """Values at their week positions on the build's week grid (gaps between weeks count as weeks)."""
    out = np.full(n_weeks, fill, dtype=np.asarray(values).dtype if fill is not np.nan else float)
    out[week] = values
    return out


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
    part: _WeeklySeries,
    comp_values: np.ndarray,
    comp_counts: np.ndarray,
    n_weeks: int,
    config: MetricsConfig,
    rho: float | None = None,
) -> WeeklyResult:
    week, a, n, post, c, composite = _did_inputs(part, comp_values, comp_counts, n_weeks)
    since = part.since
    baseline_mask = np.zeros(n_weeks, dtype=bool)
    baseline_mask[week[~post]] = True
    has_comparison = composite.n_workflows > 0 and np.isfinite(c).any()
    alpha = config.alpha
    if has_comparison:
        did = ratio_did(_on_grid(week, a, n_weeks), _on_grid(week, n, n_weeks, 0.0), _on_grid(week, c, n_weeks),
                        _on_grid(week, post, n_weeks, False), alpha, rho)  # fmt: skip
    else:
        did = RatioDid(math.nan, math.nan, math.nan, math.nan, math.nan, math.nan, 0, 0, None)
    used = np.isfinite(a) & (n > 0) & (np.isfinite(c) if has_comparison else True)
    effects = weekly_effects(a, n, c if has_comparison else None, post)
    pre_trend = novelty_slope(since[~post], effects[~post], n[~post], rho) if has_comparison else None
    post_trend = novelty_slope(since[post], effects[post], n[post], rho)
    trend = segmented_trend(since, effects, post, n) if has_comparison else None
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
        n_comparison_both=_comparisons_in_both(comp_values, comp_counts, week, post),
        placebo_estimates_pct=_placebos_in_space(comp_values, comp_counts, week, post, baseline_mask, config),
        trend=trend,
    )


def _comparisons_in_both(values: np.ndarray, counts: np.ndarray, week: np.ndarray, post: np.ndarray) -> int:
    """Comparison workflows with a value in at least one baseline and one post week of this workflow."""
    if values.shape[0] == 0 or week.size == 0:
        return 0
    present = np.isfinite(values[:, week]) & (counts[:, week] > 0)
    return int((present[:, ~post].any(axis=1) & present[:, post].any(axis=1)).sum())


def _placebos_in_space(
    values: np.ndarray,
    counts: np.ndarray,
    week: np.ndarray,
    post: np.ndarray,
    baseline_mask: np.ndarray,
    config: MetricsConfig,
) -> tuple[float, ...]:
    """Each comparison workflow run through the same DiD as if it had gone live with this one.

    Only with at least ``min_placebo_comparisons`` comparison workflows; each is compared with
    the composite of the others over this workflow's weeks (``estimators.placebo_in_space_pct``)."""
    if values.shape[0] < int(config.settings["min_placebo_comparisons"]) or week.size == 0:
        return ()
    return tuple(float(x) for x in placebo_in_space_pct(values, counts, baseline_mask, week, post))


def did_label(result: WeeklyResult, n_comparison_workflows_total: int, config: MetricsConfig) -> str:
    """The diff_in_diff row's label: what was compared, or why nothing could be."""
    prefix = "difference-in-differences"
    if n_comparison_workflows_total == 0:
        return f"{prefix} not estimable: no comparison workflow (a workflow with items and no deployed_on)"
    needed = int(config.settings["min_comparison_workflows"])
    if result.n_comparison_both < needed:
        return (
            f"{prefix} not identifiable: {result.n_comparison_both} comparison workflow(s) with items in both windows, "
            f"{needed} needed"
        )
    if result.n_comparison_workflows == 0:
        return (
            f"{prefix} not estimable: no comparison workflow has data in this workflow's weeks with a non-zero baseline"
        )
    if not math.isfinite(result.did.estimate_pct):
        return f"{prefix} not estimable: {result.did.note}"
    k = result.n_comparison_workflows
    label = (
        f"{prefix} vs {k} comparison workflow{'s' if k != 1 else ''}, {result.did.weeks_baseline} baseline + "
        f"{result.did.weeks_post} post weeks (own estimate: no staggered-go-live bias)"
    )
    if min(result.did.weeks_baseline, result.did.weeks_post) < FEW_WEEKS:
        label += f"; interval unreliable: fewer than {FEW_WEEKS} weeks in a period"
    p = result.placebo_p_value(config)
    if math.isfinite(p):
        label += (
            f"; placebo-in-space: {len(result.placebo_estimates_pct)} comparison workflows as pretend go-lives, "
            f"the real estimate is at least as large as {100 * (1 - p):.0f}% of them (p = {p:.2f})"
        )
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
            .when(pl.col("verdict").is_in(["insufficient_data", "insufficient_baseline"]))
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
                # Not identifiable: no number is published, the label says why.
                "estimate_pct": r.did.estimate_pct if r.identifiable(config) else None,
                "ci_low_pct": r.did.ci_low_pct if r.identifiable(config) else None,
                "ci_high_pct": r.did.ci_high_pct if r.identifiable(config) else None,
                "n_treated": r.items_treated,
                "n_comparison": r.items_comparison,
                "label": did_label(r, n_comparisons, config),
                "is_identifiable": r.identifiable(config),
                "n_comparison_workflows": r.n_comparison_both,
                "placebo_p_value": r.placebo_p_value(config) if r.identifiable(config) else None,
            }
            for r in results
        ],
        schema=EFFECT_VIEWS_SCHEMA,
    )
    parts = [
        part.with_columns(
            *(pl.lit(None, dtype=dtype).alias(c) for c, dtype in EFFECT_VIEWS_SCHEMA.items() if c not in part.columns)
        )
        .select(list(EFFECT_VIEWS_SCHEMA))
        .cast(EFFECT_VIEWS_SCHEMA)
        for part in (before_after, assisted, did)
    ]
    frame = pl.concat(parts, how="vertical")
    order = {"before_after": 0, "assisted_vs_unassisted": 1, "diff_in_diff": 2}
    return (
        frame.with_columns(pl.col(pl.Float64).fill_nan(None))
        .with_columns(pl.col("view").replace_strict(order, return_dtype=pl.Int8).alias("_order"))
        .sort("workflow_id", "metric", "_order")
        .drop("_order")
    )
