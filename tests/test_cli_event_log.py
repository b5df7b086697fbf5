"""The CLI writes Dagster's event log without fsync during a run, and only then."""

from pathlib import Path

import dagster as dg
import sqlalchemy

from pipelines.cli import _event_log_without_fsync

# SQLite's `pragma synchronous` values: 0 off, 1 normal, 2 full (the default).
OFF, NORMAL, FULL = 0, 1, 2


def _synchronous(path: Path) -> int:
    engine = sqlalchemy.create_engine(f"sqlite:///{path}", poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect() as conn:
            return conn.execute(sqlalchemy.text("pragma synchronous")).scalar_one()
    finally:
        engine.dispose()


def test_only_the_event_log_skips_fsync_and_only_during_the_run(tmp_path: Path) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        assert instance.is_persistent
        runs = Path(instance.root_directory) / "history" / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        run_shard, index, run_storage = runs / "some-run.db", runs / "index.db", runs.parent / "runs.db"
        assert _synchronous(run_shard) == FULL
        with _event_log_without_fsync(instance):
            assert _synchronous(run_shard) == OFF
            assert _synchronous(index) == OFF
            assert _synchronous(run_storage) == NORMAL
            assert _synchronous(tmp_path / "elsewhere.db") == NORMAL
        # After the run every connection gets SQLite's default again.
        assert _synchronous(run_shard) == FULL
        assert _synchronous(run_storage) == FULL


def test_an_ephemeral_instance_is_left_alone(tmp_path: Path) -> None:
    with dg.DagsterInstance.ephemeral() as instance, _event_log_without_fsync(instance):
        assert _synchronous(tmp_path / "any.db") == FULL
