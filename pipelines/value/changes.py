"""The value estimator's changes: each deployed workflow's metrics, over the whole post
period and month by month, against the baseline (intermediate.value_changes)."""

from __future__ import annotations

import math
from typing import Any

import duckdb
import polars as pl

from pipelines.metrics.config import MetricsConfig
from pipelines.sqlfiles import sql_text
from pipelines.value.estimates import WeeklyMean, log_ratio_change, weekly_mean

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


def _mean(frame: pl.DataFrame, lags: int) -> WeeklyMean:
    """The week-robust mean of `frame`'s items; a week split across two months is one week."""
    weekly = frame.group_by("week_start_on").agg(pl.col("n").sum(), pl.col("total").sum()).sort("week_start_on")
    return weekly_mean(weekly.get_column("n").to_numpy(), weekly.get_column("total").to_numpy(), lags)


def _pct(value: float) -> float | None:
    return value * 100.0 if math.isfinite(value) else None


def compute_value_changes(con: duckdb.DuckDBPyConnection, config: MetricsConfig) -> pl.DataFrame:
    """One row per deployed workflow and metric for the whole post period (`month_on` null),
    and one per calendar month with post items measured, each against the baseline."""
    settings = config.settings
    lags = int(settings.get("week_hac_lags", 2))
    weeks = con.sql(
        sql_text(__file__, "value_weeks"), params={"cap_quantile": float(settings["cap_quantile"])}
    ).pl()
    rows: list[dict[str, Any]] = []
    for (workflow_id, metric), group in weeks.group_by("workflow_id", "metric", maintain_order=True):
        baseline = _mean(group.filter(pl.col("period") == "baseline"), lags)
        post_rows = group.filter(pl.col("period") == "post")
        scopes = [(None, post_rows)] + [
            (month, post_rows.filter(pl.col("month_on") == month))
            for month in post_rows.get_column("month_on").unique().sort().to_list()
        ]
        for month, scope in scopes:
            post = _mean(scope, lags)
            change = log_ratio_change(baseline, post, config.alpha)
            rows.append(
                {
                    "workflow_id": workflow_id,
                    "metric": metric,
                    "month_on": month,
                    "n_baseline": baseline.n,
                    "n_post": post.n,
                    "weeks_post": post.weeks,
                    "baseline_per_item": baseline.mean if math.isfinite(baseline.mean) else None,
                    "post_per_item": post.mean if math.isfinite(post.mean) else None,
                    "change_pct": _pct(change.estimate),
                    "ci_low_pct": _pct(change.ci_low),
                    "ci_high_pct": _pct(change.ci_high),
                    "note": change.note,
                }
            )
    frame = pl.DataFrame(rows, schema=VALUE_CHANGES_SCHEMA) if rows else pl.DataFrame(schema=VALUE_CHANGES_SCHEMA)
    return frame.sort("workflow_id", "metric", "month_on", nulls_last=False)
