"""The value estimator's changes: each deployed workflow's metrics, over the whole post
period and month by month, against the baseline (intermediate.value_changes).

DuckDB reduces closed items to per-week sufficient statistics (sql/value_weeks.sql); the
change of each scope is computed by the same engine as marts.value_metrics
(`pipelines.metrics.value_metrics.moment_result`: log-ratio delta method with the
week-robust variance, Welch t; the build's one week persistence, `build_rho`), so the two never
disagree on method.
"""

from __future__ import annotations

import math
from typing import Any

import duckdb
import numpy as np
import polars as pl

from pipelines.metrics.config import MetricsConfig
from pipelines.metrics.value_metrics import WEEK_ORIGIN, Side, base_week_robust, build_rho, moment_result
from pipelines.sqlfiles import sql_text

VALUE_CHANGES_SCHEMA: dict[str, pl.DataType] = {
    "workflow_id": pl.String,
    "metric": pl.String,
    "month_on": pl.Date,
    "n_baseline": pl.Int64,
    "n_post": pl.Int64,
    "weeks_post": pl.Int64,
    "baseline_per_item": pl.Float64,
    "post_per_item": pl.Float64,
    "change_pct": pl.Float64,
    "ci_low_pct": pl.Float64,
    "ci_high_pct": pl.Float64,
    "note": pl.String,
}


def _side(week: np.ndarray, n: np.ndarray, total: np.ndarray, total_sq: np.ndarray) -> Side:
    """One scope's rows (one per month and ISO week) as the engine's Side; a week split across
    two months is one week. Arrays, not frames: this runs once per workflow, metric and month."""
    weeks, inverse = np.unique(week, return_inverse=True)
    week_n = np.bincount(inverse, weights=n, minlength=weeks.size)
    week_total = np.bincount(inverse, weights=total, minlength=weeks.size)
    week_total_sq = np.bincount(inverse, weights=total_sq, minlength=weeks.size)
    return Side(
        n=int(n.sum()),
        total=float(pl.Series(week_total).sum()),
        total_sq=float(pl.Series(week_total_sq).sum()),
        week=weeks.astype(np.int64),
        week_n=week_n,
        week_total=week_total,
    )


def _finite(value: Any) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def compute_value_changes(con: duckdb.DuckDBPyConnection, config: MetricsConfig) -> pl.DataFrame:
    """One row per deployed workflow and metric for the whole post period (`month_on` null),
    and one per calendar month with post items measured, each against the baseline."""
    weeks = (
        con.sql(sql_text(__file__, "value_weeks"))
        .pl()
        .with_columns(((pl.col("week_start_on") - pl.lit(WEEK_ORIGIN)).dt.total_days() // 7).alias("week"))
    )
    rho = build_rho(con, config)
    rows: list[dict[str, Any]] = []
    # The query's order (workflow, metric, period, month, week) keeps each group's rows together,
    # so each group is a run of rows: slices of whole-column arrays, not a frame per group.
    workflow_ids = weeks.get_column("workflow_id").to_list()
    metrics = weeks.get_column("metric").to_list()
    all_is_post = (weeks.get_column("period") == "post").to_numpy()
    all_week = weeks.get_column("week").to_numpy()
    all_n = weeks.get_column("n").to_numpy().astype(float)
    all_total = weeks.get_column("total").to_numpy().astype(float)
    all_total_sq = weeks.get_column("total_sq").to_numpy().astype(float)
    all_month_on = weeks.get_column("month_on").to_list()
    starts = [
        i
        for i in range(len(metrics))
        if i == 0 or (workflow_ids[i], metrics[i]) != (workflow_ids[i - 1], metrics[i - 1])
    ]
    bounds = [*starts, len(metrics)]
    for start, end in zip(bounds[:-1], bounds[1:], strict=True):
        workflow_id, metric = workflow_ids[start], metrics[start]
        # Shares stay shares (metrics.yaml); every other metric, cycle time's capped hours
        # included, is a mean of closed items.
        aggregation = "share" if config.metrics[metric].aggregation == "share" else "mean"
        is_post = all_is_post[start:end]
        week = all_week[start:end]
        n = all_n[start:end]
        total = all_total[start:end]
        total_sq = all_total_sq[start:end]
        month_on = all_month_on[start:end]
        baseline = _side(week[~is_post], n[~is_post], total[~is_post], total_sq[~is_post])
        # One baseline against the whole post period and every month: its week-robust mean once.
        base_robust = base_week_robust(baseline, aggregation, rho)
        post_months = sorted({m for m, post in zip(month_on, is_post, strict=True) if post})
        months = np.asarray(month_on, dtype=object)
        scopes = [(None, is_post)] + [(month, is_post & (months == month)) for month in post_months]
        for month, chosen in scopes:
            post = _side(week[chosen], n[chosen], total[chosen], total_sq[chosen])
            result = moment_result(baseline, post, aggregation, config.alpha, rho, base_robust)
            note = result.get("note")
            if note is None and _finite(result["change_pct"]) is not None and _finite(result["ci_low_pct"]) is None:
                note = "fewer than two weeks of items: no interval"
            rows.append(
                {
                    "workflow_id": workflow_id,
                    "metric": metric,
                    "month_on": month,
                    "n_baseline": baseline.n,
                    "n_post": post.n,
                    "weeks_post": int((post.week_n > 0).sum()),
                    "baseline_per_item": _finite(result["baseline_value"]),
                    "post_per_item": _finite(result["post_value"]),
                    "change_pct": _finite(result["change_pct"]),
                    "ci_low_pct": _finite(result["ci_low_pct"]),
                    "ci_high_pct": _finite(result["ci_high_pct"]),
                    "note": note,
                }
            )
    frame = pl.DataFrame(rows, schema=VALUE_CHANGES_SCHEMA) if rows else pl.DataFrame(schema=VALUE_CHANGES_SCHEMA)
    return frame.sort("workflow_id", "metric", "month_on", nulls_last=False)
