"""Shared Dagster resources: the DuckDB warehouse and the input folder.

Each resource's field is optional. Left empty, it resolves from the environment when a
run starts (see `pipelines.settings` for the variables and their defaults), so the same
definitions serve `make pipeline`, the Dagster UI and tests, which pass explicit paths.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb
from pydantic import PrivateAttr

from pipelines import settings
from pipelines.progress import step_failure_message
from pipelines.publish import Build, append_run_log, read_run_log


def _utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB file that staging, quarantine, ops and marts tables live in.

    During a run, every connection goes to the run's private build file; when the run
    ends with no failed step, the build replaces the published file in one atomic rename
    (see `pipelines.publish`). Readers are never blocked and never see half a build.
    """

    path: str | None = None
    """Path of the published DuckDB file; empty means `$OPVALUE_WAREHOUSE`, else `data/warehouse/opvalue.duckdb`."""

    _build: Build | None = PrivateAttr(default=None)
    _started_at: datetime | None = PrivateAttr(default=None)

    def resolved_path(self) -> Path:
        """The published file."""
        return Path(self.path) if self.path else settings.warehouse_path()

    def target(self) -> str:
        """What DuckDB connects to: the local file, or a shared catalog's connection string."""
        return self.path or os.environ.get(settings.WAREHOUSE_ENV) or settings.DEFAULT_WAREHOUSE

    def is_remote(self) -> bool:
        """A shared catalog (MotherDuck, DuckLake) is written in place, not copied and renamed."""
        return settings.is_remote_warehouse(self.target())

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Lock the warehouse for this run and start a build file from the published one."""
        self._started_at = _utc_now()
        if self.is_remote():
            # The catalog's own transactions and snapshots give readers their isolation.
            return
        self._build = Build.begin(self.resolved_path(), (context.run_id or "adhoc")[:8])

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        """Publish the build if every step succeeded; otherwise discard it. Record the run."""
        build, self._build = self._build, None
        if build is None:
            return
        failure = _first_failure(context)
        record = {
            "run_id": context.run_id,
            "started_at": self._started_at,
            "ended_at": _utc_now(),
            "status": "failed" if failure else "success",
            "message": failure,
        }
        append_run_log(build.published, record)
        if failure:
            build.abandon()
            return
        try:
            _record_run(build.path, build.published, context.run_id)
            build.publish()
        except BaseException:
            build.abandon()
            raise

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection to the run's build file (outside a run: the file itself)."""
        if self._build is not None:
            target = str(self._build.path)
        elif self.is_remote():
            target = self.target()
        else:
            self.resolved_path().parent.mkdir(parents=True, exist_ok=True)
            target = str(self.resolved_path())
        con = duckdb.connect(target)
        try:
            yield con
        finally:
            con.close()


def _first_failure(context: dg.InitResourceContext) -> str | None:
    """The first failed step of this run and its error, or None when no step failed."""
    if context.instance is None or context.run_id is None:
        return None
    records = context.instance.all_logs(context.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    for record in records:
        return step_failure_message(record.dagster_event)
    return None


def _record_run(build_path: Path, published: Path, run_id: str | None) -> None:
    """Write the run history and this run's per-source counts into the build."""
    runs = read_run_log(published)
    con = duckdb.connect(str(build_path))
    try:
        con.execute("create schema if not exists ops")
        con.execute(
            "create or replace table ops.pipeline_runs "
            "(run_id varchar, started_at timestamp, ended_at timestamp, status varchar, message varchar)"
        )
        if runs:
            con.executemany(
                "insert into ops.pipeline_runs values (?, ?, ?, ?, ?)",
                [[r.get("run_id"), r.get("started_at"), r.get("ended_at"), r.get("status"), r.get("message")] for r in runs],
            )
        con.execute(
            """
            create table if not exists ops.run_source_counts (
                run_id varchar, source varchar, files bigint, rows_read bigint, rows_staged bigint,
                rows_quarantined bigint, rows_deduplicated bigint, rows_superseded bigint
            )
            """
        )
        has_manifest = con.execute(
            "select count(*) from information_schema.tables where table_schema = 'ops' and table_name = 'ingested_files'"
        ).fetchone()[0]
        if has_manifest:
            con.execute("delete from ops.run_source_counts where run_id = ?", [run_id])
            con.execute(
                """
                insert into ops.run_source_counts
                select ?, source, count(*), sum(rows_read), sum(rows_staged), sum(rows_quarantined),
                       sum(rows_deduplicated), sum(rows_superseded)
                from ops.ingested_files group by source
                """,
                [run_id],
            )
    finally:
        con.close()


class InputFolderResource(dg.ConfigurableResource):
    """The folder holding `workflows.csv`, `work_items/` and `usage/`."""

    path: str | None = None
    """Path of the input folder; empty means `$OPVALUE_INPUT_DIR`, else `data/sample`."""

    def resolved_path(self) -> Path:
        """The folder this resource reads from."""
        return Path(self.path) if self.path else settings.input_dir()
