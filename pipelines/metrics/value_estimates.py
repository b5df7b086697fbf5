"""marts.value_estimates: the before/after change in business terms, per deployed workflow and metric.

METHODS.md v2, "Value in business terms": per month, ``saved = (baseline - post) x items per
month in the post period``, with the interval carried through from the change (the baseline
held fixed). Cycle time's value uses the capped mean of closed items' hours, because medians do
not add up; its verdict stays the median's (``marts.value_metrics``). Optional cost rates in
the registry (metrics.yaml ``value.cost_rates``) turn units into money, and the optional tool
cost into net value on the primary metric's row. The statistics are the comparison engine's
(``value_metrics.moment_result``) on the same per-week sums, so the interval is week-robust.
"""

from __future__ import annotations

from typing import Any

import duckdb
import polars as pl

from pipelines.metrics.config import MetricsConfig
from pipelines.metrics.value_metrics import Side, load_groups, load_windows, moment_result, to_frame

MEAN_OF_CYCLE_TIME = "cycle_time_mean_hours"
"""The period_stats.sql row of closed items' capped cycle hours."""

VALUE_ESTIMATES_SCHEMA: dict[str, pl.DataType] = {
    "workflow_id": pl.String,
    "metric": pl.String,
    "unit": pl.String,
    "is_primary": pl.Boolean,
    "post_months": pl.Float64,
    "items_per_month": pl.Float64,
    "baseline_value": pl.Float64,
    "post_value": pl.Float64,
    "change_pct": pl.Float64,
    "ci_low_pct": pl.Float64,
    "ci_high_pct": pl.Float64,
    "saved_per_month": pl.Float64,
    "saved_low": pl.Float64,
    "saved_high": pl.Float64,
    "cost_rate": pl.Float64,
    "money_saved_per_month": pl.Float64,
    "money_saved_low": pl.Float64,
    "money_saved_high": pl.Float64,
    "tool_cost_per_month": pl.Float64,
    "net_value_per_month": pl.Float64,
    "verdict": pl.String,
    "note": pl.String,
}

DAYS_PER_MONTH = 365.25 / 12


def registry_costs(con: duckdb.DuckDBPyConnection, config: MetricsConfig) -> dict[str, dict[str, Any]]:
    """Each workflow's primary metric, cost rates and tool cost; absent registry columns read as null."""
    value = config.value
    columns = [*value["cost_rates"].values(), value["tool_cost_column"]]
    # union by name: a registry without these optional columns gets them as null.
    dummy = ", ".join(["cast(null as varchar) as workflow_id"] + [f"cast(null as double) as {c}" for c in columns])
    picked = ", ".join(f"try_cast({c} as double) as {c}" for c in columns)
    frame = con.sql(
        f"select workflow_id, primary_metric, {picked} from "
        f"(select * from staging.workflows union all by name select {dummy} where false)"
    ).pl()
    return {r["workflow_id"]: r for r in frame.iter_rows(named=True)}


def compute_value_estimates(con: duckdb.DuckDBPyConnection, config: MetricsConfig) -> pl.DataFrame:
    """Every deployed workflow and metric: units (and, with cost rates, money) saved per month."""
    windows = load_windows(con)
    groups = load_groups(con, "intermediate.item_periods", ["workflow_id"], "period", with_durations=False)
    verdicts = {
        (w, m): v for w, m, v in con.execute("select workflow_id, metric, verdict from marts.value_metrics").fetchall()
    }
    registry = registry_costs(con, config)
    rates, tool_column = config.value["cost_rates"], config.value["tool_cost_column"]
    rows: list[dict[str, Any]] = []
    for workflow_id, window in windows.items():
        post_days = (window.post_end_on - window.post_start_on).days + 1
        months = post_days / DAYS_PER_MONTH if post_days > 0 else None
        items_post = groups.counts.get((workflow_id, "post"), (0, 0))[0]
        per_month = items_post / months if months else None
        costs = registry.get(workflow_id, {})
        primary = costs.get("primary_metric") or "cycle_time_hours"
        for name, definition in config.metrics.items():
            # Cycle time: the mean of closed items' capped hours, through the engine's mean.
            source = MEAN_OF_CYCLE_TIME if definition.aggregation == "median" else name
            aggregation = "mean" if definition.aggregation == "median" else definition.aggregation
            result = moment_result(
                groups.moments.get((workflow_id, "baseline", source), Side()),
                groups.moments.get((workflow_id, "post", source), Side()),
                aggregation,
                config.alpha,
                int(config.settings["week_hac_lags"]),
            )
            base, post = result["baseline_value"], result["post_value"]
            row: dict[str, Any] = {
                "workflow_id": workflow_id,
                "metric": name,
                "unit": definition.unit,
                "is_primary": name == primary,
                "post_months": months,
                "items_per_month": per_month,
                "baseline_value": base,
                "post_value": post,
                "change_pct": result["change_pct"],
                "ci_low_pct": result["ci_low_pct"],
                "ci_high_pct": result["ci_high_pct"],
                "verdict": verdicts.get((workflow_id, name)),
                "note": result.get("note"),
            }
            if per_month is not None and _finite(base) and _finite(post):
                row["saved_per_month"] = (base - post) * per_month
                if _finite(result["ci_low_pct"]) and _finite(result["ci_high_pct"]):
                    # saved = -change x baseline x items per month; a fall (negative change) saves.
                    row["saved_low"] = -result["ci_high_pct"] / 100 * base * per_month
                    row["saved_high"] = -result["ci_low_pct"] / 100 * base * per_month
            rate = costs.get(rates[name]) if name in rates else (1.0 if definition.unit == "money" else None)
            row["cost_rate"] = rate
            if rate is not None:
                for units, money in (("saved_per_month", "money_saved_per_month"), ("saved_low", "money_saved_low"), ("saved_high", "money_saved_high")):
                    if row.get(units) is not None:
                        row[money] = row[units] * rate
            row["tool_cost_per_month"] = costs.get(tool_column)
            if row["is_primary"] and row.get("money_saved_per_month") is not None and row["tool_cost_per_month"] is not None:
                row["net_value_per_month"] = row["money_saved_per_month"] - row["tool_cost_per_month"]
            rows.append(row)
    return to_frame(rows, VALUE_ESTIMATES_SCHEMA).sort("workflow_id", "metric")


def _finite(x: float | None) -> bool:
    return x is not None and x == x and abs(x) != float("inf")
