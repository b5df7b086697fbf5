"""Pure estimators behind the effect views and method checks: numpy in, numbers out.

* :func:`comparison_composite` and :func:`ratio_did`: the difference-in-differences of
  one deployed workflow against the pooled comparison workflows, on weekly aggregates.
* :func:`weekly_effects`: the same comparison week by week (novelty, parallel trends).
* :func:`standardized_change` and :func:`team_weighted_log_ratio`: the team-weighted
  estimate shown when the team mix moved between periods.

Why the DiD is a ratio of ratios with week-level inference, not the workflow-clustered
two-way fixed effects of ``pipelines.calibration.did_twfe``: each deployed workflow is estimated
on its own against the comparison workflows (so staggered go-live dates cannot bias it),
which leaves one treated cluster. With one treated cluster neither the cluster-robust t
nor the wild cluster bootstrap controls its error rate (Conley & Taber 2011; MacKinnon &
Webb 2017, 2018): in ``python -m pipelines.calibration`` the workflow-clustered interval
covered the truth far more often than 95% and was several times too wide. Weeks are the
replication instead: the estimate is the multiplicative form of the METHODS.md model
(workflow effect x week effect x (1 + effect) after go-live), which is what a common shock
to cycle times or rates looks like, fitted by period means of two weekly series, the
workflow and the comparison composite. See docs/methods.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

from pipelines.stats.weekly import WeekSeries, combined_df, critical_value, two_sided_p

FloatArray = npt.NDArray[np.float64]

MIN_WEEKS_PER_PERIOD = 3
"""Fewer baseline or post weeks with a value: the DiD is not estimated."""
FEW_WEEKS = 6
"""Fewer weeks in a period than this: the week-level interval is labelled unreliable."""


@dataclass(frozen=True)
class Composite:
    """The comparison workflows pooled into one weekly series.

    ``value[w]`` is the item-weighted mean over comparison workflows of each one's weekly
    value divided by its own baseline mean (so a busy or slow workflow does not dominate
    and a common multiplicative shock stays multiplicative); NaN where no comparison has
    a value. ``items[w]`` counts the comparison items behind it.
    """

    value: FloatArray
    items: FloatArray
    n_workflows: int


def comparison_composite(values: npt.ArrayLike, counts: npt.ArrayLike, baseline: npt.ArrayLike) -> Composite:
    """Pool comparison workflows (rows) over weeks (columns) into one normalised series.

    ``values`` and ``counts`` are (workflows x weeks) with NaN / 0 where a workflow has
    no value; ``baseline`` marks the treated workflow's baseline weeks. A comparison
    whose item-weighted baseline mean is missing or not positive has no relative
    movement to contribute and is left out.
    """
    v = np.atleast_2d(np.asarray(values, dtype=float))
    n = np.atleast_2d(np.asarray(counts, dtype=float))
    base = np.asarray(baseline, dtype=bool)
    if v.size == 0 or v.shape[0] == 0:
        width = base.size
        return Composite(np.full(width, np.nan), np.zeros(width), 0)
    present = np.isfinite(v) & (n > 0)
    w = np.where(present, n, 0.0)
    y = np.where(present, v, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        base_mean = (w[:, base] * y[:, base]).sum(axis=1) / w[:, base].sum(axis=1)
    usable = np.isfinite(base_mean) & (base_mean > 0)
    w, y, base_mean = w[usable], y[usable], base_mean[usable]
    items = w.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        composite = (w * (y / base_mean[:, None])).sum(axis=0) / items
    return Composite(np.where(items > 0, composite, np.nan), items, int(usable.sum()))


@dataclass(frozen=True)
class RatioDid:
    """Difference-in-differences of one workflow against the comparison composite.

    ``estimate_pct = ((P_T / M_T) / (P_C / M_C) - 1) x 100`` with P / M the post /
    baseline means of the weekly values, weighted by the workflow's weekly items. NaN
    with a ``note`` when it cannot be estimated.
    """

    estimate_pct: float
    ci_low_pct: float
    ci_high_pct: float
    p_value: float
    se_log: float
    df: float
    weeks_baseline: int
    weeks_post: int
    note: str | None = None


def _period_series(a: FloatArray, c: FloatArray, w: FloatArray, week: FloatArray) -> WeekSeries | None:
    """The week-shock series of ``log(mean_w a) - log(mean_w c)`` over one period.

    Linearisation ``z = a / mean(a) - c / mean(c)`` (a ratio-estimator variance with weeks as
    replicates): robust to unequal week sizes, and a shock shared by the workflow and the
    comparisons in one week cancels in ``z``. What remains is each side's own week shocks
    (AR(1), autocorrelation pooled over the build) plus item noise of unknown size, taken as
    proportional to ``1 / items`` and estimated with the shock variance
    (``pipelines.stats.weekly.WeekSeries`` with ``noise_known=False``). Both means must be positive.
    """
    if a.size < 2:
        return None
    z = a / float(w @ a / w.sum()) - c / float(w @ c / w.sum())
    z = z - float(w @ z / w.sum())
    return WeekSeries(week, w, z, 1.0 / w, noise_known=False)


def ratio_did(
    treated: npt.ArrayLike,
    treated_n: npt.ArrayLike,
    composite: npt.ArrayLike,
    is_post: npt.ArrayLike,
    alpha: float = 0.05,
    rho: float | None = None,
) -> RatioDid:
    """Ratio-of-ratios DiD with a t interval on the log scale.

    Inputs are aligned per week (consecutive weeks; the position is the week): the workflow's
    weekly value and items, the comparison composite, and whether the week is after go-live.
    Weeks missing either value are dropped. ``log`` of the ratio has variance
    ``v_base + v_post`` from the week-shock model (:func:`_period_series`; ``rho`` the
    autocorrelation pooled over the build's before/after series, where the item noise is known;
    None: 0, independent weeks, as these two series cannot separate persistence from noise), with t on
    their Welch-Satterthwaite degrees of freedom; the interval is transformed back with
    ``expm1`` so it stays above -100%, like the ratio of medians.
    """
    a = np.asarray(treated, dtype=float)
    n = np.asarray(treated_n, dtype=float)
    c = np.asarray(composite, dtype=float)
    post = np.asarray(is_post, dtype=bool)
    week = np.arange(a.size, dtype=float)
    keep = np.isfinite(a) & np.isfinite(c) & (n > 0)
    a, n, c, post, week = a[keep], n[keep], c[keep], post[keep], week[keep]
    k_base, k_post = int((~post).sum()), int(post.sum())

    def nan(note: str) -> RatioDid:
        return RatioDid(math.nan, math.nan, math.nan, math.nan, math.nan, math.nan, k_base, k_post, note)

    if min(k_base, k_post) < MIN_WEEKS_PER_PERIOD:
        return nan(f"fewer than {MIN_WEEKS_PER_PERIOD} baseline or post weeks with a value in both series")
    m_t = float(n[~post] @ a[~post] / n[~post].sum())
    p_t = float(n[post] @ a[post] / n[post].sum())
    m_c = float(n[~post] @ c[~post] / n[~post].sum())
    p_c = float(n[post] @ c[post] / n[post].sum())
    if not (m_t > 0 and m_c > 0 and p_c > 0):
        return nan("the baseline is zero, so there is no relative change")
    if not p_t > 0:
        return nan("the post value is zero, so the log ratio has no interval")
    s_base = _period_series(a[~post], c[~post], n[~post], week[~post])
    s_post = _period_series(a[post], c[post], n[post], week[post])
    rho = 0.0 if rho is None else rho
    v_base, df_base = s_base.variance(rho) if s_base is not None else (math.nan, math.nan)
    v_post, df_post = s_post.variance(rho) if s_post is not None else (math.nan, math.nan)
    log_ratio = math.log(p_t / m_t) - math.log(p_c / m_c)
    var = v_base + v_post
    se = math.sqrt(var) if var >= 0 else math.nan
    if not se > 0:
        return nan("no week-to-week variation to estimate an interval from")
    df = combined_df(v_base, df_base, v_post, df_post)
    crit = critical_value(alpha, df)
    p_value = two_sided_p(abs(log_ratio) / se, df)
    return RatioDid(
        estimate_pct=100 * math.expm1(log_ratio),
        ci_low_pct=100 * math.expm1(log_ratio - crit * se),
        ci_high_pct=100 * math.expm1(log_ratio + crit * se),
        p_value=p_value,
        se_log=se,
        df=float(df),
        weeks_baseline=k_base,
        weeks_post=k_post,
    )


def weekly_effects(
    treated: npt.ArrayLike,
    treated_n: npt.ArrayLike,
    composite: npt.ArrayLike | None,
    is_post: npt.ArrayLike,
) -> FloatArray:
    """Each week's relative effect: ``a_w / M_T - c_w / M_C`` (without comparisons ``a_w / M_T - 1``).

    ``M`` are the item-weighted baseline means, so the baseline weeks scatter around 0 and
    a post week of -0.2 sits 20% below the workflow's baseline after the comparisons'
    own movement. NaN where a value is missing.
    """
    a = np.asarray(treated, dtype=float)
    n = np.asarray(treated_n, dtype=float)
    post = np.asarray(is_post, dtype=bool)
    base = ~post & np.isfinite(a) & (n > 0)
    if composite is not None:
        c = np.asarray(composite, dtype=float)
        base &= np.isfinite(c)
    if not base.any():
        return np.full(a.shape, np.nan)
    m_t = float(n[base] @ a[base] / n[base].sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        if composite is None:
            return a / m_t - 1
        m_c = float(n[base] @ c[base] / n[base].sum())
        return a / m_t - c / m_c


@dataclass(frozen=True)
class WeightedChange:
    """A change in percent with its normal-approximation interval and p-value."""

    estimate_pct: float
    ci_low_pct: float
    ci_high_pct: float
    p_value: float
    n_teams: int


_NAN_CHANGE = WeightedChange(math.nan, math.nan, math.nan, math.nan, 0)


def _team_weights(base_n: FloatArray, usable: FloatArray) -> FloatArray:
    w = np.where(usable, base_n, 0.0)
    return w / w.sum()


def standardized_change(
    base_mean: npt.ArrayLike,
    base_var: npt.ArrayLike,
    base_n: npt.ArrayLike,
    post_mean: npt.ArrayLike,
    post_var: npt.ArrayLike,
    post_n: npt.ArrayLike,
    alpha: float = 0.05,
) -> WeightedChange:
    """Relative change of a mean or share with the post period reweighted to the baseline team mix.

    One element per team. Teams present in both periods are weighted by their baseline
    item share ``s_t``; ``B = sum s_t b_t``, ``P = sum s_t p_t``, change ``P / B - 1`` with
    the delta-method variance ``V_P / B^2 + P^2 V_B / B^4`` where ``V = sum s_t^2 var_t / n_t``
    (the relative-change formula of METHODS.md with standardised means). Direct
    standardisation answers "what would the change be had the team mix not moved".
    """
    bm, bv, bn = (np.asarray(x, dtype=float) for x in (base_mean, base_var, base_n))
    pm, pv, pn = (np.asarray(x, dtype=float) for x in (post_mean, post_var, post_n))
    usable = (bn > 1) & (pn > 1) & np.isfinite(bm) & np.isfinite(pm) & np.isfinite(bv) & np.isfinite(pv)
    if not usable.any():
        return _NAN_CHANGE
    s = _team_weights(bn, usable)
    u = usable
    b = float(s[u] @ bm[u])
    p = float(s[u] @ pm[u])
    if not b > 0:
        return _NAN_CHANGE
    v_b = float((s[u] ** 2 * bv[u] / bn[u]).sum())
    v_p = float((s[u] ** 2 * pv[u] / pn[u]).sum())
    estimate = p / b - 1
    se = math.sqrt(v_p / b**2 + p**2 * v_b / b**4)
    return _normal_change(estimate, se, alpha, int(u.sum()))


def team_weighted_log_ratio(
    base_median: npt.ArrayLike,
    base_se: npt.ArrayLike,
    post_median: npt.ArrayLike,
    post_se: npt.ArrayLike,
    base_n: npt.ArrayLike,
    alpha: float = 0.05,
) -> WeightedChange:
    """Team-weighted ratio of medians: ``exp(sum s_t log(post_t / base_t)) - 1``.

    Medians do not add up across teams, so each team's ratio of medians (with the
    standard error the before/after uses, ``se(median) / median`` on the log scale) is
    averaged on the log scale with baseline team shares ``s_t``.
    """
    bm, bs, pm, ps, bn = (np.asarray(x, dtype=float) for x in (base_median, base_se, post_median, post_se, base_n))
    usable = (bm > 0) & (pm > 0) & np.isfinite(bs) & np.isfinite(ps) & (bn > 0)
    if not usable.any():
        return _NAN_CHANGE
    s = _team_weights(bn, usable)
    u = usable
    log_ratio = float(s[u] @ np.log(pm[u] / bm[u]))
    se = math.sqrt(float((s[u] ** 2 * ((bs[u] / bm[u]) ** 2 + (ps[u] / pm[u]) ** 2)).sum()))
    z = float(stats.norm.isf(alpha / 2))
    if not se > 0:
        return WeightedChange(100 * math.expm1(log_ratio), math.nan, math.nan, math.nan, int(u.sum()))
    return WeightedChange(
        estimate_pct=100 * math.expm1(log_ratio),
        ci_low_pct=100 * math.expm1(log_ratio - z * se),
        ci_high_pct=100 * math.expm1(log_ratio + z * se),
        p_value=float(2 * stats.norm.sf(abs(log_ratio) / se)),
        n_teams=int(u.sum()),
    )


def _normal_change(estimate: float, se: float, alpha: float, n_teams: int) -> WeightedChange:
    if not (math.isfinite(se) and se > 0):
        return WeightedChange(100 * estimate, math.nan, math.nan, math.nan, n_teams)
    z = float(stats.norm.isf(alpha / 2))
    return WeightedChange(
        estimate_pct=100 * estimate,
        ci_low_pct=100 * (estimate - z * se),
        ci_high_pct=100 * (estimate + z * se),
        p_value=float(2 * stats.norm.sf(abs(estimate) / se)),
        n_teams=n_teams,
    )


def total_variation_points(base_counts: npt.ArrayLike, post_counts: npt.ArrayLike) -> float:
    """How far the team mix moved: half the sum of absolute share changes, in points (0-100)."""
    b = np.asarray(base_counts, dtype=float)
    p = np.asarray(post_counts, dtype=float)
    if b.sum() <= 0 or p.sum() <= 0:
        return math.nan
    return float(50 * np.abs(b / b.sum() - p / p.sum()).sum())


def placebo_in_space_pct(
    values: npt.ArrayLike,
    counts: npt.ArrayLike,
    baseline: npt.ArrayLike,
    week: npt.ArrayLike,
    is_post: npt.ArrayLike,
) -> FloatArray:
    """Point estimates of :func:`ratio_did` with each comparison workflow as a pretend-treated one.

    ``values`` and ``counts`` are (comparison workflows x weeks) as for
    :func:`comparison_composite`, ``baseline`` marks the deployed workflow's baseline weeks on
    that grid, ``week`` and ``is_post`` are the deployed workflow's weeks. Row ``j`` is compared
    with the composite of the other rows (leave-one-out, computed from the totals at once), over
    the same weeks and split. Only estimates, so no per-row t quantile: one pass for all rows.
    NaN where :func:`ratio_did` would be NaN for lack of weeks or a zero mean.
    """
    v = np.atleast_2d(np.asarray(values, dtype=float))
    n = np.atleast_2d(np.asarray(counts, dtype=float))
    base = np.asarray(baseline, dtype=bool)
    wk = np.asarray(week, dtype=np.int64)
    post = np.asarray(is_post, dtype=bool)
    present = np.isfinite(v) & (n > 0)
    w = np.where(present, n, 0.0)
    y = np.where(present, v, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        base_mean = (w[:, base] * y[:, base]).sum(axis=1) / w[:, base].sum(axis=1)
    usable = np.isfinite(base_mean) & (base_mean > 0)
    num = np.where(
        usable[:, None], w * np.divide(y, base_mean[:, None], out=np.zeros_like(y), where=usable[:, None]), 0.0
    )
    den = np.where(usable[:, None], w, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        composite = (num.sum(axis=0) - num) / (den.sum(axis=0) - den)  # row j: without j
    a, items, c = v[:, wk], n[:, wk], composite[:, wk]
    keep = np.isfinite(a) & np.isfinite(c) & (items > 0)
    weight = np.where(keep, items, 0.0)
    a, c = np.where(keep, a, 0.0), np.where(keep, c, 0.0)

    def mean(x: FloatArray, period: npt.NDArray[np.bool_]) -> FloatArray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return (weight[:, period] * x[:, period]).sum(axis=1) / weight[:, period].sum(axis=1)

    m_t, p_t, m_c, p_c = mean(a, ~post), mean(a, post), mean(c, ~post), mean(c, post)
    enough = (keep[:, ~post].sum(axis=1) >= MIN_WEEKS_PER_PERIOD) & (keep[:, post].sum(axis=1) >= MIN_WEEKS_PER_PERIOD)
    ok = enough & (m_t > 0) & (m_c > 0) & (p_c > 0) & (p_t > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok, 100 * ((p_t / m_t) / (p_c / m_c) - 1), np.nan)
