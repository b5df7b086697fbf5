"""Median cycle time per period, with and without censoring, and the ratio of medians.

Cycle times are skewed and have long tails, so METHODS.md compares medians and
reports ``post_median / base_median - 1``. Items still open at the data cutoff
are right-censored; when there are any, the Kaplan–Meier median replaces the
plain median (dropping open items would bias the median towards quick items).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import stats

# Kaplan–Meier survival is a running product of (1 - d/n); an S(t) that is
# exactly 0.5 on paper can come out as 0.5000000000000001. R's survival package
# uses a similar tolerance for the same reason.
_SURVIVAL_TOL = 1e-10


@lru_cache(maxsize=64)
def _z(alpha: float) -> float:
    return float(stats.norm.isf(alpha / 2))


def _as_durations(values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    x = np.asarray(values, dtype=float).ravel()
    if np.isnan(x).any():
        # Silently dropping NaNs would hide an upstream join or parsing bug.
        raise ValueError("durations contain NaN")
    return x


@dataclass(frozen=True)
class MedianCI:
    """A sample median with its distribution-free order-statistic interval.

    ``coverage`` is the exact coverage of ``[ci_low, ci_high]`` under
    continuity; it is at least ``1 - alpha`` unless the ranks had to be
    clipped to the sample (very small samples), in which case it is lower.
    """

    median: float
    ci_low: float
    ci_high: float
    n: int
    coverage: float


def order_statistic_ranks(n: int, alpha: float = 0.05) -> tuple[int, int]:
    """1-based ranks ``(lower, upper)`` of the order statistics bounding the median CI.

    ``binom.ppf(alpha/2, n, 0.5)`` and ``binom.isf(alpha/2, n, 0.5) + 1``, the
    same ranks as ``scipy.stats.quantile_test(...).confidence_interval()``,
    clipped to ``[1, n]``. scipy returns NaN instead of clipping when ``n`` is
    too small for the nominal confidence (n <= 5 at 95%).
    """
    lo = int(stats.binom.ppf(alpha / 2, n, 0.5))
    hi = int(stats.binom.isf(alpha / 2, n, 0.5)) + 1
    return min(max(lo, 1), n), min(max(hi, 1), n)


def median_ci(values: npt.ArrayLike, alpha: float = 0.05) -> MedianCI:
    """Sample median of uncensored values and its order-statistic confidence interval.

    The interval ``[x_(lo), x_(hi)]`` covers the population median with
    probability ``P(lo <= B < hi)``, ``B ~ Binomial(n, 1/2)``, whatever the
    distribution: no normality or density estimate is needed. Runs in O(n)
    with ``np.partition``, so millions of durations are fine. An empty input
    gives NaN.
    """
    x = _as_durations(values)
    n = x.size
    if n == 0:
        return MedianCI(np.nan, np.nan, np.nan, 0, np.nan)
    lo, hi = order_statistic_ranks(n, alpha)
    mid = [(n - 1) // 2, n // 2]
    part = np.partition(x, sorted({lo - 1, hi - 1, *mid}))
    coverage = stats.binom.cdf(hi - 1, n, 0.5) - stats.binom.cdf(lo - 1, n, 0.5)
    return MedianCI(
        median=float((part[mid[0]] + part[mid[1]]) / 2),
        ci_low=float(part[lo - 1]),
        ci_high=float(part[hi - 1]),
        n=n,
        coverage=float(coverage),
    )


@dataclass(frozen=True)
class KaplanMeierMedian:
    """Kaplan–Meier median with its Brookmeyer–Crowley interval (NaN when not estimable)."""

    median: float
    ci_low: float
    ci_high: float
    n: int
    n_observed: int


def kaplan_meier(
    durations: npt.ArrayLike, observed: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Kaplan–Meier curve at the distinct event times.

    Returns ``(times, survival, greenwood)`` where ``greenwood`` is the running
    sum ``sum d / (n (n - d))``, so ``Var(log S(t)) ≈ greenwood``. Items
    censored at an event time are counted at risk at that time (the usual
    convention: events happen first). Vectorised: one sort, no Python loop.
    """
    t = _as_durations(durations)
    obs = np.asarray(observed, dtype=bool).ravel()
    if obs.shape != t.shape:
        raise ValueError("durations and observed must have the same length")
    times, inverse = np.unique(t, return_inverse=True)
    deaths = np.bincount(inverse, weights=obs.astype(float), minlength=times.size)
    leaving = np.bincount(inverse, minlength=times.size).astype(float)
    at_risk = np.cumsum(leaving[::-1])[::-1]
    has_event = deaths > 0
    times, deaths, at_risk = times[has_event], deaths[has_event], at_risk[has_event]
    survival = np.cumprod(1 - deaths / at_risk)
    with np.errstate(divide="ignore"):
        # n == d (everyone left at risk fails) makes the term infinite; S is 0
        # from there on and the interval is degenerate anyway.
        greenwood = np.cumsum(deaths / (at_risk * (at_risk - deaths)))
    return times, survival, greenwood


def km_median(durations: npt.ArrayLike, observed: npt.ArrayLike, alpha: float = 0.05) -> KaplanMeierMedian:
    """Kaplan–Meier median for right-censored durations (``observed=False`` = still open).

    Median: the smallest event time with ``S(t) <= 0.5`` (R's survival and
    lifelines; statsmodels uses ``S(t) < 0.5``, which differs only when S hits
    exactly one half). NaN when S never falls to one half.

    Interval (Brookmeyer & Crowley 1982): the event times at which the pointwise
    log-log ("exponential Greenwood") confidence interval of ``S(t)`` contains
    0.5. The lower bound is the first such time; the upper bound is the next
    event time after the last such one, i.e. where the upper band drops below
    0.5. It is NaN when the band never gets there. This matches
    ``SurvfuncRight.quantile_ci(0.5, method="cloglog")`` except that
    statsmodels reports ``inf`` where this returns NaN.
    """
    t = _as_durations(durations)
    obs = np.asarray(observed, dtype=bool).ravel()
    times, surv, greenwood = kaplan_meier(t, obs)
    n, n_obs = int(t.size), int(obs.sum())
    if times.size == 0:
        return KaplanMeierMedian(np.nan, np.nan, np.nan, n, n_obs)

    reached = np.flatnonzero(surv <= 0.5 + _SURVIVAL_TOL)
    median = float(times[reached[0]]) if reached.size else np.nan

    with np.errstate(divide="ignore", invalid="ignore"):
        log_s = np.log(surv)
        # se of log(-log S) by the delta method; NaN/inf where S is 0 or 1, which
        # correctly leaves those times outside the set.
        se_loglog = np.sqrt(greenwood) / np.abs(log_s)
        r = (np.log(-log_s) - np.log(np.log(2.0))) / se_loglog
    inside = np.flatnonzero(np.abs(r) <= _z(alpha))
    if inside.size == 0:
        return KaplanMeierMedian(median, np.nan, np.nan, n, n_obs)
    low = float(times[inside[0]])
    high = float(times[inside[-1] + 1]) if inside[-1] + 1 < times.size else np.nan
    return KaplanMeierMedian(median, low, high, n, n_obs)


@dataclass(frozen=True)
class CycleTimeSummary:
    """Median cycle time of one period, ready for :func:`median_ratio_change`.

    ``se`` approximates the standard error of the median from the interval
    width, ``(ci_high - ci_low) / (2 z)`` (McKean & Schrader 1984): the
    order-statistic interval spans about ``±z`` standard errors of the median,
    so this is the quantile-variance ``1 / (4 n f(m)^2)`` estimated without a
    density estimate. ``method`` is ``order_statistic`` or ``kaplan_meier``.
    """

    median: float
    ci_low: float
    ci_high: float
    se: float
    n: int
    n_observed: int
    method: Literal["order_statistic", "kaplan_meier"]


def cycle_time_summary(
    durations: npt.ArrayLike,
    observed: npt.ArrayLike | None = None,
    alpha: float = 0.05,
) -> CycleTimeSummary:
    """Median and CI of one period's cycle times, censoring-aware.

    All items closed (``observed`` all True or None): plain median with the
    order-statistic interval. Any item open: Kaplan–Meier median with the
    Brookmeyer–Crowley interval (open items censored at the cutoff).
    """
    t = _as_durations(durations)
    obs = np.ones(t.size, dtype=bool) if observed is None else np.asarray(observed, dtype=bool).ravel()
    if obs.shape != t.shape:
        raise ValueError("durations and observed must have the same length")
    if obs.all():
        m = median_ci(t, alpha)
        median, low, high, method = m.median, m.ci_low, m.ci_high, "order_statistic"
    else:
        k = km_median(t, obs, alpha)
        median, low, high, method = k.median, k.ci_low, k.ci_high, "kaplan_meier"
    se = (high - low) / (2 * _z(alpha))
    return CycleTimeSummary(
        median=float(median),
        ci_low=float(low),
        ci_high=float(high),
        se=float(se),
        n=int(t.size),
        n_observed=int(obs.sum()),
        method=method,  # type: ignore[arg-type]
    )


@dataclass(frozen=True)
class MedianRatioChange:
    """``post_median / base_median - 1`` with interval and two-sided p-value.

    ``log_ratio_se`` is the standard error of ``log(post/base)``.
    """

    estimate: float
    ci_low: float
    ci_high: float
    p_value: float
    log_ratio_se: float
    method: Literal["normal_log_ratio"]


def median_ratio_change(base: CycleTimeSummary, post: CycleTimeSummary, alpha: float = 0.05) -> MedianRatioChange:
    """Ratio of medians minus one, with a normal interval on ``log(ratio)``.

    ``se(log m) ≈ se(m) / m`` for each period (delta method on the
    quantile-variance approximation held in ``CycleTimeSummary.se``); the two
    periods are independent, so the variances add. The log scale keeps the
    interval for the ratio positive and roughly symmetric. NaN when either
    median is not positive or an interval was not estimable.
    """
    nan = MedianRatioChange(np.nan, np.nan, np.nan, np.nan, np.nan, "normal_log_ratio")
    if not (base.median > 0 and post.median > 0):
        return nan
    log_ratio = np.log(post.median / base.median)
    se = float(np.hypot(base.se / base.median, post.se / post.median))
    estimate = float(np.expm1(log_ratio))
    if not (np.isfinite(se) and se > 0):
        return MedianRatioChange(estimate, np.nan, np.nan, np.nan, se, "normal_log_ratio")
    z = _z(alpha)
    return MedianRatioChange(
        estimate=estimate,
        ci_low=float(np.expm1(log_ratio - z * se)),
        ci_high=float(np.expm1(log_ratio + z * se)),
        p_value=float(2 * stats.norm.sf(abs(log_ratio) / se)),
        log_ratio_se=se,
        method="normal_log_ratio",
    )
