"""Median cycle time: order-statistic CIs, Kaplan–Meier medians and the ratio of medians."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats
from statsmodels.duration.survfunc import SurvfuncRight

from pipelines.stats.medians import (
    cycle_time_summary,
    kaplan_meier,
    km_median,
    median_ci,
    median_ratio_change,
    order_statistic_ranks,
)

# Below these sizes scipy returns NaN instead of clipping (tested separately).
_QUANTILE_CASES = [
    (n, alpha) for n in (6, 7, 10, 31, 100, 101, 1000) for alpha in (0.01, 0.05, 0.1) if not (n <= 7 and alpha == 0.01)
]


@pytest.mark.parametrize(("n", "alpha"), _QUANTILE_CASES)
def test_median_ci_matches_scipy_quantile_test(n: int, alpha: float) -> None:
    x = np.random.default_rng(n).lognormal(2, 1, size=n)
    ours = median_ci(x, alpha)
    ref = stats.quantile_test(x, q=np.median(x), p=0.5).confidence_interval(1 - alpha)
    assert (ours.ci_low, ours.ci_high) == (ref.low, ref.high)
    assert ours.median == np.median(x)
    assert ours.coverage >= 1 - alpha


def test_median_ci_clips_ranks_for_tiny_samples() -> None:
    x = np.array([5.0, 1.0, 3.0, 4.0])
    assert order_statistic_ranks(4, 0.05) == (1, 4)
    result = median_ci(x)
    assert (result.ci_low, result.ci_high) == (1.0, 5.0)
    # [min, max] of 4 items covers the median with probability 1 - 2/16 only.
    assert result.coverage == pytest.approx(1 - 2 / 16)


def _censored_sample(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(8, 400))
    event = rng.lognormal(2, 1, n)
    censor = rng.exponential(rng.uniform(5, 80), n)
    durations = np.minimum(event, censor)
    if seed % 3 == 0:
        durations = durations.round()  # ties between events and censorings
    return durations, event <= censor


@pytest.mark.parametrize("seed", range(40))
def test_km_median_matches_statsmodels(seed: int) -> None:
    durations, observed = _censored_sample(seed)
    ours = km_median(durations, observed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # statsmodels logs log(0) at S = 0
        sf = SurvfuncRight(durations, observed)
        ref_low, ref_high = sf.quantile_ci(0.5, method="cloglog")
    _, surv, _ = kaplan_meier(durations, observed)
    if not np.isclose(surv, 0.5, atol=1e-9).any():  # statsmodels uses S < 0.5, we S <= 0.5
        np.testing.assert_equal(ours.median, sf.quantile(0.5))
    np.testing.assert_equal(ours.ci_low, ref_low)
    np.testing.assert_equal(ours.ci_high, np.nan if np.isinf(ref_high) else ref_high)


def test_km_median_takes_first_time_where_survival_reaches_one_half() -> None:
    # Ten uncensored items: S = 0.5 exactly after the fifth.
    durations = np.arange(1.0, 11.0)
    result = km_median(durations, np.ones(10, dtype=bool))
    assert result.median == 5.0
    assert SurvfuncRight(durations, np.ones(10)).quantile(0.5) == 6.0  # the strict convention


def test_km_median_not_reached_is_nan() -> None:
    durations = np.arange(1.0, 21.0)
    observed = np.arange(20) < 5  # only the 5 shortest closed
    result = km_median(durations, observed)
    assert np.isnan(result.median)
    assert np.isnan(result.ci_high)
    assert (result.n, result.n_observed) == (20, 5)


def test_kaplan_meier_handles_millions_quickly() -> None:
    rng = np.random.default_rng(3)
    event = rng.exponential(10, 1_000_000)
    censor = rng.exponential(50, event.size)
    result = km_median(np.minimum(event, censor), event <= censor)
    # Independent exponential censoring keeps KM consistent: true median 10 ln 2.
    assert result.ci_low < 10 * np.log(2) < result.ci_high
    assert result.ci_high - result.ci_low < 0.1


def test_cycle_time_summary_switches_to_km_with_open_items() -> None:
    rng = np.random.default_rng(4)
    durations = rng.lognormal(2, 1, 301)
    closed = cycle_time_summary(durations)
    assert closed.method == "order_statistic"
    assert closed.median == np.median(durations)
    assert closed.se == pytest.approx((closed.ci_high - closed.ci_low) / (2 * stats.norm.ppf(0.975)))

    observed = rng.random(301) < 0.8
    censored = cycle_time_summary(durations, observed)
    km = km_median(durations, observed)
    assert censored.method == "kaplan_meier"
    assert (censored.median, censored.ci_low, censored.ci_high) == (km.median, km.ci_low, km.ci_high)
    assert (censored.n, censored.n_observed) == (301, int(observed.sum()))


def test_summary_se_approximates_quantile_variance() -> None:
    # Exponential(1): median ln 2, density there 1/2, so sd(median) = 1 / sqrt(n).
    x = np.random.default_rng(5).exponential(1.0, 40_000)
    assert cycle_time_summary(x).se == pytest.approx(1 / np.sqrt(x.size), rel=0.1)


def test_median_ratio_change_formula() -> None:
    x = np.random.default_rng(6).lognormal(2, 1, 500)
    base = cycle_time_summary(x)
    post = cycle_time_summary(x * 0.8)
    result = median_ratio_change(base, post)
    se = np.hypot(base.se / base.median, post.se / post.median)
    assert result.estimate == pytest.approx(-0.2)
    assert result.log_ratio_se == pytest.approx(se)
    z = stats.norm.ppf(0.975)
    assert result.ci_low == pytest.approx(0.8 * np.exp(-z * se) - 1)
    assert result.ci_high == pytest.approx(0.8 * np.exp(z * se) - 1)
    assert result.p_value == pytest.approx(2 * stats.norm.sf(abs(np.log(0.8)) / se))


def test_median_ratio_change_nan_when_not_estimable() -> None:
    base = cycle_time_summary(np.arange(1.0, 21.0), np.arange(20) < 5)  # median not reached
    post = cycle_time_summary(np.arange(1.0, 41.0))
    assert np.isnan(median_ratio_change(base, post).estimate)


def test_nan_durations_are_rejected() -> None:
    with pytest.raises(ValueError, match="NaN"):
        median_ci([1.0, np.nan])
