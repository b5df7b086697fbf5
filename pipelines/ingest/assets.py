"""Dagster assets that load each input source into staging, with quarantine and checks."""

from datetime import UTC, datetime

import dagster as dg

from pipelines.asset_helpers import markdown_table
from pipelines.ingest.load import SourceSummary, load_source
from pipelines.ingest.sources import FEEDBACK, USAGE, WORK_ITEMS, WORKFLOW_STAGES, WORKFLOWS, SourceSpec
from pipelines.progress import step
from pipelines.resources import InputFolderResource, WarehouseResource

INGEST_GROUP = "ingest"
PREVIEW_ROWS = 5


def _check_specs(asset_key: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            "rows_reconcile",
            asset=asset_key,
            description="Rows read = staged + quarantined + de-duplicated + superseded, for every file.",
        ),
        dg.AssetCheckSpec(
            "no_quarantined_rows",
            asset=asset_key,
            description="Every row of every file passed the data contract (warns otherwise).",
        ),
        dg.AssetCheckSpec(
            "no_rejected_files",
            asset=asset_key,
            description="Every file could be read as a table of this source (warns otherwise).",
        ),
    ]


def _materialize(
    context: dg.AssetExecutionContext,
    spec: SourceSpec,
    warehouse: WarehouseResource,
    input_folder: InputFolderResource,
) -> dg.MaterializeResult:
    input_dir = input_folder.resolved_path()
    ingested_at = datetime.now(UTC).replace(tzinfo=None)
    with step(f"staging/{spec.name}"), warehouse.connect() as con:
        summary = load_source(con, spec, input_dir, ingested_at)
        failing = con.execute(
            """
            select source_file, row_number, rule, reason
            from quarantine.rejected_rows where source = ?
            order by source_file, row_number limit ?
            """,
            [spec.name, PREVIEW_ROWS],
        ).fetchall()
        preview = con.execute(f"select * from staging.{spec.name} limit {PREVIEW_ROWS}").fetchall()
        preview_columns = [c[0] for c in con.description]
    context.log.info(_summary_line(summary))
    return dg.MaterializeResult(
        metadata={
            "input_dir": dg.MetadataValue.path(str(input_dir)),
            "files_seen": summary.files_seen,
            "files_read": summary.files_read,
            "files_unchanged": summary.files_reused,
            "files_rejected": summary.files_rejected,
            "rows_read": summary.rows_read,
            "rows_staged": summary.rows_staged,
            "rows_quarantined": summary.rows_quarantined,
            "rows_deduplicated": summary.rows_deduplicated,
            "rows_superseded": summary.rows_superseded,
            "dagster/row_count": summary.rows_staged,
            "extra_columns_ignored": dg.MetadataValue.json(summary.extra_columns),
            "entries_skipped": dg.MetadataValue.json(summary.skipped_entries),
            "preview": dg.MetadataValue.md(markdown_table(preview, preview_columns)),
        },
        check_results=_check_results(summary, failing),
    )


def _summary_line(summary: SourceSummary) -> str:
    return (
        f"{summary.source}: {summary.files_seen} files ({summary.files_read} read, {summary.files_reused} unchanged, "
        f"{summary.files_rejected} rejected); {summary.rows_read:,} rows read = {summary.rows_staged:,} staged + "
        f"{summary.rows_quarantined:,} quarantined + {summary.rows_deduplicated:,} de-duplicated + "
        f"{summary.rows_superseded:,} superseded"
    )


def _check_results(summary: SourceSummary, failing: list[tuple]) -> list[dg.AssetCheckResult]:
    counts = {
        "rows_read": summary.rows_read,
        "rows_staged": summary.rows_staged,
        "rows_quarantined": summary.rows_quarantined,
        "rows_deduplicated": summary.rows_deduplicated,
        "rows_superseded": summary.rows_superseded,
    }
    return [
        dg.AssetCheckResult(
            check_name="rows_reconcile",
            passed=summary.reconciles,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={**counts, "equation": _summary_line(summary)},
        ),
        dg.AssetCheckResult(
            check_name="no_quarantined_rows",
            passed=summary.rows_quarantined == 0,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "rows_quarantined": summary.rows_quarantined,
                "first_failing_rows": dg.MetadataValue.md(
                    markdown_table(failing, ["source_file", "row_number", "rule", "reason"])
                ),
            },
        ),
        dg.AssetCheckResult(
            check_name="no_rejected_files",
            passed=summary.files_rejected == 0,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "files_rejected": summary.files_rejected,
                "rejected_files": dg.MetadataValue.json(summary.rejected_files),
                "entries_skipped": dg.MetadataValue.json(summary.skipped_entries),
            },
        ),
    ]


STAGING_WORKFLOWS = dg.AssetKey(["staging", "workflows"])
STAGING_WORK_ITEMS = dg.AssetKey(["staging", "work_items"])
STAGING_USAGE = dg.AssetKey(["staging", "usage"])
STAGING_WORKFLOW_STAGES = dg.AssetKey(["staging", "workflow_stages"])
STAGING_FEEDBACK = dg.AssetKey(["staging", "feedback"])


def _source_asset(spec: SourceSpec, key: dg.AssetKey, deps: list[dg.AssetKey], description: str) -> dg.AssetsDefinition:
    """The staging asset of one source: load, validate, quarantine, and check the counts."""

    @dg.asset(
        key=key,
        group_name=INGEST_GROUP,
        kinds={"duckdb", "polars", "pandera"},
        deps=deps,
        check_specs=_check_specs(key),
        description=description,
    )
    def _asset(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, input_folder: InputFolderResource
    ) -> dg.MaterializeResult:
        return _materialize(context, spec, warehouse, input_folder)

    return _asset


staging_workflows = _source_asset(
    WORKFLOWS,
    STAGING_WORKFLOWS,
    [],
    "The workflow registry, validated: one row per workflow with its owner, stage, go-live "
    "date, eligible users, controls, support path and success target. Invalid rows go to "
    "quarantine.rejected_rows with a reason; a conflicting duplicate workflow_id quarantines "
    "both versions.",
)
staging_work_items = _source_asset(
    WORK_ITEMS,
    STAGING_WORK_ITEMS,
    [STAGING_WORKFLOWS],
    "Work items, validated: one row per (workflow_id, item_id), the latest file's version. "
    "Files are read incrementally (an unchanged file is not parsed again); rows with an "
    "unknown workflow, a broken rule or a conflicting duplicate go to quarantine.",
)
staging_usage = _source_asset(
    USAGE,
    STAGING_USAGE,
    [STAGING_WORKFLOWS],
    "AI usage, validated: one row per user, day and workflow. It measures adoption only; "
    "whether the work improved comes from work items, never from usage.",
)

staging_workflow_stages = _source_asset(
    WORKFLOW_STAGES,
    STAGING_WORKFLOW_STAGES,
    [STAGING_WORKFLOWS],
    "Stage history, validated: one row per (workflow_id, stage, entered_on), the date a "
    "workflow entered a lifecycle stage and who decided. Optional: without it the funnel "
    "falls back to the registry's current stage and says time in stage is unknown.",
)
staging_feedback = _source_asset(
    FEEDBACK,
    STAGING_FEEDBACK,
    [STAGING_WORKFLOWS],
    "Feedback about each workflow's AI, validated: one row per (workflow_id, feedback_id), "
    "the latest file's status. Optional: without it no feedback loop can be active.",
)


defs = dg.Definitions(
    assets=[staging_workflows, staging_work_items, staging_usage, staging_workflow_stages, staging_feedback]
)
