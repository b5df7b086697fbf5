"""Week-robust uncertainty: the ISO week of opening as the unit (METHODS.md v2, "Uncertainty").

Items opened in the same week share shocks (staffing, backlog, season) and the shocks
persist from week to week, so item-level variances are too small. Every function here works
on per-week aggregates that DuckDB computes (items and sums per week, or for a median the
items below it per week), never on items.

The model (:class:`WeekSeries`): a period's weekly relative deviations are an AR(1) week
shock plus independent item noise whose variance the items give (``item_var / n_w``). Per
series, the shock variance is the moment estimate from the residual sum of squares, with the
subtracted period mean accounted for exactly (the bias that made Newey-West and a per-series
AR(1) factor under-cover on 13 weeks); the autocorrelation ``rho`` is **pooled** over every
workflow and metric of the build (:func:`week_persistence`), because one 13-week series
cannot estimate it. ``var(log value) = a' (s2 R(rho) + D) a`` with ``a`` the weeks' item
shares; never below the item-level variance (``s2 >= 0``). A median uses the same model on
its estimating equation (the share of each week's items at or below the period median),
as a design effect on the item-level (order-statistic or Brookmeyer-Crowley) variance.

Intervals of a change are on the log scale (:func:`log_ratio_change`), with a t critical
value on the Welch-Satterthwaite degrees of freedom of the two periods' variances
(:func:`combined_df`), each from how well its series pins down the shock variance: about
weeks - 1 where weeks are independent, fewer where shocks persist. docs/methods.md, "How
sure", has the calibration figures behind the choice.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
import numpy.typing as npt
from scipy import optimize, special
from statsmodels.stats.sandwich_covariance import S_hac_simple


def long_run_variance(scores: npt.ArrayLike, lags: int) -> float:
    """Newey-West long-run variance of a weekly score series (consecutive weeks, gaps as 0).

    ``lags = 0`` is the plain sum of squares (week-clustered). Fewer than 2 weeks: NaN. Kept as
    the reference the week-shock model replaced (docs/methods.md, "Persistence beyond the lags").
    """
    s = np.asarray(scores, dtype=float).ravel()
    if s.size < 2:
        return math.nan
    lags = max(0, min(int(lags), s.size - 1))
    return float(S_hac_simple(s, nlags=lags)[0, 0])


PERSISTENCE_BOUNDS = (-0.3, 0.9)
"""Range searched for the week shocks' autocorrelation (an estimate at a bound stays there)."""
SHOCK_EVIDENCE_Z = 2.0
"""Below this z-score of the pooled week-to-week variance beyond item noise, weeks are taken as
independent (``rho`` 0): without week shocks their persistence is not defined, and a chance
estimate near 1 would multiply the noise of each series' shock variance many times over."""
MIN_DF = 2.0
"""Floor of the degrees of freedom of a week-robust variance (below it the t quantile explodes)."""


class WeekSeries:
    """One period's weekly deviations under the week-shock model.

    ``x[w]`` is week ``w``'s value less the period's value, on the scale of the period value's
    relative error (for a mean or share ``mean_w / mean - 1``; for a median's estimating equation
    ``below_w / n_w - below / n``), ``weight[w]`` its share of the period's items (the period value
    is the weighted mean, so ``weight @ x == 0``) and ``noise[w]`` the variance that independent
    items alone give week ``w`` (``item_var / (n_w mean**2)``). The model::

        x_w = u_w + e_w,   u: AR(1) week shock (variance s2, autocorrelation rho),
                           e: item noise, independent, variance noise_w (times a scale when unknown)

    ``noise_known`` is False where the item-level variance is not available (the
    difference-in-differences' weekly series): the noise scale is then estimated too.
    """

    def __init__(
        self,
        week: npt.ArrayLike,
        weight: npt.ArrayLike,
        x: npt.ArrayLike,
        noise: npt.ArrayLike,
        noise_known: bool = True,
    ) -> None:
        self.week = np.asarray(week, dtype=float).ravel()
        w = np.asarray(weight, dtype=float).ravel()
        self.weight = w / w.sum()
        self.x = np.asarray(x, dtype=float).ravel()
        self.noise = np.asarray(noise, dtype=float).ravel()
        self.noise_known = noise_known
        g = self.x.size
        # Residuals about the weighted mean: r = P x. Expectations of quadratic forms in r under a
        # covariance S are traces, E[r' K r] = tr(P' K P S), which is how subtracting the period's
        # own mean (the bias that defeats Newey-West on 13 weeks) is accounted for exactly.
        p = np.eye(g) - np.outer(np.ones(g), self.weight)
        r = p @ self.x
        self.distance = np.abs(self.week[:, None] - self.week[None, :])
        self._q = p.T @ p
        self._q1 = p.T @ ((self.distance == 1) / 2.0) @ p
        self.ss = float(r @ r)
        self.lag1 = float(r @ ((self.distance == 1) / 2.0) @ r)

    @cached_property
    def _detrended(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], float, float]:
        """(Q, Q1, sum of squares, lag-1 cross-product) of the residuals about the weighted mean
        and straight line. Only the pooled persistence reads them, so they are computed on first
        use: a series that only gives a variance (thousands per build) never pays for the pinv.

        For the pooled autocorrelation, residuals about a weighted mean and straight line: a
        steady drift (which the placebo and the pre-trend check must see as a change) is then
        not read as persistence; the slope's share of the moments is accounted for the same way.
        """
        g = self.x.size
        design = np.column_stack([np.ones(g), self.week - self.week @ self.weight])
        weighted = design.T * self.weight
        pt = np.eye(g) - design @ np.linalg.pinv(weighted @ design) @ weighted
        rt = pt @ self.x
        lag1 = (self.distance == 1) / 2.0
        return pt.T @ pt, pt.T @ lag1 @ pt, float(rt @ rt), float(rt @ lag1 @ rt)

    @property
    def _tq(self) -> npt.NDArray[np.float64]:
        return self._detrended[0]

    @property
    def _tq1(self) -> npt.NDArray[np.float64]:
        return self._detrended[1]

    @property
    def trend_ss(self) -> float:
        """Sum of squares of the residuals about the weighted mean and straight line."""
        return self._detrended[2]

    @property
    def trend_lag1(self) -> float:
        """Their lag-1 cross-product."""
        return self._detrended[3]

    @classmethod
    def of_mean(
        cls, week: npt.ArrayLike, week_n: npt.ArrayLike, week_total: npt.ArrayLike, item_var: float
    ) -> WeekSeries | None:
        """The series of a mean or share from per-week items and sums (weeks without items dropped).

        None with fewer than 2 weeks, a value that is not positive or an item variance that is not finite.
        """
        w = np.asarray(week, dtype=np.int64).ravel()
        n_w = np.asarray(week_n, dtype=float).ravel()
        t_w = np.asarray(week_total, dtype=float).ravel()
        keep = n_w > 0
        w, n_w, t_w = w[keep], n_w[keep], t_w[keep]
        n = float(n_w.sum())
        if w.size < 2 or n == 0:
            return None
        m = float(t_w.sum()) / n
        if not (m > 0 and math.isfinite(item_var)):
            return None
        return cls(w, n_w, t_w / n_w / m - 1, item_var / (n_w * m * m))

    @property
    def n_weeks(self) -> int:
        """Weeks with items."""
        return int(self.x.size)

    def correlation(self, rho: float) -> npt.NDArray[np.float64]:
        """AR(1) correlation of the weeks' shocks: ``rho ** |week distance|`` (gaps count)."""
        return np.where(self.distance == 0, 1.0, np.sign(rho) ** self.distance * abs(rho) ** self.distance)

    @property
    def excess(self) -> tuple[float, float]:
        """(detrended sum of squares beyond what item noise gives, its variance without week
        shocks); only for a series whose noise is known."""
        qd = self._tq * self.noise[None, :]
        return self.trend_ss - float(np.trace(qd)), 2.0 * float(np.sum(qd * qd.T))

    def components(self, rho: float, floor: bool = True) -> tuple[float, float]:
        """Moment estimates of (shock variance, noise scale) given ``rho``, at least 0 unless
        ``floor`` is False (the unbiased moment, for pooling)."""
        corr = self.correlation(rho)
        t_qr = float(np.sum(self._q * corr))
        t_qd = float(self._q.diagonal() @ self.noise)
        if self.noise_known:
            s2 = (self.ss - t_qd) / t_qr
            return (max(s2, 0.0) if floor else s2), 1.0
        # Unknown noise scale: solve the lag-0 and lag-1 moment equations together.
        t_1r = float(np.sum(self._q1 * corr))
        t_1d = float(self._q1.diagonal() @ self.noise)
        det = t_qr * t_1d - t_qd * t_1r
        if abs(det) > 1e-12 * max(abs(t_qr * t_1d), 1e-300):
            s2 = (self.ss * t_1d - t_qd * self.lag1) / det
            scale = (t_qr * self.lag1 - t_1r * self.ss) / det
            if s2 >= 0 and scale >= 0:
                return s2, scale
        # The solution leaves the admissible region: all shock (persistent-looking) or all noise.
        if self.lag1 > 0:
            return self.ss / t_qr, 0.0
        return 0.0, self.ss / t_qd if t_qd > 0 else 0.0

    def predicted(self, rho: float) -> float:
        """Expected lag-1 cross-product of the detrended residuals under the shock variance
        fitted to them at ``rho`` (not floored, so the expectation moves smoothly with ``rho``);
        only for a series whose noise is known."""
        corr = self.correlation(rho)
        s2 = (self.trend_ss - float(self._tq.diagonal() @ self.noise)) / float(np.sum(self._tq * corr))
        return float(s2 * np.sum(self._tq1 * corr) + self._tq1.diagonal() @ self.noise)

    def variance(self, rho: float) -> tuple[float, float]:
        """(variance of the period value's relative error, Satterthwaite degrees of freedom).

        ``weight' (s2 R + scale D) weight`` at the fitted components; the degrees of freedom are
        ``2 v**2 / var(v)`` with ``var(v)`` from the variance of the residual sum of squares the
        shock variance was estimated from (Gaussian: ``2 tr((Q S)^2)``).
        """
        s2, scale = self.components(rho)
        corr = self.correlation(rho)
        a = self.weight
        v_shock = float(a @ corr @ a)
        v_noise = float((a * a) @ self.noise)
        v = s2 * v_shock + scale * v_noise
        cov = s2 * corr + scale * np.diag(self.noise)
        m = self._q @ cov
        var_ss = 2.0 * float(np.sum(m * m.T))
        if self.noise_known:
            slope = v_shock / float(np.sum(self._q * corr))
        else:
            slope = v / self.ss if self.ss > 0 else 0.0
        var_v = slope * slope * var_ss
        df = 2 * v * v / var_v if var_v > 0 else math.inf
        return v, max(df, MIN_DF)


@dataclass(frozen=True)
class PersistenceTerms:
    """One weekly series' part in the pooled persistence (:func:`pool_persistence`): what the
    estimating equation needs of it, with no ``rho`` fixed.

    The shocks' correlation at ``rho`` is ``rho ** d`` for weeks ``d`` apart, so every sum over
    week pairs in the equation is a polynomial in ``rho`` whose coefficients are sums over the
    pairs ``d`` weeks apart (``shock[d]``, ``shock1[d]``). A build keeps these per workflow
    (``intermediate.week_persistence_terms``) and, when one workflow's items move, computes
    only that workflow's again before pooling all of them.
    """

    excess: float
    """Detrended sum of squares beyond what item noise gives."""
    excess_var: float
    """Its variance without week shocks."""
    trend_ss: float
    """Sum of squares of the residuals about the weighted mean and straight line."""
    trend_lag1: float
    """Their lag-1 cross-product."""
    noise_trace: float
    """``tr(Q D)``: the item noise's part of ``trend_ss``'s expectation."""
    noise_trace1: float
    """``tr(Q1 D)``: the item noise's part of ``trend_lag1``'s expectation."""
    shock: tuple[float, ...]
    """``shock[d]``: the sum of ``Q``'s entries over week pairs ``d`` weeks apart."""
    shock1: tuple[float, ...]
    """``shock1[d]``: the same over ``Q1``'s entries."""


def persistence_terms(series: WeekSeries | None) -> PersistenceTerms | None:
    """The series' terms of the pooled persistence; None when it takes no part (unknown item
    noise, fewer than 5 weeks, or no variation about its trend)."""
    if series is None or not series.noise_known or series.n_weeks < 5 or not series.trend_ss > 0:
        return None
    excess, excess_var = series.excess
    distance = series.distance.astype(np.int64).ravel()
    return PersistenceTerms(
        excess=float(excess),
        excess_var=float(excess_var),
        trend_ss=series.trend_ss,
        trend_lag1=series.trend_lag1,
        noise_trace=float(series._tq.diagonal() @ series.noise),
        noise_trace1=float(series._tq1.diagonal() @ series.noise),
        shock=tuple(float(v) for v in np.bincount(distance, weights=series._tq.ravel())),
        shock1=tuple(float(v) for v in np.bincount(distance, weights=series._tq1.ravel())),
    )


def pool_persistence(terms: Iterable[PersistenceTerms | None]) -> float:
    """The week shocks' autocorrelation ``rho`` pooled over many series' terms
    (:func:`week_persistence` has the estimator). Every sum over series is exactly rounded
    (``math.fsum``) and each series' polynomial is evaluated on its own, so the estimate does
    not depend on the order of the series: a build that computed some workflows' terms again
    pools to the same bits as one that computed all of them."""
    use = [t for t in terms if t is not None]
    if not use:
        return 0.0
    # Inverse-variance combination of each series' excess: a noisy share must not drown out
    # the clear excess of a steadier metric.
    info = [(t.excess / t.excess_var, 1 / t.excess_var) for t in use if t.excess_var > 0]
    if not (info and math.fsum(z for z, _ in info) / math.sqrt(math.fsum(w for _, w in info)) >= SHOCK_EVIDENCE_Z):
        return 0.0
    # Each series' equation weighted by its share of week-shock variance: a series that is all
    # item noise says nothing about the shocks' persistence.
    keep = [t for t in use if t.excess > 0]
    weight = np.array([t.excess / t.trend_ss for t in keep])
    trend_ss = np.array([t.trend_ss for t in keep])
    lag1 = np.array([t.trend_lag1 for t in keep])
    noise = np.array([t.noise_trace for t in keep])
    noise1 = np.array([t.noise_trace1 for t in keep])
    width = max((len(t.shock) for t in keep), default=1)
    shock = np.zeros((len(keep), width))
    shock1 = np.zeros((len(keep), width))
    for i, t in enumerate(keep):
        shock[i, : len(t.shock)] = t.shock
        shock1[i, : len(t.shock1)] = t.shock1

    def gap(rho: float) -> float:
        # Horner, highest power first: a series' value does not depend on the padding.
        total = np.zeros(len(keep))
        total1 = np.zeros(len(keep))
        for d in range(width - 1, -1, -1):
            total = total * rho + shock[:, d]
            total1 = total1 * rho + shock1[:, d]
        predicted = (trend_ss - noise) / total * total1 + noise1
        return math.fsum(weight * (lag1 - predicted) / trend_ss)

    lo, hi = PERSISTENCE_BOUNDS
    if gap(lo) <= 0:
        return lo
    if gap(hi) >= 0:
        return hi
    return float(optimize.brentq(gap, lo, hi, xtol=1e-3))


def week_persistence(series: Iterable[WeekSeries | None]) -> float:
    """The week shocks' autocorrelation ``rho``, pooled over many weekly series.

    One series of 13 weeks cannot tell persistence from chance (its lag-1 autocorrelation is
    noisy and biased low by the subtracted mean); a build has dozens (every workflow and metric,
    baseline and post), whose shocks share one operation's rhythm (and, for the shared shock,
    the same weeks). ``rho`` solves ``sum_s (C_s - E[C_s | rho]) / SS_s = 0``: ``C_s`` each
    series' lag-1 cross-product of residuals about its mean and slope, its expectation given
    the shock variance fitted at that ``rho`` (accounting exactly for the subtracted mean and
    slope), scaled by the series' sum of squares and weighted by its share of week-shock
    variance beyond item noise, so that series made of noise do not pull the estimate. Only series whose item noise is known
    take part (with an unknown noise scale the lag-1 moment is used up estimating it). 0 when
    no series has 5 weeks or more, or when the series together show no week-to-week variance
    beyond their item noise (``SHOCK_EVIDENCE_Z``). Computed from each series' terms
    (:func:`persistence_terms`, :func:`pool_persistence`).
    """
    return pool_persistence(persistence_terms(s) for s in series)


@dataclass(frozen=True)
class WeekRobust:
    """A period value (mean or share) with its week-robust variance of ``log(value)``."""

    value: float
    var_log: float
    n_weeks: int
    design_effect: float
    """Week-robust over item-level variance (at least 1)."""
    df: float = math.inf
    """Degrees of freedom of ``var_log`` (Satterthwaite, from the week-shock model)."""


def week_robust_mean(
    week: npt.ArrayLike,
    week_n: npt.ArrayLike,
    week_total: npt.ArrayLike,
    item_var: float,
    rho: float | None = None,
) -> WeekRobust:
    """Week-robust variance of ``log(mean)`` for a mean or share from per-week counts and sums.

    ``week`` counts weeks (any integer origin; a week number, not an ISO week that restarts
    each year), ``item_var`` is the item-level variance of one item (``p(1 - p)`` for a
    share, ``s**2`` for a mean). ``rho`` is the week shocks' autocorrelation, pooled over the
    build (:func:`week_persistence`); None estimates it from this series alone (noisy).
    The variance is never below the item-level one (the shock variance is at least 0).
    """
    w = np.asarray(week, dtype=np.int64).ravel()
    n_w = np.asarray(week_n, dtype=float).ravel()
    t_w = np.asarray(week_total, dtype=float).ravel()
    keep = n_w > 0
    g, n = int(keep.sum()), float(n_w[keep].sum())
    if n == 0:
        return WeekRobust(math.nan, math.nan, g, math.nan)
    m = float(t_w[keep].sum()) / n
    series = WeekSeries.of_mean(w, n_w, t_w, item_var)
    if series is None:
        return WeekRobust(m, math.nan, g, math.nan)
    var_log, df = series.variance(week_persistence([series]) if rho is None else rho)
    iid = item_var / (n * m * m)
    effect = var_log / iid if iid > 0 else math.nan
    return WeekRobust(m, var_log, g, max(effect, 1.0) if math.isfinite(effect) else math.nan, df)


def median_week_robust(
    week: npt.ArrayLike, week_n: npt.ArrayLike, week_below: npt.ArrayLike, rho: float | None = None
) -> tuple[float, float]:
    """(design effect, degrees of freedom) of a median under the week-shock model.

    ``week_below`` counts each week's items at or below the period median; ``below_w / n_w`` less
    the period's share is the median's estimating equation per week, with item noise
    ``b (1 - b) / n_w``. Against independent items (``b (1 - b) / N``) its week-robust variance
    gives the design effect (at least 1). Fewer than 2 weeks: (NaN, NaN).
    """
    series = median_series(week, week_n, week_below)
    if series is None:
        return math.nan, math.nan
    v, df = series.variance(week_persistence([series]) if rho is None else rho)
    n_total = float(np.sum(np.asarray(week_n, dtype=float)))
    share = float(np.sum(np.asarray(week_below, dtype=float))) / n_total
    iid = share * (1 - share) / n_total
    return (max(v / iid, 1.0) if iid > 0 else math.nan), df


def median_series(week: npt.ArrayLike, week_n: npt.ArrayLike, week_below: npt.ArrayLike) -> WeekSeries | None:
    """The weekly series of a median's estimating equation (:func:`median_week_robust`); None below 2 weeks."""
    w = np.asarray(week, dtype=np.int64).ravel()
    n_w = np.asarray(week_n, dtype=float).ravel()
    b_w = np.asarray(week_below, dtype=float).ravel()
    keep = n_w > 0
    w, n_w, b_w = w[keep], n_w[keep], b_w[keep]
    n = float(n_w.sum())
    if w.size < 2 or n == 0:
        return None
    share = float(b_w.sum()) / n
    if not 0 < share < 1:
        return None
    return WeekSeries(w, n_w, b_w / n_w - share, share * (1 - share) / n_w)


def median_design_effect(
    week: npt.ArrayLike, week_n: npt.ArrayLike, week_below: npt.ArrayLike, rho: float | None = None
) -> float:
    """How much week-level shocks inflate the variance of a median (at least 1): the design
    effect of :func:`median_week_robust`. Fewer than 2 weeks: NaN."""
    return median_week_robust(week, week_n, week_below, rho)[0]


def combined_df(var_base: float, df_base: float, var_post: float, df_post: float) -> float:
    """Welch-Satterthwaite degrees of freedom of ``var_base + var_post``."""
    parts = [v * v / d for v, d in ((var_base, df_base), (var_post, df_post)) if math.isfinite(d) and d > 0]
    total = var_base + var_post
    if not parts or not (math.isfinite(total) and total > 0):
        return math.inf
    denom = sum(parts)
    return max(total * total / denom, MIN_DF) if denom > 0 else math.inf


@lru_cache(maxsize=4096)
def critical_value(alpha: float, df: float) -> float:
    """Two-sided critical value: t on ``df`` degrees of freedom, normal when ``df`` is infinite.

    Cached: a build asks for the same few values thousands of times, and scipy's per-call
    overhead would otherwise dominate the statistics."""
    # ``stats.t.isf`` and ``stats.norm.isf`` without scipy's per-call argument handling: the
    # same special functions, the same numbers to the last bit.
    return float(-special.stdtrit(df, alpha / 2)) if math.isfinite(df) else float(-special.ndtri(alpha / 2))


def two_sided_p(z: float, df: float) -> float:
    """Two-sided p-value of ``|z|``: t on ``df`` degrees of freedom, normal when ``df`` is infinite.

    The special functions behind ``stats.t.sf`` and ``stats.norm.sf`` called directly (the same
    numbers to the last bit): a build asks for thousands, and scipy's argument handling per call
    cost more than the function itself."""
    return float(2 * (special.stdtr(df, -z) if math.isfinite(df) else special.ndtr(-z)))


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
    p = two_sided_p(abs(d) / se, df)
    return LogRatioChange(estimate, math.expm1(d - crit * se), math.expm1(d + crit * se), p, se, df)


def item_var_log_share(events: float, n: float) -> float:
    """Item-level variance of ``log(p)``: ``(1 - p) / (n p)`` (METHODS.md reference)."""
    if not (n > 0 and events > 0):
        return math.nan
    p = events / n
    return (1 - p) / (n * p)
