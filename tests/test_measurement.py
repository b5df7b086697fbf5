"""The measurement marts: weekly metrics by hand, the Dagster assets with their checks, the docs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import polars as pl
import pytest

from pipelines.calibration.run import run_pipeline
from pipelines.calibration.simulate import Batch, Scenario, write_batch
from pipelines.measurement.method_checks import CHECK_NAMES
from pipelines.measurement.views import build_weekly_metrics
from pipelines.metrics import assets as metrics_assets
from pipelines.metrics.config import load_config
from tests.conftest import ITEMS_HEADER, REGISTRY_HEADER, write

MEASUREMENT_TABLES = ("marts.weekly_metrics", "marts.effect_views", "marts.method_checks")


def simulated_warehouse(
    scenario: Scenario, seed: int = 1, treated: int = 1, comparison: int = 2
) -> tuple[duckdb.DuckDBPyConnection, Batch, pl.DataFrame, pl.DataFrame]:
    """An in-memory warehouse drawn from `scenario`, run through the marts' code path."""
    con = duckdb.connect()
    batch = write_batch(con, scenario, seed=seed, n_treated=treated, n_comparison=comparison)
    views, checks = run_pipeline(con, load_config())
    return con, batch, views, checks


# --- weekly_metrics against a hand computation ----------------------------------------------


def _ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


HAND_ITEMS = [
    # item, workflow, opened, closed, rework, touchpoints, error, spend, assisted, team
    ("b1", "wf_t", "2026-02-23 09:00", "2026-02-23 19:00", 0, 2, False, 0.0, False, "A"),
    ("b2", "wf_t", "2026-02-24 09:00", "2026-02-25 05:00", 1, 3, False, 10.0, False, "A"),
    ("b3", "wf_t", "2026-02-25 09:00", "2026-02-27 01:00", 0, 40, True, 20.0, False, "B"),
    ("p1", "wf_t", "2026-03-02 09:00", "2026-03-02 14:00", 0, 1, False, 0.0, True, "A"),
    ("p2", "wf_t", "2026-03-03 09:00", "2026-03-03 16:00", 0, 1, False, 0.0, True, "A"),
    ("p3", "wf_t", "2026-03-10 09:00", None, 0, 1, False, 0.0, True, "A"),
    # go-live on a Wednesday: the week of 2026-03-02 mixes periods and is left out
    ("w1", "wf_w", "2026-03-02 09:00", "2026-03-02 10:00", 0, 1, False, 0.0, False, "A"),
    ("w2", "wf_w", "2026-03-05 09:00", "2026-03-05 10:00", 0, 1, False, 0.0, True, "A"),
    ("w3", "wf_w", "2026-03-10 09:00", "2026-03-10 12:00", 0, 1, False, 0.0, True, "A"),
    ("c1", "wf_c", "2026-02-23 09:00", "2026-02-23 13:00", 0, 2, False, 0.0, False, "A"),
    ("c2", "wf_c", "2026-02-24 09:00", "2026-02-24 15:00", 1, 2, True, 0.0, False, "A"),
    # the data cutoff, months later, so every week above has settled
    ("c3", "wf_c", "2026-06-01 09:00", "2026-06-01 10:00", 0, 2, False, 0.0, False, "A"),
]


@pytest.fixture(scope="module")
def hand_weekly() -> pl.DataFrame:
    con = duckdb.connect()
    con.execute("create schema staging")
    con.execute("create table staging.workflows (workflow_id varchar, deployed_on date, data_through date)")
    # wf_t's registry row says its data runs to June (data_through), so its weeks have settled;
    # wf_w and wf_c end at their own latest timestamps.
    con.executemany(
        "insert into staging.workflows values (?, ?, ?)",
        [["wf_t", dt.date(2026, 3, 2), dt.date(2026, 6, 1)], ["wf_w", dt.date(2026, 3, 4), None], ["wf_c", None, None]],
    )
    con.execute(
        "create table staging.work_items (item_id varchar, workflow_id varchar, opened_at timestamp, closed_at timestamp, "
        "rework_count bigint, touchpoints bigint, had_error boolean, external_spend double, ai_assisted boolean, team varchar)"
    )
    con.executemany(
        "insert into staging.work_items values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [[r[0], r[1], _ts(r[2]), _ts(r[3]) if r[3] else None, *r[4:]] for r in HAND_ITEMS],
    )
    # Staging always has the optional `escalated` column (blank or absent means false).
    con.execute("alter table staging.work_items add column escalated boolean default false")
    config = load_config()
    settings = config.settings
    metrics_assets.build_item_periods(con, settings)
    build_weekly_metrics(con, config)
    return con.sql("select * from marts.weekly_metrics").pl()


def _value(frame: pl.DataFrame, workflow_id: str, metric: str, week: str) -> dict:
    rows = frame.filter(
        (pl.col("workflow_id") == workflow_id)
        & (pl.col("metric") == metric)
        & (pl.col("week_start_on") == dt.date.fromisoformat(week))
    ).to_dicts()
    assert len(rows) == 1, (workflow_id, metric, week, rows)
    return rows[0]


def test_weekly_metrics_match_a_hand_computation(hand_weekly):
    w = hand_weekly
    base = _value(w, "wf_t", "cycle_time_hours", "2026-02-23")
    assert base["value"] == pytest.approx(20.0)  # median of 10, 20 and 40 hours
    assert (base["n"], base["is_post"], base["weeks_since_deployment"]) == (3, False, -1)
    assert _value(w, "wf_t", "rework_rate", "2026-02-23")["value"] == pytest.approx(1 / 3)
    assert _value(w, "wf_t", "error_rate", "2026-02-23")["value"] == pytest.approx(1 / 3)
    # Touchpoints capped at the 99th percentile of both periods pooled, as in the before/after.
    cap = np.quantile([2, 3, 40, 1, 1], 0.99)  # closed items only: p3 is still open
    assert cap < 40
    assert _value(w, "wf_t", "touchpoints_per_item", "2026-02-23")["value"] == pytest.approx((2 + 3 + cap) / 3)
    spend_cap = np.quantile([10.0, 20.0], 0.99)  # spend: the 99th percentile of the non-zero amounts
    assert _value(w, "wf_t", "external_spend_per_item", "2026-02-23")["value"] == pytest.approx(
        (0 + 10 + spend_cap) / 3
    )

    post = _value(w, "wf_t", "cycle_time_hours", "2026-03-02")
    assert post["value"] == pytest.approx(6.0)  # median of 5 and 7 hours
    assert (post["is_post"], post["weeks_since_deployment"]) == (True, 0)
    # A week whose only item is open has no median yet, and an open item's touchpoints are not
    # final: closed items only for the four non-time metrics.
    open_week = _value(w, "wf_t", "cycle_time_hours", "2026-03-09")
    assert open_week["value"] is None and open_week["n"] == 1 and open_week["weeks_since_deployment"] == 1
    touch = _value(w, "wf_t", "touchpoints_per_item", "2026-03-09")
    assert touch["value"] is None and touch["n"] == 0


def test_weekly_metrics_keep_comparison_workflows_and_drop_weeks_that_mix_periods(hand_weekly):
    w = hand_weekly
    comparison = _value(w, "wf_c", "cycle_time_hours", "2026-02-23")
    assert comparison["value"] == pytest.approx(5.0)
    assert comparison["is_post"] is False and comparison["weeks_since_deployment"] is None
    assert _value(w, "wf_c", "error_rate", "2026-02-23")["value"] == pytest.approx(0.5)
    # wf_w went live on a Wednesday: its go-live week holds both periods and is left out.
    weeks_w = w.filter((pl.col("workflow_id") == "wf_w") & (pl.col("metric") == "cycle_time_hours"))
    assert weeks_w.get_column("week_start_on").to_list() == [dt.date(2026, 3, 9)]
    assert weeks_w.get_column("weeks_since_deployment").to_list() == [1]
    # The cutoff's own week has not settled: no cycle time yet, although its one item is closed.
    last = _value(w, "wf_c", "cycle_time_hours", "2026-06-01")
    assert last["value"] is None and last["n"] == 1
    assert _value(w, "wf_c", "touchpoints_per_item", "2026-06-01")["value"] == pytest.approx(2.0)


def test_weekly_metrics_grain_is_workflow_week_metric_and_weeks_are_mondays(hand_weekly):
    w = hand_weekly
    assert w.select("workflow_id", "week_start_on", "metric").is_duplicated().sum() == 0
    assert set(w.get_column("week_start_on").dt.weekday().to_list()) == {1}
    assert set(w.get_column("metric").unique()) == set(load_config().metrics)


# --- the Dagster assets on files -------------------------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Simulated items written as input files, then every asset materialised with its checks."""
    from pipelines.definitions import defs
    from pipelines.resources import InputFolderResource, WarehouseResource

    root = tmp_path_factory.mktemp("measurement")
    inputs = root / "inputs"
    con = duckdb.connect()
    batch = write_batch(con, Scenario("files", "", effect=-0.2), seed=3, n_treated=2, n_comparison=3)
    deployed = batch.deployed_on.isoformat()
    rows = [f"{w},Workflow {w},Ann,Ops,production,{deployed},10,low,,-20,,," for w in batch.treated]
    rows += [f"{w},Workflow {w},Bo,Ops,investigation,,,,,,,," for w in batch.comparison]
    write(inputs / "workflows.csv", REGISTRY_HEADER + "\n" + "\n".join(rows) + "\n")
    (inputs / "work_items").mkdir(parents=True)
    con.execute(
        f"""copy (select item_id, workflow_id, strftime(opened_at, '%Y-%m-%dT%H:%M:%SZ') as opened_at,
                         strftime(closed_at, '%Y-%m-%dT%H:%M:%SZ') as closed_at, rework_count, touchpoints,
                         had_error, external_spend, ai_assisted, false as escalated, team
                  from staging.work_items order by workflow_id, opened_at)
            to '{inputs / "work_items" / "items.csv"}' (header, delimiter ',')"""
    )
    assert (inputs / "work_items" / "items.csv").read_text().splitlines()[0].startswith(ITEMS_HEADER)
    write(
        inputs / "usage" / "usage.csv", f"usage_date,user_id,workflow_id,actions\n{deployed},u1,{batch.treated[0]},3\n"
    )
    warehouse = root / "opvalue.duckdb"
    result = dg.materialize(
        list(defs.assets or []),
        resources={
            "warehouse": WarehouseResource(path=str(warehouse)),
            "input_folder": InputFolderResource(path=str(inputs)),
        },
        raise_on_error=True,
    )
    return result, warehouse, batch


def test_assets_materialise_with_every_measurement_check_passing(built):
    result, warehouse, batch = built
    evaluations = {
        (e.asset_key.to_user_string(), e.check_name): e.passed
        for e in result.get_asset_check_evaluations()
        if e.asset_key.path[-1] in ("weekly_metrics", "effect_views", "method_checks")
    }
    assert evaluations == {
        ("marts/weekly_metrics", "grain"): True,
        ("marts/weekly_metrics", "weeks_start_on_monday"): True,
        ("marts/effect_views", "grain"): True,
        ("marts/effect_views", "every_row_labelled"): True,
        ("marts/method_checks", "grain"): True,
        ("marts/method_checks", "statuses_known"): True,
    }
    con = duckdb.connect(str(warehouse), read_only=True)
    n_metrics = len(load_config().metrics)
    assert con.execute("select count(*) from marts.effect_views").fetchall()[0][0] == 2 * n_metrics * 3
    assert con.execute("select count(*) from marts.method_checks").fetchall()[0][0] == 2 * n_metrics * len(CHECK_NAMES)
    comparisons = con.execute(
        "select count(distinct workflow_id) from marts.weekly_metrics where weeks_since_deployment is null"
    ).fetchall()[0][0]
    assert comparisons == 3
    # The DiD row found its three comparison workflows: enough to be identifiable.
    labels = {r[0] for r in con.execute("select label from marts.effect_views where view = 'diff_in_diff'").fetchall()}
    assert all("vs 3 comparison workflows" in label for label in labels), labels
    assert con.execute(
        "select bool_and(is_identifiable) from marts.effect_views where view = 'diff_in_diff'"
    ).fetchall()[0][0]


def test_did_is_not_identifiable_with_fewer_than_three_comparison_workflows():
    con, _, views, _ = simulated_warehouse(Scenario("two", "", effect=-0.2), seed=4, treated=1, comparison=2)
    did = views.filter(pl.col("view") == "diff_in_diff")
    assert did.height == len(load_config().metrics)
    assert did.get_column("estimate_pct").null_count() == did.height  # no number is published
    assert not any(did.get_column("is_identifiable"))
    assert all("not identifiable: 2 comparison workflow(s)" in label for label in did.get_column("label"))
    con.close()


def test_placebo_in_space_runs_with_five_comparison_workflows_and_not_with_fewer():
    con, _, views, _ = simulated_warehouse(Scenario("five", "", effect=-0.3), seed=5, treated=1, comparison=5)
    did = views.filter(pl.col("view") == "diff_in_diff")
    p = did.get_column("placebo_p_value").drop_nulls()
    assert p.len() >= 4 and ((p > 0) & (p <= 1)).all()
    assert all(
        "placebo-in-space: 5 comparison workflows" in label for label in did.get_column("label") if "vs 5" in label
    )
    con.close()
    con, _, views, _ = simulated_warehouse(Scenario("four", "", effect=-0.3), seed=5, treated=1, comparison=4)
    assert views.filter(pl.col("view") == "diff_in_diff").get_column("placebo_p_value").null_count() == len(
        load_config().metrics
    )
    con.close()


@pytest.mark.parametrize("table", MEASUREMENT_TABLES)
def test_measurement_columns_are_documented_in_the_warehouse_page(built, table):
    _, warehouse, _ = built
    con = duckdb.connect(str(warehouse), read_only=True)
    columns = [row[0] for row in con.execute(f"describe {table}").fetchall()]
    doc = (Path(__file__).parents[1] / "docs" / "warehouse.md").read_text()
    assert f"### `{table}`" in doc
    section = doc.split(f"### `{table}`")[1].split("\n### ")[0]
    assert "**One row per" in section
    for column in columns:
        assert f"`{column}`" in section, f"{table}.{column} is not documented in docs/warehouse.md"
