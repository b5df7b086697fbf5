"""Week-robust uncertainty: the ISO week of opening as the unit (METHODS.md v2, "Uncertainty").

Items opened in the same week share shocks (staffing, backlog, season) and the shocks
persist from week to week, so item-level variances are too small. Every function here works
on per-week aggregates that DuckDB computes (items and sums per week, or for a median the
items below it per week), never on items:

* the period mean ``m = sum(total_w) / sum(n_w)`` has the per-week scores
  ``s_w = total_w - m * n_w`` (its influence function summed over the week's items);
* their long-run variance is the Newey-West (Bartlett kernel) sum over consecutive weeks,
  ``statsmodels.stats.sandwich_covariance.S_hac_simple``: with 0 lags this is the
  week-clustered (CR0) variance, with L lags it also counts the covariance of shocks up to
  L weeks apart; or, when larger, the week-clustered sum of squares times the variance factor
  of an AR(1) mean from the scores' own autocorrelation (:func:`week_long_run_variance`), for
  shocks that persist longer than the lags can see;
* ``var(m) = G / (G - 1) * S / N**2`` (the CR1 small-sample factor, G weeks with items),
  and never less than the item-level variance (design effect at least 1: with few weeks the
  week-level estimate is itself noisy, and weeks cannot carry less information than items);
* a median uses the same scores for its estimating equation, ``s_w = below_w - n_w / 2``,
  which turn into a design effect applied to the item-level (order-statistic or
  Brookmeyer-Crowley) variance.

Intervals of a change are on the log scale (:func:`log_ratio_change`), with a t critical
value on ``min(G_base, G_post) - 1`` degrees of freedom.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
from scipy import stats
from statsmodels.stats.sandwich_covariance import S_hac_simple


def long_run_variance(scores: npt.ArrayLike, lags: int) -> float:
    """Newey-West long-run variance of a weekly score series (consecutive weeks, gaps as 0).

    ``lags = 0`` is the plain sum of squares (week-clustered). Fewer than 2 weeks: NaN.
    """
    s = np.asarray(scores, dtype=float).ravel()
    if s.size < 2:
        return math.nan
    lags = max(0, min(int(lags), s.size - 1))
    return float(S_hac_simple(s, nlags=lags)[0, 0])


def ar1_variance_factor(scores: npt.ArrayLike) -> float:
    """How much persistent week shocks inflate the variance of a period's mean, from the
    weekly scores' own lag-1 autocorrelation (below 1 when it is negative; NaN with fewer than ``AR1_MIN_WEEKS``
    weeks, where an autocorrelation is too noisy to estimate: a 6-week placebo half keeps
    Newey-West and its t on 5 degrees of freedom).

    The scores are first freed of their mean and a straight line over the weeks, so that a
    steady drift (which the placebo and the pre-trend check must see as a change) does not
    read as persistence and widen their intervals. The lag-1 autocorrelation ``r`` of the
    residuals is biased towards 0 in short series; the correction ``(G r + 2) / (G - 4)``
    (Kendall's, for a series with a fitted mean and slope) removes most of the bias, and the
    result is kept in [-0.9, 0.9]: not clipped at 0, which would bias the factor upwards where
    weeks are independent (:func:`week_long_run_variance` takes the larger of it and
    Newey-West, and the item-level variance stays the floor). For a stationary AR(1) series with that autocorrelation the
    variance of the mean of ``G`` weeks is the independent-weeks variance times
    ``1 + 2 * sum_k (1 - k / G) r**k``. Newey-West with a few lags cannot reach this factor on
    13 to 18 weeks (at rho 0.8 the Bartlett weights stop at lag 2 and the demeaning eats the
    rest); the parametric factor can, at the cost of a wider interval when ``r`` is
    overestimated by chance (docs/methods.md, "How sure: the change and its interval").
    """
    s = np.asarray(scores, dtype=float).ravel()
    g = s.size
    if g < AR1_MIN_WEEKS:
        return math.nan
    t = np.arange(g) - (g - 1) / 2
    e = s - s.mean() - t * float(t @ s) / float(t @ t)
    ee = float(e @ e)
    if not ee > 0:
        return math.nan
    r = float(e[1:] @ e[:-1]) / ee
    r = min(max((g * r + 2) / (g - 4), -AR1_MAX), AR1_MAX)
    k = np.arange(1, g)
    return float(1 + 2 * np.sum((1 - k / g) * r**k))


AR1_MAX = 0.9
AR1_MIN_WEEKS = 10
"""Bound of the bias-corrected week autocorrelation's size (a factor of at most about 8 on 13 weeks)."""


def week_long_run_variance(scores: npt.ArrayLike, lags: int) -> float:
    """The week-robust long-run variance of a score series: the larger of Newey-West with
    ``lags`` lags and the week-clustered sum of squares times :func:`ar1_variance_factor`."""
    s = np.asarray(scores, dtype=float).ravel()
    hac = long_run_variance(s, lags)
    factor = ar1_variance_factor(s)
    if not math.isfinite(factor):
        return hac
    return max(hac, float(s @ s) * factor)


@dataclass(frozen=True)
class WeekRobust:
    """A period value (mean or share) with its week-robust variance of ``log(value)``."""

    value: float
    var_log: float
    n_weeks: int
    design_effect: float
    """Week-robust over item-level variance (at least 1)."""


def _grid(week: npt.NDArray[np.int64], values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Scatter per-week values onto consecutive weeks from the first to the last (gaps: 0)."""
    if week.size == 0:
        return np.empty(0)
    out = np.zeros(int(week.max() - week.min()) + 1)
    np.add.at(out, week - week.min(), values)
    return out


def week_robust_mean(
    week: npt.ArrayLike,
    week_n: npt.ArrayLike,
    week_total: npt.ArrayLike,
    item_var: float,
    lags: int,
) -> WeekRobust:
    """Week-robust variance of ``log(mean)`` for a mean or share from per-week counts and sums.

    ``week`` counts weeks (any integer origin; a week number, not an ISO week that restarts
    each year), ``item_var`` is the item-level variance of one item (``p(1 - p)`` for a
    share, ``s**2`` for a mean), used as the floor.
    """
    w = np.asarray(week, dtype=np.int64).ravel()
    n_w = np.asarray(week_n, dtype=float).ravel()
    t_w = np.asarray(week_total, dtype=float).ravel()
    keep = n_w > 0
    w, n_w, t_w = w[keep], n_w[keep], t_w[keep]
    n, total = float(n_w.sum()), float(t_w.sum())
    g = int(w.size)
    if n == 0:
        return WeekRobust(math.nan, math.nan, g, math.nan)
    m = total / n
    if not m > 0 or g < 2:
        return WeekRobust(m, math.nan, g, math.nan)
    scores = _grid(w, t_w - m * n_w)
    var_m = g / (g - 1) * week_long_run_variance(scores, lags) / n**2
    iid = item_var / n
    effect = var_m / iid if iid > 0 else math.nan
    var_m = max(var_m, iid) if math.isfinite(iid) else var_m
    return WeekRobust(m, var_m / m**2, g, max(effect, 1.0) if math.isfinite(effect) else math.nan)


def median_design_effect(week: npt.ArrayLike, week_n: npt.ArrayLike, week_below: npt.ArrayLike, lags: int) -> float:
    """How much week-level shocks inflate the variance of a median (at least 1).

    ``week_below`` counts each week's items at or below the period median; the scores
    ``below_w - n_w / 2`` are the median's estimating equation summed over the week. Against
    independent items, whose scores have variance ``N / 4``, their long-run variance gives
    the design effect. Fewer than 2 weeks: NaN.
    """
    w = np.asarray(week, dtype=np.int64).ravel()
    n_w = np.asarray(week_n, dtype=float).ravel()
    b_w = np.asarray(week_below, dtype=float).ravel()
    keep = n_w > 0
    w, n_w, b_w = w[keep], n_w[keep], b_w[keep]
    g, n = int(w.size), float(n_w.sum())
    if g < 2 or n == 0:
        return math.nan
    scores = _grid(w, b_w - n_w / 2)
    scores = scores - scores.sum() * _grid(w, n_w) / n  # exactly zero-sum, as at the median
    effect = g / (g - 1) * week_long_run_variance(scores, lags) / (n / 4)
    return max(effect, 1.0)


@lru_cache(maxsize=4096)
def critical_value(alpha: float, df: float) -> float:
    """Two-sided critical value: t on ``df`` degrees of freedom, normal when ``df`` is infinite.

    Cached: a build asks for the same few values thousands of times, and scipy's per-call
    overhead would otherwise dominate the statistics."""
    return float(stats.t.isf(alpha / 2, df)) if math.isfinite(df) else float(stats.norm.isf(alpha / 2))


@dataclass(frozen=True)
class LogRatioChange:
    """``post / base - 1`` with an interval computed on the log scale (never below -100%)."""

    estimate: float
    ci_low: float
    ci_high: float
    p_value: float
    se_log: float
    df: float


def log_ratio_change(
    base_value: float,
    var_log_base: float,
    post_value: float,
    var_log_post: float,
    alpha: float = 0.05,
    df: float = math.inf,
) -> LogRatioChange:
    """Relative change with a delta-method interval on ``log(post) - log(base)``, exponentiated.

    ``var_log_*`` are the variances of each period's log value (item-level:
    ``(1 - p) / (n p)`` for a share, ``s**2 / (n m**2)`` for a mean; or week-robust).
    ``df = inf`` uses the normal critical value. NaN when either value is not positive.
    """
    nan = LogRatioChange(math.nan, math.nan, math.nan, math.nan, math.nan, df)
    if not (base_value > 0 and post_value > 0):
        return nan
    d = math.log(post_value) - math.log(base_value)
    var = var_log_base + var_log_post
    estimate = math.expm1(d)
    if not (math.isfinite(var) and var > 0):
        return LogRatioChange(estimate, math.nan, math.nan, math.nan, math.nan, df)
    se = math.sqrt(var)
    crit = critical_value(alpha, df)
    p = float(2 * (stats.t.sf(abs(d) / se, df) if math.isfinite(df) else stats.norm.sf(abs(d) / se)))
    return LogRatioChange(estimate, math.expm1(d - crit * se), math.expm1(d + crit * se), p, se, df)


def item_var_log_share(events: float, n: float) -> float:
    """Item-level variance of ``log(p)``: ``(1 - p) / (n p)`` (METHODS.md reference)."""
    if not (n > 0 and events > 0):
        return math.nan
    p = events / n
    return (1 - p) / (n * p)


def robust_df(n_weeks_base: int, n_weeks_post: int) -> float:
    """Degrees of freedom of a week-robust change: the fewer weeks of the two periods, minus 1."""
    return float(min(n_weeks_base, n_weeks_post) - 1)
