"""Intervals for shares and means: METHODS.md reference numbers and independent cross-checks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from pipelines.stats.intervals import (
    MomentStats,
    absolute_difference,
    relative_change,
    wilson_interval,
)

# METHODS.md "Reference numbers for tests": (sum, sum of squares, n).
WELCH_BASE = MomentStats(n=3407, total=1396.87, total_sq=52377.9767)
WELCH_POST = MomentStats(n=3461, total=2422.7, total_sq=134698.29)
SHARE_BASE = MomentStats.from_events(18, 120)
SHARE_POST = MomentStats.from_events(9, 130)


# --- reference numbers -------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "expected", "abs_tol"),
    [("estimate", 0.70732, 5e-6), ("ci_low", -0.03526, 5e-6), ("ci_high", 1.44989, 5e-6)],
)
def test_welch_relative_change_matches_reference(field: str, expected: float, abs_tol: float) -> None:
    result = relative_change(WELCH_BASE, WELCH_POST)
    assert getattr(result, field) == pytest.approx(expected, abs=abs_tol)


@pytest.mark.parametrize(("field", "expected"), [("estimate", 0.29), ("ci_low", 0.04538), ("ci_high", 0.53462)])
def test_welch_absolute_difference_matches_reference(field: str, expected: float) -> None:
    result = absolute_difference(WELCH_BASE, WELCH_POST)
    assert getattr(result, field) == pytest.approx(expected, abs=5e-6)


def test_welch_reference_needs_n_minus_1_variance() -> None:
    # Divisor n for means would give (-0.03515, 1.44979): the reference pins n - 1.
    assert WELCH_BASE.variance == pytest.approx((52377.9767 - 3407 * 0.41**2) / 3406)
    assert relative_change(WELCH_BASE, WELCH_POST).ci_low != pytest.approx(-0.03515, abs=5e-6)


@pytest.mark.parametrize(
    ("events", "n", "low", "high"),
    [(18, 120, 0.0970, 0.2247), (9, 130, 0.0368, 0.1263)],
)
def test_wilson_matches_reference(events: int, n: int, low: float, high: float) -> None:
    assert wilson_interval(events, n) == pytest.approx((low, high), abs=5e-5)


@pytest.mark.parametrize(("field", "expected"), [("estimate", -0.538), ("ci_low", -0.890), ("ci_high", -0.187)])
def test_share_relative_change_matches_reference(field: str, expected: float) -> None:
    result = relative_change(SHARE_BASE, SHARE_POST)
    assert getattr(result, field) == pytest.approx(expected, abs=5e-4)


def test_share_reference_uses_bernoulli_variance_and_normal_quantile() -> None:
    result = relative_change(SHARE_BASE, SHARE_POST)
    assert SHARE_BASE.variance == pytest.approx(0.15 * 0.85)  # divisor n
    assert result.df == np.inf
    # GrowthBook's exact convention (Welch t) is available and differs in the 3rd decimal.
    growthbook = relative_change(SHARE_BASE, SHARE_POST, distribution="t")
    assert growthbook.df == pytest.approx(213.139, abs=1e-3)
    assert (growthbook.ci_low, growthbook.ci_high) == pytest.approx((-0.892, -0.185), abs=5e-4)


# --- cross-checks --------------------------------------------------------------


def test_wilson_agrees_with_statsmodels_on_random_counts() -> None:
    rng = np.random.default_rng(11)
    n = rng.integers(1, 500, size=200)
    events = rng.binomial(n, rng.uniform(0, 1, size=200))
    events[:5] = 0  # the edges, where Wald intervals break down
    events[5:10] = n[5:10]
    for alpha in (0.05, 0.1):
        low, high = wilson_interval(events, n, alpha)
        ref_low, ref_high = proportion_confint(events, n, alpha=alpha, method="wilson")
        np.testing.assert_allclose(low, ref_low, atol=1e-12)
        np.testing.assert_allclose(high, ref_high, atol=1e-12)


def _textbook_wilson(x: int, n: int, z: float) -> tuple[float, float]:
    # Roots of (p - pi)^2 = z^2 pi (1 - pi) / n, solved as a quadratic in pi.
    p = x / n
    a = 1 + z**2 / n
    b = -(2 * p + z**2 / n)
    c = p**2
    disc = np.sqrt(b * b - 4 * a * c)
    return (-b - disc) / (2 * a), (-b + disc) / (2 * a)


def test_absolute_difference_equals_scipy_welch_t_test() -> None:
    rng = np.random.default_rng(13)
    base = rng.lognormal(1.0, 0.8, size=150)
    post = rng.lognormal(0.8, 1.1, size=90)
    ours = absolute_difference(MomentStats.from_values(base), MomentStats.from_values(post), 0.1)
    ref = stats.ttest_ind(post, base, equal_var=False)
    ci = ref.confidence_interval(0.9)
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    assert ours.df == pytest.approx(ref.df, rel=1e-9)
    assert (ours.ci_low, ours.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-9)


def test_relative_change_se_and_coverage_match_simulation() -> None:
    # 4000 replicated before/after samples from skewed distributions, all at once.
    rng = np.random.default_rng(14)
    reps, n_base, n_post = 4000, 300, 250
    base = rng.gamma(2.0, 2.0, size=(reps, n_base))  # mean 4
    post = rng.gamma(2.0, 1.6, size=(reps, n_post))  # mean 3.2 -> true change -0.2
    stats_of = lambda x: MomentStats(x.shape[1], x.sum(axis=1), (x * x).sum(axis=1))  # noqa: E731
    result = relative_change(stats_of(base), stats_of(post))
    assert np.std(result.estimate) == pytest.approx(np.mean(result.se), rel=0.05)
    covered = (result.ci_low <= -0.2) & (-0.2 <= result.ci_high)
    assert covered.mean() == pytest.approx(0.95, abs=0.015)


def test_arrays_broadcast_like_scalars() -> None:
    base = MomentStats.from_events(np.array([18, 40, 3]), np.array([120, 200, 50]))
    post = MomentStats.from_events(np.array([9, 50, 1]), np.array([130, 210, 40]))
    vector = relative_change(base, post)
    for i in range(3):
        one = relative_change(
            MomentStats.from_events(base.total[i], base.n[i]),  # type: ignore[index]
            MomentStats.from_events(post.total[i], post.n[i]),  # type: ignore[index]
        )
        assert vector.ci_low[i] == pytest.approx(one.ci_low)  # type: ignore[index]
        assert vector.p_value[i] == pytest.approx(one.p_value)  # type: ignore[index]


def test_zero_baseline_gives_nan_relative_but_an_absolute_difference() -> None:
    base = MomentStats.from_events(0, 100)
    post = MomentStats.from_events(5, 100)
    rel = relative_change(base, post)
    assert np.isnan(rel.estimate) and np.isnan(rel.ci_low) and np.isnan(rel.p_value)
    assert absolute_difference(base, post).estimate == pytest.approx(0.05)


def test_empty_period_gives_nan_wilson() -> None:
    low, high = wilson_interval(0, 0)
    assert np.isnan(low) and np.isnan(high)
