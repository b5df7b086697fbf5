"""Pure functions behind the governance marts: intervals on exception rates, the rising-rate
guardrail, and median days in stage. Frames in, frames out; no Dagster, no I/O."""

from __future__ import annotations

import numpy as np
import polars as pl

from pipelines.stats.intervals import MomentStats, absolute_difference, wilson_interval
from pipelines.stats.medians import cycle_time_summary

# (measure, events column, known column) for the monthly rates; escalation is always known.
MONTHLY_RATES = (
    ("escalation", "escalated_items", "assisted_items"),
    ("override", "overridden_items", "override_known_items"),
    ("correction", "corrected_items", "correction_known_items"),
)
# Measures whose rise after go-live is a guardrail, with their window count columns.
GUARDRAIL_MEASURES = (
    ("override", "overridden", "override_known"),
    ("correction", "corrected", "correction_known"),
)


def monthly_rates(counts: pl.DataFrame, confidence_level: float) -> pl.DataFrame:
    """Each month's escalation, override and correction rate with a Wilson interval.

    A rate is null (not 0) in a month with no item where the flag is known.
    """
    alpha = 1 - confidence_level
    columns = []
    for measure, events, known in MONTHLY_RATES:
        n = counts[known].to_numpy().astype(float)
        k = counts[events].to_numpy().astype(float)
        low, high = wilson_interval(k, n, alpha)
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.where(n > 0, k / n, np.nan)
        columns += [
            pl.Series(f"{measure}_rate", np.atleast_1d(rate), dtype=pl.Float64).fill_nan(None),
            pl.Series(f"{measure}_ci_low", np.atleast_1d(low), dtype=pl.Float64).fill_nan(None),
            pl.Series(f"{measure}_ci_high", np.atleast_1d(high), dtype=pl.Float64).fill_nan(None),
        ]
    if counts.height == 0:
        columns = [pl.Series(s.name, [], dtype=pl.Float64) for s in columns]
    return counts.with_columns(columns)


def guardrails(windows: pl.DataFrame, confidence_level: float, min_items: int) -> pl.DataFrame:
    """Per workflow, whether the override or correction rate rose from the first weeks after
    go-live to the most recent ones.

    Each measure's status: `rising` when the interval of (recent - early) lies
    wholly above 0, `falling` when wholly below, `no_clear_change` otherwise, and
    `insufficient_data` when the windows overlap or either holds fewer than `min_items`
    assisted items where the flag is known. `has_exception_guardrail` is any `rising`.
    """
    alpha = 1 - confidence_level
    out = windows.select("workflow_id", "deployed_on", "early_end_on", "recent_start_on", "as_of_on", "windows_overlap")
    statuses = []
    for measure, events, known in GUARDRAIL_MEASURES:
        k0 = windows[f"early_{events}"].to_numpy().astype(float)
        n0 = windows[f"early_{known}"].to_numpy().astype(float)
        k1 = windows[f"recent_{events}"].to_numpy().astype(float)
        n1 = windows[f"recent_{known}"].to_numpy().astype(float)
        # The house share difference: Bernoulli variance, normal critical value (pipelines/stats/intervals.py).
        change = absolute_difference(MomentStats.from_events(k0, n0), MomentStats.from_events(k1, n1), alpha)
        diff, low, high = (
            np.atleast_1d(np.asarray(x, dtype=float)) for x in (change.estimate, change.ci_low, change.ci_high)
        )
        overlap = windows["windows_overlap"].to_numpy().astype(bool)
        thin = (n0 < min_items) | (n1 < min_items) | overlap
        status = np.where(
            thin, "insufficient_data", np.where(low > 0, "rising", np.where(high < 0, "falling", "no_clear_change"))
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            early, recent = np.where(n0 > 0, k0 / n0, np.nan), np.where(n1 > 0, k1 / n1, np.nan)
        out = out.with_columns(
            pl.Series(f"{measure}_early_items", n0.astype(np.int64)),
            pl.Series(f"{measure}_early_rate", early, dtype=pl.Float64).fill_nan(None),
            pl.Series(f"{measure}_recent_items", n1.astype(np.int64)),
            pl.Series(f"{measure}_recent_rate", recent, dtype=pl.Float64).fill_nan(None),
            pl.Series(f"{measure}_change", diff, dtype=pl.Float64).fill_nan(None),
            pl.Series(f"{measure}_change_ci_low", low, dtype=pl.Float64).fill_nan(None),
            pl.Series(f"{measure}_change_ci_high", high, dtype=pl.Float64).fill_nan(None),
            pl.Series(f"{measure}_status", status.astype(str) if status.size else [], dtype=pl.String),
        )
        statuses.append(f"{measure}_status")
    rising = [pl.col(s) == "rising" for s in statuses]
    reasons = [
        pl.when(pl.col(s) == "rising").then(pl.lit(f"{s.removesuffix('_status')} rate rising since go-live"))
        for s in statuses
    ]
    return out.with_columns(
        pl.any_horizontal(rising).fill_null(False).alias("has_exception_guardrail"),
        pl.concat_str(reasons, separator="; ", ignore_nulls=True).replace("", None).alias("guardrail_reason"),
    )


def stage_durations(spells: pl.DataFrame, confidence_level: float) -> pl.DataFrame:
    """Median days in each stage over the timed stays, censored for workflows still there.

    The same rule as cycle time (METHODS.md): a plain median when every stay has ended, the
    Kaplan-Meier median when any is still running.
    """
    alpha = 1 - confidence_level
    rows = []
    timed = spells.filter(pl.col("days_in_stage").is_not_null())
    for (stage,), group in timed.group_by("stage", maintain_order=True):
        days = group["days_in_stage"].to_numpy().astype(float)
        ended = ~group["is_censored"].to_numpy().astype(bool)
        summary = cycle_time_summary(days, ended, alpha)
        rows.append(
            {
                "stage": stage,
                "median_days_in_stage": _finite(summary.median),
                "median_days_ci_low": _finite(summary.ci_low),
                "median_days_ci_high": _finite(summary.ci_high),
                "median_method": summary.method,
                "stays_timed": int(days.size),
                "stays_censored": int((~ended).sum()),
            }
        )
    schema = {
        "stage": pl.String,
        "median_days_in_stage": pl.Float64,
        "median_days_ci_low": pl.Float64,
        "median_days_ci_high": pl.Float64,
        "median_method": pl.String,
        "stays_timed": pl.Int64,
        "stays_censored": pl.Int64,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None
