"""Small statistics behind the method checks shown beside every headline number."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats
from statsmodels.regression.linear_model import WLS  # not statsmodels.api: 3 s of imports per run
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
) -> NoveltyTrend:
    """Slope (effect units per week) and two-sided p-value of ``effect ~ 1 + weeks``.

    All metrics are lower-is-better, so an improvement is a negative effect and
    a *fading* improvement shows as a positive slope. Weights are typically the
    weekly item counts (or inverse variances). Weeks with a NaN effect (no
    closed items) are dropped. Fewer than three usable weeks: NaN, since a line
    through two points has no residual to judge it by.
    """
    x = np.asarray(weeks_since_deployment, dtype=float).ravel()
    y = np.asarray(effect, dtype=float).ravel()
    w = np.ones_like(y) if weights is None else np.asarray(weights, dtype=float).ravel()
    keep = np.isfinite(x) & np.isfinite(y) & np.isfinite(w) & (w > 0)
    x, y, w = x[keep], y[keep], w[keep]
    if x.size < 3 or np.ptp(x) == 0:
        return NoveltyTrend(np.nan, np.nan, np.nan, int(x.size))
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
