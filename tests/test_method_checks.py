"""marts.method_checks: every check fires where it must and stays quiet where it must."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from pipelines.calibration.simulate import Scenario
from pipelines.measurement.estimators import standardized_change, team_weighted_log_ratio, total_variation_points
from pipelines.measurement.method_checks import CHECK_NAMES, guardrail_rows, pool_small_groups, sample_size_rows
from pipelines.metrics.config import load_config
from tests.test_measurement import simulated_warehouse

STEADY = ("cycle_time_hours", "touchpoints_per_item")
"""Metrics with little noise, where a simulated problem shows for sure."""


def status(checks: pl.DataFrame, check: str, metric: str | None = None) -> list[str]:
    rows = checks.filter(pl.col("check_name") == check)
    if metric:
        rows = rows.filter(pl.col("metric") == metric)
    return rows.get_column("status").to_list()


def detail(checks: pl.DataFrame, check: str, metric: str) -> str:
    return checks.filter((pl.col("check_name") == check) & (pl.col("metric") == metric)).get_column("detail")[0]


@pytest.fixture(scope="module")
def quiet():
    """A steady -30% improvement, the team mix unchanged, quick items: nothing to warn about."""
    return simulated_warehouse(Scenario("quiet", "", effect=-0.3), seed=21, treated=1, comparison=3)[3]


def test_every_workflow_and_metric_gets_every_check_with_a_sentence(quiet):
    assert quiet.height == 5 * len(CHECK_NAMES)
    assert quiet.select("workflow_id", "metric", "check_name").is_duplicated().sum() == 0
    assert set(quiet.get_column("status")) <= {"ok", "warn", "not_applicable"}
    assert quiet.get_column("detail").str.len_chars().min() > 20


@pytest.mark.parametrize("check", CHECK_NAMES)
def test_quiet_data_gives_no_warning(quiet, check):
    for metric in STEADY:
        assert status(quiet, check, metric) == ["ok"], detail(quiet, check, metric)


# --- placebo and parallel trends ---------------------------------------------------------------


@pytest.fixture(scope="module")
def drifting():
    """No effect, but the deployed workflow drifts up 4% a week throughout."""
    return simulated_warehouse(Scenario("trend", "", trend_per_week=0.04), seed=22, treated=1, comparison=3)[3]


def test_placebo_warns_when_the_baseline_itself_moves(drifting):
    # Half a baseline of drift moves touchpoints by a third; the noisier metrics need more data.
    assert status(drifting, "placebo", "touchpoints_per_item") == ["warn"]
    assert "'finds' +" in detail(drifting, "placebo", "touchpoints_per_item")


def test_parallel_trends_warns_when_the_workflow_drifts_away_from_the_comparisons(drifting):
    for metric in STEADY:
        assert status(drifting, "parallel_trends", metric) == ["warn"], detail(drifting, "parallel_trends", metric)
    assert "not parallel" in detail(drifting, "parallel_trends", "touchpoints_per_item")


def test_parallel_trends_is_not_applicable_without_comparison_workflows():
    checks = simulated_warehouse(Scenario("alone", "", effect=-0.3), seed=23, treated=1, comparison=0)[3]
    assert set(status(checks, "parallel_trends")) == {"not_applicable"}
    assert "No comparison workflow" in detail(checks, "parallel_trends", "cycle_time_hours")


# --- mix shift ---------------------------------------------------------------------------------


def test_mix_shift_warns_and_shows_the_team_weighted_estimate():
    checks = simulated_warehouse(
        Scenario("mix", "", effect=-0.2, post_team_b_share=0.1), seed=24, treated=1, comparison=1
    )[3]
    assert set(status(checks, "mix_shift")) == {"warn"}
    sentence = detail(checks, "mix_shift", "cycle_time_hours")
    assert "team mix moved" in sentence and "weighted by its baseline share" in sentence
    assert "becomes" in sentence and "CI" in sentence


def test_mix_shift_is_not_applicable_without_a_team_column():
    checks = simulated_warehouse(Scenario("no_team", "", has_team=False), seed=25, treated=1, comparison=1)[3]
    assert set(status(checks, "mix_shift")) == {"not_applicable"}
    assert "No team recorded" in detail(checks, "mix_shift", "error_rate")


def test_team_weighted_estimates_undo_a_mix_shift_on_constructed_aggregates():
    # Two teams, each 20% faster after go-live; the slow team B falls from half to a tenth of the work.
    base_mean, post_mean = [10.0, 20.0], [8.0, 16.0]
    pooled_base = 0.5 * 10 + 0.5 * 20
    pooled_post = 0.9 * 8 + 0.1 * 16
    assert pooled_post / pooled_base - 1 == pytest.approx(-0.4133, abs=1e-3)  # what the pooled view says
    change = standardized_change(base_mean, [4.0, 16.0], [500, 500], post_mean, [2.56, 10.24], [900, 100])
    assert change.estimate_pct == pytest.approx(-20.0)
    assert change.ci_low_pct < -20 < change.ci_high_pct
    medians = team_weighted_log_ratio([10.0, 20.0], [0.5, 1.0], [8.0, 16.0], [0.4, 2.0], [500, 500])
    assert medians.estimate_pct == pytest.approx(-20.0)
    assert total_variation_points([500, 500], [900, 100]) == pytest.approx(40.0)


# --- censoring -----------------------------------------------------------------------------------


def test_censoring_warns_when_many_more_post_items_are_open():
    checks = simulated_warehouse(
        Scenario("open", "", effect=-0.2, cycle_median_hours=(150.0, 200.0), cycle_sigma=1.0, post_weeks=6),
        seed=26, treated=1, comparison=1,
    )[3]  # fmt: skip
    assert set(status(checks, "censoring")) == {"warn"}
    assert "Kaplan-Meier" in detail(checks, "censoring", "cycle_time_hours")
    assert "may still" in detail(checks, "censoring", "rework_rate")


# --- guardrail -------------------------------------------------------------------------------


def test_guardrail_warns_on_every_row_when_speed_is_bought_with_errors():
    checks = simulated_warehouse(
        Scenario("speed", "", metric_effects=(("cycle_time_hours", -0.4), ("error_rate", 1.5))),
        seed=27, treated=1, comparison=1,
    )[3]  # fmt: skip
    assert status(checks, "guardrail") == ["warn"] * 5
    assert "error rate worsened" in detail(checks, "guardrail", "touchpoints_per_item")


def _value_row(verdict: str, change: float = -20.0, **extra) -> dict:
    return {"verdict": verdict, "change_pct": change, "n_baseline_closed": 500, "n_post_closed": 600,
            "events": None, "note": None, **extra}  # fmt: skip


def test_guardrail_rows_on_constructed_verdicts():
    rows = {("w", m): _value_row("no_clear_change") for m in ("rework_rate", "touchpoints_per_item")}
    rows[("w", "cycle_time_hours")] = _value_row("improved")
    rows[("w", "error_rate")] = _value_row("worsened", 40.0)
    speed = {"w": "cycle_time_hours"}
    assert {r["status"] for r in guardrail_rows(rows, speed)} == {"warn"}
    # The guardrail keys on the workflow's primary metric, not on cycle time.
    assert {r["status"] for r in guardrail_rows(rows, {"w": "rework_rate"})} == {"ok"}
    rows[("w", "rework_rate")] = _value_row("improved")
    assert {r["status"] for r in guardrail_rows(rows, {"w": "rework_rate"})} == {"warn"}
    # A worsened primary metric is not a guardrail of itself.
    assert {r["status"] for r in guardrail_rows(rows, {"w": "error_rate"})} == {"ok"}
    rows[("w", "error_rate")] = _value_row("improved")
    assert {r["status"] for r in guardrail_rows(rows, speed)} == {"ok"}
    rows[("w", "cycle_time_hours")] = _value_row("insufficient_data")
    assert {r["status"] for r in guardrail_rows(rows, speed)} == {"not_applicable"}


# --- novelty ---------------------------------------------------------------------------------------


def test_novelty_warns_when_an_improvement_fades():
    checks = simulated_warehouse(Scenario("fading", "", effect=-0.6, fade_weeks=18), seed=28, treated=1, comparison=3)[
        3
    ]
    for metric in STEADY:
        assert status(checks, "novelty", metric) == ["warn"], detail(checks, "novelty", metric)
    assert "fading" in detail(checks, "novelty", "cycle_time_hours")


def test_novelty_does_not_apply_without_an_improvement():
    checks = simulated_warehouse(Scenario("null", ""), seed=29, treated=1, comparison=3)[3]
    applicable = checks.filter((pl.col("check_name") == "novelty") & (pl.col("status") != "not_applicable"))
    assert applicable.filter(pl.col("status") == "warn").height == 0


# --- sample size -------------------------------------------------------------------------------


def test_sample_size_warns_with_the_counts_when_data_is_thin():
    checks = simulated_warehouse(Scenario("thin", "", items_per_day=(0.2, 0.3)), seed=30, treated=1, comparison=1)[3]
    assert set(status(checks, "sample_size")) == {"warn"}
    sentence = detail(checks, "sample_size", "error_rate")
    assert "closed baseline items" in sentence and "(30 needed in each)" in sentence and "events" in sentence


def test_sample_size_rows_on_constructed_counts():
    config = load_config()
    rows = {("w", "cycle_time_hours"): _value_row("insufficient_data", n_baseline_closed=12)}
    [row] = sample_size_rows(rows, config)
    assert row["status"] == "warn" and "12 closed baseline items" in row["detail"]
    [row] = sample_size_rows({("w", "cycle_time_hours"): _value_row("improved")}, config)
    assert row["status"] == "ok"


def test_teams_smaller_than_min_group_size_are_pooled_in_the_mix_breakdown():
    counts = np.array([[50.0, 60.0], [3.0, 40.0], [20.0, 2.0], [30.0, 30.0]])
    pooled, n = pool_small_groups(counts, 5)
    assert n == 2
    assert pooled.tolist() == [[50.0, 60.0], [30.0, 30.0], [23.0, 42.0]]
    assert pooled.sum() == counts.sum()  # nothing is dropped
    same, none = pool_small_groups(counts[[0, 3]], 5)
    assert none == 0 and same.tolist() == [[50.0, 60.0], [30.0, 30.0]]


def test_step_vs_trend_warns_when_a_fall_was_under_way_before_go_live():
    """No effect, but the deployed workflow falls 3% a week throughout: a before/after 'win' a trend explains."""
    checks = simulated_warehouse(Scenario("falling", "", trend_per_week=-0.03), seed=24, treated=1, comparison=3)[3]
    for metric in STEADY:
        assert status(checks, "step_vs_trend", metric) == ["warn"], detail(checks, "step_vs_trend", metric)
        row = checks.filter((pl.col("check_name") == "step_vs_trend") & (pl.col("metric") == metric)).row(0, named=True)
        # The row carries the step at go-live and its interval, which the contested rule reads.
        assert row["ci_low_pct"] <= row["estimate_pct"] <= row["ci_high_pct"]
    assert "already improving before go-live" in detail(checks, "step_vs_trend", "touchpoints_per_item")


def test_step_vs_trend_stays_quiet_on_a_step_at_go_live(quiet):
    row = quiet.filter((pl.col("check_name") == "step_vs_trend") & (pl.col("metric") == "cycle_time_hours"))
    assert row.get_column("status").to_list() == ["ok"]
    assert row.get_column("ci_high_pct")[0] < 0  # the -30% step is confirmed once a trend is allowed
