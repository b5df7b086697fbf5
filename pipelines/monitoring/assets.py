"""Monitoring assets (group `monitoring`): how fresh each source is; table `ops.source_freshness`."""

import os
from datetime import UTC, datetime

import dagster as dg

from pipelines.ingest.assets import STAGING_USAGE, STAGING_WORK_ITEMS, STAGING_WORKFLOWS
from pipelines.progress import step
from pipelines.resources import WarehouseResource
from pipelines.sqlfiles import run_script, sql_text

MONITORING_GROUP = "monitoring"  # folder name = Dagster group name; the table stays ops.source_freshness
SOURCE_FRESHNESS = dg.AssetKey(["monitoring", "source_freshness"])

# Documented in docs/operations.md; each can be overridden by an environment variable.
FRESHNESS_LIMIT_HOURS = {
    "work_items": ("OPVALUE_FRESHNESS_WORK_ITEMS_HOURS", 48.0),
    "usage": ("OPVALUE_FRESHNESS_USAGE_HOURS", 48.0),
    "workflows": ("OPVALUE_FRESHNESS_WORKFLOWS_HOURS", 24.0 * 90),
}


def freshness_limits() -> dict[str, float]:
    """Hours after which each source counts as stale, read when the asset runs."""
    return {
        source: float(os.environ.get(variable) or default)
        for source, (variable, default) in FRESHNESS_LIMIT_HOURS.items()
    }


@dg.asset(
    key=SOURCE_FRESHNESS,
    group_name=MONITORING_GROUP,
    kinds={"duckdb", "sql"},
    deps=[STAGING_WORKFLOWS, STAGING_WORK_ITEMS, STAGING_USAGE],
    check_specs=[
        dg.AssetCheckSpec(
            "sources_fresh",
            asset=SOURCE_FRESHNESS,
            description="Every source's newest record is younger than its documented limit (warns otherwise).",
        )
    ],
)
def source_freshness(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """How old each source's newest record is at this run, against its limit: work items
    and usage 48 hours, the registry 90 days since its file last changed. A stale source
    warns; it does not stop the build, because old data is still data."""
    limits = freshness_limits()
    checked_at = datetime.now(UTC).replace(tzinfo=None)
    with step("monitoring/source_freshness"), warehouse.connect() as con:
        run_script(
            con,
            sql_text(__file__, "source_freshness"),
            {
                "checked_at": checked_at,
                "work_items_limit_hours": limits["work_items"],
                "usage_limit_hours": limits["usage"],
                "workflows_limit_hours": limits["workflows"],
            },
        )
        rows = con.execute(
            "select source, newest_record_at, age_hours, limit_hours, is_stale from ops.source_freshness"
        ).fetchall()
    stale = {source: f"{age} h old (limit {limit:g} h)" for source, _, age, limit, is_stale in rows if is_stale}
    return dg.MaterializeResult(
        metadata={f"{source}_age_hours": age for source, _, age, _, _ in rows if age is not None},
        check_results=[
            dg.AssetCheckResult(
                check_name="sources_fresh",
                passed=not stale,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"stale_sources": dg.MetadataValue.json(stale)},
                description="; ".join(f"{s} is {d}" for s, d in stale.items()) or "every source is fresh",
            )
        ],
    )


defs = dg.Definitions(assets=[source_freshness])
