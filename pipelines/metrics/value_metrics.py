"""Before/after results per deployed workflow and metric, from DuckDB aggregates.

DuckDB reduces items to sufficient statistics (n, sums, sums of squares) and, for cycle
time, to one duration per item; the statistics in `pipelines.stats` turn those into point
estimates, intervals, p-values and verdicts. Nothing here loops over items.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import polars as pl
from scipy import stats as sps

from pipelines.metrics.config import MetricsConfig
from pipelines.sqlfiles import sql_text
from pipelines.stats.intervals import MomentStats, absolute_difference, relative_change, wilson_interval
from pipelines.stats.medians import cycle_time_summary, median_ratio_change
from pipelines.stats.multiple import benjamini_hochberg
from pipelines.stats.verdicts import verdict

VALUE_METRICS_SCHEMA: dict[str, pl.DataType] = {
    "workflow_id": pl.String,
    "metric": pl.String,
    "unit": pl.String,
    "baseline_start_on": pl.Date,
    "deployed_on": pl.Date,
    "post_start_on": pl.Date,
    "post_end_on": pl.Date,
    "n_baseline": pl.Int64,
    "n_post": pl.Int64,
    "n_baseline_closed": pl.Int64,
    "n_post_closed": pl.Int64,
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
    "verdict": pl.String,
    "method": pl.String,
    "note": pl.String,
    "definition_hash": pl.String,
}


@dataclass(frozen=True)
class Window:
    """A deployed workflow's comparison windows."""

    workflow_id: str
    baseline_start_on: Any
    deployed_on: Any
    post_start_on: Any
    post_end_on: Any


def _mean_ci(stats_: MomentStats, alpha: float) -> tuple[float, float, float]:
    """Mean and its t interval from sufficient statistics."""
    if stats_.n == 0:
        return math.nan, math.nan, math.nan
    mean = stats_.total / stats_.n
    if stats_.n < 2:
        return mean, math.nan, math.nan
    var = max((stats_.total_sq - stats_.n * mean * mean) / (stats_.n - 1), 0.0)
    half = sps.t.ppf(1 - alpha / 2, stats_.n - 1) * math.sqrt(var / stats_.n)
    return mean, mean - half, mean + half


def _pct(value: float) -> float:
    return value * 100.0 if value is not None and math.isfinite(value) else math.nan


def compute_value_metrics(con: duckdb.DuckDBPyConnection, config: MetricsConfig) -> pl.DataFrame:
    """All before/after rows, with Benjamini-Hochberg adjusted p-values across them."""
    alpha = config.alpha
    settings = config.settings
    windows = {
        row[0]: Window(*row)
        for row in con.execute(
            "select workflow_id, baseline_start_on, deployed_on, post_start_on, post_end_on "
            "from intermediate.workflow_windows order by workflow_id"
        ).fetchall()
    }
    closed = {
        (row[0], row[1]): (row[2], row[3])
        for row in con.execute(
            "select workflow_id, period, count(*), count(*) filter (where is_closed) "
            "from intermediate.item_periods group by all"
        ).fetchall()
    }
    moments = {
        (row[0], row[1], row[2]): (MomentStats(n=row[3], total=row[4], total_sq=row[5]), row[6])
        for row in con.execute(period_stats_sql("intermediate.item_periods", "workflow_id, period")).fetchall()
    }
    durations = _durations_by_group(con)

    rows: list[dict[str, Any]] = []
    for workflow_id, window in windows.items():
        n_items_b, n_closed_b = closed.get((workflow_id, "baseline"), (0, 0))
        n_items_p, n_closed_p = closed.get((workflow_id, "post"), (0, 0))
        base_row = {
            "workflow_id": workflow_id,
            "baseline_start_on": window.baseline_start_on,
            "deployed_on": window.deployed_on,
            "post_start_on": window.post_start_on,
            "post_end_on": window.post_end_on,
            "n_baseline_closed": n_closed_b,
            "n_post_closed": n_closed_p,
        }
        for name, definition in config.metrics.items():
            row = {**base_row, "metric": name, "unit": definition.unit, "definition_hash": definition.definition_hash}
            if definition.aggregation == "median":
                row |= median_result(durations, workflow_id, alpha)
            else:
                empty = (MomentStats(0, 0.0, 0.0), None)
                base, base_uncapped = moments.get((workflow_id, "baseline", name), empty)
                post, post_uncapped = moments.get((workflow_id, "post", name), empty)
                if definition.aggregation == "share":
                    # Shares use the Bernoulli variance p(1 - p), as METHODS.md's references do.
                    base = MomentStats.from_events(base.total, base.n)
                    post = MomentStats.from_events(post.total, post.n)
                row |= moment_result(base, post, definition.aggregation, alpha)
                row["uncapped_baseline_value"] = base_uncapped
                row["uncapped_post_value"] = post_uncapped
            events = None
            if definition.aggregation == "share":
                base, _ = moments.get((workflow_id, "baseline", name), (MomentStats(0, 0.0, 0.0), None))
                post, _ = moments.get((workflow_id, "post", name), (MomentStats(0, 0.0, 0.0), None))
                events = int(round(base.total + post.total))
            row["verdict"] = verdict(
                row["ci_low_pct"],
                row["ci_high_pct"],
                n_closed_b,
                n_closed_p,
                events_total=events,
                min_closed=int(settings["min_closed_items"]),
                min_events=int(settings["min_events"]),
            )
            if row["verdict"] == "insufficient_data":
                row["note"] = _join_notes(
                    row.get("note"),
                    f"fewer than {settings['min_closed_items']} closed items in a period"
                    + (f" or fewer than {settings['min_events']} events in both periods together" if events is not None else "")
                    + ": no change is claimed",
                )
            rows.append(row)

    frame = pl.DataFrame(rows, schema_overrides={k: v for k, v in VALUE_METRICS_SCHEMA.items()}, infer_schema_length=None)
    for column, dtype in VALUE_METRICS_SCHEMA.items():
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=dtype).alias(column))
    frame = frame.select(list(VALUE_METRICS_SCHEMA)).cast(VALUE_METRICS_SCHEMA)
    frame = frame.with_columns(pl.col(pl.Float64).fill_nan(None))
    adjusted = benjamini_hochberg(frame.get_column("p_value").fill_null(float("nan")).to_numpy())
    return frame.with_columns(pl.Series("p_adjusted", adjusted).fill_nan(None)).sort("workflow_id", "metric")


NO_CHANGE: dict[str, Any] = {
    "change_pct": math.nan,
    "ci_low_pct": math.nan,
    "ci_high_pct": math.nan,
    "abs_change": math.nan,
    "p_value": math.nan,
    "note": None,
}


def _change_columns(change: Any) -> dict[str, Any]:
    """The change columns of a result row from any estimator's result (fractions in, % out)."""
    return {
        "change_pct": _pct(change.estimate),
        "ci_low_pct": _pct(change.ci_low),
        "ci_high_pct": _pct(change.ci_high),
        "p_value": change.p_value,
    }


def _join_notes(*notes: str | None) -> str | None:
    kept = [n for n in notes if n]
    return "; ".join(kept) or None


def moment_result(base: MomentStats, post: MomentStats, aggregation: str, alpha: float) -> dict[str, Any]:
    """Per-period values with their intervals and the relative change of a mean or share."""
    if aggregation == "share":
        b_value = base.total / base.n if base.n else math.nan
        p_value_ = post.total / post.n if post.n else math.nan
        b_lo, b_hi = wilson_interval(int(round(base.total)), base.n, alpha) if base.n else (math.nan, math.nan)
        p_lo, p_hi = wilson_interval(int(round(post.total)), post.n, alpha) if post.n else (math.nan, math.nan)
        method = "share: Wilson per period; delta method (Bernoulli variance, normal critical value, as the METHODS.md reference) for the relative change"
    else:
        b_value, b_lo, b_hi = _mean_ci(base, alpha)
        p_value_, p_lo, p_hi = _mean_ci(post, alpha)
        method = "mean: t interval per period; delta method with Welch df for the relative change"
    result: dict[str, Any] = {
        "n_baseline": base.n,
        "n_post": post.n,
        "baseline_value": b_value,
        "baseline_ci_low": b_lo,
        "baseline_ci_high": b_hi,
        "post_value": p_value_,
        "post_ci_low": p_lo,
        "post_ci_high": p_hi,
        "method": method,
        **NO_CHANGE,
    }
    if base.n < 2 or post.n < 2:
        return result
    result["abs_change"] = absolute_difference(base, post, alpha).estimate
    if b_value == 0:
        result["note"] = "baseline is zero, so no relative change: abs_change is the absolute difference"
        return result
    return result | _change_columns(relative_change(base, post, alpha))


def median_result(
    durations: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]], workflow_id: str, alpha: float
) -> dict[str, Any]:
    """Cycle-time medians (Kaplan-Meier where items are open) and the ratio's interval."""
    empty = (np.empty(0), np.empty(0, dtype=bool))
    base_values, base_closed = durations.get((workflow_id, "baseline"), empty)
    post_values, post_closed = durations.get((workflow_id, "post"), empty)
    result: dict[str, Any] = {
        "n_baseline": int(base_values.size),
        "n_post": int(post_values.size),
        **NO_CHANGE,
    }
    if base_values.size == 0 or post_values.size == 0:
        result["method"] = "median"
        return result
    base = cycle_time_summary(base_values, base_closed, alpha)
    post = cycle_time_summary(post_values, post_closed, alpha)
    censored = not (bool(base_closed.all()) and bool(post_closed.all()))
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
            "median: Kaplan-Meier (open items censored at the cutoff); ratio CI by the quantile-variance normal approximation"
            if censored
            else "median: order-statistic CI per period; ratio CI by the quantile-variance normal approximation"
        ),
    }
    if not (math.isfinite(base.median) and base.median > 0 and math.isfinite(post.median)):
        result["note"] = "baseline median is zero or not estimable: no ratio"
        return result
    return result | _change_columns(median_ratio_change(base, post, alpha))


def period_stats_sql(items: str, groups: str) -> str:
    """The sufficient-statistics query of sql/period_stats.sql over `items`, grouped by `groups`.

    Columns: the group columns, `metric`, `n`, `total`, `total_sq`, `uncapped_mean`.
    `items` is a table name or a parenthesised query; both come from code, never from input.
    """
    return sql_text(__file__, "period_stats").format(items=items, groups=groups)


def durations_by(table: pl.DataFrame, keys: list[str]) -> dict[tuple, tuple[np.ndarray, np.ndarray]]:
    """`cycle_time_hours` and `is_closed` arrays per group of `keys`, split without a row loop.

    One hash aggregation into lists: no sort of the items, which at 10M items costs more
    than the split itself. The arrays are in no particular order; every estimator that
    reads them sorts what it needs.
    """
    grouped = table.group_by(keys).agg("cycle_time_hours", "is_closed")
    times, closed = grouped.get_column("cycle_time_hours"), grouped.get_column("is_closed")
    return {
        key: (times[i].to_numpy(), closed[i].to_numpy())
        for i, key in enumerate(grouped.select(keys).iter_rows())
    }


def _durations_by_group(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
    """Cycle-time durations and closed flags per (workflow, period)."""
    table = con.sql("select workflow_id, period, cycle_time_hours, is_closed from intermediate.item_periods").pl()
    return durations_by(table, ["workflow_id", "period"])
