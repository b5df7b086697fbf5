"""Dagster assets for governance: stage history and feedback in staging, then the funnel,
exception rates, feedback loops, frozen baselines and the ready-to-scale gate."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime

import dagster as dg
import polars as pl

from pipelines.asset_helpers import build_parts, grain_check, grouped_step, markdown_table, table_part, write_table
from pipelines.changes import load_change_set, scope
from pipelines.governance.config import load_settings
from pipelines.governance.rates import guardrails, monthly_rates, stage_durations
from pipelines.ingest.assets import STAGING_FEEDBACK, STAGING_WORK_ITEMS, STAGING_WORKFLOW_STAGES, STAGING_WORKFLOWS
from pipelines.metrics.assets import ITEM_PERIODS, VALUE_METRICS, WEEK_PERSISTENCE
from pipelines.metrics.config import load_config
from pipelines.metrics.value_metrics import WEEK_ORIGIN, build_rho
from pipelines.progress import step
from pipelines.resources import WarehouseResource
from pipelines.sqlfiles import run_script, sql_text, table_exists
from schemas.workflows import FUNNEL, STAGES

GOVERNANCE_GROUP = "governance"  # folder name = Dagster group name; the key prefix says the layer
AS_OF = dg.AssetKey(["intermediate", "governance_as_of"])
STAGE_SPELLS = dg.AssetKey(["intermediate", "stage_spells"])
STAGE_FUNNEL = dg.AssetKey(["marts", "stage_funnel"])
STAGE_FUNNEL_QUARTERLY = dg.AssetKey(["marts", "stage_funnel_quarterly"])
STALLED = dg.AssetKey(["marts", "stalled_workflows"])
EXCEPTION_RATES = dg.AssetKey(["marts", "exception_rates"])
EXCEPTION_GUARDRAILS = dg.AssetKey(["marts", "exception_guardrails"])
FEEDBACK_LOOPS = dg.AssetKey(["marts", "feedback_loops"])
FROZEN_BASELINES = dg.AssetKey(["marts", "frozen_baselines"])
BASELINE_COMPARISON = dg.AssetKey(["marts", "baseline_comparison"])
READINESS = dg.AssetKey(["marts", "readiness"])
PREVIEW_ROWS = 12


def _grain(con, table: str, grain: list[str], expected_sql: str | None = None) -> dg.AssetCheckResult:
    return grain_check(con, table, grain, expected_sql)


def _grain_spec(key: dg.AssetKey, description: str) -> list[dg.AssetCheckSpec]:
    return [dg.AssetCheckSpec("grain", asset=key, description=description)]


def _preview(con, sql: str) -> dg.MetadataValue:
    rows = con.execute(sql).fetchall()
    return dg.MetadataValue.md(markdown_table(rows[:PREVIEW_ROWS], [c[0] for c in con.description]))


@table_part(key=AS_OF, group_name=GOVERNANCE_GROUP, kinds={"duckdb", "sql"}, deps=[STAGING_WORK_ITEMS])
def governance_as_of(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The date every governance judgement is made at: the data cutoff (newest work item's
    opening date), so the same inputs give the same gate; today only when there are no items."""
    with step("intermediate/governance_as_of"), warehouse.connect() as con:
        run_script(con, sql_text(__file__, "governance_as_of"), {"built_at": datetime.now(UTC).replace(tzinfo=None)})
        as_of_on, basis = con.execute("select as_of_on, as_of_basis from intermediate.governance_as_of").fetchone()
    return dg.MaterializeResult(metadata={"as_of_on": str(as_of_on), "as_of_basis": basis})


def _write_stage_order(con) -> None:
    """intermediate.stage_order: the registry's stages (schemas.workflows.STAGES, the one list) in
    lifecycle order, each with the funnel stage that follows it; read by the stage SQL."""
    rows = [
        (stage, rank, FUNNEL[FUNNEL.index(stage) + 1] if stage in FUNNEL[:-1] else None)
        for rank, stage in enumerate(STAGES, start=1)
    ]
    con.execute("create schema if not exists intermediate")
    con.execute(
        "create or replace table intermediate.stage_order (stage varchar, stage_rank integer, next_funnel_stage varchar)"
    )
    con.executemany("insert into intermediate.stage_order values (?, ?, ?)", rows)


@table_part(
    key=STAGE_SPELLS,
    group_name=GOVERNANCE_GROUP,
    kinds={"duckdb", "sql"},
    deps=[AS_OF, STAGING_WORKFLOWS, STAGING_WORKFLOW_STAGES],
)
def stage_spells(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Every stay of every workflow in a stage: entered, left (the next entry), days there
    (censored at the cutoff if still there). A workflow without stage history gets one stay
    from the registry's current stage with unknown dates. Internal: used by the funnel marts."""
    with step("intermediate/stage_spells"), warehouse.connect() as con:
        _write_stage_order(con)
        run_script(con, sql_text(__file__, "stage_spells"))
        bases = con.execute(
            "select basis, count(distinct workflow_id) from intermediate.stage_spells group by 1"
        ).fetchall()
    return dg.MaterializeResult(metadata={f"workflows_from_{basis}": n for basis, n in bases})


@table_part(
    key=STAGE_FUNNEL,
    group_name=GOVERNANCE_GROUP,
    kinds={"duckdb", "sql", "python"},
    deps=[STAGE_SPELLS],
    check_specs=_grain_spec(STAGE_FUNNEL, "One row per lifecycle stage."),
)
def stage_funnel(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The lifecycle funnel: per stage, workflows that entered, moved on, were retired and are
    still there (these add up), the conversion to the next funnel stage, and the median days
    in the stage with workflows still there counted as censored (Kaplan-Meier)."""
    settings = load_settings()
    with step("marts/stage_funnel"), warehouse.connect() as con:
        spells = con.sql("select stage, days_in_stage, is_censored from intermediate.stage_spells").pl()
        write_table(con, "intermediate.stage_durations", stage_durations(spells, settings["confidence_level"]))
        run_script(con, sql_text(__file__, "stage_funnel"))
        check = _grain(con, "marts.stage_funnel", ["stage"], "select 4")
        preview = _preview(
            con,
            "select stage, workflows_entered, workflows_moved_on, workflows_retired, workflows_still_there, "
            "round(conversion_rate, 2) as conversion_rate, median_days_in_stage from marts.stage_funnel",
        )
    return dg.MaterializeResult(metadata={"dagster/row_count": 4, "preview": preview}, check_results=[check])


@table_part(
    key=STAGE_FUNNEL_QUARTERLY,
    group_name=GOVERNANCE_GROUP,
    kinds={"duckdb", "sql"},
    deps=[STAGE_SPELLS],
    check_specs=_grain_spec(STAGE_FUNNEL_QUARTERLY, "One row per quarter and stage."),
)
def stage_funnel_quarterly(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The funnel over time: per calendar quarter and stage, entries, workflows in the stage
    at the quarter's end, and how many had reached it and converted onward by then."""
    with step("marts/stage_funnel_quarterly"), warehouse.connect() as con:
        run_script(con, sql_text(__file__, "stage_funnel_quarterly"))
        rows = con.execute("select count(*) from marts.stage_funnel_quarterly").fetchone()[0]
        check = _grain(con, "marts.stage_funnel_quarterly", ["quarter_start_on", "stage"])
    return dg.MaterializeResult(metadata={"dagster/row_count": rows}, check_results=[check])


@table_part(
    key=STALLED,
    group_name=GOVERNANCE_GROUP,
    kinds={"duckdb", "sql"},
    deps=[STAGE_SPELLS],
    check_specs=_grain_spec(STALLED, "One row per stalled workflow."),
)
def stalled_workflows(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Workflows in pilot for longer than `stall_days` (governance.yaml) at the cutoff with
    no decision since: the pilots that are neither scaled nor stopped."""
    settings = load_settings()
    with step("marts/stalled_workflows"), warehouse.connect() as con:
        run_script(con, sql_text(__file__, "stalled_workflows"), {"stall_days": settings["stall_days"]})
        rows = con.execute("select count(*) from marts.stalled_workflows").fetchone()[0]
        check = _grain(con, "marts.stalled_workflows", ["workflow_id"])
        preview = _preview(con, "select workflow_id, pilot_entered_on, days_in_pilot from marts.stalled_workflows")
    return dg.MaterializeResult(metadata={"dagster/row_count": rows, "preview": preview}, check_results=[check])


@table_part(
    key=EXCEPTION_RATES,
    group_name=GOVERNANCE_GROUP,
    kinds={"duckdb", "sql", "python"},
    deps=[AS_OF, STAGING_WORKFLOWS, STAGING_WORK_ITEMS],
    check_specs=_grain_spec(EXCEPTION_RATES, "One row per deployed workflow and month since go-live."),
)
def exception_rates(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Exception paths in use: per deployed workflow and month since go-live, the escalation,
    override and correction rates of AI-assisted items, each with a Wilson interval."""
    settings = load_settings()

    def compute(con) -> None:
        run_script(con, sql_text(__file__, "exception_monthly_counts"))
        counts = con.sql("select * exclude (as_of_on) from intermediate.exception_monthly_counts").pl()
        write_table(con, "marts.exception_rates", monthly_rates(counts, settings["confidence_level"]))

    with step("marts/exception_rates"), warehouse.connect() as con:
        _recompute_while_cutoff_stands(
            con, warehouse.run_id, RATE_TABLES, "intermediate.exception_monthly_counts", compute
        )
        check = _grain(con, "marts.exception_rates", ["workflow_id", "month_start_on"])
        rows = con.execute("select count(*) from marts.exception_rates").fetchall()[0][0]
    return dg.MaterializeResult(metadata={"dagster/row_count": rows}, check_results=[check])


RATE_TABLES = {
    "intermediate.exception_monthly_counts": "workflow_id, month_start_on",
    "marts.exception_rates": "workflow_id, month_start_on",
}
"""The monthly exception rates' tables, each with the order a full build writes it in."""


@table_part(
    key=EXCEPTION_GUARDRAILS,
    group_name=GOVERNANCE_GROUP,
    kinds={"duckdb", "sql", "python"},
    deps=[AS_OF, STAGING_WORKFLOWS, STAGING_WORK_ITEMS, WEEK_PERSISTENCE],
    check_specs=_grain_spec(EXCEPTION_GUARDRAILS, "One row per deployed workflow."),
)
def exception_guardrails(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The exception guardrail per deployed workflow: whether the override or correction rate
    of assisted items rose from the first `guardrail_window_days` after go-live to the last
    ones: a week-robust interval of the relative change (the build's week persistence), each
    rate at half the error rate (two rates, one guardrail), wholly above 0 and a rise of at
    least `min_meaningful_pct`. A rise is a guardrail, like a worsened error rate:
    `has_exception_guardrail` feeds the workflow's decision."""
    settings = load_settings()
    config = load_config()

    def compute(con) -> None:
        run_script(
            con, sql_text(__file__, "exception_window_counts"), {"window_days": settings["guardrail_window_days"]}
        )
        windows = con.sql("select * from intermediate.exception_window_counts").pl()
        weeks = (
            con.sql("select * from intermediate.exception_window_weeks")
            .pl()
            .with_columns(((pl.col("week_start_on") - pl.lit(WEEK_ORIGIN)).dt.total_days() // 7).alias("week"))
        )
        table = guardrails(
            windows,
            weeks,
            settings["confidence_level"],
            int(settings["min_assisted_items"]),
            rho=build_rho(con, config),
            min_meaningful_pct=float(config.settings["min_meaningful_pct"]),
            min_events=int(config.settings["min_events"]),
        )
        write_table(con, "marts.exception_guardrails", table)

    with step("marts/exception_guardrails"), warehouse.connect() as con:
        _recompute_while_cutoff_stands(
            con, warehouse.run_id, GUARDRAIL_TABLES, "intermediate.exception_window_counts", compute
        )
        check = _grain(
            con,
            "marts.exception_guardrails",
            ["workflow_id"],
            "select count(*) from staging.workflows where deployed_on is not null",
        )
        rows, flagged = con.execute(
            "select count(*), coalesce(list(workflow_id order by workflow_id) filter (where has_exception_guardrail), []) "
            "from marts.exception_guardrails"
        ).fetchone()
    return dg.MaterializeResult(
        metadata={"dagster/row_count": rows, "workflows_flagged": dg.MetadataValue.json(list(flagged))},
        check_results=[check],
    )


GUARDRAIL_TABLES = {
    "intermediate.exception_window_weeks": "workflow_id, window_name, week_start_on",
    "intermediate.exception_window_counts": "workflow_id",
    "marts.exception_guardrails": "workflow_id",
}
"""The exception guardrail's tables, each with the order a full build writes it in."""


CUTOFF_SCOPE_INPUTS = {
    "staging.workflows": "rows",
    "staging.work_items": "view",
    "intermediate.governance_as_of": "all",
}
"""What an exception mart reads of a workflow: its registry row, its items, and the cutoff."""


def _recompute_while_cutoff_stands(
    con, run_id: str | None, tables: dict[str, str], kept_at: str, compute: Callable[[object], None]
) -> None:
    """Run `compute(con)`, which writes `tables`, for every workflow; or, while the governance
    cutoff stands (`_while_cutoff_stands`), for the changed workflows alone, merging their rows
    into `tables` in the order (the dict's values) a full build writes each in."""
    workflows = _while_cutoff_stands(con, run_id, tables, kept_at)
    if workflows is None:
        compute(con)
        return
    with scope(con, workflows, CUTOFF_SCOPE_INPUTS) as scoped:
        scoped.run(lambda: compute(con))
        for table, order in tables.items():
            scoped.merge(table, order_by=order)


def _while_cutoff_stands(con, run_id: str | None, tables: Iterable[str], kept_at: str) -> tuple[str, ...] | None:
    """The workflows whose rows of `tables` this run computes again; None for every one.

    For the exception marts: a workflow's rows read its registry row, its items (and, for the
    guardrail, the build's week persistence) and the governance cutoff (the newest item's date,
    shared by every workflow). So only the changed workflows are recomputed when the run's
    change set is not everything (a moved week persistence widens it) and the cutoff is the one
    the kept rows were computed at: the single `as_of_on` of `kept_at`."""
    changes = load_change_set(con, run_id)
    if changes.full or not all(table_exists(con, table) for table in tables):
        return None
    kept = con.execute(f"select distinct as_of_on from {kept_at}").fetchall()
    current = con.execute("select as_of_on from intermediate.governance_as_of").fetchall()
    return changes.workflows if len(kept) == 1 and kept == current else None


@table_part(
    key=FEEDBACK_LOOPS,
    group_name=GOVERNANCE_GROUP,
    kinds={"duckdb", "sql"},
    deps=[AS_OF, STAGING_WORKFLOWS, STAGING_FEEDBACK, ITEM_PERIODS],  # item counts: intermediate.workflow_cutoffs
    check_specs=_grain_spec(FEEDBACK_LOOPS, "One row per registry workflow."),
)
def feedback_loops(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Feedback loop health per workflow: raised, incorporated, declined and open feedback,
    the share incorporated, median days to incorporate, the open backlog and its oldest item,
    feedback per 100 items, and whether the loop is active (raised and resolved recently)."""
    settings = load_settings()
    with step("marts/feedback_loops"), warehouse.connect() as con:
        run_script(con, sql_text(__file__, "feedback_loops"), {"active_days": settings["feedback_active_days"]})
        active = con.execute(
            "select count(*) filter (where is_loop_active), count(*) from marts.feedback_loops"
        ).fetchone()
        check = _grain(con, "marts.feedback_loops", ["workflow_id"], "select count(*) from staging.workflows")
    return dg.MaterializeResult(
        metadata={"dagster/row_count": active[1], "active_loops": active[0]}, check_results=[check]
    )


@table_part(
    key=FROZEN_BASELINES,
    group_name=GOVERNANCE_GROUP,
    kinds={"duckdb", "sql"},
    deps=[AS_OF, VALUE_METRICS],
    check_specs=_grain_spec(FROZEN_BASELINES, "One row per workflow, metric and freeze date."),
)
def frozen_baselines(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Baselines frozen at the registry's `baseline_frozen_on`: recorded once, by the first
    build whose cutoff reaches that date, and never rewritten, so items added or corrected
    later cannot silently move the yardstick. The table persists from build to build."""
    with step("marts/frozen_baselines"), warehouse.connect() as con:
        before = _table_rows(con, "marts.frozen_baselines")
        run_script(con, sql_text(__file__, "frozen_baselines"))
        after = con.execute("select count(*) from marts.frozen_baselines").fetchone()[0]
        check = _grain(con, "marts.frozen_baselines", ["workflow_id", "metric", "baseline_frozen_on"])
    return dg.MaterializeResult(
        metadata={"dagster/row_count": after, "recorded_this_build": after - before}, check_results=[check]
    )


@table_part(
    key=BASELINE_COMPARISON,
    group_name=GOVERNANCE_GROUP,
    kinds={"duckdb", "sql"},
    deps=[FROZEN_BASELINES, STAGING_WORKFLOWS],
    check_specs=_grain_spec(BASELINE_COMPARISON, "One row per workflow and metric with a frozen baseline in force."),
)
def baseline_comparison(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The post value against the frozen baseline beside the live baseline, per workflow and
    metric with a freeze in force, and whether the live baseline has moved since the freeze."""
    with step("marts/baseline_comparison"), warehouse.connect() as con:
        run_script(con, sql_text(__file__, "baseline_comparison"))
        rows, moved = con.execute(
            "select count(*), count(*) filter (where has_baseline_moved) from marts.baseline_comparison"
        ).fetchone()
        check = _grain(con, "marts.baseline_comparison", ["workflow_id", "metric"])
    return dg.MaterializeResult(metadata={"dagster/row_count": rows, "baselines_moved": moved}, check_results=[check])


@table_part(
    key=READINESS,
    group_name=GOVERNANCE_GROUP,
    kinds={"duckdb", "sql"},
    deps=[AS_OF, STAGING_WORKFLOWS, ITEM_PERIODS, VALUE_METRICS, FEEDBACK_LOOPS],  # item facts: workflow_cutoffs
    check_specs=_grain_spec(READINESS, "One row per registry workflow."),
)
def readiness(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The ready-to-scale gate: one row per workflow with each requirement (owner, eligible
    users, scoped data, a review point not overdue, controls, support path, exception path
    with escalations logged, an active feedback loop, a target set before go-live, fresh
    data, value measured) as a pass/fail column with a reason. `ready` is all of them."""
    settings = load_settings()
    with step("marts/readiness"), warehouse.connect() as con:
        run_script(con, sql_text(__file__, "readiness"), {"fresh_data_days": settings["fresh_data_days"]})
        ready, total = con.execute("select count(*) filter (where ready), count(*) from marts.readiness").fetchone()
        check = _grain(con, "marts.readiness", ["workflow_id"], "select count(*) from staging.workflows")
        preview = _preview(con, "select workflow_id, requirements_passed, ready, missing from marts.readiness")
    return dg.MaterializeResult(
        metadata={"dagster/row_count": total, "ready": ready, "preview": preview}, check_results=[check]
    )


def _table_rows(con, table: str) -> int:
    return con.execute(f"select count(*) from {table}").fetchone()[0] if table_exists(con, table) else 0


HISTORY_PARTS = [
    governance_as_of,
    stage_spells,
    stage_funnel,
    stage_funnel_quarterly,
    stalled_workflows,
    exception_rates,
    feedback_loops,
]


@grouped_step("marts__governance", HISTORY_PARTS)
def governance_history(warehouse: WarehouseResource) -> Iterator[dg.MaterializeResult]:
    """The governance marts read from staging (feedback loops also from each workflow's item
    counts in intermediate.workflow_cutoffs): the data cutoff every judgement is made at, the
    stays in each stage, the stage funnel (overall and by quarter), stalled pilots, monthly
    exception rates and feedback loops. One step: each table takes milliseconds to
    build, far less than Dagster's cost of a step of its own."""
    yield from build_parts(warehouse, HISTORY_PARTS)


GATE_PARTS = [exception_guardrails, frozen_baselines, baseline_comparison, readiness]


@grouped_step("marts__governance_gate", GATE_PARTS)
def governance_gate(warehouse: WarehouseResource) -> Iterator[dg.MaterializeResult]:
    """The governance marts that read the measurement: the exception guardrails (at the
    build's week persistence), the frozen baselines and their comparison with the live ones,
    and the ready-to-scale gate. One step, as for marts__governance."""
    yield from build_parts(warehouse, GATE_PARTS)


defs = dg.Definitions(assets=[governance_history, governance_gate])
