"""The run history tables of every published build: `ops.pipeline_runs` and `ops.run_source_counts`.

The publishing step (`monitoring/published_warehouse`, through `WarehouseResource.publish`)
calls `write_run_history` on the build just before it is swapped in, so every published
warehouse carries the runs log (this run included) and each run's per-source counts.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.publish import read_run_log
from pipelines.sqlfiles import run_script, sql_text


def _workflow_list(value: object) -> list[str] | None:
    """A run log's `recomputed_workflows` as a list of ids; anything else (an older line, a
    hand-edited log) as null rather than a failed publish."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def write_run_history(build_path: Path, published: Path, this_run: dict) -> None:
    """Write the run history (this run included) and this run's per-source counts into the build."""
    runs = [run for run in read_run_log(published) if run.get("run_id") != this_run["run_id"]] + [this_run]
    con = duckdb.connect(str(build_path))
    try:
        run_script(con, sql_text(__file__, "create_tables"))
        if runs:
            con.executemany(
                "insert into ops.pipeline_runs values (?, ?, ?, ?, ?, ?)",
                [
                    [
                        r.get("run_id"),
                        r.get("started_at"),
                        r.get("ended_at"),
                        r.get("status"),
                        r.get("message"),
                        _workflow_list(r.get("recomputed_workflows")),
                    ]
                    for r in runs
                ],
            )
        has_manifest = con.execute(
            "select count(*) from information_schema.tables where table_schema = 'ops' and table_name = 'ingested_files'"
        ).fetchone()[0]
        if has_manifest:
            run_script(con, sql_text(__file__, "run_source_counts"), {"run_id": this_run["run_id"]})
    finally:
        con.close()
