"""Production behaviour: incremental runs, readers during a build, kill -9, the sensor."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import polars as pl
import pytest

from pipelines.automation import input_files_changed
from pipelines.publish import BuildLocked, lock_path, runs_log_path
from pipelines.resources import InputFolderResource
from tests.conftest import build_warehouse

ROOT = Path(__file__).parents[1]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_items(path: Path, n: int, seed: int = 0, workflow: str = "wf_a") -> Path:
    """A valid work-item file of n rows around wf_a's deployment (2026-03-01)."""
    rng = np.random.default_rng(seed)
    start = datetime(2025, 12, 1)
    opened = [start + timedelta(minutes=int(m)) for m in rng.integers(0, 200 * 24 * 60, n)]
    frame = pl.DataFrame(
        {
            "item_id": [f"{path.stem}-{i}" for i in range(n)],
            "workflow_id": [workflow] * n,
            "opened_at": opened,
            "closed_at": [o + timedelta(hours=float(h)) for o, h in zip(opened, rng.lognormal(3, 0.5, n))],
            "rework_count": rng.integers(0, 2, n),
            "touchpoints": rng.integers(1, 6, n),
            "had_error": rng.random(n) < 0.1,
            "external_spend": np.round(rng.exponential(20, n), 2),
            "ai_assisted": rng.random(n) < 0.5,
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_csv(path)
    return path


def staged_counts(warehouse: Path) -> dict[str, int]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return dict(con.execute("select source_file, count(*) from staging.work_items group by 1").fetchall())
    finally:
        con.close()


def test_new_changed_and_removed_files_each_leave_the_expected_warehouse(tiny_inputs, tmp_path):
    warehouse = tmp_path / "w.duckdb"
    build_warehouse(tiny_inputs, warehouse)
    before = staged_counts(warehouse)

    new_file = write_items(tiny_inputs / "work_items" / "items_2026_03.csv", 50)
    build_warehouse(tiny_inputs, warehouse)
    assert staged_counts(warehouse) == {**before, "work_items/items_2026_03.csv": 50}

    write_items(new_file, 20, seed=1)  # the same file, corrected: it replaces its own rows
    build_warehouse(tiny_inputs, warehouse)
    assert staged_counts(warehouse) == {**before, "work_items/items_2026_03.csv": 20}

    new_file.unlink()
    build_warehouse(tiny_inputs, warehouse)
    assert staged_counts(warehouse) == before
    con = duckdb.connect(str(warehouse), read_only=True)
    manifest = {row[0] for row in con.execute("select source_file from ops.ingested_files").fetchall()}
    assert "work_items/items_2026_03.csv" not in manifest


def test_an_unchanged_folder_parses_no_file_again(tiny_inputs, tmp_path):
    warehouse = tmp_path / "w.duckdb"
    build_warehouse(tiny_inputs, warehouse)
    con = duckdb.connect(str(warehouse), read_only=True)
    first = con.execute("select source_file, ingested_at from ops.ingested_files order by 1").fetchall()
    con.close()
    build_warehouse(tiny_inputs, warehouse)
    con = duckdb.connect(str(warehouse), read_only=True)
    assert con.execute("select source_file, ingested_at from ops.ingested_files order by 1").fetchall() == first
    assert con.execute("select count(*) from ops.pipeline_runs where status = 'success'").fetchone()[0] == 2


def _cli(input_dir: Path, warehouse: Path) -> subprocess.Popen:
    env = {**os.environ, "OPVALUE_INPUT_DIR": str(input_dir), "OPVALUE_WAREHOUSE": str(warehouse)}
    env.pop("DAGSTER_HOME", None)
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "build"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


READER = r"""
import sys, time, duckdb
path, stop_file = sys.argv[1], sys.argv[2]
import os
errors, checks = 0, 0
held = duckdb.connect(path, read_only=True)
while not os.path.exists(stop_file):
    try:
        for con in (held, duckdb.connect(path, read_only=True)):
            staged, manifest = con.execute(
                "select (select count(*) from staging.work_items),"
                " (select sum(rows_staged) from ops.ingested_files where source = 'work_items')"
            ).fetchone()
            workflows = con.execute("select count(*) from marts.workflow_scorecard").fetchone()[0]
            # A complete build: staging agrees with its manifest and every mart is there.
            if staged != manifest or workflows == 0:
                errors += 1
            checks += 1
            if con is not held:
                con.close()
    except Exception as error:
        print("ERROR", repr(error), flush=True)
        errors += 1
    time.sleep(0.01)
print("RESULT", checks, errors, flush=True)
"""


def test_a_reader_holding_the_warehouse_never_blocks_or_sees_half_a_build(tiny_inputs, tmp_path):
    warehouse = tmp_path / "w.duckdb"
    write_items(tiny_inputs / "work_items" / "items_2026_03.csv", 20_000)
    build_warehouse(tiny_inputs, warehouse)
    stop = tmp_path / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(warehouse), str(stop)], stdout=subprocess.PIPE, text=True
    )
    try:
        time.sleep(0.5)
        write_items(tiny_inputs / "work_items" / "items_2026_04.csv", 20_000, seed=2)
        run = _cli(tiny_inputs, warehouse)
        output, _ = run.communicate(timeout=240)
        assert run.returncode == 0, output
    finally:
        stop.touch()
        out, _ = reader.communicate(timeout=60)
    result = [line for line in out.splitlines() if line.startswith("RESULT")]
    assert result, out
    _, checks, errors = result[0].split()
    assert int(checks) > 10 and int(errors) == 0, out
    assert staged_counts(warehouse)["work_items/items_2026_04.csv"] == 20_000


@pytest.mark.parametrize("delay", [0.0, 0.4, 1.5])
def test_kill_9_during_a_build_leaves_the_published_warehouse_as_it_was(tiny_inputs, tmp_path, delay):
    warehouse = tmp_path / "w.duckdb"
    build_warehouse(tiny_inputs, warehouse)
    published = digest(warehouse)
    for month in range(3, 7):
        write_items(tiny_inputs / "work_items" / f"items_2026_{month:02d}.csv", 40_000, seed=month)

    run = _cli(tiny_inputs, warehouse)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".w.duckdb.*.building")) and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(delay)
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=30)
    assert digest(warehouse) == published

    rerun = _cli(tiny_inputs, warehouse)
    output, _ = rerun.communicate(timeout=240)
    assert rerun.returncode == 0, output
    assert not list(tmp_path.glob("*.building*")), "build files were left behind"
    assert sum(staged_counts(warehouse).values()) > 160_000


def test_a_second_concurrent_build_is_refused_not_interleaved(tiny_inputs, tmp_path):
    import fcntl

    warehouse = tmp_path / "w.duckdb"
    build_warehouse(tiny_inputs, warehouse)
    with lock_path(warehouse).open("a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        with pytest.raises(Exception) as raised:
            build_warehouse(tiny_inputs, warehouse)
        fcntl.flock(handle, fcntl.LOCK_UN)
    chain, error = [], raised.value
    while error is not None:
        chain.append(error)
        error = error.__cause__ or error.__context__
    assert any(isinstance(e, BuildLocked) for e in chain) or "another build" in str(raised.value)


def test_a_failed_run_is_recorded_names_the_file_and_publishes_nothing(tiny_inputs, tmp_path, monkeypatch):
    import pipelines.ingest.load as load
    from pipelines.definitions import defs
    from pipelines.resources import WarehouseResource

    warehouse = tmp_path / "w.duckdb"
    build_warehouse(tiny_inputs, warehouse)
    published = digest(warehouse)
    write_items(tiny_inputs / "work_items" / "items_2026_05.csv", 10)
    real_read = load.read_raw_file

    def failing_read(path, spec, input_dir, sha256=None):
        if path.name == "items_2026_05.csv":
            raise OSError("Input/output error")
        return real_read(path, spec, input_dir, sha256=sha256)

    monkeypatch.setattr(load, "read_raw_file", failing_read)
    result = dg.materialize(
        list(defs.assets),
        resources={
            "warehouse": WarehouseResource(path=str(warehouse)),
            "input_folder": InputFolderResource(path=str(tiny_inputs)),
        },
        raise_on_error=False,
    )
    assert not result.success
    assert digest(warehouse) == published
    assert not list(tmp_path.glob("*.building*"))
    last_run = runs_log_path(warehouse).read_text().splitlines()[-1]
    assert '"status": "failed"' in last_run
    assert "work_items: work_items/items_2026_05.csv: OSError: Input/output error" in last_run


def test_make_pipeline_exits_non_zero_and_names_the_failed_step(tiny_inputs, tmp_path, monkeypatch):
    warehouse = tmp_path / "w.duckdb"
    monkeypatch.setenv("OPVALUE_FRESHNESS_USAGE_HOURS", "two days")
    run = _cli(tiny_inputs, warehouse)
    output, _ = run.communicate(timeout=240)
    assert run.returncode == 1
    assert "FAILED monitoring__source_freshness" in output and "two days" in output
    assert not warehouse.exists()


def test_the_sensor_requests_a_run_for_new_or_changed_files_and_keeps_its_cursor(tiny_inputs):
    resources = {"input_folder": InputFolderResource(path=str(tiny_inputs))}
    with dg.instance_for_test() as instance:
        first = input_files_changed(dg.build_sensor_context(instance=instance, resources=resources))
        assert len(first.run_requests) == 1 and first.cursor

        unchanged = input_files_changed(
            dg.build_sensor_context(instance=instance, cursor=first.cursor, resources=resources)
        )
        assert not unchanged.run_requests and unchanged.cursor == first.cursor

        write_items(tiny_inputs / "work_items" / "items_2026_06.csv", 5)
        added = input_files_changed(
            dg.build_sensor_context(instance=instance, cursor=first.cursor, resources=resources)
        )
        assert len(added.run_requests) == 1 and added.cursor != first.cursor
        assert added.run_requests[0].run_key == added.cursor

        time.sleep(0.01)
        write_items(tiny_inputs / "work_items" / "items_2026_06.csv", 6)
        changed = input_files_changed(
            dg.build_sensor_context(instance=instance, cursor=added.cursor, resources=resources)
        )
        assert len(changed.run_requests) == 1 and changed.cursor != added.cursor


def test_the_sensor_sees_a_mapping_only_edit_and_a_link_the_build_would_reject(tiny_inputs, tmp_path):
    resources = {"input_folder": InputFolderResource(path=str(tiny_inputs))}
    mapping = tiny_inputs / "connectors" / "log.yaml"
    mapping.parent.mkdir()
    mapping.write_text("connector: event_log\nfile: log.xes\nworkflow: {id: wf_a}\n")
    with dg.instance_for_test() as instance:
        first = input_files_changed(dg.build_sensor_context(instance=instance, resources=resources))

        time.sleep(0.01)
        mapping.write_text("connector: event_log\nfile: log.xes\nworkflow: {id: wf_b}\n")
        edited = input_files_changed(
            dg.build_sensor_context(instance=instance, cursor=first.cursor, resources=resources)
        )
        assert len(edited.run_requests) == 1 and edited.cursor != first.cursor

        outside = tmp_path / "outside.csv"
        outside.write_text("item_id\n")
        (tiny_inputs / "work_items" / "linked.csv").symlink_to(outside)
        linked = input_files_changed(
            dg.build_sensor_context(instance=instance, cursor=edited.cursor, resources=resources)
        )
        assert len(linked.run_requests) == 1 and linked.cursor != edited.cursor


def test_the_daily_schedule_targets_the_build_job():
    from pipelines.automation import build_warehouse_job, daily_build

    assert daily_build.job_name == build_warehouse_job.name
    assert daily_build.cron_schedule == "0 6 * * *"
    assert daily_build.execution_timezone == "UTC"


def test_an_untouched_source_is_not_restaged_but_a_registry_change_restages_its_dependants(tiny_inputs, tmp_path):
    from datetime import datetime as dt

    from pipelines.ingest.load import load_source
    from pipelines.ingest.sources import USAGE, WORK_ITEMS, WORKFLOWS

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    for spec in (WORKFLOWS, WORK_ITEMS, USAGE):
        load_source(con, spec, tiny_inputs, dt(2026, 1, 1))
    staged_at = dict(con.execute("select source, staged_at from ops.staging_state").fetchall())

    write_items(tiny_inputs / "work_items" / "items_2026_03.csv", 7)
    for spec in (WORKFLOWS, WORK_ITEMS, USAGE):
        load_source(con, spec, tiny_inputs, dt(2026, 1, 2))
    after = dict(con.execute("select source, staged_at from ops.staging_state").fetchall())
    assert after["usage"] == staged_at["usage"] and after["workflows"] == staged_at["workflows"]
    assert after["work_items"] > staged_at["work_items"]
    assert con.execute("select count(*) from staging.work_items where source_file like '%2026_03%'").fetchone()[0] == 7

    registry = tiny_inputs / "workflows.csv"
    registry.write_text(
        registry.read_text().replace("wf_b,Invoice match", "wf_zzz,Late registration", 1).rstrip("\n")
        + "\nwf_b,Invoice match,,Finance,pilot,,,,rework_rate,,,,\n"
    )
    for spec in (WORKFLOWS, WORK_ITEMS, USAGE):
        load_source(con, spec, tiny_inputs, dt(2026, 1, 3))
    final = dict(con.execute("select source, staged_at from ops.staging_state").fetchall())
    assert final["usage"] > after["usage"] and final["work_items"] > after["work_items"]
    # The item that named an unknown workflow is staged once the registry knows it.
    assert con.execute("select count(*) from staging.work_items where workflow_id = 'wf_zzz'").fetchone()[0] == 1


def _staged_picture(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    """Everything staging decides, in an order that does not depend on how it was built."""
    return {
        "staged": con.execute("select * from staging.work_items order by all").fetchall(),
        "outcomes": con.execute("select * from ingest.work_items_outcomes order by all").fetchall(),
        "quarantine": con.execute(
            "select source, source_file, row_number, rule, reason, cast(record as varchar) "
            "from quarantine.rejected_rows order by all"
        ).fetchall(),
        "counts": con.execute(
            "select source, source_file, rows_read, rows_staged, rows_quarantined, rows_deduplicated, rows_superseded "
            "from ops.ingested_files order by all"
        ).fetchall(),
    }


def test_restaging_by_key_gives_the_warehouse_a_full_restage_gives(tiny_inputs, tmp_path):
    """Added, changed and removed files re-decide only their keys, and every outcome, count and
    quarantine row equals what deciding every row again gives on the same folder."""
    from datetime import datetime as dt

    from pipelines.ingest.load import load_source
    from pipelines.ingest.sources import USAGE, WORK_ITEMS, WORKFLOWS
    from tests.conftest import ITEMS_HEADER, write

    def load_all(con: duckdb.DuckDBPyConnection, day: int) -> None:
        for spec in (WORKFLOWS, WORK_ITEMS, USAGE):
            load_source(con, spec, tiny_inputs, dt(2026, 1, day))

    def state(con: duckdb.DuckDBPyConnection) -> tuple[str, int]:
        return con.execute(
            "select restaged, rows_restaged from ops.staging_state where source = 'work_items'"
        ).fetchall()[0]

    def matches_a_full_restage(con: duckdb.DuckDBPyConnection, step: int) -> None:
        fresh = duckdb.connect(str(tmp_path / f"fresh_{step}.duckdb"))
        load_all(fresh, 1)
        assert state(fresh)[0] == "full"
        assert _staged_picture(con) == _staged_picture(fresh)

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    load_all(con, 1)
    assert state(con)[0] == "full"
    held = con.execute("select count(*) from ingest.work_items_rows").fetchone()[0]

    # A new file: it supersedes i11, repeats a row, has a conflicting pair, names an unknown workflow.
    added = write(
        tiny_inputs / "work_items" / "items_2026_03.csv",
        f"""
        {ITEMS_HEADER}
        i11,wf_a,2026-02-01T00:00:00Z,2026-02-03T00:00:00Z,0,1,0,1e2,0
        i20,wf_a,2026-02-02T00:00:00Z,,0,1,no,0,false
        i20,wf_a,2026-02-02T00:00:00Z,,0,1,no,0,false
        i21,wf_a,2026-02-02T00:00:00Z,,0,1,no,0,false
        i21,wf_a,2026-02-02T00:00:00Z,,0,4,no,0,false
        i22,wf_nope,2026-02-02T00:00:00Z,,0,1,no,0,false
        """,
    )
    load_all(con, 2)
    restaged, rows = state(con)
    assert restaged == "by_key" and 0 < rows < held
    assert (
        con.execute(
            "select count(*) from quarantine.rejected_rows where source_file = 'work_items/items_2026_03.csv'"
        ).fetchone()[0]
        == 3
    )
    assert con.execute("select closed_at is not null from staging.work_items where item_id = 'i11'").fetchone()[0]
    matches_a_full_restage(con, 1)

    # A changed file: dropping i2's later version brings back the earlier file's open version.
    february = tiny_inputs / "work_items" / "items_2026_02.csv"
    february.write_text(
        "\n".join(line for line in february.read_text().splitlines() if not line.startswith("i2,")) + "\n"
    )
    load_all(con, 3)
    assert state(con)[0] == "by_key"
    assert (
        con.execute("select source_file from staging.work_items where item_id = 'i2'")
        .fetchone()[0]
        .endswith("items_2026_01.csv")
    )
    matches_a_full_restage(con, 2)

    # A removed file: i11's earlier version is staged again, and the removed rows leave quarantine.
    added.unlink()
    load_all(con, 4)
    assert state(con)[0] == "by_key"
    assert (
        con.execute(
            "select count(*) from quarantine.rejected_rows where source_file = 'work_items/items_2026_03.csv'"
        ).fetchone()[0]
        == 0
    )
    matches_a_full_restage(con, 3)
