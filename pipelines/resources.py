"""Shared Dagster resources: the DuckDB warehouse and the input folder.

Each resource's field is optional. Left empty, it resolves from the environment when a
run starts (see `pipelines.settings` for the variables and their defaults), so the same
definitions serve `make pipeline`, the Dagster UI and tests, which pass explicit paths.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb
from pydantic import PrivateAttr

from pipelines import settings
from pipelines.changes import load_change_set
from pipelines.monitoring.run_history import write_run_history
from pipelines.progress import step_failure_message
from pipelines.publish import (
    Build,
    BuildLocked,
    BuildStartError,
    PublishRefused,
    build_leftovers,
    describe,
    record_run,
    refusal_reason,
    source_counts,
)
from pipelines.sqlfiles import table_exists

log = logging.getLogger("opvalue")

# A step that leaves at least this much in the build's write-ahead log has it checkpointed in
# the background while the run goes on (`WarehouseResource._checkpoint_behind`).
CHECKPOINT_BEHIND_WAL_BYTES = 1 << 20
# Deleted rows a table may carry before a run's checkpoints compact it (`tombstone_share`).
COMPACT_AT_DEAD_SHARE = 0.10
# Smaller tables are not counted: they can only grow into being counted.
COMPACT_MIN_ROWS = 1_000
KEEP_RUNS_ENV = "OPVALUE_KEEP_RUNS"
DEFAULT_KEEP_RUNS = 50
BUILD_JOB = "build_warehouse"


def _utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB file that staging, quarantine, ops and marts tables live in.

    During a run, every connection goes to the run's private build file. The last asset,
    `monitoring/published_warehouse`, checks the build (`pipelines.publish.refusal_reason`) and
    replaces the published file with it in one atomic rename; a run with a failed step, or
    a refused build, leaves the published file untouched (see `pipelines.publish`). Readers
    are never blocked and never see half a build. Every run's outcome is recorded, and old
    Dagster run history is pruned (`OPVALUE_KEEP_RUNS`).
    """

    path: str | None = None
    """Path of the published DuckDB file; empty means `$OPVALUE_WAREHOUSE`, else `data/warehouse/opvalue.duckdb`."""

    _build: Build | None = PrivateAttr(default=None)
    _run_con: duckdb.DuckDBPyConnection | None = PrivateAttr(default=None)
    _checkpointer: threading.Thread | None = PrivateAttr(default=None)
    _recomputed: list[str] | None = PrivateAttr(default=None)
    _run_id: str | None = PrivateAttr(default=None)
    _published: bool = PrivateAttr(default=False)
    _started_at: datetime | None = PrivateAttr(default=None)

    @property
    def run_id(self) -> str | None:
        """The Dagster run this resource serves (None outside a run): the change set names it."""
        return self._run_id

    def resolved_path(self) -> Path:
        """The published file of a local warehouse (a shared catalog has none)."""
        return settings.local_warehouse_path(self.target())

    def target(self) -> str:
        """What DuckDB connects to: the local file, or a shared catalog's connection string, as written."""
        return self.path or settings.warehouse_target()

    def is_remote(self) -> bool:
        """A shared catalog (MotherDuck, DuckLake) is written in place, not copied and renamed."""
        return settings.is_remote_warehouse(self.target())

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Lock the warehouse for this run and start a build file from the published one.

        A build that cannot start (locked, read-only folder, the path is a directory, no
        space for the copy) is recorded with its reason before the run fails.
        """
        self._started_at = _utc_now()
        self._published = False
        self._recomputed = None
        self._run_id = context.run_id
        if self.is_remote():
            # The catalog's own transactions and snapshots give readers their isolation.
            return
        try:
            self._build = Build.begin(self.resolved_path(), (context.run_id or "adhoc")[:8])
        except (BuildLocked, BuildStartError) as error:
            log.error("build failed before the first step: %s", error)
            self._record(context, "failed", f"build failed before the first step: {error}")
            raise

    def publish(self, input_dir: Path | None, allow_empty: bool, run_id: str | None) -> dict:
        """Refuse or publish this run's build; return what was published, for the asset's metadata.

        Raises `PublishRefused` (naming the reason and the path) when the build must not
        replace the published warehouse; the build is then thrown away at teardown.
        """
        build = self._build
        # The run's own connection, closed (and so checkpointed) once, before the swap: a
        # connection of its own for the counts and another for the run history cost about
        # 0.6 s of CPU per publish at 1M items, opening the build file and checkpointing it.
        try:
            with self.connect() as con:
                current = source_counts(con)
                registry_rows = _count(con, "staging", "workflows")
                # Which workflows' marts this build recomputed (pipelines/changes.py): a new
                # column of ops.pipeline_runs, kept in the runs log with the outcome.
                self._recomputed = list(load_change_set(con, self._run_id).workflows)
                reason = refusal_reason(input_dir, current, registry_rows, build.previous if build else {}, allow_empty)
                if reason:
                    raise PublishRefused(reason)
                if build is None:  # a shared catalog is written in place: nothing to swap
                    return {"warehouse": self.target(), "sources": {s: c.rows_staged for s, c in current.items()}}
                write_run_history(con, build.published, self._outcome(run_id, "success", None))
        finally:
            self._close_run_connection()
        build.publish()
        self._published = True
        return {
            "warehouse": str(build.published),
            "bytes": build.published.stat().st_size,
            "sources": {s: c.rows_staged for s, c in current.items()},
        }

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        """Throw away a build that was not published, then record the run and prune history.

        The build's files go first: on a full disk they hold the space the record needs.
        """
        self._close_run_connection()
        build = self._build
        failure = _first_failure(context)
        fallback_error: BaseException | None = None
        try:
            if build is not None and not self._published and failure is None:
                # A run that did not select monitoring/published_warehouse (a subset launched from
                # the UI) still publishes, through the same gate (the input folder is unknown).
                try:
                    self.publish(None, False, context.run_id)
                except Exception as error:  # noqa: BLE001 - recorded, then re-raised below
                    fallback_error = error
                    failure = str(error) if isinstance(error, PublishRefused) else f"publish failed: {describe(error)}"
        finally:
            self._build = None
            if build is not None:
                if not self._published:
                    build.abandon(release=False)
                self._record(context, "failed" if failure else "success", failure)
                build.release()
            self._published = False
            _prune_history(context.instance)
        if fallback_error is not None:
            raise fallback_error

    def _close_run_connection(self) -> None:
        self._join_checkpointer()
        con, self._run_con = self._run_con, None
        if con is not None:
            con.close()

    def _checkpoint_behind(self) -> None:
        """Checkpoint the build file on a thread of its own once a step has left much in its WAL.

        The run's connection is checkpointed when it closes, before the publish's rename, and
        that is what the user waited for: 0.41-0.48 s of a 10M incremental run, most of it the
        staged work items' changes. Written here, the next steps (Dagster's events, Python
        statistics) overlap it, and the last checkpoint holds only what came after. DuckDB runs
        a checkpoint beside other connections' queries; when another write transaction is open
        it refuses, and the work is left to the next one: a checkpoint never changes what a
        table holds, only where it is stored. At most one runs at a time; publishing and
        teardown join it before the connection closes.
        """
        build, con = self._build, self._run_con
        if build is None or con is None or self._checkpointer is not None:
            return
        try:
            pending = os.path.getsize(build_leftovers(build.path)[1])
        except OSError:
            return  # no WAL: nothing to checkpoint
        if pending < CHECKPOINT_BEHIND_WAL_BYTES:
            return
        cursor = con.cursor()
        writeback = build.writeback

        def checkpoint() -> None:
            try:
                if writeback is not None:
                    # Until the copy is on disk, the checkpoint's fsync would wait for all of it,
                    # holding the lock the next step's writes need.
                    writeback.join()
                started = time.perf_counter()
                cursor.execute("checkpoint")
                log.debug(
                    "checkpointed %d bytes of WAL in the background in %.2fs", pending, time.perf_counter() - started
                )
            except duckdb.Error as error:
                log.debug("background checkpoint skipped: %s", describe(error))
            finally:
                cursor.close()

        self._checkpointer = threading.Thread(target=checkpoint, name="opvalue-checkpoint", daemon=True)
        self._checkpointer.start()

    def _join_checkpointer(self) -> None:
        thread, self._checkpointer = self._checkpointer, None
        if thread is not None:
            thread.join()

    def _outcome(self, run_id: str | None, status: str, message: str | None) -> dict:
        return {
            "run_id": run_id,
            "started_at": self._started_at,
            "ended_at": _utc_now(),
            "status": status,
            "message": message,
            "recomputed_workflows": self._recomputed if status == "success" else None,
        }

    def _record(self, context: dg.InitResourceContext, status: str, message: str | None) -> None:
        if self.is_remote():
            return  # no file beside a catalog; Dagster's run history holds the outcome
        where = record_run(self.resolved_path(), self._outcome(context.run_id, status, message))
        if where is not None and status == "failed":
            log.error("recorded in %s", where)

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection to the run's build file (outside a run: the file itself)."""
        if self._published:
            raise RuntimeError("this run's build is already published; nothing may write to it any more")
        if self._build is not None:
            # One connection to the build file for the whole run, not one per step: opening
            # the file and checkpointing it on close cost 0.1-0.4 s a step, over 30 steps.
            # Steps run one after another in this process (in_process_executor); publishing
            # and teardown close it before the file is checked, renamed or thrown away.
            if self._run_con is None:
                self._run_con = duckdb.connect(str(self._build.path))
                defer_compaction(self._run_con)
            elif self._checkpointer is not None and not self._checkpointer.is_alive():
                self._join_checkpointer()
            yield self._run_con
            self._checkpoint_behind()
            return
        if self.is_remote():
            target = self.target()
        else:
            self.resolved_path().parent.mkdir(parents=True, exist_ok=True)
            target = str(self.resolved_path())
        con = duckdb.connect(target)
        try:
            yield con
        finally:
            con.close()


def tombstone_share(con: duckdb.DuckDBPyConnection) -> tuple[float, str | None]:
    """The largest share of deleted rows still stored in a table of `COMPACT_MIN_ROWS` rows or
    more, and that table (0 and None when there is none).

    DuckDB keeps a deleted row in its row group until a checkpoint vacuums the group, and
    `duckdb_tables().estimated_size` counts it until then; `count(*)` does not.
    """
    worst: tuple[float, str | None] = (0.0, None)
    for schema, table, stored in con.execute(
        "select schema_name, table_name, estimated_size from duckdb_tables()"
        " where database_name = current_database() and not temporary and estimated_size >= ?",
        [COMPACT_MIN_ROWS],
    ).fetchall():
        live = con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
        share = max(stored - live, 0) / stored
        if share > worst[0]:
            worst = (share, f"{schema}.{table}")
    return worst


def defer_compaction(con: duckdb.DuckDBPyConnection) -> None:
    """Leave deleted rows in place during this run unless a large table already carries
    `COMPACT_AT_DEAD_SHARE` of them.

    An incremental run replaces the changed workflows' rows of tables with millions of rows
    (`intermediate.item_periods`, staged items re-decided by key). DuckDB's checkpoint then
    vacuums: it merges the row groups that lost rows with their neighbours and rewrites them,
    0.4-0.6 s for one workflow's 127,000 rows of a 6,000,000-row table (10M items), which the
    next step waited for. With `max_vacuum_tasks = 0` the checkpoint writes tombstones instead
    (0.01-0.06 s), and row groups left empty are still dropped. Past the share, a run keeps
    DuckDB's default, whose checkpoints merge row groups once enough of their rows are deleted
    (a quarter or more of adjacent groups), so the tombstones stay within the larger of the
    share and what DuckDB's default leaves; a full rebuild writes every table anew.
    docs/operations.md, "Deleted rows".
    """
    share, table = tombstone_share(con)
    if share >= COMPACT_AT_DEAD_SHARE:
        log.info("keeping DuckDB's vacuum: %.0f%% of %s's stored rows are deleted", 100 * share, table)
        return
    con.execute("set max_vacuum_tasks = 0")


def _count(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> int:
    if not table_exists(con, f"{schema}.{table}"):
        return 0
    return int(con.execute(f"select count(*) from {schema}.{table}").fetchone()[0])


def _first_failure(context: dg.InitResourceContext) -> str | None:
    """The first failed step of this run and its error, or None when no step failed."""
    if context.instance is None or context.run_id is None:
        return None
    records = context.instance.all_logs(context.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    for record in records:
        return step_failure_message(record.dagster_event)
    return None


def keep_runs() -> int:
    """How many finished `build_warehouse` runs Dagster keeps: `$OPVALUE_KEEP_RUNS`, else 50."""
    value = os.environ.get(KEEP_RUNS_ENV) or str(DEFAULT_KEEP_RUNS)
    try:
        return max(int(value), 1)
    except ValueError:
        log.warning("%s=%r is not a whole number; keeping %d runs", KEEP_RUNS_ENV, value, DEFAULT_KEEP_RUNS)
        return DEFAULT_KEEP_RUNS


def prune_run_history(instance: dg.DagsterInstance, keep: int) -> list[str]:
    """Delete all but the newest `keep` finished runs of the build job from Dagster's storage.

    Dagster has no run retention setting (`dagster.yaml` retention covers schedule and sensor
    ticks only), so this uses the instance API: `delete_run` drops a run and its events, and
    the compute log manager drops its captured logs. With the default SQLite storage each run
    also has its own event database file, which `delete_run` empties but leaves; it goes too.
    """
    finished = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
    records = instance.get_run_records(filters=dg.RunsFilter(job_name=BUILD_JOB, statuses=finished))
    records = sorted(records, key=lambda record: record.create_timestamp, reverse=True)
    deleted = []
    for record in records[keep:]:
        run_id = record.dagster_run.run_id
        instance.delete_run(run_id)
        instance.compute_log_manager.delete_logs(prefix=[run_id])
        if instance.is_persistent:
            shard = Path(instance.root_directory) / "history" / "runs" / f"{run_id}.db"
            shard.unlink(missing_ok=True)
        deleted.append(run_id)
    return deleted


def _prune_history(instance: dg.DagsterInstance | None) -> None:
    if instance is None:
        return
    try:
        deleted = prune_run_history(instance, keep_runs())
    except Exception as error:  # noqa: BLE001 - history is housekeeping: never fail a build over it
        log.warning("could not prune Dagster run history: %s", describe(error))
        return
    if deleted:
        log.info("pruned %d old run(s) from Dagster's history (keeping %d)", len(deleted), keep_runs())


class InputFolderResource(dg.ConfigurableResource):
    """The folder holding `workflows.csv`, `work_items/` and `usage/`."""

    path: str | None = None
    """Path of the input folder; empty means `$OPVALUE_INPUT_DIR`, else `data/sample`."""

    def resolved_path(self) -> Path:
        """The folder this resource reads from."""
        return Path(self.path) if self.path else settings.input_dir()
