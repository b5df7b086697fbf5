"""The run history tables of every published build: `ops.pipeline_runs` and `ops.run_source_counts`.

The publishing step (`monitoring/published_warehouse`, through `WarehouseResource.publish`)
calls `write_run_history` on the build (on the run's connection) just before it is swapped in, so every published
warehouse carries the runs log (this run included) and each run's per-source counts.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.publish import read_run_log
from pipelines.sqlfiles import run_script, sql_text, table_exists


def _workflow_list(value: object) -> list[str] | None:
    """A run log's `recomputed_workflows` as a list of ids; anything else (an older line, a
    hand-edited log) as null rather than a failed publish."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def _text(value: object) -> str | None:
    """A runs-log value as text (datetimes as DuckDB reads them back), null kept."""
    return None if value is None else str(value)


def write_run_history(con: duckdb.DuckDBPyConnection, published: Path, this_run: dict) -> None:
    """Write the run history (this run included) and this run's per-source counts into the build
    open on `con` (the run's own connection: opening the build file again and checkpointing it
    on close cost about 0.3 s of CPU per publish at 1M items)."""
    runs = [run for run in read_run_log(published) if run.get("run_id") != this_run["run_id"]] + [this_run]
    run_script(con, sql_text(__file__, "create_tables"))
    if runs:
        # One statement for the whole log, not executemany (about 3.5 ms a row): the log
        # gains a line every run, so this grew with the warehouse's age.
        con.execute(
            """
            insert into ops.pipeline_runs
            select run_id, cast(started_at as timestamp), cast(ended_at as timestamp), status, message, workflows
            from (
                select
                    unnest(?::varchar[]) as run_id,
                    unnest(?::varchar[]) as started_at,
                    unnest(?::varchar[]) as ended_at,
                    unnest(?::varchar[]) as status,
                    unnest(?::varchar[]) as message,
                    unnest(?::varchar[][]) as workflows
            )
            """,
            [
                [_text(r.get("run_id")) for r in runs],
                [_text(r.get("started_at")) for r in runs],
                [_text(r.get("ended_at")) for r in runs],
                [_text(r.get("status")) for r in runs],
                [_text(r.get("message")) for r in runs],
                [_workflow_list(r.get("recomputed_workflows")) for r in runs],
            ],
        )
    if table_exists(con, "ops.ingested_files"):
        run_script(con, sql_text(__file__, "run_source_counts"), {"run_id": this_run["run_id"]})
