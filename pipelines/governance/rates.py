"""Pure functions behind the governance marts: intervals on exception rates, the rising-rate
guardrail (week-robust, docs/methods.md "Exception paths"), and median days in stage. Frames
in, frames out; no Dagster, no I/O."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from pipelines.stats.intervals import MomentStats, absolute_difference, wilson_interval
from pipelines.stats.medians import cycle_time_summary
from pipelines.stats.verdicts import verdicts
from pipelines.stats.weekly import combined_df, item_var_log_share, log_ratio_change, week_robust_mean

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
# A rate's status is the verdict rule of every metric, read for a rate where higher is worse.
STATUS_OF_VERDICT = {
    "worsened": "rising",
    "improved": "falling",
    "negligible": "negligible",
    "no_clear_change": "no_clear_change",
    "insufficient_data": "insufficient_data",
    "insufficient_baseline": "insufficient_data",
}
WeekCounts = tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64]]
"""(week, items with the flag known, events) of one window."""


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


@dataclass(frozen=True)
class RateChange:
    """The relative change of a rate from the early to the recent window (``recent / early - 1``)."""

    estimate: float
    ci_low: float
    ci_high: float
    design_effect: float
    """Week-robust over item-level variance of the log ratio (1 when weeks are independent)."""
    relative: bool
    """False when a window has no event (or only events): no ratio; the interval is then of the
    absolute difference, item-level, and only its side of 0 is used."""


def rate_change(early: WeekCounts, recent: WeekCounts, alpha: float, rho: float) -> RateChange:
    """Week-robust change of a rate between two windows, on the log-ratio scale.

    Each window's rate gets the week-shock variance of ``pipelines.stats.weekly`` (items opened
    in the same week share shocks, and the shocks persist at the build's ``rho``); the change's
    interval is ``exp(log ratio +/- t * se) - 1`` on the Welch-Satterthwaite degrees of freedom,
    as for every metric. A window with no event or only events has no log ratio: the item-level
    difference of the two shares decides the side of 0 (a rate of 0 shows no week shocks).
    """
    (_, n0, k0), (_, n1, k1) = early, recent
    events0, items0, events1, items1 = float(k0.sum()), float(n0.sum()), float(k1.sum()), float(n1.sum())
    p0, p1 = events0 / items0, events1 / items1
    if not (0 < p0 < 1 and 0 < p1 < 1):
        diff = absolute_difference(
            MomentStats.from_events(events0, items0), MomentStats.from_events(events1, items1), alpha
        )
        return RateChange(float(diff.estimate), float(diff.ci_low), float(diff.ci_high), math.nan, relative=False)
    iid = [item_var_log_share(events0, items0), item_var_log_share(events1, items1)]
    parts = []
    for (week, n, k), p, fallback in ((early, p0, iid[0]), (recent, p1, iid[1])):
        robust = week_robust_mean(week, n, k, p * (1 - p), rho)
        # Fewer than 2 weeks: no week-level variance to estimate; the items' own.
        parts.append((robust.var_log, robust.n_weeks - 1) if math.isfinite(robust.var_log) else (fallback, math.inf))
    (v0, df0), (v1, df1) = parts
    change = log_ratio_change(p0, v0, p1, v1, alpha, combined_df(v0, df0, v1, df1))
    return RateChange(change.estimate, change.ci_low, change.ci_high, (v0 + v1) / sum(iid), relative=True)


def guardrails(
    windows: pl.DataFrame,
    weeks: pl.DataFrame,
    confidence_level: float,
    min_items: int,
    *,
    rho: float,
    min_meaningful_pct: float,
    min_events: int,
) -> pl.DataFrame:
    """Per workflow, whether the override or correction rate rose from the first weeks after
    go-live to the most recent ones (docs/methods.md, "Exception paths").

    ``windows`` holds one row per deployed workflow with its window totals, ``weeks`` the same
    counts per window and week (``week`` an integer count of weeks). Each rate's change is
    :func:`rate_change` (week-robust, log ratio) with an interval at ``1 - alpha / 2``: the two
    rates are one guardrail, so each is tested at half the error rate (Bonferroni) and a
    workflow whose rates do not move is flagged no more often than one metric is found
    "worsened". Each measure's status is the verdict rule of every metric
    (``pipelines.stats.verdicts``): ``rising`` when the interval lies wholly above 0 and the
    rise is at least ``min_meaningful_pct`` of the early rate, ``falling`` the mirror image,
    ``negligible`` when the interval excludes 0 but the change is smaller, ``no_clear_change``
    otherwise, and ``insufficient_data`` when the windows overlap, either holds fewer than
    ``min_items`` assisted items where the flag is known, or both together fewer than
    ``min_events`` events. ``has_exception_guardrail`` is any ``rising``.
    """
    alpha = (1 - confidence_level) / len(GUARDRAIL_MEASURES)
    out = windows.select("workflow_id", "deployed_on", "early_end_on", "recent_start_on", "as_of_on", "windows_overlap")
    by_workflow = {key[0]: part for key, part in weeks.partition_by("workflow_id", as_dict=True).items()}
    overlap = windows["windows_overlap"].to_numpy().astype(bool)
    statuses = []
    for measure, events, known in GUARDRAIL_MEASURES:
        k0 = windows[f"early_{events}"].to_numpy().astype(float)
        n0 = windows[f"early_{known}"].to_numpy().astype(float)
        k1 = windows[f"recent_{events}"].to_numpy().astype(float)
        n1 = windows[f"recent_{known}"].to_numpy().astype(float)
        thin = (n0 < min_items) | (n1 < min_items) | overlap
        estimate, low, high, effect = (np.full(windows.height, np.nan) for _ in range(4))
        relative = np.zeros(windows.height, dtype=bool)
        for i, workflow_id in enumerate(windows["workflow_id"].to_list()):
            if thin[i]:
                continue
            part = by_workflow.get(workflow_id)
            if part is None:
                continue
            counts = [_week_counts(part, name, events, known) for name in ("early", "recent")]
            change = rate_change(counts[0], counts[1], alpha, rho)
            estimate[i], low[i], high[i], effect[i], relative[i] = (
                change.estimate, change.ci_low, change.ci_high, change.design_effect, change.relative,
            )  # fmt: skip
        # Without a ratio (a window with no event) any rise is material: only its side of 0 counts.
        with np.errstate(invalid="ignore"):
            judged = np.where(relative, 100 * estimate, np.sign(estimate) * np.inf)
        status = verdicts(
            np.where(thin, np.nan, low),
            np.where(thin, np.nan, high),
            n0,
            n1,
            k0 + k1,
            min_closed=min_items,
            min_events=min_events,
            estimate=judged,
            min_meaningful_pct=min_meaningful_pct,
        )
        status = np.array([STATUS_OF_VERDICT[str(v)] for v in status], dtype=object)
        with np.errstate(invalid="ignore", divide="ignore"):
            early, recent = np.where(n0 > 0, k0 / n0, np.nan), np.where(n1 > 0, k1 / n1, np.nan)
        pct = [np.where(relative, 100 * x, np.nan) for x in (estimate, low, high)]
        out = out.with_columns(
            pl.Series(f"{measure}_early_items", n0.astype(np.int64)),
            pl.Series(f"{measure}_early_rate", early, dtype=pl.Float64).fill_nan(None),
            pl.Series(f"{measure}_recent_items", n1.astype(np.int64)),
            pl.Series(f"{measure}_recent_rate", recent, dtype=pl.Float64).fill_nan(None),
            pl.Series(f"{measure}_change_pct", pct[0], dtype=pl.Float64).fill_nan(None),
            pl.Series(f"{measure}_change_ci_low_pct", pct[1], dtype=pl.Float64).fill_nan(None),
            pl.Series(f"{measure}_change_ci_high_pct", pct[2], dtype=pl.Float64).fill_nan(None),
            pl.Series(f"{measure}_design_effect", effect, dtype=pl.Float64).fill_nan(None),
            pl.Series(f"{measure}_status", status.astype(str) if status.size else [], dtype=pl.String),
        )
        statuses.append(f"{measure}_status")
    rising = [pl.col(s) == "rising" for s in statuses]
    reasons = [
        pl.when(pl.col(s) == "rising").then(pl.lit(f"{s.removesuffix('_status')} rate rising since go-live"))
        for s in statuses
    ]
    return out.with_columns(
        pl.lit(1 - alpha).alias("interval_level"),
        pl.lit(float(rho)).alias("rho"),
        pl.any_horizontal(rising).fill_null(False).alias("has_exception_guardrail"),
        pl.concat_str(reasons, separator="; ", ignore_nulls=True).replace("", None).alias("guardrail_reason"),
    )


def _week_counts(part: pl.DataFrame, window: str, events: str, known: str) -> WeekCounts:
    """(week, items with the flag known, events) of one window, weeks without such items dropped."""
    rows = part.filter((pl.col("window_name") == window) & (pl.col(f"{known}") > 0)).sort("week")
    return (
        rows["week"].to_numpy().astype(np.int64),
        rows[known].to_numpy().astype(float),
        rows[events].to_numpy().astype(float),
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
