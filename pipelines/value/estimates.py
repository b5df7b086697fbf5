"""Pure functions behind the value marts: a week-robust mean and the change of one mean
against another on the log-ratio scale (METHODS.md v2, "Uncertainty").

No Dagster, no I/O. Inputs are per-week sufficient statistics (items, sum, sum of squares)
that DuckDB computes; a week is the unit the variance respects, because items opened in the
same week share shocks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps


@dataclass(frozen=True)
class WeeklyMean:
    """A mean over items grouped in weeks, with a variance that holds when weeks are not
    independent: week-clustered, plus Newey-West (Bartlett) terms for `lags` neighbouring weeks."""

    n: int
    mean: float
    variance: float
    """Variance of the mean; nan with fewer than two weeks."""
    weeks: int


def weekly_mean(counts: np.ndarray, totals: np.ndarray, lags: int = 2) -> WeeklyMean:
    """Mean of items whose weeks (in calendar order) hold `counts` items summing to `totals`."""
    counts = np.asarray(counts, dtype=float)
    totals = np.asarray(totals, dtype=float)
    keep = counts > 0
    counts, totals = counts[keep], totals[keep]
    n = float(counts.sum())
    weeks = int(counts.size)
    if n == 0:
        return WeeklyMean(0, math.nan, math.nan, 0)
    mean = float(totals.sum() / n)
    if weeks < 2:
        return WeeklyMean(int(n), mean, math.nan, weeks)
    # Each week's residual sum; their long-run variance is the variance of the total.
    residual = totals - counts * mean
    long_run = float(residual @ residual)
    for lag in range(1, min(lags, weeks - 1) + 1):
        weight = 1.0 - lag / (lags + 1.0)
        long_run += 2.0 * weight * float(residual[lag:] @ residual[:-lag])
    long_run = max(long_run, 0.0) * weeks / (weeks - 1.0)
    return WeeklyMean(int(n), mean, long_run / (n * n), weeks)


@dataclass(frozen=True)
class Change:
    """`post / baseline - 1` with its interval (fractions, not percent); nan where not estimable."""

    estimate: float
    ci_low: float
    ci_high: float
    note: str | None = None


def log_ratio_change(baseline: WeeklyMean, post: WeeklyMean, alpha: float = 0.05) -> Change:
    """Relative change of two means, its interval from the delta method on `log(post) - log(base)`
    with t on (fewest weeks - 1) degrees of freedom, exponentiated so a fall never passes -100%."""
    if baseline.n == 0 or post.n == 0 or not math.isfinite(baseline.mean) or not math.isfinite(post.mean):
        return Change(math.nan, math.nan, math.nan, "no measured items in a period")
    if baseline.mean <= 0:
        return Change(math.nan, math.nan, math.nan, "baseline is zero: no ratio")
    estimate = post.mean / baseline.mean - 1.0
    if post.mean <= 0:
        return Change(estimate, math.nan, math.nan, "no events after go-live: no interval on the log scale")
    if not (math.isfinite(baseline.variance) and math.isfinite(post.variance)):
        return Change(estimate, math.nan, math.nan, "fewer than two weeks in a period: no interval")
    se = math.sqrt(baseline.variance / baseline.mean**2 + post.variance / post.mean**2)
    df = min(baseline.weeks, post.weeks) - 1
    t = float(sps.t.ppf(1.0 - alpha / 2.0, df))
    centre = math.log(post.mean / baseline.mean)
    return Change(estimate, math.exp(centre - t * se) - 1.0, math.exp(centre + t * se) - 1.0)


def saved(baseline_per_item: float, change: float, items: float) -> float:
    """Units saved: `(baseline - post) x items`, written through the change so an interval
    end of the change gives the matching end of the saving (a lower change saves more)."""
    return -change * baseline_per_item * items


def saved_interval(baseline_per_item: float, ci_low: float, ci_high: float, items: float) -> tuple[float, float]:
    """The saving's interval carried through from the change's interval (ends swap sides)."""
    return saved(baseline_per_item, ci_high, items), saved(baseline_per_item, ci_low, items)
