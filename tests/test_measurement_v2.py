"""Method v2 in the marts, on small staging tables built by hand: per-workflow cutoffs, baseline
coverage, closed items and blanks, adoption (current, reach, unknown), the scorecard's decision."""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl
import pytest

from pipelines.asset_helpers import write_table
from pipelines.measurement.method_checks import compute_method_checks
from pipelines.measurement.views import build_weekly_metrics, compute_effect_views, two_group_results, weekly_results
from pipelines.metrics import assets as metrics_assets
from pipelines.metrics.config import load_config
from pipelines.metrics.scorecard import compute_scorecard
from pipelines.metrics.value_metrics import compute_value_metrics
from pipelines.sqlfiles import run_script, sql_text

DEPLOYED = dt.date(2026, 3, 2)  # a Monday
START = DEPLOYED - dt.timedelta(days=90)


def items_for(workflow_id: str, first: dt.date, last: dt.date, per_day: int = 2, **overrides) -> list[dict]:
    """`per_day` closed items a day from `first` to `last`, 10 hours each, one reworked in five."""
    rows, day, i = [], first, 0
    while day <= last:
        for k in range(per_day):
            opened = dt.datetime.combine(day, dt.time(8 + k))
            rows.append(
                {
                    "item_id": f"{workflow_id}-{i}",
                    "workflow_id": workflow_id,
                    "opened_at": opened,
                    "closed_at": opened + dt.timedelta(hours=10 + (i % 7)),
                    "rework_count": 1 if i % 5 == 0 else 0,
                    "touchpoints": 2 + i % 3,
                    "had_error": i % 4 == 0,
                    "external_spend": float(i % 3),
                    "ai_assisted": day >= DEPLOYED and i % 2 == 0,
                    "team": "A",
                }
                | overrides
            )
            i += 1
        day += dt.timedelta(days=1)
    return rows


REGISTRY = [
    # workflow_id, deployed_on, eligible_users, primary_metric
    ("wf_full", DEPLOYED, 10, "cycle_time_hours"),
    ("wf_short", DEPLOYED, 10, "cycle_time_hours"),
    ("wf_none", DEPLOYED, 10, "cycle_time_hours"),
    ("wf_zero", DEPLOYED, 0, "cycle_time_hours"),
    ("wf_late", DEPLOYED, 10, "cycle_time_hours"),
]


def staged(extra_items: list[dict] | None = None) -> duckdb.DuckDBPyConnection:
    """Staging tables for five deployed workflows (no data_through column: the registry may lack it)."""
    con = duckdb.connect()
    con.execute("create schema staging")
    registry = pl.DataFrame(
        [
            {"workflow_id": w, "name": w, "team": "Ops", "stage": "production", "business_owner": "Ann", "deployed_on": d,
             "eligible_users": e, "risk_tier": "low", "primary_metric": m, "target_change_pct": -20.0,
             "review_point": "QA", "support_path": "#help", "data_scope": "own"}
            for w, d, e, m in REGISTRY
        ]
    )  # fmt: skip
    end = dt.date(2026, 5, 31)
    items = items_for("wf_full", START, end) + items_for("wf_short", DEPLOYED - dt.timedelta(days=30), end)
    items += items_for("wf_none", START, end) + items_for("wf_zero", START, end) + items_for("wf_late", START, end)
    # wf_full: one item with blank touchpoints and spend, one still open.
    items[0] |= {"touchpoints": None, "external_spend": None}
    items[1] |= {"closed_at": None}
    # wf_none: spend blank on every item.
    items = [r | {"external_spend": None} if r["workflow_id"] == "wf_none" else r for r in items]
    items += extra_items or []
    con.register("_registry", registry)
    con.execute("create table staging.workflows as select * from _registry")
    frame = pl.DataFrame(
        items, schema_overrides={"touchpoints": pl.Int64, "external_spend": pl.Float64, "closed_at": pl.Datetime}
    )
    con.register("_items", frame)
    con.execute("create table staging.work_items as select * from _items")
    # Staging always has the optional `escalated` column (blank or absent means false).
    con.execute("alter table staging.work_items add column escalated boolean default false")
    usage = [
        # wf_full: 6 users active in the last 28 days; wf_late: one user, long ago (a retired tool).
        *[
            {"usage_date": dt.date(2026, 5, 20), "user_id": f"u{i}", "workflow_id": "wf_full", "actions": 3}
            for i in range(6)
        ],
        {"usage_date": dt.date(2026, 3, 10), "user_id": "old", "workflow_id": "wf_late", "actions": 5},
        {"usage_date": dt.date(2026, 5, 20), "user_id": "z1", "workflow_id": "wf_zero", "actions": 5},
    ]
    con.register("_usage", pl.DataFrame(usage))
    con.execute("create table staging.usage as select * from _usage")
    return con


def build(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    config = load_config()
    settings = config.settings
    metrics_assets.build_item_periods(con, settings)
    write_table(con, "marts.value_metrics", compute_value_metrics(con, config))
    run_script(
        con,
        sql_text(metrics_assets.__file__, "adoption"),
        {k: settings[k] for k in ("adoption_window_days", "habitual_min_weeks", "min_group_size")},
    )
    build_weekly_metrics(con, config)
    groups, weekly = two_group_results(con, config), weekly_results(con, config)
    write_table(con, "marts.effect_views", compute_effect_views(con, config, groups, weekly))
    write_table(con, "marts.method_checks", compute_method_checks(con, config, weekly, groups))
    write_table(con, "marts.workflow_scorecard", compute_scorecard(con, config))
    return con


@pytest.fixture(scope="module")
def con():
    connection = build(staged())
    yield connection
    connection.close()


def row(con, sql: str, *params) -> dict:
    frame = con.sql(sql, params=list(params) or None).pl()
    assert frame.height == 1, frame
    return frame.row(0, named=True)


def test_a_far_future_item_in_one_workflow_does_not_move_another_workflows_window(con):
    future = {"item_id": "future", "workflow_id": "wf_late", "opened_at": dt.datetime(2031, 1, 1), "closed_at": None,
              "rework_count": 0, "touchpoints": 1, "had_error": False, "external_spend": 0.0, "ai_assisted": False, "team": "A"}  # fmt: skip
    moved = build(staged([future]))
    sql = "select post_end_on from intermediate.workflow_windows where workflow_id = ?"
    assert row(moved, sql, "wf_full") == row(con, sql, "wf_full") == {"post_end_on": dt.date(2026, 5, 31)}
    assert row(moved, sql, "wf_late")["post_end_on"] == dt.date(2031, 1, 1)  # its own window moves
    full = "select n_post, post_value from marts.value_metrics where workflow_id = 'wf_full' and metric = 'cycle_time_hours'"
    assert row(moved, full) == row(con, full)
    moved.close()


def test_a_blank_measure_stays_out_of_n_and_is_never_replaced_by_the_cap(con):
    blank = row(
        con,
        "select touchpoints, touchpoints_capped, external_spend_capped from intermediate.item_periods where item_id = 'wf_full-0'",
    )
    assert blank == {"touchpoints": None, "touchpoints_capped": None, "external_spend_capped": None}
    closed_known = row(
        con,
        "select count(touchpoints) as n from intermediate.item_periods "
        "where workflow_id = 'wf_full' and period = 'baseline' and is_closed",
    )["n"]
    vm = row(
        con,
        "select n_baseline, n_baseline_closed from marts.value_metrics where workflow_id = 'wf_full' and metric = 'touchpoints_per_item'",
    )
    # Two items are out: the blank one and the open one (closed items only).
    assert vm["n_baseline"] == closed_known == vm["n_baseline_closed"] - 1


def test_open_items_count_for_cycle_time_only(con):
    rates = row(
        con, "select n_baseline from marts.value_metrics where workflow_id = 'wf_full' and metric = 'rework_rate'"
    )
    cycle = row(
        con, "select n_baseline from marts.value_metrics where workflow_id = 'wf_full' and metric = 'cycle_time_hours'"
    )
    assert cycle["n_baseline"] == rates["n_baseline"] + 1  # the one open item
    assert row(con, "select has_rework, had_error from intermediate.item_periods where item_id = 'wf_full-1'") == {
        "has_rework": None, "had_error": None,
    }  # fmt: skip


def test_spend_blank_everywhere_is_null_not_zero(con):
    spend = row(con, "select n_baseline, baseline_value, post_value, change_pct, verdict from marts.value_metrics "
                     "where workflow_id = 'wf_none' and metric = 'external_spend_per_item'")  # fmt: skip
    assert spend == {
        "n_baseline": 0,
        "baseline_value": None,
        "post_value": None,
        "change_pct": None,
        "verdict": "insufficient_data",
    }


def test_a_short_baseline_is_insufficient_and_shows_the_covered_window(con):
    short = con.sql(
        "select baseline_start_on, nominal_baseline_start_on, baseline_coverage, verdict from marts.value_metrics "
        "where workflow_id = 'wf_short'"
    ).pl()
    assert set(short.get_column("verdict")) == {"insufficient_baseline"}
    assert set(short.get_column("baseline_start_on")) == {DEPLOYED - dt.timedelta(days=30)}
    assert set(short.get_column("nominal_baseline_start_on")) == {START}
    assert short.get_column("baseline_coverage").to_list() == pytest.approx([30 / 90] * short.height)
    full = row(
        con,
        "select distinct baseline_coverage, baseline_start_on from marts.value_metrics where workflow_id = 'wf_full'",
    )
    assert full == {"baseline_coverage": 1.0, "baseline_start_on": START}
    card = row(con, "select decision, decision_reasons from marts.workflow_scorecard where workflow_id = 'wf_short'")
    assert card["decision"] == "wait_for_data" and "baseline" in card["decision_reasons"]


def test_adoption_is_current_unknown_without_usage_or_eligible_users_and_never_zero_by_default(con):
    adoption = {r["workflow_id"]: r for r in con.sql("select * from marts.adoption").pl().iter_rows(named=True)}
    assert adoption["wf_full"]["adoption_rate"] == pytest.approx(0.6)
    assert adoption["wf_full"]["active_users"] == 6 and adoption["wf_full"]["is_adoption_unknown"] is False
    # No usage rows at all: unknown, not 0%.
    assert adoption["wf_none"]["is_adoption_unknown"] is True and adoption["wf_none"]["adoption_rate"] is None
    # eligible_users 0: unknown, whatever the usage.
    assert adoption["wf_zero"]["is_adoption_unknown"] is True and adoption["wf_zero"]["adoption_rate"] is None
    # Used once, months ago: reached, but current adoption is 0 (known), and the one user is not counted out.
    late = adoption["wf_late"]
    assert (
        late["is_adoption_unknown"] is False
        and late["adoption_rate"] == 0.0
        and late["reach_rate"] == pytest.approx(0.1)
    )
    assert adoption["wf_full"]["suppressed_reason"] is None
    card = {r["workflow_id"]: r for r in con.sql("select * from marts.workflow_scorecard").pl().iter_rows(named=True)}
    assert card["wf_none"]["quadrant"] in ("adoption_unknown", "insufficient_data")
    assert card["wf_zero"]["is_adopted"] is None and card["wf_zero"]["is_adoption_unknown"] is True
    if card["wf_zero"]["primary_verdict"] not in ("insufficient_data", "insufficient_baseline"):
        assert card["wf_zero"]["quadrant"] == "adoption_unknown"


def test_a_small_group_of_users_is_suppressed_and_says_so():
    con = staged()
    con.execute("delete from staging.usage where workflow_id = 'wf_full' and user_id not in ('u0', 'u1')")
    build(con)
    full = row(
        con, "select active_users, adoption_rate, suppressed_reason from marts.adoption where workflow_id = 'wf_full'"
    )
    assert full["active_users"] is None and full["adoption_rate"] == pytest.approx(0.2)
    assert "fewer than 5 users" in full["suppressed_reason"]
    con.close()


def test_every_workflow_gets_one_decision_with_reasons(con):
    card = con.sql(
        "select workflow_id, decision, decision_reasons, quadrant, shows_value from marts.workflow_scorecard"
    ).pl()
    assert card.height == len(REGISTRY)
    decisions = {d.name for d in load_config().decisions}
    assert set(card.get_column("decision")) <= decisions
    assert card.get_column("decision_reasons").null_count() == 0
    # Fewer than 3 comparison workflows: the DiD is not identifiable and cannot contest anything.
    did = con.sql("select distinct is_identifiable from marts.effect_views where view = 'diff_in_diff'").fetchall()
    assert did == [(False,)]


def test_a_shift_common_to_all_workflows_is_contested_not_value():
    # No effect of the tool, but every workflow got 30% faster at go-live: the before/after
    # says improved, the difference-in-differences (4 comparison workflows) says it is shared.
    from pipelines.calibration.run import run_pipeline
    from pipelines.calibration.simulate import Scenario, write_batch

    con = duckdb.connect()
    write_batch(con, Scenario("shared", "", common_shock=-0.3), seed=11, n_treated=4, n_comparison=4)
    config = load_config()
    views, checks = run_pipeline(con, config)
    write_table(con, "marts.effect_views", views)
    write_table(con, "marts.method_checks", checks)
    for column, value in (("name", "'w'"), ("team", "'Ops'"), ("stage", "'production'"), ("business_owner", "'Ann'"),
                          ("primary_metric", "'cycle_time_hours'"), ("target_change_pct", "-20"), ("eligible_users", "10"),
                          ("risk_tier", "'low'"), ("review_point", "'QA'"), ("support_path", "'#help'"), ("data_scope", "'own'")):  # fmt: skip
        con.execute(
            f"alter table staging.workflows add column {column} {'double' if column.endswith(('_pct', '_users')) else 'varchar'} default {value}"
        )
    con.execute("create table staging.usage (usage_date date, user_id varchar, workflow_id varchar, actions bigint)")
    run_script(
        con,
        sql_text(metrics_assets.__file__, "adoption"),
        {"adoption_window_days": 28, "habitual_min_weeks": 3, "min_group_size": 5},
    )
    card = compute_scorecard(con, config).filter(pl.col("deployed_on").is_not_null())
    improved = card.filter(pl.col("primary_verdict") == "improved")
    assert improved.height == 4, card  # every before/after reads the shared shock as a gain
    disagreeing = improved.filter(pl.col("did_ci_high_pct") >= 0)
    assert disagreeing.height >= 1
    assert set(disagreeing.get_column("decision")) == {"contested"}
    assert not any(disagreeing.get_column("shows_value"))
    assert all(
        "the comparison workflows moved as much over the same weeks" in r
        for r in disagreeing.get_column("decision_reasons")
    )
    # A contested win is never counted as value, whatever else holds.
    assert not any(card.filter(pl.col("decision") == "contested").get_column("shows_value"))
    con.close()


@pytest.mark.parametrize("table", ["marts.value_metrics", "marts.adoption", "marts.workflow_scorecard"])
def test_every_column_of_the_v2_marts_is_documented_in_the_warehouse_page(con, table):
    from pathlib import Path

    page = (Path(__file__).resolve().parents[1] / "docs" / "warehouse.md").read_text()
    section = page.split(f"### `{table}`", 1)[1].split("\n### ", 1)[0]
    for column in con.sql(f"select * from {table} limit 0").columns:
        assert f"`{column}`" in section, f"{table}.{column} is not documented in docs/warehouse.md"
