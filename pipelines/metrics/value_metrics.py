"""The comparison engine: per-metric statistics of two groups of items in, result rows with a verdict out.

One engine serves every comparison of two groups of items: the before/after of
``marts.value_metrics`` (baseline against post), and through ``pipelines.measurement.views``
the placebo (the baseline split at a fake go-live) and assisted against unassisted items.

DuckDB reduces items to per-week sufficient statistics (n, sums, sums of squares per ISO week
of opening) and, for cycle time, to one duration per item with its week; the statistics in
``pipelines.stats`` turn those into point estimates, week-robust intervals on the log scale,
p-values and, through ``pipelines.metrics.rules``, verdicts. Nothing here loops over items.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import polars as pl

from pipelines.metrics.config import MetricDefinition, MetricsConfig
from pipelines.metrics.rules import metric_verdict
from pipelines.sqlfiles import sql_text, table_exists
from pipelines.stats.intervals import wilson_interval
from pipelines.stats.medians import cycle_time_summary
from pipelines.stats.multiple import benjamini_hochberg
from pipelines.stats.verdicts import NO_CLAIM
from pipelines.stats.weekly import (
    PersistenceTerms,
    WeekRobust,
    WeekSeries,
    combined_df,
    critical_value,
    log_ratio_change,
    median_week_robust,
    persistence_terms,
    pool_persistence,
    week_robust_mean,
)

WEEK_ORIGIN = dt.date(2000, 1, 3)
"""A Monday: weeks are counted from it, so week numbers do not restart each year."""
PERSISTENCE_TABLE = "intermediate.week_persistence"
"""One row: the build's week-shock autocorrelation, as every interval of the build uses it."""
TERMS_TABLE = "intermediate.week_persistence_terms"
"""One row per workflow, period and metric whose weekly series takes part in the pooled
week persistence: its terms (``pipelines.stats.weekly.PersistenceTerms``), kept so that a run
computes again only the changed workflows' terms before pooling."""
_TERMS_FIELDS = ("excess", "excess_var", "trend_ss", "trend_lag1", "noise_trace", "noise_trace1")

VALUE_METRICS_SCHEMA: dict[str, pl.DataType] = {
    "workflow_id": pl.String,
    "metric": pl.String,
    "unit": pl.String,
    "baseline_start_on": pl.Date,
    "nominal_baseline_start_on": pl.Date,
    "baseline_coverage": pl.Float64,
    "deployed_on": pl.Date,
    "post_start_on": pl.Date,
    "post_end_on": pl.Date,
    "n_baseline": pl.Int64,
    "n_post": pl.Int64,
    "n_baseline_closed": pl.Int64,
    "n_post_closed": pl.Int64,
    "n_events": pl.Int64,
    "n_weeks_baseline": pl.Int64,
    "n_weeks_post": pl.Int64,
    "baseline_value": pl.Float64,
    "baseline_ci_low": pl.Float64,
    "baseline_ci_high": pl.Float64,
    "post_value": pl.Float64,
    "post_ci_low": pl.Float64,
    "post_ci_high": pl.Float64,
    "uncapped_baseline_value": pl.Float64,
    "uncapped_post_value": pl.Float64,
    "change_pct": pl.Float64,
    "ci_low_pct": pl.Float64,
    "ci_high_pct": pl.Float64,
    "abs_change": pl.Float64,
    "p_value": pl.Float64,
    "p_adjusted": pl.Float64,
    "design_effect": pl.Float64,
    "verdict": pl.String,
    "method": pl.String,
    "note": pl.String,
    "definition_hash": pl.String,
}

WINDOWS_SQL = (
    "select workflow_id, baseline_start_on, nominal_baseline_start_on, baseline_coverage, deployed_on, "
    "post_start_on, post_end_on from intermediate.workflow_windows order by workflow_id"
)


@dataclass(frozen=True)
class Window:
    """A deployed workflow's comparison windows and how much of the baseline its data covers."""

    workflow_id: str
    baseline_start_on: Any
    nominal_baseline_start_on: Any
    baseline_coverage: float
    deployed_on: Any
    post_start_on: Any
    post_end_on: Any


def load_windows(con: duckdb.DuckDBPyConnection) -> dict[str, Window]:
    """Every deployed workflow's windows (``intermediate.workflow_windows``), by workflow id."""
    return {row[0]: Window(*row) for row in con.execute(WINDOWS_SQL).fetchall()}


@dataclass(frozen=True)
class Side:
    """One group of items for one mean-or-share metric: totals and per-week aggregates."""

    n: int = 0
    total: float = 0.0
    total_sq: float = 0.0
    uncapped_mean: float | None = None
    week: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    week_n: np.ndarray = field(default_factory=lambda: np.empty(0))
    week_total: np.ndarray = field(default_factory=lambda: np.empty(0))


@dataclass(frozen=True)
class Durations:
    """One group of items' cycle times, closed flags and week numbers."""

    hours: np.ndarray = field(default_factory=lambda: np.empty(0))
    closed: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=bool))
    week: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))


@dataclass(frozen=True)
class Groups:
    """Per-week statistics of every group of a relation, keyed by (*group keys, side)."""

    moments: dict[tuple, Side]
    """Key: (*keys, side, metric)."""
    durations: dict[tuple, Durations]
    """Key: (*keys, side)."""
    counts: dict[tuple, tuple[int, int]]
    """Key: (*keys, side): (items, closed items)."""


def _week_number(column: str) -> pl.Expr:
    return ((pl.col(column) - pl.lit(WEEK_ORIGIN)).dt.total_days() // 7).cast(pl.Int64)


def load_groups(
    con: duckdb.DuckDBPyConnection, items: str, keys: list[str], side: str, with_durations: bool = True
) -> Groups:
    """Per-week sufficient statistics and the cycle times of ``items`` grouped by ``keys`` and ``side``.

    ``items`` is a table name or parenthesised query from code (never from input) with the
    columns of ``intermediate.item_periods``; ``side`` names its two-valued column
    (``period`` for the before/after, ``side`` for the two-group comparisons).
    """
    group_cols = [*keys, side]
    groups_sql = ", ".join([*group_cols, "week_start_on"])
    weekly = con.sql(period_stats_sql(items, groups_sql)).pl().with_columns(_week_number("week_start_on").alias("week"))
    per_group = weekly.group_by([*group_cols, "metric"]).agg(
        pl.col("n").sum().alias("n_sum"),
        pl.col("total").sum().alias("total_sum"),
        pl.col("total_sq").sum().alias("total_sq_sum"),
        pl.col("uncapped_n").sum().alias("uncapped_n_sum"),
        pl.col("uncapped_total").sum().alias("uncapped_total_sum"),
        "week",
        "n",
        "total",
    )
    moments: dict[tuple, Side] = {}
    for row in per_group.iter_rows(named=True):
        key = (*(row[c] for c in group_cols), row["metric"])
        moments[key] = Side(
            n=int(row["n_sum"]),
            total=float(row["total_sum"]),
            total_sq=float(row["total_sq_sum"]),
            uncapped_mean=row["uncapped_total_sum"] / row["uncapped_n_sum"] if row["uncapped_n_sum"] else None,
            week=np.asarray(row["week"], dtype=np.int64),
            week_n=np.asarray(row["n"], dtype=float),
            week_total=np.asarray(row["total"], dtype=float),
        )
    cols = ", ".join(group_cols)
    durations: dict[tuple, Durations] = {}
    if with_durations:
        table = con.sql(f"select {cols}, week_start_on, cycle_time_hours, is_closed from {items}").pl()
        table = table.with_columns(_week_number("week_start_on").alias("week"))
        grouped = table.group_by(group_cols).agg("cycle_time_hours", "is_closed", "week")
        durations = {
            key: Durations(
                np.asarray(grouped["cycle_time_hours"][i].to_numpy(), dtype=float),
                np.asarray(grouped["is_closed"][i].to_numpy(), dtype=bool),
                np.asarray(grouped["week"][i].to_numpy(), dtype=np.int64),
            )
            for i, key in enumerate(grouped.select(group_cols).iter_rows())
        }
    counts = {
        tuple(r[:-2]): (int(r[-2]), int(r[-1]))
        for r in con.execute(
            f"select {cols}, count(*), count(*) filter (where is_closed) from {items} group by all"
        ).fetchall()
    }
    return Groups(moments, durations, counts)


def compare(
    metric: str,
    definition: MetricDefinition,
    groups: Groups,
    key: tuple,
    sides: tuple[str, str],
    config: MetricsConfig,
    baseline_coverage: float | None = None,
    rho: float | None = None,
) -> dict[str, Any]:
    """The result row of one metric for the group ``key``: ``sides[0]`` (baseline's place) against ``sides[1]``.

    Per-period values with their intervals, the change in percent with its week-robust
    interval on the log scale, the p-value, the design effect and the verdict of
    ``pipelines.metrics.rules.metric_verdict``.
    """
    base_key, post_key = (*key, sides[0]), (*key, sides[1])
    items_b, closed_b = groups.counts.get(base_key, (0, 0))
    items_p, closed_p = groups.counts.get(post_key, (0, 0))
    alpha = config.alpha
    events = None
    if definition.aggregation == "median":
        row = median_result(
            groups.durations.get(base_key, Durations()), groups.durations.get(post_key, Durations()), alpha, rho
        )
    else:
        base = groups.moments.get((*base_key, metric), Side())
        post = groups.moments.get((*post_key, metric), Side())
        row = moment_result(base, post, definition.aggregation, alpha, rho)
        if definition.aggregation == "share":
            events = int(round(base.total + post.total))
    row |= {"n_baseline_closed": closed_b, "n_post_closed": closed_p, "n_events": events}
    row["verdict"] = metric_verdict(
        metric,
        row["change_pct"],
        row["ci_low_pct"],
        row["ci_high_pct"],
        closed_b,
        closed_p,
        events_total=events,
        baseline_coverage=baseline_coverage,
        config=config,
    )
    settings = config.settings
    if row["verdict"] == "insufficient_baseline":
        row["note"] = _join_notes(
            row.get("note"),
            f"the data covers {100 * (baseline_coverage or 0):.0f}% of the {settings['baseline_days']}-day baseline window "
            f"(at least {100 * float(settings['min_baseline_coverage']):.0f}% needed): no change is claimed",
        )
    elif row["verdict"] == "insufficient_data":
        row["note"] = _join_notes(
            row.get("note"),
            f"fewer than {settings['min_closed_items']} closed items in a period"
            + (f" or fewer than {settings['min_events']} events in both periods together" if events is not None else "")
            + " or fewer than 2 weeks with items: no change is claimed",
        )
    elif row["verdict"] == "negligible":
        row["note"] = _join_notes(
            row.get("note"),
            f"the change is real but smaller than the {config.min_meaningful_pct(metric):g}% that counts as meaningful",
        )
    return row


def compute_value_metrics(con: duckdb.DuckDBPyConnection, config: MetricsConfig) -> pl.DataFrame:
    """All before/after rows, with Benjamini-Hochberg adjusted p-values across the claims made."""
    windows = load_windows(con)
    groups = load_groups(con, "intermediate.item_periods", ["workflow_id"], "period")
    rho = build_rho(con, config)
    rows: list[dict[str, Any]] = []
    for workflow_id, window in windows.items():
        for name, definition in config.metrics.items():
            row = compare(
                name, definition, groups, (workflow_id,), ("baseline", "post"), config, window.baseline_coverage, rho
            )
            rows.append(
                {
                    **row,
                    "workflow_id": workflow_id,
                    "metric": name,
                    "unit": definition.unit,
                    "definition_hash": definition.definition_hash,
                    "baseline_start_on": window.baseline_start_on,
                    "nominal_baseline_start_on": window.nominal_baseline_start_on,
                    "baseline_coverage": window.baseline_coverage,
                    "deployed_on": window.deployed_on,
                    "post_start_on": window.post_start_on,
                    "post_end_on": window.post_end_on,
                }
            )
    return adjust_p_values(to_frame(rows, VALUE_METRICS_SCHEMA))


def adjust_p_values(frame: pl.DataFrame) -> pl.DataFrame:
    """`p_adjusted`: Benjamini-Hochberg over every claim in `frame`, sorted by workflow and metric.

    Shared across workflows, so an incremental run (`pipelines.changes`) calls it again on
    the whole table after replacing the changed workflows' rows."""
    frame = frame.sort("workflow_id", "metric")
    # Benjamini-Hochberg over the tests actually made, not over rows that claim nothing.
    claimed = ~frame.get_column("verdict").is_in(list(NO_CLAIM))
    p = frame.get_column("p_value").fill_null(float("nan")).to_numpy().copy()
    p[~claimed.to_numpy()] = np.nan
    adjusted = benjamini_hochberg(p)
    return frame.with_columns(pl.Series("p_adjusted", adjusted).fill_nan(None))


def to_frame(rows: list[dict[str, Any]], schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    """Result rows as a frame of exactly ``schema``'s columns, NaN as null."""
    frame = pl.DataFrame(rows, schema_overrides=dict(schema), infer_schema_length=None)
    for column, dtype in schema.items():
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=dtype).alias(column))
    frame = frame.select(list(schema)).cast(dict(schema))
    return frame.with_columns(pl.col(pl.Float64).fill_nan(None))


NO_CHANGE: dict[str, Any] = {
    "change_pct": math.nan,
    "ci_low_pct": math.nan,
    "ci_high_pct": math.nan,
    "abs_change": math.nan,
    "p_value": math.nan,
    "design_effect": math.nan,
    "note": None,
}


def _pct(value: float) -> float:
    return value * 100.0 if value is not None and math.isfinite(value) else math.nan


def _join_notes(*notes: str | None) -> str | None:
    kept = [n for n in notes if n]
    return "; ".join(kept) or None


def _mean_ci(side: Side, alpha: float) -> tuple[float, float, float]:
    """Mean and its t interval from sufficient statistics."""
    if side.n == 0:
        return math.nan, math.nan, math.nan
    mean = side.total / side.n
    if side.n < 2:
        return mean, math.nan, math.nan
    var = max((side.total_sq - side.n * mean * mean) / (side.n - 1), 0.0)
    half = critical_value(alpha, float(side.n - 1)) * math.sqrt(var / side.n)
    return mean, mean - half, mean + half


def _item_var(side: Side, share: bool) -> float:
    if side.n < 2:
        return math.nan
    m = side.total / side.n
    if share:
        return m * (1 - m)
    return max((side.total_sq - side.n * m * m) / (side.n - 1), 0.0)


def base_week_robust(base: Side, aggregation: str, rho: float | None = None) -> WeekRobust | None:
    """The baseline's week-robust mean as :func:`moment_result` computes it, for a caller that
    compares one baseline with many post scopes (the value estimator's months); None when the
    baseline has fewer than 2 items (no change is computed then)."""
    if base.n < 2:
        return None
    return week_robust_mean(base.week, base.week_n, base.week_total, _item_var(base, aggregation == "share"), rho)


def moment_result(
    base: Side,
    post: Side,
    aggregation: str,
    alpha: float,
    rho: float | None = None,
    base_robust: WeekRobust | None = None,
) -> dict[str, Any]:
    """Per-period values with their intervals and the relative change of a mean or share.

    ``base_robust``: :func:`base_week_robust` of ``base`` with the same ``aggregation`` and
    ``rho``, when the caller has it already (the same numbers as computing it here).

    Per period: Wilson (shares) or t (means). The change: delta method on the log ratio with
    the week-robust variance of each period's log value (week shocks with autocorrelation
    ``rho``, the build's (:func:`build_rho`); None: from the series
    alone), t on the Welch-Satterthwaite degrees of freedom of the two variances.
    """
    share = aggregation == "share"
    if share:
        b_value = base.total / base.n if base.n else math.nan
        p_value_ = post.total / post.n if post.n else math.nan
        b_lo, b_hi = wilson_interval(int(round(base.total)), base.n, alpha) if base.n else (math.nan, math.nan)
        p_lo, p_hi = wilson_interval(int(round(post.total)), post.n, alpha) if post.n else (math.nan, math.nan)
        method = "share: Wilson per period"
    else:
        b_value, b_lo, b_hi = _mean_ci(base, alpha)
        p_value_, p_lo, p_hi = _mean_ci(post, alpha)
        method = "mean: t interval per period"
    result: dict[str, Any] = {
        "n_baseline": base.n,
        "n_post": post.n,
        "n_weeks_baseline": int((base.week_n > 0).sum()),
        "n_weeks_post": int((post.week_n > 0).sum()),
        "baseline_value": b_value,
        "baseline_ci_low": b_lo,
        "baseline_ci_high": b_hi,
        "post_value": p_value_,
        "post_ci_low": p_lo,
        "post_ci_high": p_hi,
        "uncapped_baseline_value": b_value if share else base.uncapped_mean,
        "uncapped_post_value": p_value_ if share else post.uncapped_mean,
        "method": method
        + "; change: log ratio, week-robust delta method (item noise + AR(1) week shocks over ISO weeks), Welch t",
        **NO_CHANGE,
    }
    if base.n < 2 or post.n < 2:
        return result
    result["abs_change"] = p_value_ - b_value
    if b_value == 0:
        result["note"] = "baseline is zero, so no relative change: abs_change is the absolute difference"
        return result
    if p_value_ == 0:
        result["change_pct"] = -100.0
        result["note"] = "the post value is zero: no interval on the log scale"
        return result
    b = (
        base_robust
        if base_robust is not None
        else week_robust_mean(base.week, base.week_n, base.week_total, _item_var(base, share), rho)
    )
    p = week_robust_mean(post.week, post.week_n, post.week_total, _item_var(post, share), rho)
    df = combined_df(b.var_log, b.df, p.var_log, p.df)
    change = log_ratio_change(b.value, b.var_log, p.value, p.var_log, alpha, df)
    deff = (
        np.nanmax([b.design_effect, p.design_effect])
        if np.isfinite([b.design_effect, p.design_effect]).any()
        else math.nan
    )
    return result | {
        "change_pct": _pct(change.estimate),
        "ci_low_pct": _pct(change.ci_low),
        "ci_high_pct": _pct(change.ci_high),
        "p_value": change.p_value,
        "design_effect": float(deff),
    }


def median_result(base_d: Durations, post_d: Durations, alpha: float, rho: float | None = None) -> dict[str, Any]:
    """Cycle-time medians (Kaplan-Meier where items are open) and the ratio's week-robust interval."""
    result: dict[str, Any] = {
        "n_baseline": int(base_d.hours.size),
        "n_post": int(post_d.hours.size),
        "n_weeks_baseline": int(np.unique(base_d.week).size),
        "n_weeks_post": int(np.unique(post_d.week).size),
        **NO_CHANGE,
    }
    if base_d.hours.size == 0 or post_d.hours.size == 0:
        result["method"] = "median"
        return result
    base = cycle_time_summary(base_d.hours, base_d.closed, alpha)
    post = cycle_time_summary(post_d.hours, post_d.closed, alpha)
    censored = not (bool(base_d.closed.all()) and bool(post_d.closed.all()))
    result |= {
        "baseline_value": base.median,
        "baseline_ci_low": base.ci_low,
        "baseline_ci_high": base.ci_high,
        "post_value": post.median,
        "post_ci_low": post.ci_low,
        "post_ci_high": post.ci_high,
        "uncapped_baseline_value": base.median,
        "uncapped_post_value": post.median,
        "abs_change": post.median - base.median,
        "method": (
            "median: Kaplan-Meier (open items censored at the cutoff)"
            if censored
            else "median: order-statistic CI per period"
        )
        + "; change: log ratio of medians, quantile variance times the week design effect, Welch t",
    }
    if not (math.isfinite(base.median) and base.median > 0 and math.isfinite(post.median) and post.median > 0):
        result["note"] = "a median is zero or not estimable: no ratio"
        return result
    deff_b, df_b = _median_design_effect(base_d, base.median, rho)
    deff_p, df_p = _median_design_effect(post_d, post.median, rho)
    var_b = (base.se / base.median) ** 2 * deff_b
    var_p = (post.se / post.median) ** 2 * deff_p
    df = combined_df(var_b, df_b, var_p, df_p)
    change = log_ratio_change(base.median, var_b, post.median, var_p, alpha, df)
    return result | {
        "change_pct": _pct(change.estimate),
        "ci_low_pct": _pct(change.ci_low),
        "ci_high_pct": _pct(change.ci_high),
        "p_value": change.p_value,
        "design_effect": max(deff_b, deff_p),
    }


def _median_design_effect(d: Durations, median: float, rho: float | None) -> tuple[float, float]:
    if d.week.size == 0:
        return math.nan, math.nan
    offset = d.week - d.week.min()
    n_w = np.bincount(offset).astype(float)
    below = np.bincount(offset, weights=(d.hours <= median).astype(float), minlength=n_w.size)
    weeks = np.arange(n_w.size)
    return median_week_robust(weeks, n_w, below, rho)


def series_terms(groups: Groups, config: MetricsConfig) -> list[tuple[tuple, PersistenceTerms]]:
    """Each (workflow, period, mean-or-share metric) series' terms of the pooled persistence,
    keyed and in key order; series that take no part are left out."""
    out = []
    for key, side in sorted(groups.moments.items(), key=lambda item: item[0]):
        definition = config.metrics.get(key[-1])
        if definition is None or side.n < 2:
            continue
        item_var = _item_var(side, definition.aggregation == "share")
        terms = persistence_terms(WeekSeries.of_mean(side.week, side.week_n, side.week_total, item_var))
        if terms is not None:
            out.append((key, terms))
    return out


def pooled_persistence(groups: Groups, config: MetricsConfig) -> float:
    """The week shocks' autocorrelation, pooled over every group, period and mean-or-share metric
    of ``groups`` (``pipelines.stats.weekly.week_persistence``): one 13-week series cannot
    estimate it, a build's dozens can. Cycle time's medians share the shocks and use it too."""
    return pool_persistence(terms for _, terms in series_terms(groups, config))


def build_persistence(con: duckdb.DuckDBPyConnection, config: MetricsConfig) -> float:
    """The estimate of the week shocks' autocorrelation over every workflow, metric and period
    of ``intermediate.item_periods`` (where the item noise is known); writes nothing."""
    groups = load_groups(con, "intermediate.item_periods", ["workflow_id"], "period", with_durations=False)
    return pooled_persistence(groups, config)


def _terms_frame(rows: list[tuple[tuple, PersistenceTerms]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "workflow_id": [key[0] for key, _ in rows],
            "period": [key[1] for key, _ in rows],
            "metric": [key[2] for key, _ in rows],
            **{name: [getattr(t, name) for _, t in rows] for name in _TERMS_FIELDS},
            "shock": [list(t.shock) for _, t in rows],
            "shock1": [list(t.shock1) for _, t in rows],
        },
        schema={
            "workflow_id": pl.String,
            "period": pl.String,
            "metric": pl.String,
            **dict.fromkeys(_TERMS_FIELDS, pl.Float64),
            "shock": pl.List(pl.Float64),
            "shock1": pl.List(pl.Float64),
        },
    )


def update_persistence(
    con: duckdb.DuckDBPyConnection, config: MetricsConfig, workflows: Sequence[str] | None = None
) -> float:
    """Compute the terms of ``workflows``' weekly series again (every workflow's when None, or
    when there is no terms table yet) into ``intermediate.week_persistence_terms``, and pool
    every workflow's terms into the estimate of the week shocks' autocorrelation.

    The pooled estimate does not depend on the order of the terms
    (``pipelines.stats.weekly.pool_persistence``) and a workflow's terms depend on its items
    only, so it equals, to the last bit, what computing every workflow's terms gives.
    """
    from pipelines.asset_helpers import write_table
    from pipelines.changes import scope

    def compute() -> pl.DataFrame:
        groups = load_groups(con, "intermediate.item_periods", ["workflow_id"], "period", with_durations=False)
        return _terms_frame(series_terms(groups, config))

    if workflows is None or not table_exists(con, TERMS_TABLE):
        write_table(con, TERMS_TABLE, compute())
    else:
        with scope(con, workflows, {"intermediate.item_periods": "view"}) as scoped:
            frame = scoped.run(compute)
        con.execute(f"delete from {TERMS_TABLE} where workflow_id in (select unnest(?::varchar[]))", [list(workflows)])
        con.register("_terms", frame)
        try:
            con.execute(f"insert into {TERMS_TABLE} by name select * from _terms")
        finally:
            con.unregister("_terms")
    rows = con.execute(
        f"select {', '.join(_TERMS_FIELDS)}, shock, shock1 from {TERMS_TABLE} order by workflow_id, period, metric"
    ).fetchall()
    return pool_persistence(
        PersistenceTerms(*row[: len(_TERMS_FIELDS)], shock=tuple(row[-2]), shock1=tuple(row[-1])) for row in rows
    )


def rounded_persistence(estimate: float, config: MetricsConfig) -> float:
    """The estimate on the grid of ``week_persistence_step`` (metrics.yaml): one new file moves
    the pooled estimate in its third decimal, far inside its own error, and must not move
    every workflow's interval with it."""
    step = float(config.settings.get("week_persistence_step", 0.05))
    if not math.isfinite(estimate) or step <= 0:
        return estimate
    return round(round(estimate / step) * step, 6)


def published_rho(con: duckdb.DuckDBPyConnection) -> tuple[float | None] | None:
    """The row of ``intermediate.week_persistence`` in the current catalog, or None when there is
    none (checked first: an unknown name would fall through to DuckDB's scan of Python objects)."""
    if not table_exists(con, PERSISTENCE_TABLE):
        return None
    rows = con.execute(f"select rho from {PERSISTENCE_TABLE}").fetchall()
    return rows[0] if rows else None


def build_rho(con: duckdb.DuckDBPyConnection, config: MetricsConfig) -> float:
    """The build's one week-shock autocorrelation, as every interval uses it: the value in
    ``intermediate.week_persistence`` (its asset runs before the marts), else estimated from
    ``intermediate.item_periods`` here and rounded the same way (a mart computed on its own)."""
    row = published_rho(con)
    if row is not None and row[0] is not None:
        return float(row[0])
    return rounded_persistence(build_persistence(con, config), config)


def period_stats_sql(items: str, groups: str) -> str:
    """The sufficient-statistics query of sql/period_stats.sql over `items`, grouped by `groups`.

    Columns: the group columns, `metric`, `n`, `total`, `total_sq`, `uncapped_n`,
    `uncapped_total`, `uncapped_mean`. `items` is a table name or a parenthesised query;
    both come from code, never from input.
    """
    return sql_text(__file__, "period_stats").format(items=items, groups=groups)
