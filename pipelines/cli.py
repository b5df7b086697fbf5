"""`python -m pipelines.cli build`: build the warehouse once, print progress and a summary.

This is what `make pipeline`, scripts and cron call. It runs the same Dagster job as the
schedule and sensor, in-process, and exits non-zero when a step fails or a blocking
(error-severity) check fails, naming the source, the file and the reason.

Exit codes: 0 published; 1 the build failed (a step, a blocking check, or before the first
step: the reason is printed and recorded); 3 the build was refused and nothing was
published (the inputs look wrong; see docs/operations.md, "What a failed run looks like").
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sqlite3
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

# Only what is needed to lock and start copying the warehouse: Dagster and the pipeline are
# imported once the copy runs in the background (`build`, `prepare_build`).
from pipelines import settings
from pipelines.publish import (
    defer_retirement,
    describe,
    discard_prepared_builds,
    find_run,
    finish_retirements,
    prepare_build,
    record_run,
)

if TYPE_CHECKING:
    import dagster as dg

EXIT_FAILED = 1
EXIT_REFUSED = 3


def _instance() -> dg.DagsterInstance:
    """The persistent instance under $DAGSTER_HOME when set (so `make dev` shows the run)."""
    import dagster as dg

    try:
        return dg.DagsterInstance.get()
    except Exception:  # no DAGSTER_HOME: a throwaway instance is fine for a one-off build
        return dg.DagsterInstance.ephemeral()


@contextmanager
def _event_log_without_fsync(instance: dg.DagsterInstance) -> Iterator[None]:
    """While the run executes, Dagster's SQLite event log does not wait for the disk.

    Dagster's SQLite storage opens a new connection for every event it stores (some 300 per
    build: planned materialisations, step events, checks, log lines) and each commit and
    close fsyncs the database and its WAL: on a busy shared disk that was 26 s of a 43 s
    unchanged rebuild of the sample (cProfile, load average 5). Here the event log's
    databases (`history/runs/*.db`: one per run and the asset index) are written with
    `synchronous = OFF` and the rest of the instance (`runs.db`, schedules) with `NORMAL`,
    SQLite's setting for WAL databases. An application crash loses nothing; only an
    operating-system crash or power cut during a run could damage that run's event log or
    the index, which Dagster rebuilds from the runs when `history/runs/index.db` is deleted
    (docs/operations.md, "Run history"). The warehouse, its runs log and `ops.pipeline_runs`
    are written as before (the publish fsyncs the build file and its folder).
    """
    if not instance.is_persistent:
        yield
        return
    import sqlalchemy
    from sqlalchemy import event

    event_log = (Path(instance.root_directory) / "history" / "runs").resolve()

    def pragma(dbapi_connection: object, _record: object) -> None:
        if not isinstance(dbapi_connection, sqlite3.Connection):
            return
        file = dbapi_connection.execute("pragma database_list").fetchone()[2] or ""
        mode = "off" if file and Path(file).resolve().parent == event_log else "normal"
        dbapi_connection.execute(f"pragma synchronous = {mode}")

    event.listen(sqlalchemy.engine.Engine, "connect", pragma)
    try:
        yield
    finally:
        event.remove(sqlalchemy.engine.Engine, "connect", pragma)


def _configure_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[opvalue %(asctime)s] %(message)s", datefmt="%H:%M:%S"))
    logger = logging.getLogger("opvalue")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    logger.propagate = False


def _print_summary(warehouse: str) -> None:
    """Rows staged and quarantined per source, rejected files, and the marts' sizes."""
    import duckdb

    from pipelines.changes import load_change_set

    con = duckdb.connect(warehouse, read_only=True)
    try:
        print("\nSummary")
        print(f"  warehouse: {warehouse}")
        rows = con.execute(
            """
            select source, count(*) as files, count(*) filter (where status = 'rejected') as rejected,
                   sum(rows_read), sum(rows_staged), sum(rows_quarantined), sum(rows_deduplicated), sum(rows_superseded)
            from ops.ingested_files group by source order by source
            """
        ).fetchall()
        print(
            f"  {'source':<16}{'files':>7}{'rejected':>10}{'read':>12}{'staged':>12}{'quarantined':>13}{'dedup':>8}{'superseded':>12}"
        )
        for source, files, rejected, read, staged, quarantined, dedup, superseded in rows:
            print(
                f"  {source:<16}{files:>7}{rejected:>10}{read:>12,}{staged:>12,}{quarantined:>13,}{dedup:>8,}{superseded:>12,}"
            )
        # What each connector read from its native export and what it produced (docs/connectors.md).
        for source, source_file, status, read, staged, quarantined in con.execute(
            """
            select source, source_file, status, rows_read, rows_staged, rows_quarantined
            from ops.ingested_files where source_file like 'connectors/%' order by source_file, source
            """
        ).fetchall():
            produced = f"{read:,} {source} rows, {staged:,} staged, {quarantined:,} quarantined"
            print(f"  connector {source_file}: {produced if status != 'rejected' else 'rejected (below)'}")
        for source, source_file, reason in con.execute(
            "select source, source_file, reason from quarantine.rejected_files order by 1, 2"
        ).fetchall():
            print(f"  rejected file: {source} {source_file}: {reason}")
        for rule, n in con.execute(
            "select rule, count(*) from quarantine.rejected_rows group by 1 order by 2 desc, 1"
        ).fetchall():
            print(f"  quarantined rows, {rule}: {n:,}")
        quadrants = con.execute(
            "select quadrant, count(*) from marts.workflow_scorecard group by 1 order by 1"
        ).fetchall()
        print("  workflows by quadrant: " + ", ".join(f"{q} {n}" for q, n in quadrants))
        decisions = con.execute(
            "select decision, count(*) from marts.workflow_scorecard group by 1 order by 2 desc, 1"
        ).fetchall()
        print("  workflows by decision: " + ", ".join(f"{d} {n}" for d, n in decisions))
        # Which workflows' marts this build recomputed; the others were reused (pipelines/changes.py).
        print(f"  workflows recomputed: {load_change_set(con, any_run=True).label()}")
    finally:
        con.close()


def build(
    verbose: bool = False, allow_empty: bool = False, verify_digests: bool = False, *, own_process: bool = False
) -> int:
    """Materialise every asset once; return the process exit code.

    Whatever goes wrong, the reason is printed on one line and the run is recorded (by the
    warehouse resource, or here when the run could not even start). `verify_digests` hashes
    every input file instead of trusting an unchanged stat (pipelines/ingest/manifest.py).
    `own_process`: the process exists for this build (`python -m pipelines.cli`), so what
    it imported is kept out of Python's garbage collection (see `_freeze_imports`).
    """
    if verify_digests:
        # The setting the loader reads; in-process steps see it, as they would from the shell.
        os.environ[settings.VERIFY_DIGESTS_ENV] = "1"
    if own_process:
        # No cyclic collection while the pipeline is imported: see `_freeze_imports`.
        gc.disable()
        # The replaced warehouse is deleted by a process of its own, which the exit need not wait for.
        defer_retirement()
    _configure_logging(verbose)
    log = logging.getLogger("opvalue")
    started = time.perf_counter()
    started_at = datetime.now(UTC).replace(tzinfo=None)
    try:
        if not settings.is_remote_warehouse(settings.warehouse_target()):
            # Lock and copy the published file while the pipeline is imported and Dagster
            # starts; the run's warehouse resource takes the build over (pipelines/publish.py).
            prepare_build(settings.warehouse_path(), "cli")
        return _build(log, started, allow_empty, own_process)
    except Exception as error:  # noqa: BLE001  (the operator gets the reason, not a traceback)
        reason = f"build failed before it started: {describe(error)}"
        print(f"FAILED {reason}", file=sys.stderr)
        if not settings.is_remote_warehouse(settings.warehouse_target()):
            record = {
                "run_id": None,
                "started_at": started_at,
                "ended_at": datetime.now(UTC).replace(tzinfo=None),
                "status": "failed",
                "message": reason,
            }
            where = record_run(settings.warehouse_path(), record)
            if where is not None:
                print(f"recorded in {where}", file=sys.stderr)
        print(f"build failed after {time.perf_counter() - started:.1f}s", file=sys.stderr)
        return EXIT_FAILED
    finally:
        # A run that ended before its first step never took the prepared build over.
        discard_prepared_builds()
        finish_retirements(wait=not own_process)
        if own_process:
            defer_retirement(False)
            gc.enable()


def _freeze_imports() -> None:
    """Keep every object alive now (the modules of Dagster, the pipeline, scipy, polars:
    about 240,000) out of Python's cyclic garbage collection for the rest of the process,
    and collect again (`build` stops collection while they are imported).

    They live as long as the process anyway, but each full collection walked all of them:
    six full collections during an incremental run at 10M items took 0.64-0.75 s, five of
    them while importing, and the interpreter's collections at exit another 0.6 s or so
    (`gc.callbacks` timings and the gap between `main` returning and the process ending).
    The import-time cycles that are never collected this way hold about 2 MB. Objects made
    by the run are collected as before (65 young collections, 0.03 s). Only for a process
    of its own: a test calling `main` in-process would keep its own objects' cycles forever.
    """
    gc.freeze()
    gc.enable()


def _build(log: logging.Logger, started: float, allow_empty: bool, own_process: bool = False) -> int:
    import dagster as dg

    from pipelines.definitions import defs
    from pipelines.monitoring.publish_gate import PUBLISH_STEP
    from pipelines.progress import run_failure_reason, step_failure_message

    log.info("building %s from %s", settings.warehouse_target(), settings.input_dir())
    job = defs.resolve_job_def("build_warehouse")
    run_config: dict = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
    if allow_empty:
        run_config["ops"] = {PUBLISH_STEP: {"config": {"allow_empty": True}}}
    with _instance() as instance, _event_log_without_fsync(instance):
        if own_process:
            _freeze_imports()
        result = job.execute_in_process(instance=instance, raise_on_error=False, run_config=run_config)
    events = result.all_events
    failures = [event for event in events if event.event_type == dg.DagsterEventType.STEP_FAILURE]
    refused = [event for event in failures if event.step_key == PUBLISH_STEP and _is_refusal(event)]
    for event in refused:
        print(step_failure_message(event).split(" failed: ", 1)[1], file=sys.stderr)
    for event in failures:
        if event not in refused:
            print(f"FAILED {step_failure_message(event)}", file=sys.stderr)
    blocking = [
        evaluation
        for event in events
        if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        for evaluation in [event.event_specific_data]
        if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    ]
    for evaluation in blocking:
        print(f"FAILED CHECK {evaluation.asset_key.to_user_string()}:{evaluation.check_name}", file=sys.stderr)
    if not failures and not result.success:
        # Nothing failed in a step: the run could not start (lock, warehouse path, disk).
        reasons = [
            reason
            for event in events
            if event.event_type == dg.DagsterEventType.RUN_FAILURE
            for reason in [run_failure_reason(event)]
            if reason
        ]
        print(f"FAILED {reasons[0] if reasons else 'the run failed before its first step'}", file=sys.stderr)
    recorded = (
        None
        if settings.is_remote_warehouse(settings.warehouse_target())
        else find_run(settings.warehouse_path(), result.run_id)
    )
    if result.success and not failures and recorded is not None and recorded.get("status") == "failed":
        # The run's steps passed but publishing at teardown did not: the record says why.
        print(f"FAILED {recorded.get('message')}", file=sys.stderr)
        failures = [recorded]
    if refused:
        print(
            f"refused after {time.perf_counter() - started:.1f}s; the published warehouse is unchanged", file=sys.stderr
        )
        return EXIT_REFUSED
    if not result.success or failures:
        print(f"build failed after {time.perf_counter() - started:.1f}s", file=sys.stderr)
        return EXIT_FAILED
    _print_summary(settings.warehouse_target())
    warnings = [
        evaluation.check_name
        for event in events
        if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        for evaluation in [event.event_specific_data]
        if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    ]
    if warnings:
        print(f"  checks warning: {len(warnings)} (quarantined rows or rejected files; see the data-quality page)")
    print(f"built in {time.perf_counter() - started:.1f}s")
    return EXIT_FAILED if blocking else 0


def _is_refusal(event) -> bool:
    error = event.step_failure_data.error if event.step_failure_data else None
    while error is not None:
        if error.cls_name == "PublishRefused":
            return True
        error = error.cause
    return False


def main(argv: list[str] | None = None, *, own_process: bool = False) -> int:
    """Entry point for `python -m pipelines.cli`."""
    parser = argparse.ArgumentParser(prog="python -m pipelines.cli", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build_parser = commands.add_parser("build", help="build the warehouse once and exit")
    build_parser.add_argument("-v", "--verbose", action="store_true", help="also print debug lines")
    build_parser.add_argument(
        "--allow-empty",
        action="store_true",
        help="publish even when the registry has no valid row or a source the published build had is now missing or empty",
    )
    build_parser.add_argument(
        "--verify-digests",
        action="store_true",
        help="hash every input file to decide what to read again, instead of trusting an unchanged size, mtime, "
        f"ctime and inode (the same as {settings.VERIFY_DIGESTS_ENV}=1)",
    )
    args = parser.parse_args(argv)
    if args.command == "build":
        return build(
            verbose=args.verbose,
            allow_empty=args.allow_empty,
            verify_digests=args.verify_digests,
            own_process=own_process,
        )
    return 2


if __name__ == "__main__":
    code = main(own_process=True)
    # What the run made lives until exit too: the interpreter's teardown need not walk it.
    gc.freeze()
    sys.exit(code)
