"""ops.pipeline_runs is the whole runs log, in order and typed, whatever its older lines hold."""

import json
from datetime import datetime
from pathlib import Path

import duckdb

from pipelines.monitoring.run_history import write_run_history
from pipelines.publish import runs_log_path


def test_the_runs_log_becomes_typed_rows_in_order(tmp_path: Path) -> None:
    published = tmp_path / "opvalue.duckdb"
    build = tmp_path / "build.duckdb"
    logged = [
        # An older line: no recomputed_workflows column yet.
        {"run_id": "r1", "started_at": "2026-11-01 06:00:00", "ended_at": "2026-11-01 06:01:00", "status": "success"},
        # A failed run recorded before its first step: no run id, a message.
        {"run_id": None, "started_at": "2026-11-02 06:00:00", "ended_at": None, "status": "failed", "message": "x"},
        # A hand-edited line: recomputed_workflows is not a list of ids.
        {"run_id": "r3", "started_at": "2026-11-03 06:00:00.250000", "status": "success", "recomputed_workflows": 7},
    ]
    runs_log_path(published).write_text("".join(json.dumps(line) + "\n" for line in logged))
    this_run = {
        "run_id": "r4",
        "started_at": datetime(2026, 11, 4, 6, 0, 0, 125000),
        "ended_at": datetime(2026, 11, 4, 6, 2, 0),
        "status": "success",
        "message": None,
        "recomputed_workflows": ["wf_a", "wf_b"],
    }
    con = duckdb.connect(str(build))
    try:
        write_run_history(con, published, this_run)
    finally:
        con.close()
    con = duckdb.connect(str(build), read_only=True)
    try:
        types = dict(con.execute("select column_name, column_type from (describe ops.pipeline_runs)").fetchall())
        rows = con.execute("select * from ops.pipeline_runs").fetchall()
    finally:
        con.close()
    assert types["started_at"] == types["ended_at"] == "TIMESTAMP"
    assert types["recomputed_workflows"] == "VARCHAR[]"
    assert rows == [
        ("r1", datetime(2026, 11, 1, 6, 0), datetime(2026, 11, 1, 6, 1), "success", None, None),
        (None, datetime(2026, 11, 2, 6, 0), None, "failed", "x", None),
        ("r3", datetime(2026, 11, 3, 6, 0, 0, 250000), None, "success", None, None),
        ("r4", datetime(2026, 11, 4, 6, 0, 0, 125000), datetime(2026, 11, 4, 6, 2), "success", None, ["wf_a", "wf_b"]),
    ]
