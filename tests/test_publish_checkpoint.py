"""The build file's checkpoints: behind the run on a thread of its own, and before the rename."""

from __future__ import annotations

import subprocess
import sys

import duckdb
import pytest

from pipelines import resources
from pipelines.publish import Build, build_leftovers
from pipelines.resources import WarehouseResource


@pytest.fixture
def published(tmp_path):
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create table t as select range as n from range(1000)")
    con.close()
    return path


def _count(path) -> int:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute("select count(*) from t").fetchone()[0]
    finally:
        con.close()


def _wal_bytes(build: Build) -> int:
    wal = build_leftovers(build.path)[1]
    return wal.stat().st_size if wal.exists() else 0


def test_a_step_that_leaves_its_writes_in_the_wal_is_checkpointed_in_the_background(published, monkeypatch):
    monkeypatch.setattr(resources, "CHECKPOINT_BEHIND_WAL_BYTES", 1)
    warehouse = WarehouseResource(path=str(published))
    build = Build.begin(published, "run12345")
    warehouse._build = build
    try:
        with warehouse.connect() as con:
            con.execute("insert into t values (1000), (1001)")
        assert warehouse._checkpointer is not None
        warehouse._checkpointer.join()
        assert _wal_bytes(build) == 0  # in the file now, not the WAL
        with warehouse.connect() as con:  # the next step goes on with the same connection
            assert con.execute("select count(*) from t").fetchone()[0] == 1002
            con.execute("insert into t values (1002)")
        warehouse._close_run_connection()  # joins the checkpointer before closing
        assert warehouse._checkpointer is None
        build.publish()
    finally:
        warehouse._build = None
        build.release()
    assert _count(published) == 1003


def test_a_checkpoint_refused_beside_an_open_write_loses_nothing(published, monkeypatch):
    monkeypatch.setattr(resources, "CHECKPOINT_BEHIND_WAL_BYTES", 1)
    warehouse = WarehouseResource(path=str(published))
    build = Build.begin(published, "run12345")
    warehouse._build = build
    try:
        with warehouse.connect() as con:
            con.execute("insert into t values (1000)")
            con.execute("begin")
            con.execute("insert into t values (1001)")
        # A checkpoint that meets the open transaction is skipped, or waits; either way the
        # run goes on, and the write commits.
        warehouse._join_checkpointer()
        con.execute("commit")
        warehouse._close_run_connection()
        build.publish()
    finally:
        warehouse._build = None
        build.release()
    assert _count(published) == 1002


def test_a_wal_left_beside_the_build_is_written_into_it_before_the_rename(published):
    build = Build.begin(published, "run12345")
    try:
        # A connection that ends without its closing checkpoint leaves its writes in the WAL.
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import duckdb, os, sys; con = duckdb.connect(sys.argv[1]); "
                "con.execute('insert into t values (1000)'); os._exit(0)",
                str(build.path),
            ],
            check=True,
        )
        assert _wal_bytes(build) > 0
        build.publish()
    finally:
        build.release()
    assert not build_leftovers(published)[1].exists()
    assert not build_leftovers(build.path)[1].exists()
    assert _count(published) == 1001
