"""The calibration benchmark: a small run keeps its promises, and the CLI writes the docs section."""

from __future__ import annotations

from dataclasses import replace

import polars as pl
import pytest

from pipelines.calibration import __main__ as cli
from pipelines.calibration.run import QUICK, run, score, targets
from pipelines.calibration.simulate import SCENARIOS

SMALL = replace(QUICK, batches=2, treated=5, comparison=3, workers=1)


@pytest.fixture(scope="module")
def small_run():
    scenarios = tuple(s for s in SCENARIOS if s.name in ("null", "effect", "common_shock"))
    estimates, checks = run(SMALL, scenarios)
    return estimates, checks, score(estimates)


def _coverage(estimates: pl.DataFrame, view: str, scenarios: tuple[str, ...]) -> float:
    rows = estimates.filter(pl.col("view").eq(view) & pl.col("scenario").is_in(scenarios) & pl.col("ci_low_pct").is_not_null())
    return 100 * float(((rows["ci_low_pct"] <= rows["truth"]) & (rows["truth"] <= rows["ci_high_pct"])).mean())


def test_intervals_cover_the_truth_about_95_percent_of_the_time(small_run):
    estimates, _, _ = small_run
    assert 85 <= _coverage(estimates, "before_after", ("null", "effect")) <= 99
    assert 85 <= _coverage(estimates, "diff_in_diff", ("null", "effect", "common_shock")) <= 99


def test_a_common_shock_biases_before_after_and_not_the_diff_in_diff(small_run):
    _, _, table = small_run
    shock = {r["view"]: r for r in table.filter(pl.col("scenario") == "common_shock").iter_rows(named=True)}
    # The truth is -20%; a +15% shock to every workflow moves the before/after by about +12 points.
    assert shock["before_after"]["median_bias_points"] > 8
    assert abs(shock["diff_in_diff"]["median_bias_points"]) < 4
    assert shock["before_after"]["coverage_pct"] < 80


def test_assisted_vs_unassisted_finds_an_association_where_nothing_changed(small_run):
    _, _, table = small_run
    null = {r["view"]: r for r in table.filter(pl.col("scenario") == "null").iter_rows(named=True)}
    assert null["assisted_vs_unassisted"]["false_positive_pct"] > 30
    assert null["assisted_vs_unassisted"]["median_bias_points"] < -10


def test_targets_are_computed_where_each_method_is_valid(small_run):
    estimates, _, table = small_run
    met = targets(estimates, table)
    assert set(met.coverage_pct) == {"before_after", "diff_in_diff"}
    assert set(met.false_positive_pct) == {"before_after", "diff_in_diff"}
    assert all(v < 4 for v in met.worst_abs_bias.values())


def test_the_cli_prints_the_table_and_rewrites_only_the_calibration_section(tmp_path, monkeypatch, capsys):
    docs = tmp_path / "methods.md"
    docs.write_text(f"# Methods\n\nbefore\n\n{cli.START}\nold figures\n{cli.END}\n\nafter\n")
    monkeypatch.setattr(cli, "DOCS", docs)
    code = cli.main(["--quick", "--batches", "1", "--treated", "3", "--workers", "1", "--scenario", "null", "--write-docs"])
    out = capsys.readouterr().out
    assert code == 0
    assert "| scenario | method |" in out and "coverage" in out and "too few to judge" in out
    text = docs.read_text()
    assert "old figures" not in text and "| null | before/after | yes |" in text
    assert text.startswith("# Methods\n\nbefore\n") and text.endswith("\n\nafter\n")
