"""The many-files step of `make bench`: thousands of small daily exports, first build and unchanged rebuild.

`python -m benchmarks.many_files --files 5000` writes the bundled sample's story (clean,
about 20,000 work items) as N small work-item files, plus three bad ones (binary content
named .csv, a file without a required column, a file with a broken row), then times:

1. the first build: `python -m pipelines.cli build` on a fresh warehouse path;
2. the unchanged rebuild: the same command again on that warehouse, nothing changed;
3. both again on the same items in the generator's monthly files, for reference: what a
   build costs whatever the number of files.

Each run is its own child process, timed wall-clock with its peak RSS (`measure.py`).
Prints one table and writes it to `docs/performance.md` between the many-files markers
(nothing else in the file changes). Skipped in `make bench` when `OPVALUE_BENCH_MANY_FILES=0`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from benchmarks import report
from benchmarks.measure import Measurement

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FILES = 5_000
FIRST_BUILD_TARGET_S = 60.0
REBUILD_TARGET_S = 10.0
STAGING_STEP = "staging/work_items"
DOCS_START = "<!-- bench:many-files:start -->"
DOCS_END = "<!-- bench:many-files:end -->"
# The bad files: each must be rejected (or its row quarantined) without touching its neighbours.
BAD_FILES = {
    "binary.csv": b"item_id,workflow_id\x00\x01\x02 not a text file\n",
    "no_workflow_column.csv": b"item_id,opened_at\nx1,2026-01-05T09:00:00Z\n",
}
BROKEN_ROW = "BAD-ROW-1,{workflow},2026-01-05T09:00:00Z,,-4,1,no,0.00,no,,\n"


def _log(message: str) -> None:
    print(f"[many-files {datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def write_input(input_dir: Path, files: int, logs: Path) -> dict:
    """The sample's clean story as `files` small work-item files plus the bad ones; returns facts."""
    from benchmarks.run import BenchError, _check, _child_env, run_measured

    stamp = input_dir / f".many-files-{files}"
    if stamp.exists():
        _log(f"reusing the input folder {input_dir}")
        return json.loads(stamp.read_text())
    shutil.rmtree(input_dir, ignore_errors=True)
    command = [sys.executable, "-m", "pipelines.sample.generate", "--out", str(input_dir), "--no-bad-rows"]
    measurement = run_measured(
        command,
        env=_child_env(),
        cwd=ROOT,
        stdout=logs / "many-generate.out",
        stderr=logs / "many-generate.err",
        report=logs / "many-generate.json",
    )
    _check(measurement, "the sample generator", logs / "many-generate.err")
    folder = input_dir / "work_items"
    monthly = sorted(folder.glob("*.csv"))
    if not monthly:
        raise BenchError(f"the sample generator wrote no work-item files in {folder}")
    # The same items in the generator's monthly files: the reference without many files.
    reference = input_dir.with_name("monthly-input")
    shutil.rmtree(reference, ignore_errors=True)
    shutil.copytree(input_dir, reference)
    frames = [pl.read_csv(path, infer_schema=False) for path in monthly]
    for path in monthly:
        path.unlink()
    items = pl.concat(frames, how="diagonal")
    # Spread the rows evenly: every file holds a few items, as a daily export of a small team does.
    bounds = [round(i * items.height / files) for i in range(files + 1)]
    for day in range(files):
        items.slice(bounds[day], bounds[day + 1] - bounds[day]).write_csv(folder / f"items_day_{day:05d}.csv")
    for name, content in BAD_FILES.items():
        (folder / f"items_day_{files // 2:05d}_{name}").write_bytes(content)
    broken = folder / f"items_day_{files // 3:05d}.csv"
    with broken.open("a") as handle:
        handle.write(BROKEN_ROW.format(workflow=items.get_column("workflow_id")[0]))
    facts = {
        "files": files + len(BAD_FILES),
        "items": items.height,
        "bytes": sum(path.stat().st_size for path in folder.iterdir()),
        "monthly_files": len(monthly),
    }
    stamp.write_text(json.dumps(facts))
    return facts


def _summary(measurements: list[Measurement], staging_s: list[float]) -> dict:
    walls = [m.wall_s for m in measurements]
    return {
        "staging_work_items_s": statistics.median(staging_s) if staging_s else None,
        "median_s": statistics.median(walls),
        "median_cpu_s": statistics.median(m.cpu_s for m in measurements),
        "best_s": min(walls),
        "worst_s": max(walls),
        "max_rss": max(m.max_rss_bytes for m in measurements),
        "load_1min": statistics.median(m.load_1min for m in measurements),
        "others_cores": statistics.median(m.others_cores for m in measurements),
        "runs": len(walls),
    }


def _builds(input_dir: Path, work: Path, name: str, repeat: int) -> tuple[dict, dict, int]:
    """`repeat` pairs of (first build, unchanged rebuild) on `input_dir`: their summaries and files read first."""
    from benchmarks.run import BenchError, run_build

    logs = work / "logs"
    firsts, rebuilds = [], []
    # The step that reads the files (the rest of a build does not depend on how many there are).
    staging_first, staging_again = [], []
    read_first = 0
    build_dir = work / f"{name}-build"
    for run in range(1, repeat + 1):
        shutil.rmtree(build_dir, ignore_errors=True)
        build_dir.mkdir()
        warehouse = build_dir / "opvalue.duckdb"
        first = run_build(input_dir, warehouse, logs, f"{name}-first-{run}")
        firsts.append(first.measurement)
        read_first = first.files_read
        staging_first += [first.steps[STAGING_STEP]] if STAGING_STEP in first.steps else []
        again = run_build(input_dir, warehouse, logs, f"{name}-rebuild-{run}")
        rebuilds.append(again.measurement)
        staging_again += [again.steps[STAGING_STEP]] if STAGING_STEP in again.steps else []
        _log(
            f"{name} run {run}: first build {first.measurement.wall_s:.1f}s ({first.files_read:,} files read), "
            f"unchanged rebuild {again.measurement.wall_s:.1f}s ({again.files_read} files read)"
        )
        if again.files_read:
            raise BenchError(f"the unchanged rebuild read {again.files_read} file(s); it must read none")
    shutil.rmtree(build_dir, ignore_errors=True)
    return _summary(firsts, staging_first), _summary(rebuilds, staging_again), read_first


def measure(work: Path, files: int, repeat: int) -> dict:
    """First builds and unchanged rebuilds, `repeat` of each, of the many files and of the same
    items in the sample's monthly files (what the per-run cost is without many files)."""
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    input_dir = work / "many-files-input"
    facts = write_input(input_dir, files, logs)
    _log(f"{facts['files']:,} files, {facts['items']:,} work items, {facts['bytes'] / report.MIB:.1f} MiB")
    first, rebuild, read_first = _builds(input_dir, work, "many", repeat)
    monthly_first, monthly_rebuild, _ = _builds(input_dir.with_name("monthly-input"), work, "monthly", repeat)
    return {
        "date": f"{datetime.now(UTC):%Y-%m-%d}",
        "cores": os.cpu_count() or 0,
        **facts,
        "files_read_first": read_first,
        "first": first,
        "rebuild": rebuild,
        "monthly_first": monthly_first,
        "monthly_rebuild": monthly_rebuild,
    }


def markdown(result: dict) -> str:
    """The docs block: one table, the input and the load the runs saw."""
    rows = []
    for key, label, target in (
        ("first", f"{result['files']:,} files: first build (cold)", FIRST_BUILD_TARGET_S),
        ("rebuild", f"{result['files']:,} files: unchanged rebuild", REBUILD_TARGET_S),
        ("monthly_first", f"same items in {result['monthly_files']} monthly files: first build", None),
        ("monthly_rebuild", f"same items in {result['monthly_files']} monthly files: unchanged rebuild", None),
    ):
        step = result[key]
        rows.append(
            [
                label,
                str(step["runs"]),
                f"{step['median_s']:.1f}",
                f"{step['best_s']:.1f}–{step['worst_s']:.1f}",
                f"{step['median_cpu_s']:.1f}" if "median_cpu_s" in step else "?",
                "?" if step["staging_work_items_s"] is None else f"{step['staging_work_items_s']:.1f}",
                report.fmt_bytes(step["max_rss"]),
                f"{step['load_1min']:.1f}",
                f"{step['others_cores']:.1f}",
                "—" if target is None else f"≤ {target:.0f} s",
                "—" if target is None else "pass" if step["median_s"] <= target else "FAIL",
            ]
        )
    header = [
        "step",
        "runs",
        "median s",
        "range s",
        "CPU s",
        "of which reading the files s",
        "peak RSS",
        "load (1 min)",
        "others' cores",
        "target",
        "verdict",
    ]
    return (
        f"Input: {result['files']:,} work-item files ({result['items']:,} items, "
        f"{result['bytes'] / report.MIB:.1f} MiB; two of the files are bad and one has a broken row) "
        f"beside the bundled sample's registry and usage. {result['date']}, {result['cores']} cores. "
        f"Command: `python -m benchmarks.many_files --files {result['files'] - len(BAD_FILES)}` "
        "(a step of `make bench`).\n\n"
        + report.markdown_table(header, rows)
        + f"\n\n<!-- many-files:data {json.dumps(result)} -->"
    )


def write_docs(docs: Path, block: str) -> None:
    """Replace the text between the many-files markers in `docs`; append a section with them when absent."""
    text = docs.read_text()
    if DOCS_START not in text or DOCS_END not in text:
        text = text.rstrip("\n") + f"\n\n## Many files\n\n{DOCS_START}\n{DOCS_END}\n"
    start, end = text.index(DOCS_START) + len(DOCS_START), text.index(DOCS_END)
    docs.write_text(text[:start] + "\n" + block + "\n" + text[end:])


def bench_step(work: Path, docs: Path | None, repeat: int, files: int = DEFAULT_FILES) -> dict | None:
    """The many-files step of `make bench`; skipped when `OPVALUE_BENCH_MANY_FILES=0`."""
    if os.environ.get("OPVALUE_BENCH_MANY_FILES") == "0":
        _log("skipped: OPVALUE_BENCH_MANY_FILES=0")
        return None
    result = measure(work, files, repeat)
    block = markdown(result)
    print("\n" + block)
    if docs is not None:
        write_docs(docs, block)
    return result


def main(argv: list[str] | None = None) -> int:
    """Entry point for `python -m benchmarks.many_files`."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.many_files", description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=DEFAULT_FILES, help=f"small files (default {DEFAULT_FILES:,})")
    parser.add_argument("--repeat", type=int, default=3, help="first builds and rebuilds, each (default 3)")
    parser.add_argument(
        "--docs", type=Path, default=ROOT / "docs" / "performance.md", help="file for the table (its markers)"
    )
    parser.add_argument("--no-docs", action="store_true", help="print the table only")
    parser.add_argument("--workdir", help="keep the input and logs here (reused by a later run of the same size)")
    args = parser.parse_args(argv)
    if args.files < 10 or args.repeat < 1:
        parser.error("--files must be at least 10 and --repeat at least 1")
    from benchmarks.run import BenchError

    docs = None if args.no_docs else args.docs
    try:
        if args.workdir:
            work = Path(args.workdir).resolve()
            work.mkdir(parents=True, exist_ok=True)
            bench_step(work, docs, args.repeat, args.files)
        else:
            with tempfile.TemporaryDirectory(prefix="opvalue-many-files-") as tmp:
                bench_step(Path(tmp), docs, args.repeat, args.files)
    except BenchError as error:
        print(f"bench failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
