"""Many small files read in batches: one bad file is rejected alone, the manifest keeps one
row per file, counts reconcile, and a batch gives every file what reading it alone gives."""

from __future__ import annotations

import hashlib
import threading
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

import pipelines.ingest.load as load
from pipelines.ingest.load import FileLoadError, load_source
from pipelines.ingest.sources import WORK_ITEMS, WORKFLOWS
from tests.conftest import ITEMS_HEADER, REGISTRY_HEADER, build_warehouse, write

INGESTED_AT = datetime(2026, 11, 1)
DAYS = 40
CORRUPT = "items_day_020.csv"
NO_COLUMN = "items_day_031.csv"
BAD_ROWS = "items_day_012.csv"


@pytest.fixture(autouse=True)
def _own_pseudonym_key(own_pseudonym_key):
    """Every test reads under its own key file (tests/conftest.py)."""


@pytest.fixture
def daily_inputs(tmp_path: Path) -> Path:
    """A registry and DAYS small daily exports: one corrupt in the middle, one without a
    required column, one with a bad value and a short row, one re-exporting an earlier item."""
    root = tmp_path / "inputs"
    write(
        root / "workflows.csv",
        f"""
        {REGISTRY_HEADER}
        wf_a,Claims triage,Ann,Ops,production,2026-01-10,10,low,,-20,QA lead,#help,claims
        wf_b,Invoice match,Bo,Finance,pilot,,,low,,,,,
        """,
    )
    for day in range(1, DAYS + 1):
        lines = [ITEMS_HEADER]
        for n in range(3):
            workflow = "wf_a" if n % 2 == 0 else "wf_b"
            lines.append(
                f"d{day:03d}-{n},{workflow},2026-02-{1 + day % 27:02d}T09:00:00Z,"
                f"2026-02-{1 + day % 27:02d}T17:{n:02d}:00Z,{n % 2},{1 + n},no,{day}.25,{'true' if n else 'false'}"
            )
        (root / "work_items").mkdir(parents=True, exist_ok=True)
        (root / "work_items" / f"items_day_{day:03d}.csv").write_text("\n".join(lines) + "\n")
    # A later export of an earlier item supersedes it.
    with (root / "work_items" / "items_day_040.csv").open("a") as handle:
        handle.write("d001-0,wf_a,2026-02-02T09:00:00Z,2026-02-02T18:00:00Z,1,2,no,1.25,false\n")
    with (root / "work_items" / BAD_ROWS).open("a") as handle:
        handle.write("bad-1,wf_a,2026-02-02T09:00:00Z,,-3,2,no,0,false\n")  # rework_count out of range
        handle.write("bad-2,wf_a,2026-02-02T09:00:00Z\n")  # too few fields
    (root / "work_items" / CORRUPT).write_bytes(b"item_id,workflow_id\x00\xff\xfe garbage\n")
    (root / "work_items" / NO_COLUMN).write_text("item_id,workflow_id\nz1,wf_a\n")
    return root


def _table(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return sorted(con.execute(sql).fetchall(), key=repr)


def test_a_corrupt_file_in_a_batch_is_rejected_alone_through_the_real_build(daily_inputs, tmp_path):
    warehouse = build_warehouse(daily_inputs, tmp_path / "w.duckdb")
    con = duckdb.connect(str(warehouse), read_only=True)
    files = sorted(p.name for p in (daily_inputs / "work_items").iterdir())
    assert len(files) == DAYS

    rejected = dict(
        con.execute("select source_file, reason from quarantine.rejected_files where source = 'work_items'").fetchall()
    )
    assert set(rejected) == {f"work_items/{CORRUPT}", f"work_items/{NO_COLUMN}"}
    assert "NUL bytes" in rejected[f"work_items/{CORRUPT}"]
    assert "missing required column" in rejected[f"work_items/{NO_COLUMN}"]

    # The corrupt file's neighbours in the same batch are staged, every one of their items.
    staged = dict(con.execute("select source_file, count(*) from staging.work_items group by source_file").fetchall())
    for neighbour in ("items_day_019.csv", "items_day_021.csv", "items_day_030.csv", "items_day_032.csv"):
        assert staged[f"work_items/{neighbour}"] == 3

    # The manifest: one row per file, with the sha256 of its bytes.
    manifest = con.execute(
        "select source_file, sha256, status from ops.ingested_files where source = 'work_items'"
    ).fetchall()
    assert len(manifest) == DAYS == len({row[0] for row in manifest})
    for source_file, sha256, status in manifest:
        path = daily_inputs / source_file
        assert sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert status == ("rejected" if source_file in rejected else "loaded")

    # Row-level quarantine, with reasons, in the file that had the bad rows.
    bad = dict(
        con.execute(
            "select row_number, rule from quarantine.rejected_rows where source_file = ?", [f"work_items/{BAD_ROWS}"]
        ).fetchall()
    )
    assert bad == {4: "out_of_range", 5: "wrong_field_count"}

    # Counts reconcile, per file and in total.
    per_file = con.execute(
        """
        select source_file, rows_read, rows_staged + rows_quarantined + rows_deduplicated + rows_superseded
        from ops.ingested_files where source = 'work_items' and status = 'loaded'
        """
    ).fetchall()
    assert all(read == accounted for _, read, accounted in per_file)
    totals = con.execute(
        "select sum(rows_read), sum(rows_staged), sum(rows_superseded), sum(rows_quarantined) "
        "from ops.ingested_files where source = 'work_items'"
    ).fetchone()
    assert totals == ((DAYS - 2) * 3 + 1 + 2, (DAYS - 2) * 3, 1, 2)
    assert con.execute("select count(*) from staging.work_items").fetchone()[0] == totals[1]


def _load_items(root: Path, db: Path) -> tuple[duckdb.DuckDBPyConnection, load.SourceSummary]:
    con = duckdb.connect(str(db))
    load_source(con, WORKFLOWS, root, INGESTED_AT)
    return con, load_source(con, WORK_ITEMS, root, INGESTED_AT)


TABLES = (
    "select * exclude (row_number) from ingest.work_items_rows",
    "select * from staging.work_items",
    "select * from quarantine.rejected_rows",
    "select * from quarantine.rejected_files",
    "select * from ops.ingested_files",
)


def test_batches_give_every_file_what_reading_it_alone_gives(daily_inputs, tmp_path, monkeypatch):
    monkeypatch.setattr(load, "BATCH_FILES", 1)
    alone, alone_summary = _load_items(daily_inputs, tmp_path / "alone.duckdb")
    monkeypatch.setattr(load, "BATCH_FILES", 7)  # batches that start and end mid-folder
    batched, batched_summary = _load_items(daily_inputs, tmp_path / "batched.duckdb")
    assert alone_summary == batched_summary
    assert batched_summary.files_read == DAYS and batched_summary.reconciles
    for sql in TABLES:
        assert _table(alone, sql) == _table(batched, sql), sql
    # Row numbers too: each row keeps its number within its own file.
    numbers = "select source_file, row_number, row_hash from ingest.work_items_rows"
    assert _table(alone, numbers) == _table(batched, numbers)


def test_an_unchanged_rebuild_reads_no_file_and_a_changed_file_is_read_alone(daily_inputs, tmp_path):
    con, first = _load_items(daily_inputs, tmp_path / "w.duckdb")
    again = load_source(con, WORK_ITEMS, daily_inputs, INGESTED_AT)
    assert (again.files_read, again.files_reused) == (0, DAYS)
    assert again.rows_staged == first.rows_staged
    with (daily_inputs / "work_items" / "items_day_005.csv").open("a") as handle:
        handle.write("late-1,wf_b,2026-02-06T09:00:00Z,,0,1,no,0,true\n")
    changed = load_source(con, WORK_ITEMS, daily_inputs, INGESTED_AT)
    assert (changed.files_read, changed.files_reused) == (1, DAYS - 1)
    assert changed.rows_staged == first.rows_staged + 1 and changed.reconciles


def test_a_batch_whose_rules_raise_falls_back_to_one_file_at_a_time(daily_inputs, tmp_path, monkeypatch):
    reference, _ = _load_items(daily_inputs, tmp_path / "reference.duckdb")

    def broken_batch(files, spec, *, now=None):
        raise RuntimeError("a bug meeting an odd value")

    monkeypatch.setattr(load, "validate_many", broken_batch)
    fallback, summary = _load_items(daily_inputs, tmp_path / "fallback.duckdb")
    assert summary.files_read == DAYS and summary.reconciles
    for sql in TABLES:
        assert _table(reference, sql) == _table(fallback, sql), sql

    # One file whose rules raise on their own stops the load, and the error names it.
    real_validate = load.validate_rows

    def failing_on_one(raw, spec, result, *, now=None):
        if result.source_file.endswith("items_day_017.csv"):
            raise ValueError("odd value")
        return real_validate(raw, spec, result, now=now)

    monkeypatch.setattr(load, "validate_rows", failing_on_one)
    with pytest.raises(FileLoadError, match=r"work_items/items_day_017\.csv: ValueError: odd value"):
        _load_items(daily_inputs, tmp_path / "failing.duckdb")


def test_the_next_batch_is_read_while_this_one_is_written(daily_inputs, tmp_path, monkeypatch):
    """Reading batch N+1 overlaps writing batch N (a second thread), and the tables are the
    ones reading and writing in turn gives."""
    monkeypatch.setattr(load, "BATCH_FILES", 7)
    reference, reference_summary = _load_items(daily_inputs, tmp_path / "reference.duckdb")
    second_read_started = threading.Event()
    real_read, real_store = load._read_batch, load._store_files
    seen: list[bool] = []

    def read(batch, spec, input_dir):
        if batch[0][1].endswith("items_day_008.csv"):  # the first file of the second batch
            second_read_started.set()
        return real_read(batch, spec, input_dir)

    def store(con, spec, results, version, ingested_at, **options):
        if results[0].source_file.endswith("items_day_001.csv"):
            # Writing the first batch: the second batch's read has begun (waits for the
            # reader thread, never for a clock; it is set at once when reading runs ahead).
            seen.append(second_read_started.wait(timeout=60))
        return real_store(con, spec, results, version, ingested_at, **options)

    monkeypatch.setattr(load, "_read_batch", read)
    monkeypatch.setattr(load, "_store_files", store)
    overlapped, summary = _load_items(daily_inputs, tmp_path / "overlapped.duckdb")
    assert seen == [True]
    assert summary == reference_summary and summary.reconciles
    for sql in TABLES:
        assert _table(reference, sql) == _table(overlapped, sql), sql


def test_a_failure_reading_a_later_batch_stops_the_load_and_keeps_nothing(daily_inputs, tmp_path, monkeypatch):
    """An error on the reading thread is raised for its own batch, naming the file, and the
    batches written before it are rolled back with the rest of the load."""
    monkeypatch.setattr(load, "BATCH_FILES", 7)
    real_read_raw = load.read_raw_file

    def failing_read(path, spec, input_dir, sha256=None):
        if path.name == "items_day_023.csv":
            raise OSError("disk went away")
        return real_read_raw(path, spec, input_dir, sha256=sha256)

    monkeypatch.setattr(load, "read_raw_file", failing_read)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    load_source(con, WORKFLOWS, daily_inputs, INGESTED_AT)
    with pytest.raises(FileLoadError, match=r"work_items/items_day_023\.csv: OSError: disk went away"):
        load_source(con, WORK_ITEMS, daily_inputs, INGESTED_AT)
    assert con.execute("select count(*) from ingest.work_items_rows").fetchone()[0] == 0
    assert con.execute("select count(*) from ops.ingested_files where source = 'work_items'").fetchone()[0] == 0
