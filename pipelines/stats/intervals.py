"""Intervals for shares and means compared between a baseline and a post period.

Everything here runs on sufficient statistics (counts, sums, sums of squares)
that DuckDB has already computed, so the functions are cheap and accept either
scalars or numpy arrays (one element per workflow) and broadcast.

Variance conventions, worked out against the reference numbers in METHODS.md:

* **Means** (touchpoints, spend): sample variance with divisor ``n - 1`` and a
  t critical value with Welch–Satterthwaite degrees of freedom, exactly like
  GrowthBook's frequentist ``TwoSidedTTest``. Only this combination gives the
  reference relative change 0.70732, CI (-0.03526, 1.44989) and absolute
  difference 0.29, CI (0.04538, 0.53462); divisor ``n`` gives (-0.03515, 1.44979).
* **Shares** (rework, error rate): Bernoulli variance ``p (1 - p)`` (divisor
  ``n``, the maximum-likelihood variance) with a *normal* critical value, i.e.
  the Wald delta-method interval. Only this combination gives the reference
  CI (-0.890, -0.187) for 18/120 vs 9/130. GrowthBook's convention (``p(1-p)``
  with a Welch t on 213 df) gives (-0.892, -0.185), and divisor ``n - 1`` gives
  (-0.891, -0.186) or (-0.893, -0.184): none of them round to the reference.
  Every Welch df is at most ``n_base + n_post - 2``, so no t interval can match it.
  Pass ``distribution="t"`` to get the GrowthBook numbers for shares.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import stats

ArrayLike = npt.ArrayLike
FloatOrArray = float | npt.NDArray[np.float64]
Distribution = Literal["auto", "t", "normal"]


def _scalar_or_array(x: npt.NDArray[np.float64]) -> FloatOrArray:
    """Return a Python float for 0-d results so scalar callers get scalars back."""
    return float(x) if np.ndim(x) == 0 else x


@lru_cache(maxsize=64)
def _z(alpha: float) -> float:
    return float(stats.norm.isf(alpha / 2))


def wilson_interval(events: ArrayLike, n: ArrayLike, alpha: float = 0.05) -> tuple[FloatOrArray, FloatOrArray]:
    """Wilson score interval for a share ``events / n``.

    Preferred over the Wald interval because it stays inside [0, 1] and keeps
    close to nominal coverage for small counts and shares near 0 (error rates).
    ``n == 0`` gives NaN bounds. Broadcasts over arrays.
    """
    events = np.asarray(events, dtype=float)
    n = np.asarray(n, dtype=float)
    z = _z(alpha)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = events / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    low = np.where(n > 0, centre - half, np.nan)
    high = np.where(n > 0, centre + half, np.nan)
    # Rounding can push the bound a hair outside [0, 1] when p is 0 or 1.
    return _scalar_or_array(np.clip(low, 0, 1)), _scalar_or_array(np.clip(high, 0, 1))


@dataclass(frozen=True)
class MomentStats:
    """Sufficient statistics of one period: item count, sum and sum of squares.

    For a share, the values are 0/1, so ``total == total_sq == events``; build it
    with :meth:`from_events`, which also marks it ``binary`` so that the
    Bernoulli variance ``p (1 - p)`` is used (see the module docstring).
    Fields may be numpy arrays (one element per workflow).
    """

    n: ArrayLike
    total: ArrayLike
    total_sq: ArrayLike
    binary: bool = False

    @classmethod
    def from_events(cls, events: ArrayLike, n: ArrayLike) -> MomentStats:
        """Statistics of a share: ``events`` items out of ``n`` had the property."""
        return cls(n=n, total=events, total_sq=events, binary=True)

    @classmethod
    def from_values(cls, values: ArrayLike) -> MomentStats:
        """Statistics of a 1-d array of item values (mainly for tests and small data)."""
        x = np.asarray(values, dtype=float)
        return cls(n=x.size, total=float(x.sum()), total_sq=float((x * x).sum()))

    @property
    def mean(self) -> npt.NDArray[np.float64]:
        """Period mean (or share)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(self.total, dtype=float) / np.asarray(self.n, dtype=float)

    @property
    def variance(self) -> npt.NDArray[np.float64]:
        """Item variance: ``p (1 - p)`` for shares, divisor ``n - 1`` for means."""
        n = np.asarray(self.n, dtype=float)
        m = self.mean
        if self.binary:
            return m * (1 - m)
        with np.errstate(invalid="ignore", divide="ignore"):
            var = (np.asarray(self.total_sq, dtype=float) - n * m * m) / (n - 1)
        # Catastrophic cancellation in sum-of-squares can leave a tiny negative.
        return np.where(n > 1, np.maximum(var, 0.0), np.nan)


@dataclass(frozen=True)
class ChangeResult:
    """A change between periods with its standard error, interval and p-value.

    ``df`` is ``inf`` when a normal critical value was used.
    """

    estimate: FloatOrArray
    se: FloatOrArray
    df: FloatOrArray
    ci_low: FloatOrArray
    ci_high: FloatOrArray
    p_value: FloatOrArray


def _welch_df(
    var_base: npt.NDArray[np.float64],
    n_base: npt.NDArray[np.float64],
    var_post: npt.NDArray[np.float64],
    n_post: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    a = var_base / n_base
    b = var_post / n_post
    with np.errstate(invalid="ignore", divide="ignore"):
        return (a + b) ** 2 / (a * a / (n_base - 1) + b * b / (n_post - 1))


def _finish(
    estimate: npt.NDArray[np.float64],
    var: npt.NDArray[np.float64],
    df: npt.NDArray[np.float64],
    alpha: float,
) -> ChangeResult:
    se = np.sqrt(var)
    # se == 0 means both periods are constant: no sampling error to speak of, and
    # a p-value of 0 or an interval of width 0 would overstate certainty.
    se = np.where(se > 0, se, np.nan)
    crit = stats.t.isf(alpha / 2, df)
    with np.errstate(invalid="ignore", divide="ignore"):
        t_stat = estimate / se
    p = 2 * stats.t.sf(np.abs(t_stat), df)
    return ChangeResult(
        estimate=_scalar_or_array(estimate),
        se=_scalar_or_array(se),
        df=_scalar_or_array(np.broadcast_to(df, np.shape(estimate)).astype(float)),
        ci_low=_scalar_or_array(estimate - crit * se),
        ci_high=_scalar_or_array(estimate + crit * se),
        p_value=_scalar_or_array(p),
    )


def _df_for(base: MomentStats, post: MomentStats, distribution: Distribution) -> npt.NDArray[np.float64]:
    if distribution not in ("auto", "t", "normal"):
        raise ValueError(f"distribution must be 'auto', 't' or 'normal', got {distribution!r}")
    use_normal = distribution == "normal" or (distribution == "auto" and base.binary and post.binary)
    n_base = np.asarray(base.n, dtype=float)
    n_post = np.asarray(post.n, dtype=float)
    if use_normal:
        return np.full(np.broadcast(n_base, n_post).shape, np.inf)
    return _welch_df(base.variance, n_base, post.variance, n_post)


def relative_change(
    base: MomentStats,
    post: MomentStats,
    alpha: float = 0.05,
    *,
    distribution: Distribution = "auto",
) -> ChangeResult:
    """Relative change ``post_mean / base_mean - 1`` with a delta-method interval.

    Variance as in METHODS.md (and GrowthBook's frequentist engine)::

        var = s2_post / (m_base**2 * n_post) + s2_base * m_post**2 / (m_base**4 * n_base)

    ``distribution="auto"`` uses a t critical value with Welch–Satterthwaite df
    for means and the normal one for shares (``MomentStats.from_events``), the
    conventions that reproduce the reference numbers; see the module docstring.
    A baseline mean of 0 (or a period with fewer than 2 items) gives NaN
    everywhere: report :func:`absolute_difference` instead.
    """
    m_base, m_post = base.mean, post.mean
    n_base = np.asarray(base.n, dtype=float)
    n_post = np.asarray(post.n, dtype=float)
    v_base, v_post = base.variance, post.variance
    ok = (m_base != 0) & np.isfinite(m_base) & (n_base > 1) & (n_post > 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        estimate = np.where(ok, m_post / m_base - 1, np.nan)
        var = np.where(
            ok,
            v_post / (m_base**2 * n_post) + v_base * m_post**2 / (m_base**4 * n_base),
            np.nan,
        )
    return _finish(estimate, var, _df_for(base, post, distribution), alpha)


def absolute_difference(
    base: MomentStats,
    post: MomentStats,
    alpha: float = 0.05,
    *,
    distribution: Distribution = "auto",
) -> ChangeResult:
    """Difference ``post_mean - base_mean`` with a Welch t interval.

    Same variance and critical-value conventions as :func:`relative_change`
    . This is
    what the product reports when the baseline mean is 0.
    """
    n_base = np.asarray(base.n, dtype=float)
    n_post = np.asarray(post.n, dtype=float)
    ok = (n_base > 1) & (n_post > 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        estimate = np.where(ok, post.mean - base.mean, np.nan)
        var = np.where(ok, base.variance / n_base + post.variance / n_post, np.nan)
    return _finish(estimate, var, _df_for(base, post, distribution), alpha)
