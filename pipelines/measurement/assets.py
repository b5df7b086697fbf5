"""Dagster assets for the measurement layer: weekly metrics, effect views and method checks."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import duckdb

from pipelines.asset_helpers import grain_check, markdown_table, write_table
from pipelines.changes import load_change_set, scope
from pipelines.ingest.assets import STAGING_WORK_ITEMS, STAGING_WORKFLOWS
from pipelines.measurement.method_checks import CHECK_NAMES, compute_method_checks
from pipelines.measurement.views import (
    build_weekly_metrics,
    compute_effect_views,
    effect_inputs,
    two_group_results,
    weekly_results,
)
from pipelines.metrics.assets import ITEM_PERIODS, VALUE_METRICS
from pipelines.metrics.config import MetricsConfig, load_config
from pipelines.progress import step
from pipelines.resources import WarehouseResource

MEASUREMENT_GROUP = "measurement"
WEEKLY_METRICS = dg.AssetKey(["marts", "weekly_metrics"])
EFFECT_VIEWS = dg.AssetKey(["marts", "effect_views"])
METHOD_CHECKS = dg.AssetKey(["marts", "method_checks"])
VIEWS = ("before_after", "assisted_vs_unassisted", "diff_in_diff")
# The row order of a full build, kept when an incremental run merges a few workflows' rows.
EFFECT_VIEWS_ORDER = "workflow_id, metric, list_position(" + repr(list(VIEWS)) + ", view)"
METHOD_CHECKS_ORDER = "workflow_id, metric, list_position(" + repr(list(CHECK_NAMES)) + ", check_name)"
DEPLOYED_ROWS = "select count(*) * {per} from intermediate.workflow_windows"


@dg.asset(
    key=WEEKLY_METRICS,
    group_name=MEASUREMENT_GROUP,
    kinds={"duckdb", "sql"},
    deps=[ITEM_PERIODS, STAGING_WORKFLOWS, STAGING_WORK_ITEMS],
    check_specs=[
        dg.AssetCheckSpec("grain", asset=WEEKLY_METRICS, description="One row per workflow, ISO week and metric."),
        dg.AssetCheckSpec(
            "weeks_start_on_monday",
            asset=WEEKLY_METRICS,
            description="Every week_start_on is a Monday and every baseline week counts back from go-live.",
        ),
    ],
)
def weekly_metrics(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Each workflow's five metrics week by week: deployed workflows over their baseline and
    post windows (same caps as the before/after), comparison workflows (no deployment date)
    over every week with items, since the difference-in-differences compares with them. The
    weekly cycle time is the median of the week's items with open items counted at their age
    at the cutoff, left null in the weeks where that could still change it."""
    config = load_config()
    with step("marts/weekly_metrics"), warehouse.connect() as con:
        changes = load_change_set(con, warehouse.run_id)
        if changes.full:
            build_weekly_metrics(con, config)
        else:
            inputs = {
                "intermediate.workflow_windows": "rows",
                "intermediate.workflow_cutoffs": "rows",
                "intermediate.item_periods": "view",
                "staging.work_items": "view",
                "staging.workflows": "rows",
            }
            with scope(con, changes.workflows, inputs) as scoped:
                scoped.run(lambda: build_weekly_metrics(con, config))
                scoped.merge("marts.weekly_metrics", order_by="workflow_id, metric, week_start_on")
        rows, workflows, comparisons, null_values = con.execute(
            "select count(*), count(distinct workflow_id), count(distinct workflow_id) filter (where weeks_since_deployment is null), "
            "count(*) filter (where value is null) from marts.weekly_metrics"
        ).fetchall()[0]
        bad_weeks = con.execute(
            "select workflow_id, metric, week_start_on, is_post, weeks_since_deployment from marts.weekly_metrics "
            "where isodow(week_start_on) <> 1 or (weeks_since_deployment < 0 and is_post) "
            "or (weeks_since_deployment >= 0 and not is_post) limit 5"
        ).fetchall()
        grain = grain_check(con, "marts.weekly_metrics", ["workflow_id", "week_start_on", "metric"])
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "workflows": workflows,
            "comparison_workflows": comparisons,
            "null_values": null_values,
        },
        check_results=[
            grain,
            dg.AssetCheckResult(
                check_name="weeks_start_on_monday",
                passed=not bad_weeks,
                metadata={
                    "first_failing_rows": dg.MetadataValue.md(
                        markdown_table(
                            bad_weeks, ["workflow_id", "metric", "week_start_on", "is_post", "weeks_since_deployment"]
                        )
                    )
                },
            ),
        ],
    )


EFFECT_VIEWS_CHECKS = [
    dg.AssetCheckSpec("grain", asset=EFFECT_VIEWS, description="One row per deployed workflow, metric and view."),
    dg.AssetCheckSpec(
        "every_row_labelled",
        asset=EFFECT_VIEWS,
        description="Every row carries a label; every null estimate says why in it.",
    ),
]
METHOD_CHECKS_CHECKS = [
    dg.AssetCheckSpec("grain", asset=METHOD_CHECKS, description="One row per deployed workflow, metric and check."),
    dg.AssetCheckSpec(
        "statuses_known",
        asset=METHOD_CHECKS,
        description="Status is ok, warn or not_applicable and every row has a sentence.",
    ),
]


@dg.multi_asset(
    name="effect_views_and_method_checks",
    specs=[
        dg.AssetSpec(
            EFFECT_VIEWS,
            group_name=MEASUREMENT_GROUP,
            kinds={"duckdb", "python", "scipy"},
            deps=[VALUE_METRICS, WEEKLY_METRICS, ITEM_PERIODS],
            description=(
                "The same effect three ways, side by side, each labelled with what it can claim: the "
                "before/after (observational), assisted against unassisted items in the post period (an "
                "association: people choose when to use the tool), and a difference-in-differences of each "
                "deployed workflow against the comparison workflows on weekly aggregates, which removes "
                "shocks that hit every workflow at once."
            ),
        ),
        dg.AssetSpec(
            METHOD_CHECKS,
            group_name=MEASUREMENT_GROUP,
            kinds={"duckdb", "python", "scipy"},
            deps=[VALUE_METRICS, WEEKLY_METRICS, ITEM_PERIODS],
            description=(
                "The checks shown beside every headline number, one plain sentence each: a placebo "
                "go-live inside the baseline, parallel trends before go-live, a shift in the team mix "
                "(with the team-weighted estimate), open items near the cutoff, a speed gain bought with "
                'quality, a fading improvement, and too little data. A warning means "read with care", '
                'not "wrong".'
            ),
        ),
    ],
    check_specs=[*EFFECT_VIEWS_CHECKS, *METHOD_CHECKS_CHECKS],
)
def effect_views_and_method_checks(warehouse: WarehouseResource) -> Iterator[dg.MaterializeResult]:
    """Both marts in one step: they rest on the same two-group comparisons and weekly series
    (a placebo split, assisted against unassisted, the DiD and the trends), which are the
    costly part, so each is computed once per run and feeds both tables."""
    config = load_config()
    with warehouse.connect() as con:
        changes = load_change_set(con, warehouse.run_id)
        # A comparison workflow that changed moves the composite, so every deployed workflow's
        # difference-in-differences and trends: then every deployed workflow is recomputed.
        if changes.full or changes.comparison_moved:
            with step("marts/effect_views"):
                # No scope here: the two-group SQL may run on a second connection meanwhile.
                groups, weekly = effect_inputs(con, config, concurrent=True)
                write_table(con, "marts.effect_views", compute_effect_views(con, config, groups=groups, weekly=weekly))
            with step("marts/method_checks"):
                write_table(
                    con, "marts.method_checks", compute_method_checks(con, config, weekly=weekly, groups=groups)
                )
        else:
            # The changed workflows' items (a view: item_periods is stored workflow by workflow, so
            # their rows are read without the rest; 0.36 s against 0.42 s for a copy at 10M items)
            # and before/after rows; every workflow's weekly series (the comparison composite is
            # built from them, as in a full build).
            inputs = {
                "intermediate.workflow_windows": "rows",
                "intermediate.item_periods": "view",
                "marts.value_metrics": "rows",
                "marts.weekly_metrics": "all",
                "staging.workflows": "all",
            }
            with scope(con, changes.workflows, inputs) as scoped:
                with step("marts/effect_views"):
                    groups = scoped.run(lambda: two_group_results(con, config))
                    weekly = scoped.run(lambda: weekly_results(con, config))
                    scoped.run(
                        lambda: write_table(
                            con, "marts.effect_views", compute_effect_views(con, config, groups=groups, weekly=weekly)
                        )
                    )
                    scoped.merge("marts.effect_views", order_by=EFFECT_VIEWS_ORDER)
                with step("marts/method_checks"):
                    scoped.run(
                        lambda: write_table(
                            con,
                            "marts.method_checks",
                            compute_method_checks(con, config, weekly=weekly, groups=groups),
                        )
                    )
                    scoped.merge("marts.method_checks", order_by=METHOD_CHECKS_ORDER)
        views_result = _effect_views_result(con, config)
        checks_result = _method_checks_result(con, config)
    yield views_result
    yield checks_result


def _effect_views_result(con: duckdb.DuckDBPyConnection, config: MetricsConfig) -> dg.MaterializeResult:
    counts = con.execute(
        "select view, count(*), count(estimate_pct) from marts.effect_views group by 1 order by 1"
    ).fetchall()
    preview = con.execute(
        "select workflow_id, metric, view, round(estimate_pct, 1), round(ci_low_pct, 1), round(ci_high_pct, 1), label "
        "from marts.effect_views order by workflow_id, metric, view limit 15"
    ).fetchall()
    unlabelled = con.execute(
        "select workflow_id, metric, view from marts.effect_views "
        "where label is null or (estimate_pct is null and view = 'diff_in_diff' "
        "and label not like '%not estimable%' and label not like '%not identifiable%') limit 5"
    ).fetchall()
    grain = grain_check(
        con, "marts.effect_views", ["workflow_id", "metric", "view"],
        DEPLOYED_ROWS.format(per=len(config.metrics) * len(VIEWS)), asset_key=EFFECT_VIEWS,
    )  # fmt: skip
    return dg.MaterializeResult(
        asset_key=EFFECT_VIEWS,
        metadata={
            "dagster/row_count": sum(n for _, n, _ in counts),
            **{f"{view}_estimated": estimated for view, _, estimated in counts},
            "preview": dg.MetadataValue.md(
                markdown_table(
                    preview, ["workflow_id", "metric", "view", "estimate_pct", "ci_low_pct", "ci_high_pct", "label"]
                )
            ),
        },
        check_results=[
            grain,
            dg.AssetCheckResult(
                asset_key=EFFECT_VIEWS,
                check_name="every_row_labelled",
                passed=not unlabelled,
                metadata={
                    "first_failing_rows": dg.MetadataValue.md(
                        markdown_table(unlabelled, ["workflow_id", "metric", "view"])
                    )
                },
            ),
        ],
    )


def _method_checks_result(con: duckdb.DuckDBPyConnection, config: MetricsConfig) -> dg.MaterializeResult:
    counts = con.execute(
        "select check_name, status, count(*) from marts.method_checks group by 1, 2 order by 1, 2"
    ).fetchall()
    warnings = con.execute(
        "select workflow_id, metric, check_name, detail from marts.method_checks "
        "where status = 'warn' order by workflow_id, metric, check_name limit 15"
    ).fetchall()
    bad = con.execute(
        "select workflow_id, metric, check_name, status from marts.method_checks "
        "where status not in ('ok', 'warn', 'not_applicable') or detail is null or detail = '' limit 5"
    ).fetchall()
    grain = grain_check(
        con, "marts.method_checks", ["workflow_id", "metric", "check_name"],
        DEPLOYED_ROWS.format(per=len(config.metrics) * len(CHECK_NAMES)), asset_key=METHOD_CHECKS,
    )  # fmt: skip
    return dg.MaterializeResult(
        asset_key=METHOD_CHECKS,
        metadata={
            "dagster/row_count": sum(n for *_, n in counts),
            **{f"{check}_{status}": n for check, status, n in counts},
            "warnings": dg.MetadataValue.md(markdown_table(warnings, ["workflow_id", "metric", "check", "detail"])),
        },
        check_results=[
            grain,
            dg.AssetCheckResult(
                asset_key=METHOD_CHECKS,
                check_name="statuses_known",
                passed=not bad,
                metadata={
                    "first_failing_rows": dg.MetadataValue.md(
                        markdown_table(bad, ["workflow_id", "metric", "check", "status"])
                    )
                },
            ),
        ],
    )


defs = dg.Definitions(assets=[weekly_metrics, effect_views_and_method_checks])
