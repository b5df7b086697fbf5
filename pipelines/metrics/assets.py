"""Dagster assets that turn staging into the analyst-facing marts."""

from collections.abc import Iterator

import dagster as dg
import duckdb

from pipelines.asset_helpers import build_parts, grain_check, grouped_step, markdown_table, table_part, write_table
from pipelines.changes import detect_changes, load_change_set, nothing_changed, scope, widen_change_set
from pipelines.ingest.assets import STAGING_USAGE, STAGING_WORK_ITEMS, STAGING_WORKFLOWS
from pipelines.metrics.config import load_config
from pipelines.metrics.scorecard import compute_scorecard
from pipelines.metrics.value_metrics import (
    PERSISTENCE_TABLE,
    adjust_p_values,
    compute_value_metrics,
    published_rho,
    rounded_persistence,
    update_persistence,
)
from pipelines.progress import step
from pipelines.resources import WarehouseResource
from pipelines.sqlfiles import run_script, sql_text

METRICS_GROUP = "metrics"  # folder name = Dagster group name; the key prefix says the layer
ITEM_PERIODS = dg.AssetKey(["intermediate", "item_periods"])
WORKFLOW_CHANGES = dg.AssetKey(["intermediate", "workflow_changes"])
WEEK_PERSISTENCE = dg.AssetKey(["intermediate", "week_persistence"])
VALUE_METRICS = dg.AssetKey(["marts", "value_metrics"])
ADOPTION = dg.AssetKey(["marts", "adoption"])
MONTHLY_ADOPTION = dg.AssetKey(["marts", "monthly_adoption"])
SCORECARD = dg.AssetKey(["marts", "workflow_scorecard"])
# Built by pipelines/measurement/assets.py (which imports this module): the decision reads them.
EFFECT_VIEWS = dg.AssetKey(["marts", "effect_views"])
METHOD_CHECKS = dg.AssetKey(["marts", "method_checks"])


ITEM_PERIODS_SQL = ("workflow_cutoffs", "workflow_windows", "item_periods")
"""The item_periods asset's SQL files, one table each (`intermediate.<name>`), in the order they run."""


def item_periods_params(settings: dict) -> dict[str, object]:
    """The parameters of the ITEM_PERIODS_SQL files."""
    return {k: settings[k] for k in ("baseline_days", "ramp_days", "cap_quantile")}


def build_item_periods(con: duckdb.DuckDBPyConnection, settings: dict) -> None:
    """Write intermediate.workflow_cutoffs, workflow_windows and item_periods from staging."""
    for name in ITEM_PERIODS_SQL:
        run_script(con, sql_text(__file__, name), item_periods_params(settings))


@table_part(
    key=WORKFLOW_CHANGES,
    group_name=METRICS_GROUP,
    kinds={"duckdb", "python"},
    # staging.workflow_stages and staging.feedback: keys spelled out (declared in pipelines/ingest).
    deps=[
        STAGING_WORKFLOWS,
        STAGING_WORK_ITEMS,
        STAGING_USAGE,
        dg.AssetKey(["staging", "workflow_stages"]),
        dg.AssetKey(["staging", "feedback"]),
    ],
)
def workflow_changes(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Which workflows this run recomputes: those whose staged items, usage, registry row,
    stage history or feedback changed since the build it starts from (a fingerprint of every
    staged row per workflow). Everything, when the metric definitions, the settings or the
    code of the marts changed, or there is no previous build. Internal: pipelines/changes.py."""
    with step("intermediate/workflow_changes"), warehouse.connect() as con:
        changes = detect_changes(
            con, "shared catalog written in place" if warehouse.is_remote() else None, warehouse.run_id
        )
    return dg.MaterializeResult(
        metadata={
            "full_rebuild": changes.full,
            "reason": changes.reason,
            "recomputed_workflows": len(changes.workflows),
            "recomputed": changes.label(),
        }
    )


@table_part(
    key=ITEM_PERIODS,
    group_name=METRICS_GROUP,
    kinds={"duckdb", "sql"},
    deps=[STAGING_WORKFLOWS, STAGING_WORK_ITEMS, WORKFLOW_CHANGES],
)
def item_periods(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Work items placed in their workflow's baseline or post window, with every measure
    the metrics need (cycle time censored at the workflow's own cutoff for open items;
    rework, errors, touchpoints and spend of closed items only, p99-capped next to the raw
    values, blanks left blank), beside each workflow's cutoff and windows with their
    baseline coverage. Internal: analysts should use the marts."""
    settings = load_config().settings
    with step("intermediate/item_periods"), warehouse.connect() as con:
        changes = load_change_set(con, warehouse.run_id)
        if changes.full:
            build_item_periods(con, settings)
        else:
            inputs = {"staging.work_items": "view", "staging.workflows": "all"}
            with scope(con, changes.workflows, inputs) as scoped:
                scoped.run(lambda: build_item_periods(con, settings))
                for table in ITEM_PERIODS_SQL:
                    scoped.merge(f"intermediate.{table}")
        counts = con.execute(
            "select period, count(*), count(*) filter (where not is_closed) from intermediate.item_periods group by 1 order by 1"
        ).fetchall()
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": sum(c[1] for c in counts),
            **{f"{period}_items": n for period, n, _ in counts},
            **{f"{period}_open_items": open_ for period, _, open_ in counts},
        }
    )


@table_part(key=WEEK_PERSISTENCE, group_name=METRICS_GROUP, kinds={"duckdb", "python"}, deps=[ITEM_PERIODS])
def week_persistence(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The build's one autocorrelation of week shocks (rho), pooled over every workflow, metric
    and period, on the grid of `week_persistence_step`: every interval of the build uses it
    (value metrics, the three views, the value in money). Each workflow's part is kept
    (`intermediate.week_persistence_terms`) and computed again only for the workflows whose
    inputs changed. When rho moves, every workflow's intervals move with it, so the run
    recomputes every workflow from here on. Internal."""
    config = load_config()
    with step("intermediate/week_persistence"), warehouse.connect() as con:
        if nothing_changed(con, warehouse.run_id, PERSISTENCE_TABLE):  # no workflow's items moved: kept
            rho, estimate = con.execute(f"select rho, rho_estimate from {PERSISTENCE_TABLE}").fetchone()
            return dg.MaterializeResult(
                metadata={"rho": rho, "rho_estimate": estimate, "recomputes_every_workflow": False}
            )
        previous = published_rho(con)
        changes = load_change_set(con, warehouse.run_id)
        estimate = update_persistence(con, config, None if changes.full else changes.workflows)
        rho = rounded_persistence(estimate, config)
        con.execute("create schema if not exists intermediate")
        con.execute(
            f"create or replace table {PERSISTENCE_TABLE} as select ?::double as rho, ?::double as rho_estimate",
            [rho, estimate],
        )
        widened = False
        if previous is None or previous[0] != rho:
            was = "none" if previous is None else f"{previous[0]:g}"
            widened = widen_change_set(con, warehouse.run_id, f"week persistence moved from {was} to {rho:g}")
    return dg.MaterializeResult(
        metadata={"rho": rho, "rho_estimate": float(estimate), "recomputes_every_workflow": widened}
    )


@dg.asset(
    key=VALUE_METRICS,
    group_name=METRICS_GROUP,
    kinds={"duckdb", "python", "scipy"},
    deps=[ITEM_PERIODS, WEEK_PERSISTENCE],
    check_specs=[
        dg.AssetCheckSpec("grain", asset=VALUE_METRICS, description="One row per deployed workflow and metric.")
    ],
)
def value_metrics(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Before/after change per deployed workflow and metric, with honest uncertainty: the
    per-period values and intervals, the change in percent with its confidence interval,
    p-values adjusted across workflows and metrics (Benjamini-Hochberg), and a verdict that
    claims nothing on too little data. Definitions: pipelines/metrics/metrics.yaml."""
    config = load_config()
    with step("marts/value_metrics"), warehouse.connect() as con:
        changes = load_change_set(con, warehouse.run_id)
        if changes.full:
            write_table(con, "marts.value_metrics", compute_value_metrics(con, config))
        else:
            # A view: item_periods is stored workflow by workflow, so reading a workflow's rows skips
            # the rest (0.14 s against 0.23 s for a copy, one workflow of a 10M-item build).
            inputs = {"intermediate.workflow_windows": "rows", "intermediate.item_periods": "view"}
            with scope(con, changes.workflows, inputs) as scoped:
                scoped.run(lambda: write_table(con, "marts.value_metrics", compute_value_metrics(con, config)))
                scoped.merge("marts.value_metrics")
            # Benjamini-Hochberg is over every workflow's tests: adjusted again on the whole table.
            write_table(con, "marts.value_metrics", adjust_p_values(con.sql("select * from marts.value_metrics").pl()))
        verdicts = con.execute("select verdict, count(*) from marts.value_metrics group by 1 order by 1").fetchall()
        preview = con.execute(
            "select workflow_id, metric, round(change_pct, 1), round(ci_low_pct, 1), round(ci_high_pct, 1), verdict "
            "from marts.value_metrics order by workflow_id, metric limit 15"
        ).fetchall()
        check = grain_check(
            con,
            "marts.value_metrics",
            ["workflow_id", "metric"],
            f"select count(*) * {len(config.metrics)} from intermediate.workflow_windows",
        )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": sum(n for _, n in verdicts),
            **{f"verdict_{name}": n for name, n in verdicts},
            "preview": dg.MetadataValue.md(
                markdown_table(preview, ["workflow_id", "metric", "change_pct", "ci_low_pct", "ci_high_pct", "verdict"])
            ),
        },
        check_results=[check],
    )


@table_part(
    key=ADOPTION,
    group_name=METRICS_GROUP,
    kinds={"duckdb", "sql"},
    deps=[ITEM_PERIODS, STAGING_USAGE],
    check_specs=[dg.AssetCheckSpec("grain", asset=ADOPTION, description="One row per deployed workflow.")],
)
def adoption(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Adoption per deployed workflow: current adoption (users active in the last 28 days to
    the workflow's cutoff over eligible users), reach (ever active since go-live), habitual
    users, whether adoption is unknown (no usage rows or no eligible users: never 0), and the
    share of post-period items done with AI assistance. Usage, not value."""
    settings = load_config().settings
    with step("marts/adoption"), warehouse.connect() as con:
        con.execute("create schema if not exists marts")
        script = sql_text(__file__, "adoption")
        params = {k: settings[k] for k in ("adoption_window_days", "habitual_min_weeks", "min_group_size")}
        changes = load_change_set(con, warehouse.run_id)
        if changes.full:
            run_script(con, script, params)
        else:
            inputs = {
                "intermediate.workflow_windows": "rows",
                "intermediate.item_periods": "view",
                "staging.workflows": "rows",
                "staging.usage": "view",
            }
            with scope(con, changes.workflows, inputs) as scoped:
                scoped.run(lambda: (con.execute("create schema marts"), run_script(con, script, params)))
                scoped.merge("marts.adoption", order_by="workflow_id")
        rows = con.execute("select count(*) from marts.adoption").fetchone()[0]
        check = grain_check(
            con, "marts.adoption", ["workflow_id"], "select count(*) from intermediate.workflow_windows"
        )
    return dg.MaterializeResult(metadata={"dagster/row_count": rows}, check_results=[check])


@table_part(
    key=MONTHLY_ADOPTION,
    group_name=METRICS_GROUP,
    kinds={"duckdb", "sql"},
    deps=[ITEM_PERIODS, STAGING_USAGE],
    check_specs=[
        dg.AssetCheckSpec("grain", asset=MONTHLY_ADOPTION, description="One row per deployed workflow and month.")
    ],
)
def monthly_adoption(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Adoption month by month per deployed workflow, from its go-live month to its cutoff
    month: users active that month over eligible users, with marts.adoption's definitions
    (unknown, never 0; small groups suppressed). The portfolio's adoption trend. Like
    marts.adoption, recomputed only for the workflows whose inputs changed."""
    settings = load_config().settings
    with step("marts/monthly_adoption"), warehouse.connect() as con:
        con.execute("create schema if not exists marts")
        script = sql_text(__file__, "monthly_adoption")
        params = {"min_group_size": settings["min_group_size"]}
        changes = load_change_set(con, warehouse.run_id)
        if changes.full:
            run_script(con, script, params)
        else:
            inputs = {"intermediate.workflow_windows": "rows", "staging.workflows": "rows", "staging.usage": "view"}
            with scope(con, changes.workflows, inputs) as scoped:
                scoped.run(lambda: (con.execute("create schema marts"), run_script(con, script, params)))
                scoped.merge("marts.monthly_adoption", order_by="workflow_id, month_on")
        rows = con.execute("select count(*) from marts.monthly_adoption").fetchone()[0]
        check = grain_check(con, "marts.monthly_adoption", ["workflow_id", "month_on"])
    return dg.MaterializeResult(metadata={"dagster/row_count": rows}, check_results=[check])


@dg.asset(
    key=SCORECARD,
    group_name=METRICS_GROUP,
    kinds={"duckdb", "python"},
    # marts.readiness and marts.exception_guardrails come from pipelines/governance (keys spelled
    # out: governance imports this module).
    deps=[
        VALUE_METRICS,
        ADOPTION,
        EFFECT_VIEWS,
        METHOD_CHECKS,
        dg.AssetKey(["marts", "readiness"]),
        dg.AssetKey(["marts", "exception_guardrails"]),
    ],
    check_specs=[dg.AssetCheckSpec("grain", asset=SCORECARD, description="One row per registry workflow.")],
)
def workflow_scorecard(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """One row per registry workflow: its primary metric's change and verdict beside its
    adoption, the target (met / likely / not_met), the guardrails, whether the value claim is
    contested by the difference-in-differences, the placebo or the pre-trends, and the one
    decision a leader should take, with its reasons in plain words. The adoption x value
    quadrant keeps "adopted" and "valuable" apart. Rules: pipelines/metrics/rules.py."""
    config = load_config()
    with step("marts/workflow_scorecard"), warehouse.connect() as con:
        write_table(con, "marts.workflow_scorecard", compute_scorecard(con, config))
        decisions = con.execute(
            "select decision, count(*) from marts.workflow_scorecard group by 1 order by 1"
        ).fetchall()
        quadrants = con.execute(
            "select quadrant, count(*) from marts.workflow_scorecard group by 1 order by 1"
        ).fetchall()
        check = grain_check(con, "marts.workflow_scorecard", ["workflow_id"], "select count(*) from staging.workflows")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": sum(n for _, n in quadrants),
            **{f"quadrant_{q}": n for q, n in quadrants},
            **{f"decision_{d}": n for d, n in decisions},
        },
        check_results=[check],
    )


CHANGE_SET_PARTS = [workflow_changes, item_periods, week_persistence]


@grouped_step("intermediate__change_set", CHANGE_SET_PARTS)
def change_set(warehouse: WarehouseResource) -> Iterator[dg.MaterializeResult]:
    """What every mart of the run starts from: which workflows it recomputes, their items placed
    in their windows, and the build's week persistence. One step: they run one after the other
    in every build, so separate steps only added Dagster's cost of a step twice."""
    yield from build_parts(warehouse, CHANGE_SET_PARTS)


ADOPTION_PARTS = [adoption, monthly_adoption]


@grouped_step("marts__adoption", ADOPTION_PARTS)
def adoption_marts(warehouse: WarehouseResource) -> Iterator[dg.MaterializeResult]:
    """Adoption per deployed workflow, now and month by month: usage, not value. One step:
    each table takes milliseconds to build, far less than Dagster's cost of a step of its own."""
    yield from build_parts(warehouse, ADOPTION_PARTS)


defs = dg.Definitions(
    assets=[
        change_set,
        value_metrics,
        adoption_marts,
        workflow_scorecard,
    ]
)
