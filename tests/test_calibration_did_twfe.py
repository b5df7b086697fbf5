"""Difference-in-differences: recovery of a known effect, wild bootstrap, parallel trends."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.calibration import did_twfe as did
from pipelines.calibration.did_twfe import did_relative, did_twfe

EFFECT = -2.0


def simulate_panel(
    n_workflows: int = 20,
    n_treated: int = 10,
    n_weeks: int = 24,
    deploy_week: int = 12,
    effect: float = EFFECT,
    pre_trend: float = 0.0,
    seed: int = 0,
    dates: bool = False,
    weighted: bool = True,
) -> pd.DataFrame:
    """Workflow x week means with workflow and week shocks and a known effect."""
    rng = np.random.default_rng(seed)
    wf = np.repeat(np.arange(n_workflows), n_weeks)
    wk = np.tile(np.arange(n_weeks), n_workflows)
    treated = wf < n_treated
    post = wk >= deploy_week
    n = rng.integers(20, 80, wf.size) if weighted else np.full(wf.size, 30)
    y = (
        10
        + rng.normal(0, 3, n_workflows)[wf]
        + rng.normal(0, 1, n_weeks)[wk]
        + effect * (treated & post)
        + pre_trend * treated * (wk - deploy_week)
        + rng.normal(0, 1, wf.size) * np.sqrt(30 / n)
    )
    week = pd.Timestamp("2025-01-06") + pd.to_timedelta(7 * wk, unit="D") if dates else wk
    frame = pd.DataFrame(
        {"workflow_id": [f"wf-{i:02d}" for i in wf], "week": week, "y": y, "treated": treated, "post": post, "n": n}
    )
    return frame if weighted else frame.drop(columns="n")


def test_staggered_adoption_bias_is_documented_and_flagged() -> None:
    assert "staggered" in (did.__doc__ or "").lower()
    assert "staggered" in (did_twfe.__doc__ or "").lower()
    panel = simulate_panel(seed=15)
    assert not did_twfe(panel).staggered
    late = panel.workflow_id.isin(["wf-00", "wf-01"]) & (panel.week < 16)
    panel.loc[late, "post"] = False
    result = did_twfe(panel)
    assert result.staggered
    assert "staggered" in result.note


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_twfe_recovers_known_effect_with_many_clusters(seed: int) -> None:
    result = did_twfe(simulate_panel(n_workflows=24, n_treated=12, seed=seed))
    assert result.method == "cluster_t"
    assert result.reliable
    assert (result.n_clusters, result.n_treated_clusters) == (24, 12)
    assert result.estimate == pytest.approx(EFFECT, abs=0.4)
    assert result.ci_low < EFFECT < result.ci_high
    assert result.p_value < 1e-4
    assert result.bootstrap_ci is None


def test_twfe_equals_two_by_two_difference_of_means_on_a_balanced_panel() -> None:
    panel = simulate_panel(weighted=False, seed=3)
    means = panel.groupby(["treated", "post"])["y"].mean()
    expected = (means[True, True] - means[True, False]) - (means[False, True] - means[False, False])
    assert did_twfe(panel).estimate == pytest.approx(expected, rel=1e-9)


def test_few_clusters_switch_to_wild_cluster_bootstrap() -> None:
    panel = simulate_panel(n_workflows=8, n_treated=4, seed=4)
    result = did_twfe(panel)
    assert result.method == "wild_cluster_bootstrap"
    assert result.bootstrap_weights == "webb"
    assert (result.ci_low, result.ci_high) == result.bootstrap_ci
    assert result.p_value == result.bootstrap_p_value
    assert result.ci_low < EFFECT < result.ci_high
    assert result.ci_low < result.estimate < result.ci_high
    assert result.cluster_t_ci[0] < EFFECT < result.cluster_t_ci[1]
    assert result.reliable
    assert did_twfe(panel) == result  # fixed seed: the same numbers every run


def test_wild_bootstrap_matches_brute_force_refits() -> None:
    """The fast G x G algebra must equal re-running the regression on each draw."""
    panel = simulate_panel(n_workflows=6, n_treated=3, n_weeks=10, deploy_week=5, seed=5)
    design = did._prepare(panel, "n")
    draws = np.random.default_rng(1).choice(did._WEBB, size=(design.n_clusters, 60))
    fast = did._WildClusterRestricted(design, draws)
    fit = did_twfe(panel)
    assert fast.beta == pytest.approx(fit.estimate, rel=1e-9)
    assert fast.se == pytest.approx(fit.se, rel=1e-9)  # our CR1 equals statsmodels'

    sw = np.sqrt(design.w)
    fe = did._fixed_effects_residualiser(design)
    x = np.column_stack([fe, design.d * sw])
    y = design.y * sw
    g, n, k = design.n_clusters, y.size, x.shape[1]
    xtx_inv = np.linalg.pinv(x.T @ x)

    def beta_and_t(yv: np.ndarray, beta0: float) -> float:
        coef = xtx_inv @ x.T @ yv
        scores = np.zeros((g, k))
        np.add.at(scores, design.cluster, x * (yv - x @ coef)[:, None])
        cov = g / (g - 1) * (n - 1) / (n - k) * xtx_inv @ scores.T @ scores @ xtx_inv
        return abs(coef[-1] - beta0) / np.sqrt(cov[-1, -1])

    for beta0 in (0.0, -1.0, fit.estimate + 0.3):
        restricted = y - beta0 * design.d * sw
        fitted = fe @ np.linalg.lstsq(fe, restricted, rcond=None)[0] + beta0 * design.d * sw
        resid = y - fitted
        t_obs = beta_and_t(y, beta0)
        t_star = [beta_and_t(fitted + resid * draws[design.cluster, j], beta0) for j in range(60)]
        assert fast.p_value(beta0) == pytest.approx(np.mean(np.array(t_star) >= t_obs - 1e-9))


def test_one_treated_workflow_is_flagged_unreliable() -> None:
    result = did_twfe(simulate_panel(n_workflows=12, n_treated=1, seed=6))
    assert result.method == "cluster_t"
    assert not result.reliable
    assert "treated" in result.note


def test_no_comparison_workflows_is_not_estimable() -> None:
    panel = simulate_panel(seed=7)
    panel["treated"] = True
    result = did_twfe(panel)
    assert result.method == "not_estimable"
    assert np.isnan(result.estimate)


@pytest.mark.parametrize(("n_workflows", "method"), [(24, "cluster_t"), (8, "wild_cluster_bootstrap")])
def test_did_relative_scales_the_did_by_the_treated_baseline_mean(n_workflows: int, method: str) -> None:
    panel = simulate_panel(n_workflows=n_workflows, n_treated=n_workflows // 2, seed=8)
    result = did_relative(panel)
    absolute = did_twfe(panel)
    base = panel[panel.treated & ~panel.post]
    baseline_mean = np.average(base.y, weights=base.n)
    assert result.method == absolute.method == method
    assert result.baseline_mean == pytest.approx(baseline_mean)
    assert result.estimate_pct == pytest.approx(100 * absolute.estimate / baseline_mean)
    assert result.ci_low_pct == pytest.approx(100 * absolute.ci_low / baseline_mean)
    assert result.ci_high_pct == pytest.approx(100 * absolute.ci_high / baseline_mean)
    assert result.p_value == absolute.p_value
    assert result.ci_low_pct < 100 * EFFECT / baseline_mean < result.ci_high_pct


def test_did_relative_is_nan_without_a_baseline() -> None:
    panel = simulate_panel(seed=9)
    panel.loc[panel.treated & ~panel.post, "y"] = 0.0
    assert np.isnan(did_relative(panel).estimate_pct)


def test_missing_columns_raise() -> None:
    with pytest.raises(ValueError, match="missing columns"):
        did_twfe(simulate_panel().drop(columns="post"))
