"""Small statistics behind the method checks shown beside every headline number."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats
from statsmodels.regression.linear_model import GLS, WLS  # not statsmodels.api: 3 s of imports per run
from statsmodels.tools.tools import add_constant


@dataclass(frozen=True)
class MixShift:
    """Chi-square test of independence between team and period."""

    statistic: float
    p_value: float
    dof: int


def mix_shift_chi2(table: npt.ArrayLike | pd.DataFrame) -> MixShift:
    """Did the team mix move between periods? Chi-square on a team x period count table.

    Rows are teams, columns periods (baseline, post). Teams with no items in
    either period are dropped first, because a zero row has zero expected
    counts and makes the statistic undefined. No Yates correction, so the
    statistic means the same thing for two teams as for twenty. Fewer than
    two teams or periods left: NaN (nothing to compare).
    """
    counts = np.asarray(table, dtype=float)
    if counts.ndim != 2:
        raise ValueError("table must be two-dimensional (teams x periods)")
    counts = counts[counts.sum(axis=1) > 0][:, counts.sum(axis=0) > 0]
    if counts.shape[0] < 2 or counts.shape[1] < 2:
        return MixShift(np.nan, np.nan, 0)
    res = stats.chi2_contingency(counts, correction=False)
    return MixShift(float(res.statistic), float(res.pvalue), int(res.dof))


@dataclass(frozen=True)
class NoveltyTrend:
    """Weighted linear trend of the weekly effect against weeks since deployment."""

    slope: float
    se: float
    p_value: float
    n_weeks: int


def novelty_slope(
    weeks_since_deployment: npt.ArrayLike,
    effect: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
    rho: float | None = None,
) -> NoveltyTrend:
    """Slope (effect units per week) and two-sided p-value of ``effect ~ 1 + weeks``.

    All metrics are lower-is-better, so an improvement is a negative effect and
    a *fading* improvement shows as a positive slope. Weights are typically the
    weekly item counts (or inverse variances). Weeks with a NaN effect (no
    closed items) are dropped. Fewer than three usable weeks: NaN, since a line
    through two points has no residual to judge it by.

    ``rho`` is the build's week-shock persistence (``intermediate.week_persistence``). When
    it is above 0 the weeks' residuals are taken as AR(1)-correlated, ``rho ** |weeks
    apart|``, and the line is fitted by generalised least squares (statsmodels ``GLS``, the
    covariance ``D^-1/2 R D^-1/2`` with ``D`` the weights): a slope through persistent shocks
    is not read as a trend. The residual also holds the items' own noise, which does not
    persist, so this overstates the correlation a little and errs towards a quieter test.
    """
    x = np.asarray(weeks_since_deployment, dtype=float).ravel()
    y = np.asarray(effect, dtype=float).ravel()
    w = np.ones_like(y) if weights is None else np.asarray(weights, dtype=float).ravel()
    keep = np.isfinite(x) & np.isfinite(y) & np.isfinite(w) & (w > 0)
    x, y, w = x[keep], y[keep], w[keep]
    if x.size < 3 or np.ptp(x) == 0:
        return NoveltyTrend(np.nan, np.nan, np.nan, int(x.size))
    if rho is not None and math.isfinite(rho) and rho > 0:
        correlation = min(float(rho), 0.99) ** np.abs(x[:, None] - x[None, :])
        scale = 1 / np.sqrt(w)
        fit = GLS(y, add_constant(x), sigma=correlation * np.outer(scale, scale)).fit()
    else:
        fit = WLS(y, add_constant(x), weights=w).fit()
    return NoveltyTrend(float(fit.params[1]), float(fit.bse[1]), float(fit.pvalues[1]), int(x.size))


def censoring_gap(
    open_base: npt.ArrayLike,
    n_base: npt.ArrayLike,
    open_post: npt.ArrayLike,
    n_post: npt.ArrayLike,
) -> float | npt.NDArray[np.float64]:
    """Share of open (censored) items, post minus baseline, in percentage points.

    The post period is usually shorter, so more of its items are still open;
    METHODS.md flags a gap larger than 5 points either way. NaN when a period
    has no items. Broadcasts over arrays.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        gap = 100 * (
            np.asarray(open_post, dtype=float) / np.asarray(n_post, dtype=float)
            - np.asarray(open_base, dtype=float) / np.asarray(n_base, dtype=float)
        )
    return float(gap) if gap.ndim == 0 else gap


@dataclass(frozen=True)
class SegmentedTrend:
    """``effect ~ 1 + week + post``: a linear trend through baseline and post weeks with a step at go-live.

    ``change`` is the weighted post mean less the weighted baseline mean of the effect (the
    difference-in-differences on this scale); it splits exactly into ``step + trend_part``, the
    step at go-live and what the trend alone carries between the two periods' mean weeks
    (``slope x (mean post week - mean baseline week)``, weighted as the fit is)."""

    step: float
    step_se: float
    step_p_value: float
    slope: float
    slope_se: float
    slope_p_value: float
    change: float
    trend_part: float
    n_weeks: int
    df: float


def hac_lags(n_weeks: int) -> int:
    """Newey-West's rule for the HAC window: ``floor(4 (T / 100) ** (2 / 9))`` (at least 1)."""
    return max(1, int(math.floor(4 * (n_weeks / 100) ** (2 / 9))))


def segmented_trend(
    weeks_since_deployment: npt.ArrayLike,
    effect: npt.ArrayLike,
    is_post: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
) -> SegmentedTrend:
    """Segmented regression of the weekly effect over baseline and post weeks together.

    Weighted least squares of ``effect ~ 1 + week + post`` (statsmodels ``WLS``, weights
    typically the weekly items) with a HAC (Newey-West, Bartlett) covariance over
    :func:`hac_lags` weeks and t on the residual degrees of freedom: weeks share persistent
    shocks, so plain standard errors would be too small. Weeks with a NaN are dropped. Fewer
    than 3 weeks in either period: every number NaN.
    """
    x = np.asarray(weeks_since_deployment, dtype=float).ravel()
    y = np.asarray(effect, dtype=float).ravel()
    post = np.asarray(is_post, dtype=bool).ravel()
    w = np.ones_like(y) if weights is None else np.asarray(weights, dtype=float).ravel()
    keep = np.isfinite(x) & np.isfinite(y) & np.isfinite(w) & (w > 0)
    x, y, post, w = x[keep], y[keep], post[keep], w[keep]
    nan = math.nan
    if min(int(post.sum()), int((~post).sum())) < 3:
        return SegmentedTrend(nan, nan, nan, nan, nan, nan, nan, nan, int(x.size), nan)
    order = np.argsort(x, kind="stable")
    x, y, post, w = x[order], y[order], post[order], w[order]
    design = np.column_stack([np.ones_like(x), x, post.astype(float)])
    fit = WLS(y, design, weights=w).fit(
        cov_type="HAC", cov_kwds={"maxlags": hac_lags(x.size), "use_correction": True}, use_t=True
    )
    weeks_apart = float(w[post] @ x[post] / w[post].sum() - w[~post] @ x[~post] / w[~post].sum())
    change = float(w[post] @ y[post] / w[post].sum() - w[~post] @ y[~post] / w[~post].sum())
    return SegmentedTrend(
        step=float(fit.params[2]),
        step_se=float(fit.bse[2]),
        step_p_value=float(fit.pvalues[2]),
        slope=float(fit.params[1]),
        slope_se=float(fit.bse[1]),
        slope_p_value=float(fit.pvalues[1]),
        change=change,
        trend_part=float(fit.params[1]) * weeks_apart,
        n_weeks=int(x.size),
        df=float(fit.df_resid),
    )
