"""Dagster assets for value in business terms (issue 14; METHODS.md v2, "Value in business terms").

What the change since go-live is worth per month, in units and, where the registry gives a
rate, in money; net of the tool's cost; month by month; for the portfolio; and a history of
every workflow's decision across builds. Tables and grains: docs/warehouse.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb

from pipelines.asset_helpers import build_parts, grain_check, grouped_step, markdown_table, table_part, write_table
from pipelines.changes import load_change_set, scope
from pipelines.ingest.assets import STAGING_WORK_ITEMS, STAGING_WORKFLOWS
from pipelines.metrics import rules
from pipelines.metrics.assets import ITEM_PERIODS, SCORECARD, VALUE_METRICS, WEEK_PERSISTENCE
from pipelines.metrics.config import load_config
from pipelines.progress import step
from pipelines.resources import WarehouseResource
from pipelines.sqlfiles import run_script, sql_sections, sql_text, table_exists
from pipelines.value.changes import compute_value_changes

VALUE_GROUP = "value"  # folder name = Dagster group name; the key prefix says the layer
VALUE_WORKFLOWS = dg.AssetKey(["intermediate", "value_workflows"])
VALUE_CHANGES = dg.AssetKey(["intermediate", "value_changes"])
MONTHLY_SAVINGS = dg.AssetKey(["marts", "monthly_savings"])
MONTHLY_VALUE = dg.AssetKey(["marts", "monthly_value"])
WORKFLOW_VALUE = dg.AssetKey(["marts", "workflow_value"])
PORTFOLIO_VALUE = dg.AssetKey(["marts", "portfolio_value"])
PORTFOLIO_MONTHLY_VALUE = dg.AssetKey(["marts", "portfolio_monthly_value"])
SCORECARD_HISTORY = dg.AssetKey(["marts", "scorecard_history"])


def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> set[str]:
    return {
        row[0]
        for row in con.execute(
            "select column_name from information_schema.columns "
            "where table_catalog = current_database() and table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchall()
    }


def _adoption_threshold() -> float:
    return float(load_config().settings["adoption_threshold"])


# Per grain of pipelines/value/sql/post_items.sql: the table that keeps each workflow's counts
# from the previous build, and the columns they are read from there.
POST_ITEM_COUNTS = {
    "per_workflow": ("intermediate.value_workflows", {"workflow_id", "post_items"}),
    "per_month": ("marts.monthly_value", {"workflow_id", "month_on", "items", "items_open"}),
}


def count_post_items(con: duckdb.DuckDBPyConnection, run_id: str | None, grain: str) -> tuple[str, ...] | None:
    """Write this run's temp table of post-period item counts at `grain` (a key of
    `POST_ITEM_COUNTS`; pipelines/value/sql/post_items.sql) and return the workflows whose
    items were counted, None for every workflow.

    Only the workflows this run recomputes are counted when its change set is not everything
    (a moved week persistence widens it) and the table to be rebuilt holds the previous
    build's counts: every other workflow's item_periods rows are the previous build's, so
    their counts are too, to the last item."""
    kept_in, columns = POST_ITEM_COUNTS[grain]
    changes = load_change_set(con, run_id)
    schema, table = kept_in.split(".")
    workflows = None if changes.full or not columns <= _columns(con, schema, table) else changes.workflows
    sections = sql_sections(__file__, "post_items")
    params = {"workflows": None if workflows is None else list(workflows)}
    con.execute(sections[f"count_{grain}"], params)
    if workflows is not None:
        con.execute(sections[f"keep_{grain}"], params)
    return workflows


@table_part(
    key=VALUE_WORKFLOWS,
    group_name=VALUE_GROUP,
    kinds={"duckdb", "sql"},
    deps=[STAGING_WORKFLOWS, STAGING_WORK_ITEMS, ITEM_PERIODS, SCORECARD],
)
def value_workflows(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Every registry workflow with what the value marts need about it: its decision, primary
    result, adoption, data cutoff, post window, items per month, currency and cost rates (as
    DECIMAL). Internal: the one place where the value marts meet the scorecard's columns."""
    with step("intermediate/value_workflows"), warehouse.connect() as con:
        count_post_items(con, warehouse.run_id, "per_workflow")
        run_script(con, sql_text(__file__, "value_workflows"))
        decisions = con.execute(
            "select decision, count(*) from intermediate.value_workflows group by 1 order by 1"
        ).fetchall()
    return dg.MaterializeResult(
        metadata={"dagster/row_count": sum(n for _, n in decisions), **{f"decision_{d}": n for d, n in decisions}}
    )


@dg.asset(
    key=VALUE_CHANGES,
    group_name=VALUE_GROUP,
    kinds={"duckdb", "python", "scipy"},
    deps=[ITEM_PERIODS, WEEK_PERSISTENCE],
)
def value_changes(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The value estimator: each deployed workflow's metrics as means of closed items (cycle
    time capped at its pooled p99), over the whole post period and month by month, against
    the baseline, with week-robust log-ratio intervals. Internal: read the marts."""
    config = load_config()
    with step("intermediate/value_changes"), warehouse.connect() as con:
        changes = load_change_set(con, warehouse.run_id)
        if changes.full:
            write_table(con, "intermediate.value_changes", compute_value_changes(con, config))
        else:
            # A view, not a copy of the rows: value_weeks.sql reads them once, and a copy read
            # every column of them and wrote it again.
            with scope(con, changes.workflows, {"intermediate.item_periods": "view"}) as scoped:
                scoped.run(lambda: write_table(con, "intermediate.value_changes", compute_value_changes(con, config)))
                scoped.merge("intermediate.value_changes", order_by="workflow_id, metric, month_on nulls first")
        rows = con.execute("select count(*) from intermediate.value_changes").fetchone()[0]
    return dg.MaterializeResult(metadata={"dagster/row_count": rows})


@table_part(
    key=MONTHLY_SAVINGS,
    group_name=VALUE_GROUP,
    kinds={"duckdb", "sql"},
    deps=[VALUE_WORKFLOWS, VALUE_CHANGES, VALUE_METRICS],
    check_specs=[
        dg.AssetCheckSpec("grain", asset=MONTHLY_SAVINGS, description="One row per deployed workflow and metric.")
    ],
)
def monthly_savings(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """What each deployed workflow's change saves in an average post-period month, per metric:
    item-hours of waiting, rework cases, errors and touchpoints avoided, external spend saved;
    in money where the registry gives a rate (never an invented one); with the interval
    carried through from the change, and the items per month beside every figure."""
    metrics = len(load_config().metrics)
    with step("marts/monthly_savings"), warehouse.connect() as con:
        run_script(con, sql_text(__file__, "monthly_savings"))
        preview = con.execute(
            "select workflow_id, metric, round(items_per_month, 1), round(units_saved_per_month, 1), unit_saved, "
            "money_saved_per_month, currency from marts.monthly_savings order by 1, 2 limit 15"
        ).fetchall()
        rows, priced = con.execute(
            "select count(*), count(money_saved_per_month) from marts.monthly_savings"
        ).fetchone()
        check = grain_check(
            con,
            "marts.monthly_savings",
            ["workflow_id", "metric"],
            f"select count(*) * {metrics} from intermediate.value_workflows where deployed_on is not null",
        )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "rows_in_money": priced,
            "preview": dg.MetadataValue.md(
                markdown_table(
                    preview, ["workflow_id", "metric", "items/month", "saved/month", "unit", "money/month", "currency"]
                )
            ),
        },
        check_results=[check],
    )


@table_part(
    key=MONTHLY_VALUE,
    group_name=VALUE_GROUP,
    kinds={"duckdb", "sql"},
    deps=[MONTHLY_SAVINGS, VALUE_CHANGES, ITEM_PERIODS],
    check_specs=[
        dg.AssetCheckSpec(
            "grain",
            asset=MONTHLY_VALUE,
            description="One row per deployed workflow, metric and calendar month of the post period.",
        )
    ],
)
def monthly_value(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Month by month since go-live: each metric's value that month against the baseline, its
    interval, the month's items, and what the month saved in units and money. Shows whether
    the value grows or fades."""
    with step("marts/monthly_value"), warehouse.connect() as con:
        count_post_items(con, warehouse.run_id, "per_month")
        run_script(con, sql_text(__file__, "monthly_value"))
        rows, months = con.execute("select count(*), count(distinct month_on) from marts.monthly_value").fetchone()
        check = grain_check(con, "marts.monthly_value", ["workflow_id", "metric", "month_on"])
    return dg.MaterializeResult(metadata={"dagster/row_count": rows, "months": months}, check_results=[check])


@table_part(
    key=WORKFLOW_VALUE,
    group_name=VALUE_GROUP,
    kinds={"duckdb", "sql"},
    deps=[MONTHLY_SAVINGS, VALUE_WORKFLOWS],
    check_specs=[dg.AssetCheckSpec("grain", asset=WORKFLOW_VALUE, description="One row per registry workflow.")],
)
def workflow_value(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Per workflow: money saved per month, the tool's monthly cost (eligible users x cost per
    user), net value with its interval, and the value at stake: the tool cost spent without a
    measured return (`redesign`), or the estimated saving if adoption reached the target
    (`drive_adoption`, with its assumption in words)."""
    with step("marts/workflow_value"), warehouse.connect() as con:
        run_script(
            con,
            sql_text(__file__, "workflow_value"),
            # The one list of value decisions (metrics.yaml, through rules.py): is_value_decision.
            {"adoption_threshold": _adoption_threshold(), "value_decisions": list(rules.value_decisions())},
        )
        preview = con.execute(
            "select workflow_id, decision, money_saved_per_month, tool_cost_per_month, net_value_per_month, "
            "net_value_low, net_value_high, currency from marts.workflow_value order by 1 limit 20"
        ).fetchall()
        check = grain_check(con, "marts.workflow_value", ["workflow_id"], "select count(*) from staging.workflows")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(preview),
            "preview": dg.MetadataValue.md(
                markdown_table(
                    preview, ["workflow_id", "decision", "saved", "tool cost", "net", "net low", "net high", "currency"]
                )
            ),
        },
        check_results=[check],
    )


@table_part(
    key=PORTFOLIO_VALUE,
    group_name=VALUE_GROUP,
    kinds={"duckdb", "sql"},
    deps=[WORKFLOW_VALUE],
    check_specs=[dg.AssetCheckSpec("grain", asset=PORTFOLIO_VALUE, description="One row per currency.")],
)
def portfolio_value(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The portfolio's net monthly value from workflows with a value decision (metrics.yaml
    ``value_decisions``: scale, close_gaps, drive_adoption) and an interval, beside the tool
    cost of the workflows without value and of those not yet judged; one row per currency,
    never added across currencies."""
    with step("marts/portfolio_value"), warehouse.connect() as con:
        run_script(con, sql_text(__file__, "portfolio_value"))
        rows = con.execute(
            "select currency, value_workflows, net_value_per_month, net_value_low, net_value_high, cost_without_value_per_month "
            "from marts.portfolio_value order by 1"
        ).fetchall()
        check = grain_check(con, "marts.portfolio_value", ["currency"])
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(rows),
            "preview": dg.MetadataValue.md(
                markdown_table(rows, ["currency", "value workflows", "net/month", "low", "high", "cost without value"])
            ),
        },
        check_results=[check],
    )


@table_part(
    key=PORTFOLIO_MONTHLY_VALUE,
    group_name=VALUE_GROUP,
    kinds={"duckdb", "sql"},
    deps=[MONTHLY_VALUE, WORKFLOW_VALUE],
    check_specs=[
        dg.AssetCheckSpec(
            "grain", asset=PORTFOLIO_MONTHLY_VALUE, description="One row per currency and calendar month."
        )
    ],
)
def portfolio_monthly_value(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Month by month, per currency: the realised net value of the workflows with a value
    decision (that month's money saved less that month's tool cost) and the tool cost of every
    deployed workflow: the portfolio chart's two lines."""
    with step("marts/portfolio_monthly_value"), warehouse.connect() as con:
        run_script(con, sql_text(__file__, "portfolio_monthly_value"))
        rows = con.execute("select count(*) from marts.portfolio_monthly_value").fetchone()[0]
        check = grain_check(con, "marts.portfolio_monthly_value", ["currency", "month_on"])
    return dg.MaterializeResult(metadata={"dagster/row_count": rows}, check_results=[check])


def _connected_file(con: duckdb.DuckDBPyConnection) -> Path | None:
    path = con.execute("select path from duckdb_databases() where database_name = current_database()").fetchone()[0]
    return Path(path).resolve() if path else None


def carry_history(con: duckdb.DuckDBPyConnection, warehouse: WarehouseResource) -> int:
    """Bring the published warehouse's history into this build when the build lacks it.

    A build normally starts as a copy of the published file (pipelines/publish.py), so the
    history is already there; a build that starts empty reads it from the published file
    (read-only, which dashboards reading it do not block). Returns the rows carried over.
    """
    if "workflow_id" in _columns(con, "marts", "scorecard_history") or warehouse.is_remote():
        return 0
    published = warehouse.resolved_path()
    if not published.exists() or _connected_file(con) == published.resolve():
        return 0
    con.execute("attach ? as published_warehouse (read_only)", [str(published)])
    try:
        if not table_exists(con, "marts.scorecard_history", catalog="published_warehouse"):
            return 0
        con.execute("create schema if not exists marts")
        con.execute("create table marts.scorecard_history as select * from published_warehouse.marts.scorecard_history")
        return con.execute("select count(*) from marts.scorecard_history").fetchone()[0]
    finally:
        con.execute("detach published_warehouse")


@table_part(
    key=SCORECARD_HISTORY,
    group_name=VALUE_GROUP,
    kinds={"duckdb", "sql"},
    deps=[WORKFLOW_VALUE, VALUE_WORKFLOWS],
    check_specs=[
        dg.AssetCheckSpec("grain", asset=SCORECARD_HISTORY, description="One row per workflow per data cutoff.")
    ],
)
def scorecard_history(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Each workflow's decision, primary change and interval, adoption and net value at every
    build's data cutoff. A rebuild of the same inputs changes nothing; newer data adds a row
    per workflow. It lives in the warehouse and is carried from one published file to the
    next; a warehouse rebuilt from scratch starts it again (docs/warehouse.md)."""
    with step("marts/scorecard_history"), warehouse.connect() as con:
        carried = carry_history(con, warehouse)
        before = (
            table_exists(con, "marts.scorecard_history")
            and (con.execute("select count(*) from marts.scorecard_history").fetchone()[0])
        )
        run_script(
            con, sql_text(__file__, "scorecard_history"), {"recorded_at": datetime.now(UTC).replace(tzinfo=None)}
        )
        rows, cutoffs = con.execute(
            "select count(*), count(distinct data_cutoff_at) from marts.scorecard_history"
        ).fetchone()
        check = grain_check(con, "marts.scorecard_history", ["workflow_id", "data_cutoff_at"])
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "rows_before_this_build": int(before or 0),
            "rows_carried_from_published_file": carried,
            "distinct_cutoffs": cutoffs,
        },
        check_results=[check],
    )


VALUE_PARTS = [
    value_workflows,
    monthly_savings,
    monthly_value,
    workflow_value,
    portfolio_value,
    portfolio_monthly_value,
    scorecard_history,
]


@grouped_step("marts__value", VALUE_PARTS)
def value_marts(warehouse: WarehouseResource) -> Iterator[dg.MaterializeResult]:
    """The value marts, from the decisions and the value changes: what each workflow's change
    saves per month and month by month, its net value, the portfolio's, and the history of
    every workflow's decision across builds. One step: each table takes milliseconds to
    build, far less than Dagster's cost of a step of its own."""
    yield from build_parts(warehouse, VALUE_PARTS)


defs = dg.Definitions(assets=[value_changes, value_marts])
