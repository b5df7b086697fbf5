"""Value in business terms: savings, money, net value and the scorecard history (issue 14)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import duckdb
import numpy as np
import pytest

from pipelines.metrics.rules import value_decisions
from tests.conftest import REGISTRY_HEADER, build_warehouse, write

ITEMS_HEADER = "item_id,workflow_id,opened_at,closed_at,rework_count,touchpoints,had_error,external_spend,ai_assisted"
MONEY_HEADER = "currency,cost_per_hour,cost_per_rework,cost_per_error,cost_per_touchpoint,tool_cost_per_user_month"
DEPLOYED_ON = dt.date(2026, 3, 2)
RATES = {"cost_per_hour": 2.5, "cost_per_rework": 40.0, "cost_per_error": 120.0, "cost_per_touchpoint": 7.5}
TOOL_COST_PER_USER = 30.0
ELIGIBLE = 10
N_PER_PERIOD = 70


def _item_rows(workflow: str, start: dt.datetime, count: int, offset: int, post: bool) -> list[str]:
    """Items opened every 1.25 days; post items are quicker, with fewer reworks, errors and hand-offs."""
    rows = []
    for k in range(count):
        opened = start + dt.timedelta(hours=30 * k)
        hours = (14 if post else 20) + (k % 7) * 3
        rework = int(k % (8 if post else 5) == 0)
        error = "yes" if k % (12 if post else 6) == 0 else "no"
        touchpoints = (2 if post else 3) + k % 3
        spend = (8 if post else 10) + (k % 4) * 5
        closed = opened + dt.timedelta(hours=hours)
        rows.append(
            f"{workflow}-{offset + k},{workflow},{opened:%Y-%m-%dT%H:%M:%SZ},{closed:%Y-%m-%dT%H:%M:%SZ},"
            f"{rework},{touchpoints},{error},{spend},{str(post).lower()}"
        )
    return rows


COMPARISONS = ("wf_comparison", "wf_comparison_b", "wf_comparison_c")
"""Never deployed and unchanged: three, so the difference-in-differences can check a value claim
(a claim nothing can check is contested, docs/methods.md "Evidence behind a claim")."""


def value_inputs(root: Path) -> Path:
    """Two deployed workflows with the same items, one priced (EUR) and one without rates, and
    three comparison workflows whose work did not change; six of ten eligible users active after
    go-live in each deployed one."""
    comparisons = "\n".join(f"        {c},Comparison,Cy,Ops,production,,,low,,,,,,,,,,," for c in COMPARISONS)
    write(
        root / "workflows.csv",
        f"""
        {REGISTRY_HEADER},{MONEY_HEADER}
        wf_priced,Priced,Ann,Ops,production,{DEPLOYED_ON},{ELIGIBLE},low,,-20,QA,#help,claims,EUR,2.5,40,120,7.5,{TOOL_COST_PER_USER}
        wf_units,Units only,Bo,Ops,production,{DEPLOYED_ON},{ELIGIBLE},low,,-20,QA,#help,claims,,,,,,
{comparisons}
        """,
    )
    lines = [ITEMS_HEADER]
    for workflow in ("wf_priced", "wf_units", *COMPARISONS):
        lines += _item_rows(workflow, dt.datetime(2025, 12, 3, 9), N_PER_PERIOD, 0, post=False)
        lines += _item_rows(workflow, dt.datetime(2026, 3, 2, 9), N_PER_PERIOD, 1000, post=workflow not in COMPARISONS)
    write(root / "work_items" / "items_1.csv", "\n".join(lines) + "\n")
    usage = ["usage_date,user_id,workflow_id,actions"]
    for workflow in ("wf_priced", "wf_units"):
        # In the post window and in the last 28 days before the cutoff: adopted under either definition.
        usage += [f"2026-05-2{u},u{u},{workflow},3" for u in range(6)]
    write(root / "usage" / "usage_1.csv", "\n".join(usage) + "\n")
    return root


def newer_items(root: Path) -> None:
    """A later export: every workflow gets items opened after the first cutoff."""
    lines = [ITEMS_HEADER]
    for workflow in ("wf_priced", "wf_units", *COMPARISONS):
        lines += _item_rows(workflow, dt.datetime(2026, 6, 10, 9), 10, 5000, post=workflow not in COMPARISONS)
    write(root / "work_items" / "items_2.csv", "\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def value_warehouse(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("value")
    return build_warehouse(value_inputs(root / "inputs"), root / "w.duckdb")


def _rows(path: Path, sql: str, params: list | None = None) -> list[dict]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        cursor = con.execute(sql, params or [])
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]
    finally:
        con.close()


# --- the estimator ---------------------------------------------------------------------


@pytest.mark.parametrize("metric", ["rework_rate", "error_rate", "touchpoints_per_item", "external_spend_per_item"])
def test_the_value_estimator_agrees_with_the_before_after_over_the_whole_post_period(value_warehouse, metric):
    """One engine: over the whole post period the value estimator reproduces marts.value_metrics."""
    mine = _rows(
        value_warehouse,
        "select * from intermediate.value_changes where workflow_id = 'wf_priced' and metric = ? and month_on is null",
        [metric],
    )[0]
    theirs = _rows(
        value_warehouse, "select * from marts.value_metrics where workflow_id = 'wf_priced' and metric = ?", [metric]
    )[0]
    assert mine["baseline_per_item"] == pytest.approx(theirs["baseline_value"])
    assert mine["post_per_item"] == pytest.approx(theirs["post_value"])
    for column in ("change_pct", "ci_low_pct", "ci_high_pct"):
        assert mine[column] == pytest.approx(theirs[column]), column
    assert -100 < mine["ci_low_pct"] < mine["change_pct"] < mine["ci_high_pct"]


# --- the marts ---------------------------------------------------------------------------


def _items_per_month(path: Path, workflow: str) -> float:
    window = _rows(
        path, "select post_start_on, post_end_on from intermediate.workflow_windows where workflow_id = ?", [workflow]
    )[0]
    days = (window["post_end_on"] - window["post_start_on"]).days + 1
    return N_PER_PERIOD / (days / (365.25 / 12))


def _money(value: float) -> Decimal:
    return Decimal(str(round(value, 2))).quantize(Decimal("0.01"))


@pytest.mark.parametrize("metric", ["rework_rate", "error_rate", "touchpoints_per_item"])
def test_savings_are_volume_times_difference_times_rate_with_the_interval(value_warehouse, metric):
    change = _rows(
        value_warehouse,
        "select baseline_value, post_value, change_pct, ci_low_pct, ci_high_pct from marts.value_metrics "
        "where workflow_id = 'wf_priced' and metric = ?",
        [metric],
    )[0]
    saving = _rows(
        value_warehouse, "select * from marts.monthly_savings where workflow_id = 'wf_priced' and metric = ?", [metric]
    )[0]
    rate = RATES[
        {
            "rework_rate": "cost_per_rework",
            "error_rate": "cost_per_error",
            "touchpoints_per_item": "cost_per_touchpoint",
        }[metric]
    ]
    per_month = _items_per_month(value_warehouse, "wf_priced")
    units = (change["baseline_value"] - change["post_value"]) * per_month
    low = -change["ci_high_pct"] / 100 * change["baseline_value"] * per_month
    high = -change["ci_low_pct"] / 100 * change["baseline_value"] * per_month
    assert saving["items_per_month"] == pytest.approx(per_month)
    assert saving["units_saved_per_month"] == pytest.approx(units)
    assert (saving["units_saved_low"], saving["units_saved_high"]) == pytest.approx((low, high))
    assert units > 0 and low < units < high
    assert saving["currency"] == "EUR"
    assert saving["money_saved_per_month"] == _money(units * rate)
    assert saving["money_saved_low"] == _money(low * rate)
    assert saving["money_saved_high"] == _money(high * rate)


def test_cycle_time_saves_item_hours_from_the_capped_mean_of_closed_items(value_warehouse):
    hours = {
        period: np.array([(14 if period == "post" else 20) + (k % 7) * 3 for k in range(N_PER_PERIOD)], dtype=float)
        for period in ("baseline", "post")
    }
    cap = np.quantile(np.concatenate([hours["baseline"], hours["post"]]), 0.99)
    base, post = np.minimum(hours["baseline"], cap).mean(), np.minimum(hours["post"], cap).mean()
    saving = _rows(
        value_warehouse,
        "select * from marts.monthly_savings where workflow_id = 'wf_priced' and metric = 'cycle_time_hours'",
    )[0]
    per_month = _items_per_month(value_warehouse, "wf_priced")
    assert saving["baseline_per_item"] == pytest.approx(base)
    assert saving["post_per_item"] == pytest.approx(post)
    assert saving["unit_saved"] == "item-hours of waiting"
    assert saving["units_saved_per_month"] == pytest.approx((base - post) * per_month)
    assert saving["money_saved_per_month"] == _money((base - post) * per_month * RATES["cost_per_hour"])
    low = -saving["ci_high_pct"] / 100 * base * per_month
    assert saving["money_saved_low"] == _money(low * RATES["cost_per_hour"])
    assert -100 < saving["ci_low_pct"] < saving["change_pct"] < saving["ci_high_pct"] < 0


def test_without_a_rate_savings_are_in_units_only(value_warehouse):
    rows = _rows(value_warehouse, "select * from marts.monthly_savings where workflow_id = 'wf_units' order by metric")
    priced = _rows(
        value_warehouse, "select * from marts.monthly_savings where workflow_id = 'wf_priced' order by metric"
    )
    assert [r["metric"] for r in rows] == [r["metric"] for r in priced]
    for row, twin in zip(rows, priced):
        # The same items: the same units saved; money only where the registry gives a rate.
        assert row["units_saved_per_month"] == pytest.approx(twin["units_saved_per_month"])
        assert row["currency"] == "USD"
        if row["metric"] == "external_spend_per_item":
            assert row["money_saved_per_month"] is not None  # money already, no rate needed
            continue
        assert row["rate"] is None
        assert (row["money_saved_per_month"], row["money_saved_low"], row["money_saved_high"]) == (None, None, None)
        assert row["note"] == "no rate in the registry: units only"
    monthly = _rows(
        value_warehouse,
        "select count(money_saved) as priced from marts.monthly_value where workflow_id = 'wf_units' and metric <> 'external_spend_per_item'",
    )[0]
    assert monthly["priced"] == 0
    value = _rows(value_warehouse, "select * from marts.workflow_value where workflow_id = 'wf_units'")[0]
    assert value["tool_cost_per_month"] is None and value["net_value_per_month"] is None


def test_net_value_is_money_saved_less_the_tool_cost(value_warehouse):
    savings = _rows(
        value_warehouse,
        "select money_saved_per_month, money_saved_low, money_saved_high from marts.monthly_savings "
        "where workflow_id = 'wf_priced' and counts_in_money_total",
    )
    value = _rows(value_warehouse, "select * from marts.workflow_value where workflow_id = 'wf_priced'")[0]
    tool = Decimal(str(TOOL_COST_PER_USER * ELIGIBLE)).quantize(Decimal("0.01"))
    assert len(savings) == 5
    assert value["tool_cost_per_month"] == tool
    assert value["net_value_per_month"] == sum(r["money_saved_per_month"] for r in savings) - tool
    assert value["net_value_low"] == sum(r["money_saved_low"] for r in savings) - tool
    assert value["net_value_high"] == sum(r["money_saved_high"] for r in savings) - tool


def test_portfolio_adds_value_decisions_only_and_never_across_currencies(value_warehouse):
    portfolio = {r["currency"]: r for r in _rows(value_warehouse, "select * from marts.portfolio_value")}
    decisions = {r["workflow_id"]: r for r in _rows(value_warehouse, "select * from marts.workflow_value")}
    assert set(portfolio) == {"EUR", "USD"}
    priced = decisions["wf_priced"]
    # A value decision (scale, or close_gaps while the ready-to-scale gate has gaps in this fixture).
    assert priced["decision"] in value_decisions()
    assert portfolio["EUR"]["value_workflows"] == 1
    assert portfolio["EUR"]["net_value_per_month"] == priced["net_value_per_month"]
    assert (portfolio["EUR"]["net_value_low"], portfolio["EUR"]["net_value_high"]) == (
        priced["net_value_low"],
        priced["net_value_high"],
    )
    # wf_units has no tool cost: never added up as value, counted as unpriced instead.
    assert decisions["wf_units"]["decision"] in value_decisions()
    assert portfolio["USD"]["value_workflows"] == 0
    assert portfolio["USD"]["value_workflows_unpriced"] == 1
    assert portfolio["USD"]["net_value_per_month"] == 0


def test_the_portfolio_month_pays_the_tool_for_the_days_it_was_live(value_warehouse):
    months = {
        r["month_on"]: r
        for r in _rows(value_warehouse, "select * from marts.portfolio_monthly_value where currency = 'EUR'")
    }
    full = Decimal(str(TOOL_COST_PER_USER * ELIGIBLE)).quantize(Decimal("0.01"))
    assert months[dt.date(2026, 4, 1)]["tool_cost_all"] == full
    march = months[dt.date(2026, 3, 1)]  # live from 2 March: 30 of 31 days
    assert march["tool_cost_all"] == _money(TOOL_COST_PER_USER * ELIGIBLE * 30 / 31)
    assert march["net_value"] == march["money_saved"] - march["tool_cost_value_workflows"]


def test_monthly_value_has_one_row_per_metric_and_post_month_with_that_months_items(value_warehouse):
    rows = _rows(
        value_warehouse,
        "select * from marts.monthly_value where workflow_id = 'wf_priced' and metric = 'rework_rate' order by month_on",
    )
    window = _rows(
        value_warehouse,
        "select post_start_on, post_end_on from intermediate.workflow_windows where workflow_id = 'wf_priced'",
    )[0]
    months = []
    month = window["post_start_on"].replace(day=1)
    while month <= window["post_end_on"]:
        months.append(month)
        month = (month + dt.timedelta(days=32)).replace(day=1)
    assert [r["month_on"] for r in rows] == months
    assert sum(r["items"] for r in rows) == N_PER_PERIOD
    for row in rows:
        if row["change_pct"] is not None and row["ci_low_pct"] is not None:
            assert row["units_saved"] == pytest.approx(
                -row["change_pct"] / 100 * row["baseline_per_item"] * row["items"]
            )
            assert row["money_saved"] == _money(row["units_saved"] * RATES["cost_per_rework"])


# --- a skewed, partly priced workflow (ported from the former marts.value_estimates tests) --


SKEWED_RATES = {"cost_per_hour": 2.0, "cost_per_rework": 40.0, "cost_per_touchpoint": 7.5}
"""wf_skewed's rates: cost_per_error is left blank."""


def _skewed_hours(k: int, post: bool) -> float:
    """One item in five is slow: the mean sits far above the median (10 h before, 6 h after)."""
    if k % 5 == 0:
        return 60.0 if post else 100.0
    return (6.0 if post else 10.0) + (k % 3) * 0.5


def skewed_inputs(root: Path) -> Path:
    """One deployed workflow with a long tail of slow items, its last post item still open, one
    baseline item with blank touchpoints, every rate but cost_per_error, and no usage at all
    (adoption unknown); three unchanged comparison workflows."""
    comparisons = "\n".join(f"        {c},Comparison,Cy,Ops,production,,,low,,,,,,,,,,," for c in COMPARISONS)
    write(
        root / "workflows.csv",
        f"""
        {REGISTRY_HEADER},{MONEY_HEADER}
        wf_skewed,Skewed,Ann,Ops,production,{DEPLOYED_ON},{ELIGIBLE},low,,-20,QA,#help,claims,EUR,2,40,,7.5,{TOOL_COST_PER_USER}
{comparisons}
        """,
    )
    lines = [ITEMS_HEADER]
    for workflow in COMPARISONS:
        lines += _item_rows(workflow, dt.datetime(2025, 12, 3, 9), N_PER_PERIOD, 0, post=False)
        lines += _item_rows(workflow, dt.datetime(2026, 3, 2, 9), N_PER_PERIOD, 1000, post=False)
    for post, start, offset in ((False, dt.datetime(2025, 12, 3, 9), 0), (True, dt.datetime(2026, 3, 2, 9), 1000)):
        for k in range(N_PER_PERIOD):
            opened = start + dt.timedelta(hours=30 * k)
            still_open = post and k == N_PER_PERIOD - 1
            closed = "" if still_open else f"{opened + dt.timedelta(hours=_skewed_hours(k, post)):%Y-%m-%dT%H:%M:%SZ}"
            touchpoints = "" if (not post and k == 1) else str((2 if post else 3) + k % 3)
            error = "yes" if k % (12 if post else 6) == 0 else "no"
            lines.append(
                f"wf_skewed-{offset + k},wf_skewed,{opened:%Y-%m-%dT%H:%M:%SZ},{closed},"
                f"{int(k % (8 if post else 5) == 0)},{touchpoints},{error},{10 + k % 4},{str(post).lower()}"
            )
    write(root / "work_items" / "items_1.csv", "\n".join(lines) + "\n")
    write(root / "usage" / "usage_1.csv", "usage_date,user_id,workflow_id,actions\n")
    return root


@pytest.fixture(scope="module")
def skewed_warehouse(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("value_skewed")
    return build_warehouse(skewed_inputs(root / "inputs"), root / "w.duckdb")


def _skewed_saving(path: Path, metric: str) -> dict:
    sql = "select * from marts.monthly_savings where workflow_id = 'wf_skewed' and metric = ?"
    return _rows(path, sql, [metric])[0]


def test_cycle_time_value_is_the_capped_mean_of_closed_items_hours_not_the_median(skewed_warehouse):
    closed = {
        period: np.array([_skewed_hours(k, period == "post") for k in range(N_PER_PERIOD - (period == "post"))])
        for period in ("baseline", "post")
    }  # the last post item is open: it has no hours to average
    cap = np.quantile(np.concatenate([closed["baseline"], closed["post"]]), 0.99)
    base, post = np.minimum(closed["baseline"], cap).mean(), np.minimum(closed["post"], cap).mean()
    saving = _skewed_saving(skewed_warehouse, "cycle_time_hours")
    median = _rows(
        skewed_warehouse,
        "select baseline_value, verdict from marts.value_metrics "
        "where workflow_id = 'wf_skewed' and metric = 'cycle_time_hours'",
    )[0]
    assert (saving["baseline_per_item"], saving["post_per_item"]) == pytest.approx((base, post))
    # The verdict is the median's; the value is the mean's, which a long tail pulls far above it.
    assert median["baseline_value"] < 11 < 20 < saving["baseline_per_item"]
    assert saving["verdict"] == median["verdict"]
    # Items per month counts every post item, the open one too.
    per_month = _items_per_month(skewed_warehouse, "wf_skewed")
    assert saving["items_per_month"] == pytest.approx(per_month)
    assert saving["units_saved_per_month"] == pytest.approx((base - post) * per_month)
    assert saving["money_saved_per_month"] == _money((base - post) * per_month * SKEWED_RATES["cost_per_hour"])


def test_a_blank_measure_stays_out_of_the_per_item_value_but_not_out_of_the_volume(skewed_warehouse):
    saving = _skewed_saving(skewed_warehouse, "touchpoints_per_item")
    # Closed items with a known count: the blank baseline item and the open post item are out.
    base = np.mean([3 + k % 3 for k in range(N_PER_PERIOD) if k != 1])
    post = np.mean([2 + k % 3 for k in range(N_PER_PERIOD - 1)])
    per_month = _items_per_month(skewed_warehouse, "wf_skewed")
    assert (saving["baseline_per_item"], saving["post_per_item"]) == pytest.approx((base, post))
    assert saving["units_saved_per_month"] == pytest.approx((base - post) * per_month)


def test_a_blank_rate_gives_units_only_and_leaves_that_metric_out_of_the_money_total(skewed_warehouse):
    errors = _skewed_saving(skewed_warehouse, "error_rate")
    assert errors["units_saved_per_month"] is not None and errors["currency"] == "EUR"
    money = ("rate", "money_saved_per_month", "money_saved_low", "money_saved_high")
    assert [errors[c] for c in money] == [None] * 4
    assert errors["counts_in_money_total"] is False and errors["note"] == "no rate in the registry: units only"
    priced = _rows(
        skewed_warehouse,
        "select * from marts.monthly_savings where workflow_id = 'wf_skewed' and counts_in_money_total",
    )
    assert sorted(r["metric"] for r in priced) == [
        "cycle_time_hours",
        "external_spend_per_item",
        "rework_rate",
        "touchpoints_per_item",
    ]
    value = _rows(skewed_warehouse, "select * from marts.workflow_value where workflow_id = 'wf_skewed'")[0]
    assert value["metrics_in_money"] == 4 and value["metrics_not_in_money"] == "error_rate"
    assert value["money_saved_per_month"] == sum(r["money_saved_per_month"] for r in priced)
    tool = Decimal(str(TOOL_COST_PER_USER * ELIGIBLE)).quantize(Decimal("0.01"))
    assert value["net_value_per_month"] == value["money_saved_per_month"] - tool


def test_an_unknown_adoption_win_is_never_added_up_as_value(skewed_warehouse):
    from pipelines.metrics import rules

    sql = "select decision, shows_value from marts.workflow_scorecard where workflow_id = 'wf_skewed'"
    card = _rows(skewed_warehouse, sql)[0]
    assert card == {"decision": "unknown_adoption", "shows_value": False}  # improved, but no usage rows at all
    value = _rows(skewed_warehouse, "select * from marts.workflow_value where workflow_id = 'wf_skewed'")[0]
    assert value["is_value_decision"] is False and value["net_value_per_month"] is not None
    portfolio = _rows(skewed_warehouse, "select * from marts.portfolio_value where currency = 'EUR'")[0]
    assert portfolio["value_workflows"] == 0 and portfolio["net_value_per_month"] == 0
    assert portfolio["workflows_not_judged"] == 1
    assert portfolio["cost_not_judged_per_month"] == value["tool_cost_per_month"]
    # The scorecard, the value marts and the rules read one list of value decisions.
    decisions = _rows(skewed_warehouse, "select decision, is_value_decision from marts.workflow_value")
    assert all(r["is_value_decision"] == rules.shows_value(r["decision"]) for r in decisions)


def test_the_value_marts_read_only_registry_columns_the_schema_defines():
    import re

    from pipelines.sqlfiles import sql_text
    from pipelines.value import assets as value_assets
    from schemas.workflows import COST_COLUMNS, WorkflowRegistry

    registry = set(WorkflowRegistry.to_schema().columns)
    adapter = sql_text(value_assets.__file__, "value_workflows")
    read = set(re.findall(r"\bworkflows\.(\w+)", adapter))
    assert read <= registry, read - registry
    assert {"currency", *COST_COLUMNS} <= read
    # The per-metric rates of monthly_savings are registry cost columns, each priced once.
    rates = re.findall(r"'(cost_per_\w+)'\)", sql_text(value_assets.__file__, "monthly_savings"))
    assert sorted(rates) == sorted(c for c in COST_COLUMNS if c.startswith("cost_per_"))


# --- the history -------------------------------------------------------------------------


def _history(path: Path) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute("select * from marts.scorecard_history order by all").fetchall()
    finally:
        con.close()


def test_scorecard_history_is_idempotent_and_grows_by_one_row_per_workflow_for_newer_data(tmp_path):
    inputs = value_inputs(tmp_path / "inputs")
    warehouse = tmp_path / "w.duckdb"
    build_warehouse(inputs, warehouse)
    first = _history(warehouse)
    assert len(first) == 2 + len(COMPARISONS)
    build_warehouse(inputs, warehouse)
    assert _history(warehouse) == first  # same inputs: the same rows, recorded_at included

    newer_items(inputs)
    build_warehouse(inputs, warehouse)
    second = _history(warehouse)
    assert len(second) == 2 * (2 + len(COMPARISONS))
    assert set(first) <= set(second)  # the earlier cutoff's rows are kept untouched
    per_workflow = _rows(
        warehouse,
        "select workflow_id, count(*) as n, max(data_cutoff_at) as latest from marts.scorecard_history group by 1",
    )
    assert {r["workflow_id"]: r["n"] for r in per_workflow} == {w: 2 for w in ("wf_priced", "wf_units", *COMPARISONS)}
    assert all(r["latest"] >= dt.datetime(2026, 6, 10) for r in per_workflow)


def test_history_is_read_from_the_published_file_when_a_build_starts_empty(tmp_path):
    from pipelines.resources import WarehouseResource
    from pipelines.value.assets import carry_history

    published = tmp_path / "published.duckdb"
    con = duckdb.connect(str(published))
    con.execute("create schema marts")
    con.execute(
        "create table marts.scorecard_history as select 'wf_a' as workflow_id, timestamp '2026-01-01' as data_cutoff_at"
    )
    con.close()
    build = duckdb.connect(str(tmp_path / "fresh_build.duckdb"))
    try:
        assert carry_history(build, WarehouseResource(path=str(published))) == 1
        assert build.execute("select workflow_id from marts.scorecard_history").fetchall() == [("wf_a",)]
        assert carry_history(build, WarehouseResource(path=str(published))) == 0  # already there: nothing doubled
    finally:
        build.close()


@pytest.mark.parametrize(
    "table",
    [
        "marts.monthly_savings",
        "marts.monthly_value",
        "marts.workflow_value",
        "marts.portfolio_value",
        "marts.portfolio_monthly_value",
        "marts.scorecard_history",
    ],
)
def test_every_value_mart_column_is_documented_with_its_grain(value_warehouse, table):
    columns = [row["column_name"] for row in _rows(value_warehouse, f"select column_name from (describe {table})")]
    doc = (Path(__file__).parents[1] / "docs" / "warehouse.md").read_text()
    section = doc.split(f"### `{table}`")[1].split("\n### ")[0]
    assert section.lstrip().startswith("**One row per")
    for column in columns:
        assert f"`{column}`" in section, f"{table}.{column} is not documented in docs/warehouse.md"


def test_registry_money_columns_are_optional_and_validated(tmp_path):
    from pipelines.ingest.reader import read_source_file
    from pipelines.ingest.sources import WORKFLOWS

    blank_tail = ",,,,,,,,"  # deployed_on ... data_scope left blank
    write(
        tmp_path / "workflows.csv",
        f"""
        {REGISTRY_HEADER},{MONEY_HEADER}
        ok,Ok,,,pilot{blank_tail},,12.5,,,,30
        lower,Lower,,,pilot{blank_tail},usd,1,,,,
        unknown,Unknown,,,pilot{blank_tail},XXX,,,,,
        negative,Negative,,,pilot{blank_tail},EUR,,-3,,,
        huge,Huge,,,pilot{blank_tail},EUR,,,1e12,,
        text,Text,,,pilot{blank_tail},EUR,,,,abc,
        """,
    )
    result = read_source_file(tmp_path / "workflows.csv", WORKFLOWS, tmp_path)
    assert result.valid.select("workflow_id", "currency", "cost_per_hour", "tool_cost_per_user_month").rows() == [
        ("ok", "USD", 12.5, 30.0)
    ]
    reasons = dict(zip(result.quarantined["row_number"], result.quarantined["reason"]))
    assert "currency" in reasons[2] and "currency" in reasons[3]
    assert "cost_per_rework" in reasons[4] and ">= 0" in reasons[4]
    assert "cost_per_error" in reasons[5]
    assert "cost_per_touchpoint" in reasons[6]
    # A registry written before the money columns still loads: USD, every rate unknown.
    write(tmp_path / "old" / "workflows.csv", f"{REGISTRY_HEADER}\nold,Old,,,pilot{blank_tail}\n")
    old = read_source_file(tmp_path / "old" / "workflows.csv", WORKFLOWS, tmp_path / "old")
    assert old.valid.select("currency", "cost_per_hour", "tool_cost_per_user_month").rows() == [("USD", None, None)]
