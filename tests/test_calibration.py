"""The calibration harness: its worlds are what they say, it measures the published marts, and it scores honestly.

Small runs only: these tests check the harness, not the method's targets (``make calibrate`` does that).
"""

from __future__ import annotations

from dataclasses import replace

import duckdb
import numpy as np
import polars as pl
import pytest

from pipelines.calibration import __main__ as cli
from pipelines.calibration.harness import QUICK, build_marts, run, safe_ending, score
from pipelines.calibration.worlds import SCENARIOS, VALUE_DECISIONS, World, ar1, write_batch

SMALL = replace(QUICK, batches=1, treated=5, workers=1)
BY_NAME = {s.name: s for s in SCENARIOS}


def test_ar1_series_have_the_stated_sd_and_autocorrelation():
    rng = np.random.default_rng(7)
    for rho in (0.0, 0.5, 0.8):
        series = np.concatenate([ar1(rng, 400, rho, 0.15) for _ in range(50)]).reshape(50, 400)
        assert series.std() == pytest.approx(0.15, rel=0.08)
        lag1 = np.mean([np.corrcoef(s[:-1], s[1:])[0, 1] for s in series])
        assert lag1 == pytest.approx(rho, abs=0.05)


def test_the_scenarios_cover_what_issue_11_asks_for():
    rhos = {s.rho for s in SCENARIOS}
    assert {0.0, 0.5, 0.8} <= rhos
    assert {s.n_comparison for s in SCENARIOS} == {2, 6}
    assert any(s.common_step for s in SCENARIOS) and any(s.common_trend for s in SCENARIOS)
    assert any(s.staggered for s in SCENARIOS) and any(s.deployed_trend for s in SCENARIOS)
    assert all(s.common_sd > 0 for s in SCENARIOS if s.rho is not None), "every shocked world has a common week shock"
    assert BY_NAME["ar08_null"].fp_tolerance_pct == 10 and BY_NAME["ar05_null"].fp_tolerance_pct == 5


def _week_means(con: duckdb.DuckDBPyConnection, workflow_id: str) -> np.ndarray:
    rows = con.execute(
        "select date_trunc('week', opened_at) as w, avg(ln(epoch(closed_at - opened_at))) from staging.work_items "
        "where workflow_id = ? and closed_at is not null group by 1 order by 1",
        [workflow_id],
    ).fetchall()
    return np.array([r[1] for r in rows[:-3]])  # the last weeks lose their slowest items to censoring


def test_week_shocks_make_weeks_move_together_and_persist():
    iid, shocked = duckdb.connect(), duckdb.connect()
    write_batch(iid, BY_NAME["iid_null"], seed=3, n_treated=4)
    write_batch(shocked, BY_NAME["ar08_null"], seed=3, n_treated=4)
    quiet = [_week_means(iid, w) for w in ("t000", "t001", "c000", "c001")]
    stormy = [_week_means(shocked, w) for w in ("t000", "t001", "c000", "c001")]
    calm = np.mean([s.std() for s in quiet])
    # Independent items: weekly means of log hours scatter by sampling noise alone (~0.1);
    # shocks of sd 0.15 + 0.15 on top roughly double that, and persist from week to week.
    assert np.mean([s.std() for s in stormy]) > 1.5 * calm

    def lag1(series):
        return np.mean([np.corrcoef(s[:-1], s[1:])[0, 1] for s in series])

    assert lag1(stormy) > lag1(quiet) + 0.25
    # The common shock: two workflows' weeks move together.
    assert np.corrcoef(stormy[0], stormy[2])[0, 1] > 0.2


def test_a_batch_has_a_full_registry_adopted_workflows_and_staggered_go_lives():
    con = duckdb.connect()
    batch = write_batch(con, BY_NAME["ar05_staggered"], seed=1, n_treated=4)
    assert len(set(batch.deployed_on.values())) == 4
    registry = con.sql("select * from staging.workflows").pl()
    assert registry.filter(pl.col("deployed_on").is_not_null()).height == 4
    assert registry.filter(pl.col("deployed_on").is_null()).height == BY_NAME["ar05_staggered"].n_comparison
    assert registry["primary_metric"].n_unique() == 4
    assert con.execute("select count(distinct user_id) from staging.usage").fetchone()[0] > 0


def test_build_marts_runs_the_published_assets_on_the_batch(tmp_path):
    path = str(tmp_path / "b.duckdb")
    con = duckdb.connect(path)
    write_batch(con, BY_NAME["ar05_null"], seed=5, n_treated=3)
    con.close()
    build_marts(path)
    con = duckdb.connect(path, read_only=True)
    tables = {
        r[0] for r in con.execute("select table_schema || '.' || table_name from information_schema.tables").fetchall()
    }
    assert {"marts.value_metrics", "marts.effect_views", "marts.workflow_scorecard"} <= tables
    assert con.execute("select count(*) from marts.value_metrics").fetchone()[0] == 3 * 5
    assert con.execute("select count(*) from marts.workflow_scorecard where deployed_on is not null").fetchone()[0] == 3


@pytest.fixture(scope="module")
def small_run():
    scenarios = (BY_NAME["iid_null"], BY_NAME["ar05_step_6cmp"], BY_NAME["ar05_effect"])
    estimates, outcomes = run(SMALL, scenarios)
    return scenarios, estimates, outcomes, score(estimates, outcomes, scenarios)


def test_the_scores_come_from_the_published_rows(small_run):
    _, estimates, outcomes, figures = small_run
    assert set(estimates["view"]) == {"before_after", "diff_in_diff", "assisted_vs_unassisted"}
    # People pick easy items for the tool: the association "finds" changes where there are none.
    by = {(f.scenario, f.figure): f for f in figures}
    assert by[("iid_null", "assisted vs unassisted excludes 0 (association, informational)")].value > 30
    assert outcomes.height == 3 * SMALL.treated
    # The truth is the scenario's: -25% for cycle time in ar05_effect, 0 elsewhere.
    effect = estimates.filter((pl.col("scenario") == "ar05_effect") & (pl.col("metric") == "cycle_time_hours"))
    assert set(effect["truth"]) == {-25.0}
    # A common 25% fall with no effect: the before/after sees it, its interval misses the truth.
    step = estimates.filter((pl.col("scenario") == "ar05_step_6cmp") & (pl.col("view") == "before_after"))
    assert step["estimate_pct"].median() < -15
    assert by[("ar05_step_6cmp", "coverage, before/after")].status == "not applicable"
    # Far below the 90% target (25 intervals of one warehouse share one common shock: a loose bound).
    assert by[("ar05_step_6cmp", "coverage, before/after")].value < 75
    assert ("ar05_step_6cmp", "safe endings of null workflows") in by
    assert by[("iid_null", "coverage, before/after")].status in ("pass", "miss")
    assert 50 <= by[("iid_null", "coverage, before/after")].value <= 100


def test_no_scenario_is_left_without_a_target(small_run):
    scenarios, _, _, figures = small_run
    for s in scenarios:
        judged = [f for f in figures if f.scenario == s.name and f.status in ("pass", "miss", "not available")]
        assert judged, f"{s.name} has no target"


def test_value_decisions_are_not_available_until_the_scorecard_has_them(small_run):
    _, _, outcomes, figures = small_run
    decisions = [f for f in figures if f.figure == "value decisions on null workflows" and f.n]
    if "decision" in outcomes.columns and outcomes["has_decision"].all():
        assert all(f.status in ("pass", "miss") and f.value is not None for f in decisions)
    else:
        assert decisions and all(f.status == "not available" and f.value is None for f in decisions)


def test_a_safe_ending_needs_no_value_decision_and_a_safe_reason():
    frame = pl.DataFrame(
        {
            "primary_verdict": ["improved", "improved", "no_clear_change", "improved", "improved"],
            "decision": ["contested", VALUE_DECISIONS[0], "reconsider", None, VALUE_DECISIONS[0]],
            "did_status": ["no_clear_change", "improved", "no_clear_change", "not_identifiable", "not_identifiable"],
        }
    )
    assert safe_ending(frame).to_list() == [True, False, True, True, False]


def test_the_cli_prints_targets_and_rewrites_only_the_calibration_section(tmp_path, monkeypatch, capsys):
    docs = tmp_path / "methods.md"
    docs.write_text(f"# Methods\n\nbefore\n\n{cli.START}\nold figures\n{cli.END}\n\nafter\n")
    monkeypatch.setattr(cli, "DOCS", docs)
    code = cli.main(["--quick", "--batches", "1", "--treated", "3", "--workers", "1", "--scenario", "ar05_null",
                     "--sample-seeds", "0", "--write-docs"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "| scenario | figure | value % | target | status | n |" in out and "too few to judge" in out
    assert "confident verdicts on null metrics" in out and "<= 5%" in out
    text = docs.read_text()
    assert "old figures" not in text and "**ar05_null**" in text
    assert text.startswith("# Methods\n\nbefore\n") and text.endswith("\n\nafter\n")


def test_scenario_defaults_are_a_valid_world():
    s = World("x", "y")
    assert s.valid == ("before_after", "diff_in_diff") and s.true_effect("rework_rate") == 0.0
