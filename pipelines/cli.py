"""`python -m pipelines.cli build`: build the warehouse once, print progress and a summary.

This is what `make pipeline`, scripts and cron call. It runs the same Dagster job as the
schedule and sensor, in-process, and exits non-zero when a step fails or a blocking
(error-severity) check fails, naming the source, the file and the reason.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

import dagster as dg
import duckdb

from pipelines import settings
from pipelines.progress import step_failure_message


def _instance() -> dg.DagsterInstance:
    """The persistent instance under $DAGSTER_HOME when set (so `make dev` shows the run)."""
    try:
        return dg.DagsterInstance.get()
    except Exception:  # no DAGSTER_HOME: a throwaway instance is fine for a one-off build
        return dg.DagsterInstance.ephemeral()


def _configure_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[opvalue %(asctime)s] %(message)s", datefmt="%H:%M:%S"))
    logger = logging.getLogger("opvalue")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    logger.propagate = False


def _print_summary(warehouse: str) -> None:
    """Rows staged and quarantined per source, rejected files, and the marts' sizes."""
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
        print(f"  {'source':<12}{'files':>7}{'rejected':>10}{'read':>12}{'staged':>12}{'quarantined':>13}{'dedup':>8}{'superseded':>12}")
        for source, files, rejected, read, staged, quarantined, dedup, superseded in rows:
            print(f"  {source:<12}{files:>7}{rejected:>10}{read:>12,}{staged:>12,}{quarantined:>13,}{dedup:>8,}{superseded:>12,}")
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
    finally:
        con.close()


def build(verbose: bool = False) -> int:
    """Materialise every asset once; return the process exit code."""
    from pipelines.definitions import defs

    _configure_logging(verbose)
    log = logging.getLogger("opvalue")
    log.info("building %s from %s", settings.warehouse_path(), settings.input_dir())
    started = time.perf_counter()
    job = defs.resolve_job_def("build_warehouse")
    with _instance() as instance:
        result = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
        )
    failures = [event for event in result.all_events if event.event_type == dg.DagsterEventType.STEP_FAILURE]
    for event in failures:
        print(f"FAILED {step_failure_message(event)}", file=sys.stderr)
    blocking = [
        evaluation
        for event in result.all_events
        if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        for evaluation in [event.event_specific_data]
        if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    ]
    for evaluation in blocking:
        print(f"FAILED CHECK {evaluation.asset_key.to_user_string()}:{evaluation.check_name}", file=sys.stderr)
    if not result.success or failures:
        print(f"build failed after {time.perf_counter() - started:.1f}s", file=sys.stderr)
        return 1
    _print_summary(str(settings.warehouse_path()))
    warnings = [
        evaluation.check_name
        for event in result.all_events
        if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        for evaluation in [event.event_specific_data]
        if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    ]
    if warnings:
        print(f"  checks warning: {len(warnings)} (quarantined rows or rejected files; see the data-quality page)")
    print(f"built in {time.perf_counter() - started:.1f}s")
    return 1 if blocking else 0


def main(argv: list[str] | None = None) -> int:
    """Entry point for `python -m pipelines.cli`."""
    parser = argparse.ArgumentParser(prog="python -m pipelines.cli", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build_parser = commands.add_parser("build", help="build the warehouse once and exit")
    build_parser.add_argument("-v", "--verbose", action="store_true", help="also print debug lines")
    args = parser.parse_args(argv)
    if args.command == "build":
        return build(verbose=args.verbose)
    return 2


if __name__ == "__main__":
    sys.exit(main())
