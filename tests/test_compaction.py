"""Deleted rows during a run: left in place while few, compacted by DuckDB's vacuum once many
(`pipelines.resources.defer_compaction`), and the per-item table stored workflow by workflow."""

from __future__ import annotations

import duckdb
import pytest

from pipelines import resources
from pipelines.resources import defer_compaction, tombstone_share

ROWS = 300_000  # three of DuckDB's row groups (122,880 rows each), so a vacuum can merge them


def _stored_and_live(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    stored = con.execute("select estimated_size from duckdb_tables() where table_name = 't'").fetchone()[0]
    return stored, con.execute("select count(*) from t").fetchone()[0]


@pytest.fixture
def table_file(tmp_path):
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    con.execute(f"create table t as select range as n from range({ROWS})")
    con.close()
    return path


def test_a_run_leaves_deleted_rows_in_place_until_a_table_carries_the_share_then_compacts(table_file):
    # A run over a file with no deleted row: the checkpoint writes tombstones, and the 60%
    # deleted below stays stored (a default vacuum would merge the three row groups into one).
    con = duckdb.connect(str(table_file))
    defer_compaction(con)
    assert con.execute("select current_setting('max_vacuum_tasks')").fetchone()[0] == 0
    con.execute("delete from t where n % 5 < 3")
    con.execute("checkpoint")
    assert _stored_and_live(con) == (ROWS, ROWS * 2 // 5)
    con.close()

    # The next run finds 60% of the table deleted: it keeps DuckDB's vacuum, and the first
    # checkpoint after a change to the table drops the deleted rows.
    con = duckdb.connect(str(table_file))
    assert tombstone_share(con) == (pytest.approx(0.6), "main.t")
    defer_compaction(con)
    assert con.execute("select current_setting('max_vacuum_tasks')").fetchone()[0] > 0
    con.execute("delete from t where n = 4")
    con.execute("checkpoint")
    stored, live = _stored_and_live(con)
    assert live == ROWS * 2 // 5 - 1
    assert stored == live
    assert tombstone_share(con) == (0.0, None)
    con.close()


def test_the_share_is_the_worst_table_of_at_least_the_minimum_size(tmp_path, monkeypatch):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("set max_vacuum_tasks = 0")
    con.execute("create table small as select range as n from range(500)")
    con.execute("create table big as select range as n from range(2000)")
    con.execute("checkpoint")
    con.execute("delete from small where n < 400")  # 80%, but below the minimum size
    con.execute("delete from big where n < 300")  # 15%
    con.execute("checkpoint")
    monkeypatch.setattr(resources, "COMPACT_MIN_ROWS", 1000)
    share, table = tombstone_share(con)
    assert table == "main.big"
    assert share == pytest.approx(0.15)
    monkeypatch.setattr(resources, "COMPACT_MIN_ROWS", 100)
    assert tombstone_share(con)[1] == "main.small"


def test_item_periods_is_stored_workflow_by_workflow(sample_warehouse):
    # An incremental run replaces one workflow's rows; stored together, they leave whole row
    # groups (dropped without a vacuum) and a scan for one workflow skips the others' groups.
    con = duckdb.connect(str(sample_warehouse), read_only=True)
    try:
        spread = con.execute(
            """
            select workflow_id, max(rowid) - min(rowid) + 1 - count(*) as others_between
            from intermediate.item_periods group by 1 having others_between <> 0
            """
        ).fetchall()
        workflows = con.execute("select count(distinct workflow_id) from intermediate.item_periods").fetchone()[0]
    finally:
        con.close()
    assert workflows > 1
    assert spread == []
