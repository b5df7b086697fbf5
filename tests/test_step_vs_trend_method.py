"""The step-vs-trend check: a trend through the baseline and post weeks, with a step at go-live.

* ``segmented_trend`` against a hand computation: weighted least squares from the normal
  equations and Newey-West (Bartlett) errors written out here, not through statsmodels;
* ``rules.trend_explains_change`` and the contested reason it gives;
* a simulated warehouse: a workflow that was already improving before go-live (a drift only
  the deployed workflows share, no effect) ends ``contested``, a real step at go-live does not.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import replace
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest
from scipy import stats

from pipelines.calibration.harness import build_marts
from pipelines.calibration.worlds import VALUE_DECISIONS, World, write_batch
from pipelines.metrics import rules
from pipelines.metrics.config import load_config
from pipelines.stats.diagnostics import hac_lags, segmented_trend

# --- the statistic against a hand computation ---------------------------------------------------


def hand_segmented(x: np.ndarray, y: np.ndarray, post: np.ndarray, w: np.ndarray) -> dict[str, float]:
    """WLS of y ~ 1 + x + post and its Newey-West covariance, written out."""
    design = np.column_stack([np.ones_like(x), x, post.astype(float)])
    root = np.sqrt(w)
    xs, ys = design * root[:, None], y * root
    bread = np.linalg.inv(xs.T @ xs)
    beta = bread @ xs.T @ ys
    scores = xs * (ys - xs @ beta)[:, None]
    lags = hac_lags(x.size)
    meat = scores.T @ scores
    for lag in range(1, lags + 1):
        weight = 1 - lag / (lags + 1)
        cross = scores[lag:].T @ scores[:-lag]
        meat += weight * (cross + cross.T)
    n, k = design.shape
    cov = bread @ meat @ bread * n / (n - k)
    return {"step": beta[2], "slope": beta[1], "step_se": math.sqrt(cov[2, 2]), "slope_se": math.sqrt(cov[1, 1])}


@pytest.fixture(scope="module")
def drifting_series():
    rng = np.random.default_rng(7)
    x = np.arange(-13, 18, dtype=float)
    post = x >= 0
    w = rng.integers(30, 80, x.size).astype(float)
    y = -0.012 * x + rng.normal(0, 0.08, x.size)
    return x, y, post, w


def test_segmented_trend_matches_the_hand_computation(drifting_series):
    x, y, post, w = drifting_series
    fit = segmented_trend(x, y, post, w)
    hand = hand_segmented(x, y, post, w)
    for name in ("step", "slope", "step_se", "slope_se"):
        assert getattr(fit, name) == pytest.approx(hand[name], rel=1e-9), name
    assert fit.df == x.size - 3
    assert fit.step_p_value == pytest.approx(2 * stats.t.sf(abs(hand["step"]) / hand["step_se"], x.size - 3))
    # The change between the periods' weighted means splits exactly into the step and the trend's part.
    change = w[post] @ y[post] / w[post].sum() - w[~post] @ y[~post] / w[~post].sum()
    assert fit.change == pytest.approx(change)
    assert fit.step + fit.trend_part == pytest.approx(change)
    # A drift with no step: the trend carries the change, the step is near zero.
    assert fit.trend_part < 2 * fit.change / 3 < 0


def test_segmented_trend_sees_a_step_without_a_trend():
    rng = np.random.default_rng(8)
    x = np.arange(-13, 18, dtype=float)
    post = x >= 0
    fit = segmented_trend(x, np.where(post, -0.3, 0.0) + rng.normal(0, 0.05, x.size), post)
    assert fit.step == pytest.approx(-0.3, abs=0.08)
    assert fit.step_p_value < 0.001
    assert abs(fit.trend_part) < 0.1


def test_segmented_trend_needs_three_weeks_each_side_and_drops_blanks():
    x = np.arange(-2, 10, dtype=float)
    assert math.isnan(segmented_trend(x, np.zeros(x.size), x >= 0).step)
    y = np.where(np.arange(12) == 5, np.nan, 0.01 * np.arange(12))
    fit = segmented_trend(np.arange(-6, 6, dtype=float), y, np.arange(-6, 6) >= 0)
    assert fit.n_weeks == 11 and math.isfinite(fit.step)


# --- the rule and its reason ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "change", "ci_high", "explains"),
    [
        (-0.05, -0.30, -0.01, True),  # the step keeps a sixth of the change: the trend carries it
        (-0.25, -0.30, -0.10, False),  # a confirmed step keeping most of the change
        (-0.20, -0.30, 0.02, True),  # most of the change, but the step is not confirmed
        (-0.35, -0.30, 0.02, False),  # the trend ran the other way: nothing to explain the change instead
        (-0.05, 0.30, 0.10, False),  # no fall to explain
        (None, -0.30, None, False),  # no fit
    ],
)
def test_trend_explains_change(step, change, ci_high, explains):
    assert rules.trend_explains_change(step, change, ci_high) is explains


def test_trend_explains_change_reads_metrics_yaml():
    config = load_config()
    stricter = replace(config, method_checks={**config.method_checks, "min_step_share_of_change": 0.9})
    assert not rules.trend_explains_change(-0.2, -0.3, -0.05, config)
    assert rules.trend_explains_change(-0.2, -0.3, -0.05, stricter)


AGREEING = rules.ClaimEvidence(did_identifiable=True, did_change_pct=-30.0, did_ci_low_pct=-45.0, did_ci_high_pct=-12.0)


def test_a_claim_is_contested_in_plain_words_when_the_trend_explains_it():
    assert rules.contested_reasons("improved", -30.0, AGREEING) == []
    reasons = rules.contested_reasons(
        "improved",
        -30.0,
        replace(
            AGREEING, trend_warns=True, trend_step_pct=-6.0, trend_step_ci_low_pct=-21.0, trend_step_ci_high_pct=9.0
        ),
    )
    assert reasons == [
        "a step at go-live cannot be told from a steady trend through the baseline and post weeks: once that "
        "trend is allowed for, the step at go-live is -6.0% (-21.0% to +9.0%), which includes no step at all"
    ]
    confirmed_but_small = replace(
        AGREEING, trend_warns=True, trend_step_pct=-6.0, trend_step_ci_low_pct=-11.0, trend_step_ci_high_pct=-1.0
    )
    assert rules.contested_reasons("improved", -30.0, confirmed_but_small) == [
        "the workflow was already improving before go-live at about the same pace: once that trend is allowed "
        "for, the step at go-live is -6.0% (-11.0% to -1.0%), less than 50% of the change"
    ]


# --- end to end on simulated warehouses ---------------------------------------------------------


def scorecard_of(world: World, seed: int) -> pl.DataFrame:
    """Build every mart on a simulated warehouse (as the calibration does) and return its scorecard."""
    with tempfile.TemporaryDirectory(prefix="opvalue-step-vs-trend-") as folder:
        path = str(Path(folder) / "batch.duckdb")
        con = duckdb.connect(path)
        try:
            write_batch(con, world, seed=seed, n_treated=4)
        finally:
            con.close()
        build_marts(path)
        con = duckdb.connect(path, read_only=True)
        try:
            return con.sql("select * from marts.workflow_scorecard where deployed_on is not null").pl()
        finally:
            con.close()


STEADY_PRIMARY = ("t000", "t003")
"""The deployed workflows whose primary metric is cycle time or touchpoints (metrics rotate)."""


def test_a_drift_of_the_deployed_workflow_alone_ends_contested_and_a_real_step_does_not():
    # No week shocks and 4 comparison workflows: only the shape over time tells the two apart.
    drift = scorecard_of(World("drift", "", deployed_trend=-0.02, n_comparison=4), seed=31)
    step = scorecard_of(World("step", "", effect=-0.3, n_comparison=4), seed=31)
    for workflow_id in STEADY_PRIMARY:
        d = drift.filter(pl.col("workflow_id") == workflow_id).row(0, named=True)
        s = step.filter(pl.col("workflow_id") == workflow_id).row(0, named=True)
        # Both look like a clear win before/after.
        assert d["primary_verdict"] == s["primary_verdict"] == "improved"
        assert d["decision"] == "contested", d["decision_reasons"]
        trend_reasons = ("the workflow was already improving before go-live", "cannot be told from a steady trend")
        assert any(reason in d["decision_reasons"] for reason in trend_reasons), d["decision_reasons"]
        assert s["decision"] in VALUE_DECISIONS, s["decision_reasons"]
        assert "already improving" not in (s["contested_reasons"] or "")


def test_the_step_confirmation_level_can_leave_the_share_alone_to_decide():
    # A step keeping more than half of a fall, a trend the improving way, and an interval reaching 0.
    x = np.arange(-13, 18, dtype=float)
    y = np.where(x >= 0, -0.14, 0.0) - 0.003 * x + np.random.default_rng(5).normal(0, 0.15, x.size)
    fit = segmented_trend(x, y, x >= 0)
    assert fit.change < 0 and fit.trend_part < 0 and fit.step < 0.5 * fit.change and fit.step_p_value > 0.05
    config = load_config()
    high = fit.step + stats.t.isf(0.025, fit.df) * fit.step_se
    assert rules.trend_explains_change(fit.step, fit.change, high, config)  # not confirmed at 0.95: contested
    # step_confirmation_level 0: the interval is the point itself, so the share alone decides.
    assert not rules.trend_explains_change(fit.step, fit.change, fit.step, config)
