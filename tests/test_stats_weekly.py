"""Log-ratio intervals and week-robust variances (METHODS.md v2, "Uncertainty")."""

from __future__ import annotations

import math

import numpy as np
import pytest
import statsmodels.api as sm

from pipelines.stats.weekly import (
    ar1_variance_factor,
    item_var_log_share,
    log_ratio_change,
    long_run_variance,
    median_design_effect,
    robust_df,
    week_long_run_variance,
    week_robust_mean,
)


def test_log_ratio_interval_matches_the_reference_for_18_of_120_vs_9_of_130() -> None:
    # METHODS.md: ratio 0.4615, CI (0.2157, 0.9876), i.e. -53.8% (-78.4%, -1.2%), normal critical value.
    result = log_ratio_change(18 / 120, item_var_log_share(18, 120), 9 / 130, item_var_log_share(9, 130))
    assert result.estimate == pytest.approx(-0.538, abs=5e-4)
    assert result.ci_low == pytest.approx(0.2157 - 1, abs=5e-5)
    assert result.ci_high == pytest.approx(0.9876 - 1, abs=5e-5)
    assert (round(100 * result.ci_low, 1), round(100 * result.ci_high, 1)) == (-78.4, -1.2)


def test_the_interval_of_a_steep_fall_stays_above_minus_100_percent() -> None:
    # A linear delta method on this fall gives a lower bound below -100%; the log ratio cannot.
    result = log_ratio_change(0.30, item_var_log_share(12, 40), 0.01, item_var_log_share(1, 100))
    assert -1 < result.ci_low < result.estimate < result.ci_high
    assert result.estimate == pytest.approx(0.01 / 0.30 - 1)


def test_log_ratio_uses_t_on_the_given_degrees_of_freedom() -> None:
    normal = log_ratio_change(1.0, 0.01, 0.8, 0.01)
    t5 = log_ratio_change(1.0, 0.01, 0.8, 0.01, df=5)
    assert t5.ci_low < normal.ci_low and t5.ci_high > normal.ci_high
    assert t5.ci_high == pytest.approx(math.expm1(math.log(0.8) + 2.570582 * math.sqrt(0.02)), rel=1e-6)
    assert robust_df(13, 8) == 7


def test_long_run_variance_with_no_lags_is_the_sum_of_squares_and_lags_add_autocovariance() -> None:
    s = np.array([1.0, -2.0, 0.5, 0.5])
    assert long_run_variance(s, 0) == pytest.approx((s**2).sum())
    # Bartlett weight 1/2 on lag 1.
    assert long_run_variance(s, 1) == pytest.approx((s**2).sum() + 2 * 0.5 * (s[1:] * s[:-1]).sum())
    assert math.isnan(long_run_variance([1.0], 0))


def test_week_clustered_variance_equals_statsmodels_cluster_robust_on_the_items() -> None:
    rng = np.random.default_rng(3)
    weeks = np.repeat(np.arange(12), rng.integers(5, 30, size=12))
    y = rng.normal(10, 2, weeks.size) + rng.normal(0, 1.5, 12)[weeks]
    fit = sm.OLS(y, np.ones_like(y)).fit(cov_type="cluster", cov_kwds={"groups": weeks, "use_correction": False})
    n_w = np.bincount(weeks).astype(float)
    t_w = np.bincount(weeks, weights=y)
    result = week_robust_mean(np.arange(12), n_w, t_w, item_var=0.0, lags=0)
    g = 12
    # statsmodels' CR0 times the G / (G - 1) factor; the log scale divides by the mean squared.
    assert result.var_log * result.value**2 == pytest.approx(fit.cov_params()[0, 0] * g / (g - 1), rel=1e-9)
    assert result.n_weeks == 12


def test_week_shocks_raise_the_design_effect_and_independent_items_do_not() -> None:
    rng = np.random.default_rng(5)
    n_weeks, per_week = 26, 40
    weeks = np.repeat(np.arange(n_weeks), per_week)
    shocks = np.zeros(n_weeks)
    for w in range(1, n_weeks):  # persistent AR(1) week shocks
        shocks[w] = 0.8 * shocks[w - 1] + rng.normal(0, 0.3)
    calm = rng.exponential(10, weeks.size)
    shaken = calm * np.exp(shocks[weeks])

    def robust(values: np.ndarray, lags: int) -> float:
        n_w = np.bincount(weeks).astype(float)
        return week_robust_mean(
            np.arange(n_weeks), n_w, np.bincount(weeks, weights=values), values.var(ddof=1), lags
        ).design_effect

    assert robust(calm, 2) < 2.0
    assert robust(shaken, 2) > 4.0
    assert robust(shaken, 2) >= robust(shaken, 0)  # lags never lower it (the AR(1) factor may dominate both)

    def median_effect(values: np.ndarray) -> float:
        below = np.bincount(weeks, weights=(values <= np.median(values)).astype(float))
        return median_design_effect(np.arange(n_weeks), np.bincount(weeks).astype(float), below, 2)

    assert median_effect(calm) < 2.0
    assert median_effect(shaken) > 3.0


def _ar1(rng: np.random.Generator, n: int, rho: float) -> np.ndarray:
    out = np.empty(n)
    out[0] = rng.normal()
    for t in range(1, n):
        out[t] = rho * out[t - 1] + rng.normal(0, math.sqrt(1 - rho * rho))
    return out


def test_the_ar1_factor_finds_the_persistence_of_a_long_series() -> None:
    rng = np.random.default_rng(11)
    # rho 0.8 over 2,000 weeks: the variance of the mean is about (1 + rho) / (1 - rho) = 9 times
    assert ar1_variance_factor(_ar1(rng, 2000, 0.8)) == pytest.approx(9.0, rel=0.2)
    assert ar1_variance_factor(rng.normal(size=2000)) < 1.2
    assert math.isnan(ar1_variance_factor(rng.normal(size=9)))  # fewer than 10 weeks


def test_on_13_weeks_the_ar1_factor_reaches_what_newey_west_misses() -> None:
    # The true variance of a 13-week mean of AR(1) at rho 0.8 is 5.6 times the independent
    # one; Newey-West with 2 lags on the demeaned series finds far less, on average.
    rng = np.random.default_rng(3)
    hac, ar = [], []
    for _ in range(400):
        s = _ar1(rng, 13, 0.8)
        s = s - s.mean()
        hac.append(long_run_variance(s, 2) / float(s @ s))
        ar.append(max(week_long_run_variance(s, 2), 0.0) / float(s @ s))
    assert np.mean(hac) < 2.0
    assert np.mean(ar) > 1.5 * np.mean(hac)
    assert all(a >= h - 1e-12 for a, h in zip(ar, hac, strict=True))  # never below Newey-West


def test_a_single_week_gives_no_week_robust_variance() -> None:
    assert math.isnan(week_robust_mean([3], [50], [25.0], 0.25, 2).var_log)
    assert math.isnan(median_design_effect([3], [50], [25], 2))
