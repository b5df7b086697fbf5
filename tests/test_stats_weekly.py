"""Log-ratio intervals and week-robust variances (METHODS.md v2, "Uncertainty")."""

from __future__ import annotations

import math

import numpy as np
import pytest
import statsmodels.api as sm

from pipelines.stats.weekly import (
    WeekSeries,
    combined_df,
    item_var_log_share,
    log_ratio_change,
    long_run_variance,
    median_design_effect,
    week_persistence,
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
    # Welch-Satterthwaite: equal variances on 12 and 7 df give (2v)^2 / (v^2/12 + v^2/7) = 17.7 df.
    assert combined_df(1.0, 12.0, 1.0, 7.0) == pytest.approx(4 / (1 / 12 + 1 / 7))
    assert combined_df(1.0, math.inf, 1.0, math.inf) == math.inf


def test_long_run_variance_with_no_lags_is_the_sum_of_squares_and_lags_add_autocovariance() -> None:
    s = np.array([1.0, -2.0, 0.5, 0.5])
    assert long_run_variance(s, 0) == pytest.approx((s**2).sum())
    # Bartlett weight 1/2 on lag 1.
    assert long_run_variance(s, 1) == pytest.approx((s**2).sum() + 2 * 0.5 * (s[1:] * s[:-1]).sum())
    assert math.isnan(long_run_variance([1.0], 0))


def test_with_equal_weeks_and_no_persistence_the_variance_is_statsmodels_week_clustered_cr1() -> None:
    # Equal week sizes, rho 0 and no item noise: the shock-variance moment estimate is the
    # week-clustered (CR1) variance of the mean, which statsmodels computes from the items.
    rng = np.random.default_rng(3)
    weeks = np.repeat(np.arange(12), 20)
    y = rng.normal(10, 2, weeks.size) + rng.normal(0, 1.5, 12)[weeks]
    fit = sm.OLS(y, np.ones_like(y)).fit(cov_type="cluster", cov_kwds={"groups": weeks, "use_correction": True})
    n_w = np.bincount(weeks).astype(float)
    t_w = np.bincount(weeks, weights=y)
    result = week_robust_mean(np.arange(12), n_w, t_w, item_var=0.0, rho=0.0)
    # statsmodels' CR1 (G / (G - 1) with one regressor); the log scale divides by the mean squared.
    assert result.var_log * result.value**2 == pytest.approx(fit.cov_params()[0, 0], rel=1e-9)
    assert result.n_weeks == 12
    assert result.df == pytest.approx(11.0, rel=0.05)  # independent weeks: about weeks - 1


def test_week_shocks_raise_the_design_effect_and_independent_items_do_not() -> None:
    rng = np.random.default_rng(5)
    n_weeks, per_week = 26, 40
    weeks = np.repeat(np.arange(n_weeks), per_week)
    shocks = np.zeros(n_weeks)
    for w in range(1, n_weeks):  # persistent AR(1) week shocks
        shocks[w] = 0.8 * shocks[w - 1] + rng.normal(0, 0.3)
    calm = rng.exponential(10, weeks.size)
    shaken = calm * np.exp(shocks[weeks])

    def robust(values: np.ndarray, rho: float | None) -> float:
        n_w = np.bincount(weeks).astype(float)
        return week_robust_mean(
            np.arange(n_weeks), n_w, np.bincount(weeks, weights=values), values.var(ddof=1), rho
        ).design_effect

    assert robust(calm, None) < 2.0
    assert robust(shaken, None) > 4.0
    assert robust(shaken, 0.8) > robust(shaken, 0.0)  # persistence raises it

    def median_effect(values: np.ndarray) -> float:
        below = np.bincount(weeks, weights=(values <= np.median(values)).astype(float))
        return median_design_effect(np.arange(n_weeks), np.bincount(weeks).astype(float), below)

    assert median_effect(calm) < 2.0
    assert median_effect(shaken) > 3.0


def _ar1(rng: np.random.Generator, n: int, rho: float) -> np.ndarray:
    out = np.empty(n)
    out[0] = rng.normal()
    for t in range(1, n):
        out[t] = rho * out[t - 1] + rng.normal(0, math.sqrt(1 - rho * rho))
    return out


def _shock_and_noise(rng: np.random.Generator, weeks: int, rho: float, noise: float) -> WeekSeries:
    """A 13-week-like period: AR(1) shocks (sd 0.2) plus item noise of known variance, 50 items a week."""
    n_w = np.full(weeks, 50.0)
    x = 0.2 * _ar1(rng, weeks, rho) + rng.normal(0, math.sqrt(noise), weeks)
    x = x - x.mean()
    return WeekSeries(np.arange(weeks), n_w, x, np.full(weeks, noise))


def test_pooled_persistence_recovers_the_shocks_autocorrelation_where_one_series_cannot() -> None:
    # 60 series of 13 weeks: the pooled estimate lands near the truth, though each series'
    # own lag-1 autocorrelation is biased towards 0 by its subtracted mean (and diluted by noise).
    rng = np.random.default_rng(11)
    for rho in (0.0, 0.5, 0.8):
        series = [_shock_and_noise(rng, 13, rho, 0.02) for _ in range(60)]
        assert week_persistence(series) == pytest.approx(rho, abs=0.12)
        naive = np.mean([np.corrcoef(s.x[1:], s.x[:-1])[0, 1] for s in series])
        if rho == 0.8:
            assert naive < 0.5
    assert week_persistence([]) == 0.0


def test_at_the_true_persistence_the_variance_of_a_13_week_mean_is_unbiased() -> None:
    # The true variance of a 13-week weighted mean: shock part 0.04 a'R a plus noise a'D a.
    # The estimate subtracts the period mean's share of the sum of squares exactly, so its
    # average over draws is right, where the sum of squares alone is about half of it at rho 0.8.
    rng = np.random.default_rng(5)
    rho, noise, g = 0.8, 0.02, 13
    corr = rho ** np.abs(np.subtract.outer(np.arange(g), np.arange(g)))
    truth = 0.04 * corr.mean() + noise / g
    estimates = [_shock_and_noise(rng, g, rho, noise).variance(rho)[0] for _ in range(3000)]
    assert np.mean(estimates) == pytest.approx(truth, rel=0.05)
    one = _shock_and_noise(rng, g, rho, noise)
    assert one.variance(rho)[1] < one.variance(0.0)[1] < 13  # persistence leaves fewer degrees of freedom


def test_a_single_week_gives_no_week_robust_variance() -> None:
    assert math.isnan(week_robust_mean([3], [50], [25.0], 0.25).var_log)
    assert math.isnan(median_design_effect([3], [50], [25]))
