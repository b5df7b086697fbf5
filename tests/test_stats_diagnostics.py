"""Helpers behind the method checks: mix shift, novelty trend, censoring gap."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats

from pipelines.stats.diagnostics import censoring_gap, mix_shift_chi2, novelty_slope


def test_mix_shift_matches_chi2_contingency_and_drops_empty_teams() -> None:
    table = np.array([[120, 60], [80, 90], [0, 0], [40, 100]])
    result = mix_shift_chi2(table)
    ref = stats.chi2_contingency(table[[0, 1, 3]], correction=False)
    assert result.statistic == pytest.approx(ref.statistic)
    assert result.p_value == pytest.approx(ref.pvalue)
    assert result.dof == 2


def test_mix_shift_without_shift_is_not_significant_and_one_team_is_nan() -> None:
    assert mix_shift_chi2([[100, 100], [50, 50]]).p_value == pytest.approx(1.0)
    assert np.isnan(mix_shift_chi2([[100, 100], [0, 0]]).p_value)


def test_novelty_slope_detects_a_fading_improvement() -> None:
    rng = np.random.default_rng(2)
    weeks = np.arange(1, 21)
    effect = -0.4 + 0.015 * weeks + rng.normal(0, 0.02, weeks.size)  # improvement shrinking
    weights = rng.integers(20, 100, weeks.size)
    result = novelty_slope(weeks, effect, weights)
    ref = sm.WLS(effect, sm.add_constant(weeks), weights=weights).fit()
    assert result.slope == pytest.approx(ref.params[1])
    assert result.p_value == pytest.approx(ref.pvalues[1])
    assert result.slope > 0 and result.p_value < 0.01
    assert result.n_weeks == 20


def test_novelty_slope_unweighted_equals_linregress_and_drops_nan_weeks() -> None:
    rng = np.random.default_rng(3)
    weeks = np.arange(12.0)
    effect = -0.2 + rng.normal(0, 0.05, 12)
    ref = stats.linregress(weeks, effect)
    with_gap = novelty_slope(np.append(weeks, 12.0), np.append(effect, np.nan))
    assert with_gap.slope == pytest.approx(ref.slope)
    assert with_gap.p_value == pytest.approx(ref.pvalue)
    assert with_gap.n_weeks == 12
    assert np.isnan(novelty_slope([1, 2], [0.1, 0.2]).slope)


def test_novelty_slope_with_persistence_is_gls_on_the_whitened_weeks() -> None:
    """With rho, the fit is least squares after whitening by the Cholesky factor of the AR(1) covariance."""
    rng = np.random.default_rng(3)
    weeks = np.array([0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12], dtype=float)  # week 4 has no value
    weights = rng.integers(20, 60, weeks.size).astype(float)
    effect = 0.01 * weeks + rng.normal(0, 0.1, weeks.size)
    rho = 0.5
    sigma = rho ** np.abs(weeks[:, None] - weeks[None, :]) / np.sqrt(np.outer(weights, weights))
    whiten = np.linalg.inv(np.linalg.cholesky(sigma))
    design = np.column_stack([np.ones_like(weeks), weeks])
    by_hand = sm.OLS(whiten @ effect, whiten @ design).fit()
    result = novelty_slope(weeks, effect, weights, rho=rho)
    assert result.slope == pytest.approx(by_hand.params[1], rel=1e-9)
    assert result.se == pytest.approx(by_hand.bse[1], rel=1e-9)
    assert result.p_value == pytest.approx(by_hand.pvalues[1], rel=1e-9)
    # rho 0 (or none) is the weighted fit of before.
    assert novelty_slope(weeks, effect, weights, rho=0.0) == novelty_slope(weeks, effect, weights)


def test_novelty_slope_with_persistence_keeps_its_false_alarms_near_nominal() -> None:
    """No trend, AR(1) week shocks (rho 0.6): the plain weighted fit finds a 'trend' far more often than 5%."""
    rng = np.random.default_rng(11)
    weeks, rho, runs = np.arange(13.0), 0.6, 400
    plain = robust = 0
    for _ in range(runs):
        shocks = np.empty(weeks.size)
        shocks[0] = rng.normal(0, 0.15 / np.sqrt(1 - rho**2))
        for t in range(1, weeks.size):
            shocks[t] = rho * shocks[t - 1] + rng.normal(0, 0.15)
        effect = shocks + rng.normal(0, 0.05, weeks.size)
        plain += novelty_slope(weeks, effect).p_value < 0.05
        robust += novelty_slope(weeks, effect, rho=rho).p_value < 0.05
    assert plain / runs > 0.12  # the independent-weeks test over-fires
    assert robust / runs < 0.09


def test_censoring_gap_in_percentage_points() -> None:
    assert censoring_gap(5, 100, 18, 120) == pytest.approx(10.0)
    np.testing.assert_allclose(censoring_gap([0, 10], [50, 100], [5, 10], [50, 200]), [10.0, -5.0])
    assert np.isnan(censoring_gap(0, 0, 1, 10))
