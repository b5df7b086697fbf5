"""marts.effect_views: the three views, what each can claim, and the DiD estimator itself."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pytest
import statsmodels.formula.api as smf

from pipelines.calibration.simulate import Scenario
from pipelines.measurement.estimators import comparison_composite, placebo_in_space_pct, ratio_did, weekly_effects
from pipelines.measurement.views import _second_connection, compute_effect_views, effect_inputs
from pipelines.metrics.config import load_config
from tests.test_measurement import simulated_warehouse


def _rows(views: pl.DataFrame, view: str) -> pl.DataFrame:
    return views.filter(pl.col("view") == view)


# --- the estimator on constructed weekly series ----------------------------------------------


def _series(effect: float, shock: float, seed: int = 0, noise: float = 0.01, k_base: int = 13, k_post: int = 18):
    rng = np.random.default_rng(seed)
    k = k_base + k_post
    post = np.arange(k) >= k_base
    week_shock = np.exp(rng.normal(0, 0.1, k)) * np.where(post, 1 + shock, 1.0)  # common to every workflow
    treated = 40.0 * week_shock * np.where(post, 1 + effect, 1.0) * np.exp(rng.normal(0, noise, k))
    comparison = 10.0 * week_shock * np.exp(rng.normal(0, noise, k))
    return treated, np.full(k, 50.0), comparison, post


def test_ratio_did_removes_a_multiplicative_common_shock():
    treated, n, comparison, post = _series(effect=-0.2, shock=0.3)
    before_after = treated[post].mean() / treated[~post].mean() - 1
    assert before_after == pytest.approx(0.04, abs=0.03)  # the shock masks the improvement
    result = ratio_did(treated, n, comparison, post)
    assert result.estimate_pct == pytest.approx(-20.0, abs=1.0)
    assert result.ci_low_pct < -20.0 < result.ci_high_pct
    assert result.ci_high_pct < 0


def test_ratio_did_interval_widens_with_weekly_noise_and_persistence_costs_degrees_of_freedom():
    quiet = ratio_did(*_series(effect=0.0, shock=0.0, noise=0.01))
    noisy = ratio_did(*_series(effect=0.0, shock=0.0, noise=0.2))
    assert (noisy.ci_high_pct - noisy.ci_low_pct) > 5 * (quiet.ci_high_pct - quiet.ci_low_pct)
    # Independent weeks: Welch-Satterthwaite between the fewer weeks - 1 and all weeks - 2.
    assert 12 <= noisy.df <= 13 + 18 - 2
    # Persistent week shocks (pooled rho 0.8) leave fewer degrees of freedom and a wider interval.
    persistent = ratio_did(*_series(effect=0.0, shock=0.0, noise=0.2), rho=0.8)
    independent = ratio_did(*_series(effect=0.0, shock=0.0, noise=0.2), rho=0.0)
    assert persistent.df < independent.df
    assert persistent.ci_high_pct - persistent.ci_low_pct > independent.ci_high_pct - independent.ci_low_pct


def test_ratio_did_is_the_two_way_fixed_effects_coefficient_in_logs_for_two_series():
    """On a balanced panel of two series with exactly multiplicative week effects, the ratio of
    ratios equals METHODS.md's two-way fixed-effects coefficient fitted to log(y)."""
    k = 10
    post = np.arange(k) >= 4
    week = np.exp(np.linspace(0, 0.5, k))
    treated = 3.0 * week * np.where(post, 0.75, 1.0)
    comparison = 2.0 * week
    panel = pd.DataFrame(
        {
            "y": np.log(np.r_[treated, comparison]),
            "workflow": ["t"] * k + ["c"] * k,
            "week": np.r_[np.arange(k), np.arange(k)],
            "treated_post": np.r_[post, np.zeros(k, bool)].astype(float),
        }
    )
    beta = smf.ols("y ~ C(workflow) + C(week) + treated_post", panel).fit().params["treated_post"]
    result = ratio_did(treated, np.ones(k), comparison, post)
    assert result.estimate_pct == pytest.approx(100 * np.expm1(beta), abs=1e-6) == pytest.approx(-25.0)


def test_ratio_did_needs_weeks_and_a_non_zero_baseline():
    treated, n, comparison, post = _series(effect=0.0, shock=0.0, k_base=2)
    assert np.isnan(ratio_did(treated, n, comparison, post).estimate_pct)
    treated, n, comparison, post = _series(effect=0.0, shock=0.0)
    zero = ratio_did(np.where(post, treated, 0.0), n, comparison, post)
    assert np.isnan(zero.estimate_pct) and "baseline is zero" in zero.note


def test_comparison_composite_drops_comparisons_with_a_zero_baseline_and_normalises_the_rest():
    baseline = np.array([True, True, False, False])
    values = np.array([[2.0, 2.0, 3.0, 3.0], [0.0, 0.0, 1.0, 1.0], [10.0, 10.0, 10.0, 10.0]])
    counts = np.array([[1, 1, 1, 1], [5, 5, 5, 5], [1, 1, 1, 1]])
    composite = comparison_composite(values, counts, baseline)
    assert composite.n_workflows == 2
    np.testing.assert_allclose(composite.value, [1.0, 1.0, 1.25, 1.25])  # (1.5 + 1) / 2 after go-live


def test_weekly_effects_are_relative_to_the_baseline_and_net_of_comparisons():
    treated, n, comparison, post = _series(effect=-0.2, shock=0.3, noise=0.0)
    effects = weekly_effects(treated, n, comparison, post)
    assert np.abs(effects[~post]).max() < 0.25
    own = weekly_effects(treated, n, None, post)
    assert np.nanmean(own[post]) > np.nanmean(effects[post])  # the shock is in the own-baseline series


# --- the views in a simulated warehouse ------------------------------------------------------


@pytest.fixture(scope="module")
def shocked():
    """-20% on every metric, and a +30% shock to every workflow at go-live."""
    return simulated_warehouse(Scenario("shock", "", effect=-0.2, common_shock=0.3), seed=7, treated=2, comparison=3)


def test_diff_in_diff_removes_a_common_shock_that_before_after_credits_to_the_tool(shocked):
    _, _, views, _ = shocked
    did = _rows(views, "diff_in_diff")
    before_after = _rows(views, "before_after")
    # Truth: -20%. The before/after sees (1 - 0.2) x 1.3 - 1 = +4%.
    assert before_after.get_column("estimate_pct").median() == pytest.approx(4.0, abs=6.0)
    assert did.get_column("estimate_pct").median() == pytest.approx(-20.0, abs=4.0)
    covered = (did["ci_low_pct"] <= -20) & (did["ci_high_pct"] >= -20)
    assert covered.mean() >= 0.8
    assert did.get_column("label").str.contains("vs 3 comparison workflows").all()
    assert (did.get_column("n_comparison") > did.get_column("n_treated")).all()


def test_every_deployed_workflow_and_metric_has_all_three_views(shocked):
    _, batch, views, _ = shocked
    assert views.height == len(batch.treated) * 5 * 3
    assert views.select("workflow_id", "metric", "view").is_duplicated().sum() == 0
    assert set(views.get_column("view")) == {"before_after", "assisted_vs_unassisted", "diff_in_diff"}


def test_before_after_view_is_copied_from_value_metrics_and_labelled_observational(shocked):
    con, _, views, _ = shocked
    expected = con.sql(
        "select workflow_id, metric, change_pct, ci_low_pct, ci_high_pct, n_post, n_baseline from marts.value_metrics"
    ).pl()
    got = _rows(views, "before_after").join(expected, on=["workflow_id", "metric"])
    assert got.height == expected.height
    assert (got["estimate_pct"] == got["change_pct"]).all() and (got["n_treated"] == got["n_post"]).all()
    assert (got["n_comparison"] == got["n_baseline"]).all()
    assert (got["label"] == "before/after (observational)").all()


def test_assisted_vs_unassisted_is_labelled_self_selected_and_finds_an_association_without_an_effect():
    _, _, views, _ = simulated_warehouse(Scenario("null", ""), seed=11, treated=2, comparison=1)
    assisted = _rows(views, "assisted_vs_unassisted")
    assert assisted.get_column("label").str.starts_with("association (self-selected)").all()
    # The tool does nothing here, but people pick easy items for it: assisted items look faster.
    cycle = assisted.filter(pl.col("metric") == "cycle_time_hours")
    assert (cycle.get_column("ci_high_pct") < 0).all()
    assert (cycle.get_column("n_treated") > 0).all() and (cycle.get_column("n_comparison") > 0).all()


def test_no_comparison_workflow_gives_a_null_did_that_says_why():
    _, _, views, _ = simulated_warehouse(Scenario("alone", "", effect=-0.2), seed=5, treated=1, comparison=0)
    did = _rows(views, "diff_in_diff")
    assert did.height == 5
    assert did.get_column("estimate_pct").is_null().all() and did.get_column("ci_low_pct").is_null().all()
    assert did.get_column("label").str.contains("not estimable: no comparison workflow").all()


def test_a_short_post_period_is_labelled_unreliable():
    _, _, views, _ = simulated_warehouse(Scenario("short", "", post_weeks=4), seed=2, treated=1, comparison=3)
    labels = _rows(views, "diff_in_diff").filter(pl.col("estimate_pct").is_not_null()).get_column("label")
    assert labels.len() > 0 and labels.str.contains("interval unreliable").all()


def test_placebo_in_space_in_one_pass_equals_ratio_did_against_the_others():
    rng = np.random.default_rng(9)
    k, n_weeks = 6, 30
    values = rng.lognormal(3, 0.2, (k, n_weeks))
    counts = rng.integers(5, 40, (k, n_weeks)).astype(float)
    values[2, 4] = np.nan
    counts[2, 4] = 0.0
    baseline = np.zeros(n_weeks, dtype=bool)
    baseline[2:15] = True
    week = np.arange(2, 28)
    post = week >= 15
    fast = placebo_in_space_pct(values, counts, baseline, week, post)
    for j in range(k):
        others = np.arange(k) != j
        composite = comparison_composite(values[others], counts[others], baseline)
        slow = ratio_did(values[j, week], counts[j, week], composite.value[week], post).estimate_pct
        assert fast[j] == pytest.approx(slow, rel=1e-9)


# --- the two-group SQL on a second connection ---------------------------------------------


def test_effect_inputs_on_two_connections_give_what_one_connection_gives(shocked):
    """A full build reads the two-group comparisons' items on a second connection in a thread
    while the weekly series are estimated: the views and the two-group rows must not change."""
    con, _, _, _ = shocked
    config = load_config()
    sequential = effect_inputs(con, config, concurrent=False)
    concurrent = effect_inputs(con, config, concurrent=True)
    assert concurrent[0].height > 0
    assert concurrent[0].equals(sequential[0])
    assert compute_effect_views(con, config, *concurrent).equals(compute_effect_views(con, config, *sequential))


def test_the_second_connection_reads_the_catalog_the_first_one_uses():
    """A USE on the run's connection (a scope's catalog, a shared catalog) must hold for the
    second connection too, or it would read another catalog's tables of the same name."""
    con = duckdb.connect()
    con.execute("create table main.marker as select 'default' as catalog_name")
    con.execute('attach \':memory:\' as "other ""catalog"')
    con.execute('create table "other ""catalog".main.marker as select \'other\' as catalog_name')
    con.execute('use "other ""catalog".main')
    cursor = _second_connection(con)
    try:
        assert cursor.execute("select catalog_name from marker").fetchall() == [("other",)]
    finally:
        cursor.close()
