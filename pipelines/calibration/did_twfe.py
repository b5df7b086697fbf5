"""Difference-in-differences on workflow x week aggregates: the calibration's reference estimator.

Calibration only (pipelines/calibration/run.py compares it with the published DiD of
``pipelines.measurement.estimators``); no mart uses it.

The panel has one row per workflow and week with columns ``workflow_id``,
``week`` (a date, or an integer counting weeks, so that differences are
durations: not ISO week numbers that restart each year), ``y`` (the weekly metric), ``treated`` (the
workflow is ever deployed), ``post`` (the week is on or after that workflow's
deployment) and optionally ``n`` (items behind ``y``, used as weights).
Comparison workflows (never deployed) have ``treated = False``.

Model (METHODS.md): ``y ~ C(workflow_id) + C(week) + treated_post`` with
``treated_post = treated & post``, standard errors clustered by workflow with
t(G - 1) inference. With few workflows the cluster-robust t is too optimistic,
so a wild cluster restricted bootstrap (WCR; Cameron, Gelbach & Miller 2008)
is run as well and its interval used.

Two-way fixed effects is **biased when deployment dates are staggered**: it
uses already-treated workflows as controls for later ones, and with effects
that change over time the estimate can even take the wrong sign (Goodman-Bacon
2021; de Chaisemartin & D'Haultfœuille 2020). Read the estimate as the effect
only when all treated workflows deploy in the same week; otherwise use a
staggered estimator (Callaway & Sant'Anna 2021, Sun & Abraham 2021).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import statsmodels.formula.api as smf
from scipy import stats

REQUIRED_COLUMNS = ("workflow_id", "week", "y", "treated", "post")
_FORMULA = "y ~ C(workflow_id) + C(week) + treated_post"

# Webb (2014) six-point weights: with G clusters Rademacher has only 2**G
# distinct draws, too few to give a usable bootstrap distribution below ~12.
_WEBB = np.array([-np.sqrt(1.5), -1.0, -np.sqrt(0.5), np.sqrt(0.5), 1.0, np.sqrt(1.5)])
_RADEMACHER = np.array([-1.0, 1.0])


@dataclass(frozen=True)
class DidResult:
    """Two-way fixed-effects DiD estimate in the units of ``y``.

    ``ci_low``/``ci_high``/``p_value`` come from ``method``: ``cluster_t``
    (CR1 cluster-robust, t with G - 1 df) or ``wild_cluster_bootstrap``
    (WCR, interval by test inversion). Both sets are kept so the page can show
    them side by side. ``staggered`` is True when treated workflows deploy in
    different weeks, where the estimate itself is biased (module docstring).
    ``reliable`` is False when either arm has fewer than
    ``min_arm_clusters`` workflows, where no cluster-based method controls
    its error rate (MacKinnon & Webb 2017), or when the bootstrap interval is
    unbounded.
    """

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    n_clusters: int
    n_treated_clusters: int
    n_obs: int
    method: Literal["cluster_t", "wild_cluster_bootstrap", "not_estimable"]
    reliable: bool
    cluster_t_ci: tuple[float, float]
    cluster_t_p_value: float
    bootstrap_ci: tuple[float, float] | None = None
    bootstrap_p_value: float | None = None
    bootstrap_weights: Literal["rademacher", "webb"] | None = None
    note: str = ""
    staggered: bool = False


@dataclass(frozen=True)
class DidRelative:
    """DiD effect as a percentage of the treated workflows' baseline mean of ``y``.

    ``method`` is the :class:`DidResult` method whose interval was scaled.
    """

    estimate_pct: float
    ci_low_pct: float
    ci_high_pct: float
    p_value: float
    baseline_mean: float
    method: Literal["cluster_t", "wild_cluster_bootstrap", "not_estimable"]
    reliable: bool


@dataclass(frozen=True)
class _Design:
    """Cleaned panel: raw ``y`` and ``treated_post``, weights, integer codes for clusters and weeks."""

    y: npt.NDArray[np.float64]
    d: npt.NDArray[np.float64]
    w: npt.NDArray[np.float64]
    cluster: npt.NDArray[np.intp]
    week: npt.NDArray[np.intp]
    n_clusters: int
    n_treated_clusters: int
    frame: pd.DataFrame


def _prepare(panel: pd.DataFrame, weight_column: str | None, extra: tuple[str, ...] = ()) -> _Design:
    missing = [c for c in REQUIRED_COLUMNS if c not in panel.columns]
    if missing:
        raise ValueError(f"panel is missing columns {missing}")
    use_weights = weight_column is not None and weight_column in panel.columns
    cols = [*REQUIRED_COLUMNS, *([weight_column] if use_weights else []), *extra]
    frame = panel.loc[:, cols].copy()
    frame = frame[np.isfinite(frame["y"].to_numpy(dtype=float))]
    w = frame[weight_column].to_numpy(dtype=float) if use_weights else np.ones(len(frame))
    # A week with no items has no y; zero weight would make the design singular.
    keep = np.isfinite(w) & (w > 0)
    frame, w = frame[keep].reset_index(drop=True), w[keep]
    treated = frame["treated"].to_numpy(dtype=bool)
    d = (treated & frame["post"].to_numpy(dtype=bool)).astype(float)
    cluster, uniques = pd.factorize(frame["workflow_id"], sort=True)
    week, _ = pd.factorize(frame["week"], sort=True)
    n_treated = int(pd.Series(treated).groupby(cluster).any().sum())
    frame = frame.assign(workflow_id=cluster, week=week, treated_post=d, _w=w)
    return _Design(
        y=frame["y"].to_numpy(dtype=float),
        d=d,
        w=w,
        cluster=cluster.astype(np.intp),
        week=week.astype(np.intp),
        n_clusters=len(uniques),
        n_treated_clusters=n_treated,
        frame=frame,
    )


def _fixed_effects_residualiser(design: _Design) -> npt.NDArray[np.float64]:
    """Sqrt-weighted dummy matrix of workflow and week fixed effects."""
    n = design.y.size
    n_weeks = int(design.week.max()) + 1
    x = np.zeros((n, design.n_clusters + n_weeks - 1))
    x[np.arange(n), design.cluster] = 1.0
    has_week = design.week > 0  # first week is the reference level
    x[np.flatnonzero(has_week), design.n_clusters + design.week[has_week] - 1] = 1.0
    return x * np.sqrt(design.w)[:, None]


def _annihilate(xs: npt.NDArray[np.float64], z: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Residuals of ``z`` regressed on ``xs`` (Frisch–Waugh–Lovell partialling out)."""
    coef, *_ = np.linalg.lstsq(xs, z, rcond=None)
    return z - xs @ coef


def _weight_draws(
    n_clusters: int, n_resamples: int, rng: np.random.Generator
) -> tuple[npt.NDArray[np.float64], Literal["rademacher", "webb"]]:
    kind: Literal["rademacher", "webb"] = "webb" if n_clusters < 12 else "rademacher"
    values = _WEBB if kind == "webb" else _RADEMACHER
    if values.size**n_clusters <= n_resamples:
        # Few enough distinct draws to enumerate them all: the exact bootstrap
        # distribution, with no simulation noise.
        grids = np.meshgrid(*([values] * n_clusters), indexing="ij")
        return np.stack([g.ravel() for g in grids]), kind
    return rng.choice(values, size=(n_clusters, n_resamples)), kind


class _WildClusterRestricted:
    """WCR bootstrap for ``treated_post`` on the partialled-out problem.

    After Frisch–Waugh–Lovell, the bootstrap t statistic for any null value
    ``beta0`` depends on the draws only through G x G matrices that are linear
    in ``beta0`` (Roodman, MacKinnon, Nielsen & Webb 2019), so the p-value can
    be evaluated for many ``beta0`` cheaply and the interval found by test
    inversion with the same draws.
    """

    def __init__(self, design: _Design, draws: npt.NDArray[np.float64]) -> None:
        xs = _fixed_effects_residualiser(design)
        sw = np.sqrt(design.w)
        y_t, d_t = _annihilate(xs, np.column_stack([design.y * sw, design.d * sw])).T
        g = design.n_clusters
        members = np.zeros((design.y.size, g))
        members[np.arange(design.y.size), design.cluster] = 1.0
        self.dd = float(d_t @ d_t)
        self.beta = float(d_t @ y_t) / self.dd
        k = xs.shape[1] + 1
        n = design.y.size
        self.c = g / (g - 1) * (n - 1) / (n - k)  # CR1, as statsmodels
        resid = y_t - self.beta * d_t
        score = members.T @ (d_t * resid)
        self.se = float(np.sqrt(self.c * score @ score) / self.dd)
        # Restricted residuals are y_t - beta0 * d_t, so every piece splits
        # into a y part and a d part.
        self.u_y = members.T @ (d_t * y_t)
        self.u_d = members.T @ (d_t * d_t)
        my = _annihilate(xs, members * y_t[:, None])
        md = _annihilate(xs, members * d_t[:, None])
        self.a_y = members.T @ (d_t[:, None] * my)
        self.a_d = members.T @ (d_t[:, None] * md)
        self.q = self.u_d.copy()  # per-cluster sum of d_t**2, for the shift term
        self.draws = draws

    def p_value(self, beta0: float) -> float:
        """Symmetric bootstrap p-value for H0: beta = beta0."""
        u = self.u_y - beta0 * self.u_d
        a = self.a_y - beta0 * self.a_d
        shift = (u @ self.draws) / self.dd  # beta* - beta0 per draw
        scores = a @ self.draws - self.q[:, None] * shift[None, :]
        se_star = np.sqrt(self.c * np.einsum("gb,gb->b", scores, scores)) / self.dd
        with np.errstate(divide="ignore", invalid="ignore"):
            t_star = np.abs(shift / se_star)
        t_obs = abs(self.beta - beta0) / self.se
        return float(np.mean(t_star >= t_obs - 1e-12 * max(1.0, t_obs)))

    def interval(self, alpha: float, start: float) -> tuple[float, float]:
        """Test-inversion interval: where the bootstrap p-value crosses ``alpha``."""
        bounds = []
        for sign in (-1.0, 1.0):
            inner, step = self.beta, max(start, 1e-12 * max(1.0, abs(self.beta)))
            outer = self.beta + sign * step
            for _ in range(40):  # expand until rejected; give up => unbounded
                if self.p_value(outer) <= alpha:
                    break
                inner, outer = outer, self.beta + sign * (abs(outer - self.beta) * 2)
            else:
                bounds.append(sign * np.inf)
                continue
            for _ in range(60):
                mid = (inner + outer) / 2
                if self.p_value(mid) <= alpha:
                    outer = mid
                else:
                    inner = mid
            bounds.append((inner + outer) / 2)
        return bounds[0], bounds[1]


def _nan_result(design: _Design, note: str) -> DidResult:
    return DidResult(
        estimate=np.nan,
        se=np.nan,
        ci_low=np.nan,
        ci_high=np.nan,
        p_value=np.nan,
        n_clusters=design.n_clusters,
        n_treated_clusters=design.n_treated_clusters,
        n_obs=int(design.y.size),
        method="not_estimable",
        reliable=False,
        cluster_t_ci=(np.nan, np.nan),
        cluster_t_p_value=np.nan,
        note=note,
    )


def did_twfe(
    panel: pd.DataFrame,
    alpha: float = 0.05,
    *,
    weight_column: str | None = "n",
    bootstrap_below: int = 10,
    min_arm_clusters: int = 3,
    n_resamples: int = 9999,
    seed: int = 20240601,
) -> DidResult:
    """Two-way fixed-effects DiD, clustered by workflow.

    Fits ``y ~ C(workflow_id) + C(week) + treated_post`` by (weighted, when
    ``weight_column`` is present) least squares in statsmodels with CR1
    cluster-robust errors and ``use_t=True`` (t with G - 1 df). With fewer
    than ``bootstrap_below`` workflows it also runs a wild cluster restricted
    bootstrap (Webb weights below 12 clusters, Rademacher above; all draws
    enumerated when there are fewer than ``n_resamples``; fixed ``seed``) and
    reports that interval and p-value instead.

    Biased under staggered deployment dates: see the module docstring.
    """
    design = _prepare(panel, weight_column)
    n_control = design.n_clusters - design.n_treated_clusters
    if design.n_clusters < 3 or design.n_treated_clusters < 1 or n_control < 1:
        return _nan_result(design, "needs treated and comparison workflows, 3 or more in all")
    # treated_post must vary within workflow and week after the fixed effects;
    # otherwise its coefficient is not identified and OLS would return noise.
    xs = _fixed_effects_residualiser(design)
    d_t = _annihilate(xs, design.d * np.sqrt(design.w))
    if d_t @ d_t <= 1e-10 * max(1.0, float(design.d @ (design.d * design.w))):
        return _nan_result(design, "treated_post is collinear with the fixed effects")

    fit = smf.wls(_FORMULA, data=design.frame, weights=design.frame["_w"]).fit(
        cov_type="cluster", cov_kwds={"groups": design.cluster}, use_t=True
    )
    estimate = float(fit.params["treated_post"])
    se = float(fit.bse["treated_post"])
    ci_t = tuple(float(v) for v in fit.conf_int(alpha).loc["treated_post"])
    p_t = float(fit.pvalues["treated_post"])
    arms_ok = min(design.n_treated_clusters, n_control) >= min_arm_clusters
    frame = design.frame
    first_post = frame.loc[frame["treated_post"] > 0].groupby("workflow_id")["week"].min()
    staggered = first_post.nunique() > 1
    note = "; ".join(
        filter(
            None,
            [
                "" if arms_ok else f"fewer than {min_arm_clusters} treated or comparison workflows",
                "staggered deployment dates: two-way fixed effects is biased" if staggered else "",
            ],
        )
    )

    if design.n_clusters >= bootstrap_below:
        return DidResult(
            estimate=estimate,
            se=se,
            ci_low=ci_t[0],
            ci_high=ci_t[1],
            p_value=p_t,
            n_clusters=design.n_clusters,
            n_treated_clusters=design.n_treated_clusters,
            n_obs=int(design.y.size),
            method="cluster_t",
            reliable=arms_ok,
            cluster_t_ci=ci_t,  # type: ignore[arg-type]
            cluster_t_p_value=p_t,
            note=note,
            staggered=staggered,
        )

    draws, kind = _weight_draws(design.n_clusters, n_resamples, np.random.default_rng(seed))
    wcr = _WildClusterRestricted(design, draws)
    crit = float(stats.t.isf(alpha / 2, design.n_clusters - 1))
    ci_b = wcr.interval(alpha, start=crit * se)
    p_b = wcr.p_value(0.0)
    bounded = bool(np.isfinite(ci_b).all())
    if not bounded:
        note = "; ".join(filter(None, [note, "bootstrap interval is unbounded"]))
    return DidResult(
        estimate=estimate,
        se=se,
        ci_low=ci_b[0],
        ci_high=ci_b[1],
        p_value=p_b,
        n_clusters=design.n_clusters,
        n_treated_clusters=design.n_treated_clusters,
        n_obs=int(design.y.size),
        method="wild_cluster_bootstrap",
        reliable=arms_ok and bounded,
        cluster_t_ci=ci_t,  # type: ignore[arg-type]
        cluster_t_p_value=p_t,
        bootstrap_ci=ci_b,
        bootstrap_p_value=p_b,
        bootstrap_weights=kind,
        note=note,
        staggered=staggered,
    )


def did_relative(
    panel: pd.DataFrame,
    alpha: float = 0.05,
    *,
    weight_column: str | None = "n",
    **did_kwargs: object,
) -> DidRelative:
    """DiD effect as a percentage of the treated workflows' baseline mean.

    ``baseline_mean`` is the (weighted) mean of ``y`` over the treated
    workflows' pre-deployment weeks, and the interval is the interval of
    :func:`did_twfe` (cluster-t or wild bootstrap, whichever it used) divided
    by it: a delta method that holds the baseline mean fixed. That is
    deliberate. The estimate answers "how much did *these* workflows move,
    relative to their own baseline", so the spread of levels between
    workflows is not uncertainty about it (a cluster-robust delta method
    would count it: with workflow levels spread three times as widely as the
    weekly noise, it made the interval about 1.8 times as wide). What remains, week-to-week noise in the
    baseline mean, enters the variance multiplied by ``(beta / mean)**2``, a
    few percent for realistic effects. Dividing keeps the p-value of
    ``beta = 0`` and whichever interval the bootstrap decided on.
    Baseline mean 0 or not estimable: NaN.
    """
    result = did_twfe(panel, alpha, weight_column=weight_column, **did_kwargs)  # type: ignore[arg-type]
    design = _prepare(panel, weight_column)
    frame = design.frame
    base = frame["treated"].to_numpy(dtype=bool) & ~frame["post"].to_numpy(dtype=bool)
    w_base = design.w * base
    baseline_mean = float(w_base @ design.y / w_base.sum()) if w_base.sum() > 0 else np.nan
    if result.method == "not_estimable" or not np.isfinite(baseline_mean) or baseline_mean == 0:
        return DidRelative(np.nan, np.nan, np.nan, np.nan, baseline_mean, result.method, False)
    # A negative baseline mean flips the order of the bounds.
    low, high = sorted((result.ci_low / baseline_mean, result.ci_high / baseline_mean))
    return DidRelative(
        estimate_pct=100 * result.estimate / baseline_mean,
        ci_low_pct=100 * low,
        ci_high_pct=100 * high,
        p_value=result.p_value,
        baseline_mean=baseline_mean,
        method=result.method,
        reliable=result.reliable,
    )
