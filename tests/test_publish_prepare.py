"""A build started ahead of its run (`prepare_build`) and the background write-back of the copy."""

from __future__ import annotations

import fcntl
import os

import duckdb
import pytest

from pipelines import publish
from pipelines.publish import Build, BuildLocked, discard_prepared_builds, lock_path, prepare_build


@pytest.fixture
def published(tmp_path):
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create table t as select range as n from range(1000)")
    con.close()
    yield path
    discard_prepared_builds()


def _leftovers(published):
    return sorted(published.parent.glob(f".{published.name}.*building*"))


def test_a_prepared_build_is_taken_over_by_the_run(published):
    prepare_build(published, "cli")
    build = Build.begin(published, "run12345")
    try:
        # The prepared copy, not a second one: one build file, named by the preparing tag.
        assert [p.name for p in _leftovers(published)] == [build.path.name]
        assert build.path.name.endswith("-cli.building")
        assert build.path.read_bytes() == published.read_bytes()
        with lock_path(published).open("a+") as other, pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        con = duckdb.connect(str(build.path))
        con.execute("insert into t values (1000)")
        con.close()
        build.publish()
        assert build.writeback is None  # joined before the file's own fsync and the rename
    finally:
        build.release()
    assert duckdb.connect(str(published), read_only=True).execute("select count(*) from t").fetchone()[0] == 1001
    assert _leftovers(published) == []


def test_a_locked_warehouse_fails_the_run_that_takes_the_prepared_build_over(published):
    with lock_path(published).open("a+") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)
        prepare_build(published, "cli")
        with pytest.raises(BuildLocked, match="another build"):
            Build.begin(published, "run12345")
        fcntl.flock(holder, fcntl.LOCK_UN)
    assert _leftovers(published) == []


def test_a_prepared_build_no_run_took_over_is_thrown_away_and_unlocked(published):
    before = published.read_bytes()
    prepare_build(published, "cli")
    discard_prepared_builds()
    assert _leftovers(published) == []
    with lock_path(published).open("a+") as other:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again
    assert published.read_bytes() == before
    # Nothing is left to take over: the next run starts its own build.
    build = Build.begin(published, "run12345")
    try:
        assert build.path.name.endswith("-run12345.building")
    finally:
        build.abandon()


def test_the_fresh_copy_is_written_back_in_the_background(published, monkeypatch):
    synced: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        return real_fsync(fd)

    monkeypatch.setattr(publish.os, "fsync", recording_fsync)
    build = Build.begin(published, "run12345")
    try:
        assert build.writeback is not None
        build.writeback.join()
        assert synced == [str(build.path)]
    finally:
        build.abandon()
    assert build.writeback is None and _leftovers(published) == []


def _publish_one_row(published):
    build = Build.begin(published, "run12345")
    con = duckdb.connect(str(build.path))
    con.execute("insert into t values (1000)")
    con.close()
    build.publish()
    build.release()


def test_the_replaced_file_is_freed_in_the_background_when_deferred(published):
    old_inode = published.stat().st_ino
    held = published.open("rb")  # a reader of the old build: it keeps its snapshot
    publish.defer_retirement(True)
    try:
        _publish_one_row(published)
        assert published.stat().st_ino != old_inode
        assert len(publish._retiring) == 1  # the old file's second name, being deleted
        publish.finish_retirements()
        assert publish._retiring == []
    finally:
        publish.defer_retirement(False)
    assert _leftovers(published) == []  # the second name of the old file is gone
    assert os.fstat(held.fileno()).st_nlink == 0 and held.read(16)  # unlinked, still readable
    held.close()
    assert duckdb.connect(str(published), read_only=True).execute("select count(*) from t").fetchone()[0] == 1001


def test_the_cli_does_not_wait_for_the_replaced_file_to_be_freed(published):
    publish.defer_retirement(True)
    try:
        _publish_one_row(published)
        [process] = publish._retiring
        publish.finish_retirements(wait=False)  # what the CLI does before it exits
        assert publish._retiring == []
    finally:
        publish.defer_retirement(False)
    # The detached `rm` deletes the second name on its own, and nothing else.
    assert process.wait(timeout=30) == 0
    assert _leftovers(published) == []
    assert duckdb.connect(str(published), read_only=True).execute("select count(*) from t").fetchone()[0] == 1001


def test_a_replaced_file_whose_removal_cannot_start_is_left_for_the_next_run(published, monkeypatch, caplog):
    def no_processes(*args, **kwargs):
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(publish.subprocess, "Popen", no_processes)
    publish.defer_retirement(True)
    try:
        _publish_one_row(published)
        publish.finish_retirements()
    finally:
        publish.defer_retirement(False)
    [left] = _leftovers(published)
    assert left.name == f".{published.name}.{os.getpid()}-retired.building"
    assert "could not start removing the replaced warehouse" in caplog.text
    # The published file is the new build all the same.
    assert duckdb.connect(str(published), read_only=True).execute("select count(*) from t").fetchone()[0] == 1001


def test_a_retired_name_left_by_a_dead_run_is_removed_by_the_next(published):
    stale = published.with_name(f".{published.name}.999999999-retired.building")
    stale.write_bytes(b"old warehouse")
    build = Build.begin(published, "run12345")
    build.abandon()
    assert not stale.exists()
