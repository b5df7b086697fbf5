"""`make bench` (`python -m benchmarks.run --items N`): opvalue against the raw DuckDB floor.

In one run, on one synthetic input folder of N work items across 200 workflows:

1. the floor: `benchmarks/floor.sql`, a plain DuckDB script computing the same aggregates;
2. the full build, cold: `python -m pipelines.cli build` (what `make pipeline` runs) on a
   fresh warehouse path with `DAGSTER_HOME` unset;
3. an incremental build: the same command after one new file of 10,000 items;
4. each dashboard page's queries, warm, against the built warehouse.
5. thousands of small files: first build and unchanged rebuild (`benchmarks/many_files.py`;
   `OPVALUE_BENCH_MANY_FILES=0` skips it).

Each measured run is its own child process, timed wall-clock, its peak RSS taken from
`os.wait4`. Prints one table and writes it to `docs/performance.md` (between this size's
markers; nothing else in the file changes).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import duckdb

from benchmarks import browser, many_files, report, xes
from benchmarks.agreement import compare
from benchmarks.increment import INCREMENT_ITEMS, INCREMENT_NAME, write_increment
from benchmarks.measure import Measurement, run_measured
from benchmarks.pages import PAGES

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ITEMS = 1_000_000
DEFAULT_DOCS = ROOT / "docs" / "performance.md"
WORKFLOWS = 200
# A cold full build at 10M takes minutes: two runs there (the brief allows one), three below.
FEWER_BUILDS_FROM = 5_000_000

STEP_LINE = re.compile(r"\] ok (\S+) \(([\d.]+)s\)")
FILE_READ_LINE = re.compile(r"\] +\w+ \[\d+/\d+\] .*: (loaded|REJECTED)")
BUILT_IN_LINE = re.compile(r"^built in ([\d.]+)s", re.M)
RECOMPUTED_LINE = re.compile(r"^  workflows recomputed: (.+)$", re.M)


class BenchError(RuntimeError):
    """A measured command failed: the figures would mean nothing."""


@dataclass
class BuildRun:
    """One measured build and what its log says about where the time went."""

    measurement: Measurement
    steps: dict[str, float] = field(default_factory=dict)
    built_in_s: float | None = None
    """The CLI's own timer: the run without interpreter start-up and imports."""
    files_read: int = 0
    recomputed: str = ""
    """The CLI summary's `workflows recomputed:` line."""

    def breakdown(self) -> str:
        """`staging/work_items 41.2 s, ...; outside the steps ...`, largest first."""
        # The CLI prints steps to a tenth of a second; so does this.
        parts = [f"{name} {s:.1f} s" for name, s in sorted(self.steps.items(), key=lambda kv: -kv[1])]
        in_steps = sum(self.steps.values())
        wall = self.measurement.wall_s
        text = ", ".join(parts)
        if self.built_in_s is not None:
            text += (
                f"; Dagster and publishing outside the steps {max(self.built_in_s - in_steps, 0):.1f} s"
                f"; interpreter start-up and imports {max(wall - self.built_in_s, 0):.1f} s"
            )
        return text


def _log(message: str) -> None:
    print(f"[bench {datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def machine() -> dict[str, str | int | float]:
    """Cores, memory, CPU and versions, for the block's first lines."""
    memory = 0
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) * 1024
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for package in ("duckdb", "polars", "pandera", "dagster", "streamlit"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "?"
    return {
        "cores": os.cpu_count() or 0,
        "memory": memory,
        "cpu": cpu,
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        **versions,
    }


def source_state() -> str:
    """The commit measured, and whether the working tree differed from it (others edit in parallel)."""

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.rstrip()
        except (OSError, subprocess.SubprocessError):
            return ""

    commit = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    changed = [
        line[3:] for line in git("status", "--porcelain", "--", "pipelines", "schemas", "dashboards").splitlines()
    ]
    if not changed:
        return f"commit `{commit}`"
    return f"commit `{commit}` with uncommitted changes to {', '.join(f'`{path}`' for path in changed[:6])}" + (
        f" and {len(changed) - 6} more" if len(changed) > 6 else ""
    )


# Not passed to a measured command: its own Dagster home, opvalue settings, and a shell's
# PYTHONDONTWRITEBYTECODE, which made every measured run compile the pipeline's modules again
# (0.1 s of each run), as no scheduled run with Python's defaults does after its first.
_NOT_INHERITED = ("DAGSTER_HOME", "PYTHONDONTWRITEBYTECODE")


def _child_env(**settings: str) -> dict[str, str]:
    """The environment of a measured command: no Dagster home, only the settings given."""
    env = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED and not k.startswith("OPVALUE_")}
    env.update(settings)
    return env


def _check(measurement: Measurement, what: str, stderr: Path | None) -> None:
    if measurement.returncode != 0:
        tail = stderr.read_text(errors="replace")[-3000:] if stderr and stderr.exists() else ""
        raise BenchError(f"{what} exited with {measurement.returncode}\n{tail}")


def _remove_database(path: Path) -> None:
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)


def generate(input_dir: Path, items: int, logs: Path) -> None:
    """The synthetic input folder (reused when a kept work folder already holds this size)."""
    stamp = input_dir / f".bench-{items}-{WORKFLOWS}"
    if stamp.exists():
        _log(f"reusing the input folder {input_dir}")
        return
    shutil.rmtree(input_dir, ignore_errors=True)
    command = [
        sys.executable,
        "-m",
        "pipelines.sample.generate",
        "--out",
        str(input_dir),
        "--items",
        str(items),
        "--workflows",
        str(WORKFLOWS),
    ]
    _log(f"generating {items:,} items across {WORKFLOWS} workflows in {input_dir}")
    measurement = run_measured(
        command,
        env=_child_env(),
        cwd=ROOT,
        stdout=logs / "generate.out",
        stderr=logs / "generate.err",
        report=logs / "generate.json",
    )
    _check(measurement, "the sample generator", logs / "generate.err")
    _log(f"generated in {measurement.wall_s:.1f}s")
    stamp.touch()


def run_floor(input_dir: Path, database: Path, logs: Path, run: int) -> Measurement:
    """One run of the floor script on a fresh database file."""
    _remove_database(database)
    command = [sys.executable, "-m", "benchmarks.floor", "--input", str(input_dir), "--database", str(database)]
    err = logs / f"floor-{run}.err"
    measurement = run_measured(command, env=_child_env(), cwd=ROOT, stderr=err, report=logs / f"floor-{run}.json")
    _check(measurement, "the floor", err)
    return measurement


def run_build(input_dir: Path, warehouse: Path, logs: Path, name: str) -> BuildRun:
    """One `python -m pipelines.cli build` with this input folder and warehouse path."""
    out, err = logs / f"{name}.out", logs / f"{name}.err"
    command = [sys.executable, "-m", "pipelines.cli", "build"]
    env = _child_env(OPVALUE_INPUT_DIR=str(input_dir), OPVALUE_WAREHOUSE=str(warehouse))
    measurement = run_measured(command, env=env, cwd=ROOT, stdout=out, stderr=err, report=logs / f"{name}.json")
    _check(measurement, f"the build ({name})", err)
    log_text = err.read_text(errors="replace")
    out_text = out.read_text(errors="replace")
    built = BUILT_IN_LINE.search(out_text)
    recomputed = RECOMPUTED_LINE.search(out_text)
    return BuildRun(
        measurement=measurement,
        steps={m.group(1): float(m.group(2)) for m in STEP_LINE.finditer(log_text)},
        built_in_s=float(built.group(1)) if built else None,
        files_read=len(FILE_READ_LINE.findall(log_text)),
        recomputed=recomputed.group(1) if recomputed else "",
    )


def run_page(page: str, warehouse: Path, repeat: int, logs: Path) -> tuple[Measurement, dict]:
    """One process timing one page: its first load and `repeat` warm loads."""
    out, err = logs / f"page-{page}.out", logs / f"page-{page}.err"
    command = [sys.executable, "-m", "benchmarks.pages", "--page", page, "--repeat", str(repeat)]
    measurement = run_measured(
        command,
        env=_child_env(OPVALUE_WAREHOUSE=str(warehouse)),
        cwd=ROOT,
        stdout=out,
        stderr=err,
        report=logs / f"page-{page}.json",
    )
    _check(measurement, f"the {page} page's queries", err)
    return measurement, json.loads(out.read_text().strip().splitlines()[-1])


def _input_facts(warehouse: Path, input_dir: Path) -> dict:
    """Rows read per source and the folder's size, from the built warehouse's manifest."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = {
            source: (files, read)
            for source, files, read in con.execute(
                "select source, count(*), sum(rows_read) from ops.ingested_files group by 1"
            ).fetchall()
        }
    finally:
        con.close()
    size = sum(
        p.stat().st_size for folder in ("work_items", "usage") for p in (input_dir / folder).glob("*") if p.is_file()
    )
    size += sum(p.stat().st_size for p in input_dir.glob("workflows.*"))
    return {"rows": rows, "bytes": size}


def _workflow_items(warehouse: Path, workflow_id: str | None) -> int:
    if workflow_id is None:
        return 0
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute("select count(*) from staging.work_items where workflow_id = ?", [workflow_id]).fetchall()[
            0
        ][0]
    finally:
        con.close()


def intro_markdown() -> str:
    """The section above the blocks: what is measured, the targets, how to run it."""
    return f"""\
## Benchmark: opvalue against the raw DuckDB floor

A large organisation has millions of work items a year across hundreds of workflows. The honest
reference for opvalue's cost is DuckDB on its own: one SQL script, `benchmarks/floor.sql`, that
reads the same CSV files and computes the same aggregates. Everything opvalue adds (Dagster,
pandera validation, quarantine, statistics, publishing) is overhead on that floor.

### Targets

{report.TARGETS_MARKDOWN}

### How to run it

```sh
make bench                          # BENCH_ITEMS=1000000
BENCH_ITEMS=10000000 make bench     # about 15 minutes on 2 cores
.venv/bin/python -m benchmarks.run --items 1000000 --workdir /tmp/bench   # keep the files and logs
```

One run generates the input folder in a temporary directory
(`python -m pipelines.sample.generate --items N --workflows {WORKFLOWS}`: monthly item files,
usage about half the items, about 0.1% bad rows, one file to reject), then measures, in this order:

- **floor**: `benchmarks/floor.sql` through DuckDB's Python API, on a fresh database file. It types
  every value with DuckDB's casts, drops rows that break the data contract, keeps the last file's
  version of each key, persists the typed rows, and computes per deployed workflow and period the
  item and closed counts, the median cycle time, the rework and error shares, the capped
  touchpoints and spend means, and active users. The bench checks that its numbers equal the
  build's marts (the agreement line under each table). It quarantines nothing, reconciles nothing
  and computes no interval: that is the overhead being measured.
- **full build (cold)**: `python -m pipelines.cli build` (what `make pipeline` runs) on a fresh
  warehouse path, `DAGSTER_HOME` unset. Interpreter start-up and imports are included (from
  Python's bytecode cache, as for any run after the first: the bench drops a
  `PYTHONDONTWRITEBYTECODE` it inherits).
- **incremental (+{INCREMENT_ITEMS:,} items)**: the same command on a copy of that build after
  `work_items/{INCREMENT_NAME}` ({INCREMENT_ITEMS:,} valid new items for one deployed workflow, the one with
  the most items, as a daily export from one system would bring; only its marts are recomputed)
  is added. Each run starts from a fresh copy of the full build.
- **page: …**: the queries each page of the dashboard runs on load with no filter chosen,
  called through `dashboards/data.py` with Streamlit's data cache bypassed (`__wrapped__`) and
  the read-only connection kept open, as a running dashboard holds it. Warm = second and later
  loads, so the file is attached and in the page cache but every query still runs (what the
  "Dashboard queries" section calls *cold queries*; a Streamlit cache hit is far cheaper). The
  first load, which attaches the file, is reported under the table. Workflow detail is timed on
  the deployed workflow with the most items.

Wall time is the median of the runs (floor and incremental: 3; full build: 3, or 2 from
{FEWER_BUILDS_FROM:,} items, where a build takes minutes; pages: 7 warm loads each), with the range
beside it; floor and full-build runs alternate so a burst of load falls on both. "× floor" is a
step's median wall time over the floor's (a page has no counterpart in the floor). The targets are
judged on wall time.
CPU s is user plus system time over every thread: on a shared machine it moves less than wall
time, so it is the steadier figure to compare when the load was high. Peak RSS is the highest of a
step's runs, from `os.wait4` on each step's own process, started through `benchmarks/measure.py`
(Linux carries a parent's peak RSS into a forked child, so a step started straight from the bench
would report at least the bench's own size). A page's RSS is its whole Python process: Streamlit,
polars, DuckDB. The input files are in the page cache for every step (they were just written), for
the floor as much as for the build.

To time an incremental run by hand on a kept work folder (`--workdir`), run the CLI from the
worktree the bench ran in, or set `OPVALUE_PSEUDONYM_KEY_FILE` to that worktree's
`data/keys/pseudonym.key`: another key pseudonymises every usage row differently, so the run
re-stages all of usage (about 140 s at 10M) instead of one file. A change to the marts' code
(`pipelines/changes.py`, `CODE_FOLDERS`) also changes the code version, and the first run on a
base built by other code then recomputes every workflow; `make bench` builds its own base, so
its figures are not affected.

The machine is shared with other jobs, so for every run the bench also records how many cores
everything else kept busy meanwhile (the machine's busy CPU time from `/proc/stat`, minus the
step's own, over its wall time): the "others' cores" column; "load avg" is the
1-minute load average as each run ended (median over the runs, the run itself included). The floor uses both cores through
DuckDB, so it loses more to a busy neighbour than the build, which is mostly one Python thread;
that can move the build's ratio either way. Targets are judged on medians, as stated; when a
step's fastest runs (the least disturbed) would give the other verdict, the result says so."""


def block_markdown(
    items: int,
    info: dict,
    steps: dict[str, report.Step],
    builds: list[BuildRun],
    incrementals: list[BuildRun],
    pages: dict[str, dict],
    facts: dict,
    agreement_sentence: str,
    workflow_items: int,
    started: datetime,
    increment_workflow: str = "",
) -> str:
    """This size's block: conditions, the table, notes on where the time goes, and the figures as JSON."""
    others = [value for step in steps.values() for value in step.others if value == value] or [float("nan")]
    files = facts["rows"]
    item_files, item_rows = files.get("work_items", (0, 0))
    usage_files, usage_rows = files.get("usage", (0, 0))
    build_runs = len(builds)
    detail = pages.get("workflow_detail", {})
    lines = [
        f"### {items:,} work items",
        "",
        f"Run {started:%Y-%m-%d %H:%M} UTC on {info['cores']} cores ({info['cpu']}) and "
        f"{info['memory'] / report.GIB:.1f} GiB of memory; {info['system']}, Python {info['python']}, "
        f"DuckDB {info['duckdb']}, polars {info['polars']}, pandera {info['pandera']}, Dagster {info['dagster']}. "
        f"Code: {info['source']}.",
        f"Other jobs on this shared machine kept {min(others):.1f} to {max(others):.1f} of its {info['cores']} cores busy "
        f'on average during the measured runs (column "others\' cores": per step, the median over its runs)'
        f"{'; figures are noisy, and the fastest run of each step is the least disturbed' if max(others) > 0.25 else ''}.",
        f"Input: {item_rows:,} item rows in {item_files} files and {usage_rows:,} usage rows in {usage_files} files, "
        f"{WORKFLOWS} workflows, {facts['bytes'] / report.MIB:,.0f} MiB of CSV. "
        f"Command: `BENCH_ITEMS={items} make bench`.",
        "",
        report.markdown_table(report.TABLE_HEADER, report.table_rows(steps)),
        "",
        f"- Floor: {agreement_sentence}.",
        f"- Full build: {'one cold run' if build_runs == 1 else f'median of {build_runs} cold runs'}"
        f"{' (a single run: no spread to judge the noise by)' if build_runs == 1 else ''}. Where the time goes (first run, the CLI's "
        f"step lines): {builds[0].breakdown()}.",
        f"- Incremental: {INCREMENT_ITEMS:,} items for `{increment_workflow}`; the run read "
        f"{incrementals[0].files_read} file(s) and reused the rest by sha256, and recomputed the marts of "
        f"{incrementals[0].recomputed or 'an unknown set of workflows'}. "
        f"Where the time goes (first run): {incrementals[0].breakdown()}.",
        "- Pages, first (cold) load: "
        + ", ".join(f"{result['page']} {report.fmt_seconds(result['first_s'])} s" for result in pages.values())
        + ". Slowest warm query per page: "
        + ", ".join(
            f"{result['page']} `{max(result['queries_warm_median_s'], key=result['queries_warm_median_s'].get)}` "
            f"{max(result['queries_warm_median_s'].values()) * 1000:.0f} ms"
            for result in pages.values()
            if result["queries_warm_median_s"]
        )
        + f". Workflow detail is timed on `{detail.get('workflow_id')}` ({workflow_items:,} staged items).",
    ]
    behind = {result["page"]: result["not_replayed"] + result["missing_in_data_py"] for result in pages.values()}
    behind = {page: names for page, names in behind.items() if names}
    if behind:
        lines.append(
            "- Not timed (the page calls them but the bench does not replay them, or data.py lacks them): "
            + "; ".join(f"{page}: {', '.join(names)}" for page, names in behind.items())
            + "."
        )
    lines += ["", f"<!-- bench:data {json.dumps(report.summary_data(items, steps, f'{started:%Y-%m-%d}'))} -->"]
    return "\n".join(lines)


def bench(args: argparse.Namespace) -> int:
    """Run every step at `args.items`; print the table; write the docs block."""
    items = args.items
    build_repeat = args.build_repeat or (2 if items >= FEWER_BUILDS_FROM else 3)
    info = machine()
    info["source"] = source_state()
    started = datetime.now(UTC)
    _log(
        f"{items:,} items; {info['cores']} cores, {info['memory'] / report.GIB:.1f} GiB; load {os.getloadavg()[0]:.2f}"
    )

    if args.workdir:
        work = Path(args.workdir).resolve()
        work.mkdir(parents=True, exist_ok=True)
        cleanup = None
    else:
        cleanup = tempfile.TemporaryDirectory(prefix="opvalue-bench-")
        work = Path(cleanup.name)
    try:
        logs = work / "logs"
        logs.mkdir(exist_ok=True)
        input_dir = work / "input"
        generate(input_dir, items, logs)
        (input_dir / "work_items" / INCREMENT_NAME).unlink(missing_ok=True)
        steps: dict[str, report.Step] = {}

        # Floor and full build alternate, so a burst of load on a shared machine falls on both.
        floor_step = steps.setdefault("floor", report.Step("floor", "floor (raw DuckDB)"))
        build_step = steps.setdefault("build", report.Step("build", "full build (cold)"))
        floor_db = work / "floor.duckdb"
        builds: list[BuildRun] = []
        for run in range(1, max(args.repeat, build_repeat) + 1):
            if run <= args.repeat:
                measurement = run_floor(input_dir, floor_db, logs, run)
                _add(floor_step, measurement)
                _log(f"floor run {run}: {measurement.wall_s:.2f}s, {report.fmt_bytes(measurement.max_rss_bytes)}")
            if run <= build_repeat:
                build_dir = work / f"build-{run}"
                shutil.rmtree(build_dir, ignore_errors=True)
                build_dir.mkdir()
                result = run_build(input_dir, build_dir / "opvalue.duckdb", logs, f"build-{run}")
                builds.append(result)
                _add(build_step, result.measurement)
                _log(
                    f"full build run {run}: {result.measurement.wall_s:.1f}s, {report.fmt_bytes(result.measurement.max_rss_bytes)}"
                )
                if run > 1:
                    shutil.rmtree(work / f"build-{run - 1}", ignore_errors=True)  # keep one built warehouse on disk
        base = work / f"build-{build_repeat}" / "opvalue.duckdb"
        agreement = compare(floor_db, base)
        _log(agreement.sentence())
        facts = _input_facts(base, input_dir)

        increment, increment_workflow = write_increment(base, input_dir)
        _log(f"increment: {INCREMENT_ITEMS:,} items for {increment_workflow}")
        incremental_step = steps.setdefault(
            "incremental", report.Step("incremental", f"incremental (+{INCREMENT_ITEMS:,} items)")
        )
        incrementals: list[BuildRun] = []
        incremental_dir = work / "incremental"
        for run in range(1, args.repeat + 1):
            shutil.rmtree(incremental_dir, ignore_errors=True)
            incremental_dir.mkdir()
            shutil.copyfile(base, incremental_dir / "opvalue.duckdb")
            result = run_build(input_dir, incremental_dir / "opvalue.duckdb", logs, f"incremental-{run}")
            incrementals.append(result)
            _add(incremental_step, result.measurement)
            _log(f"incremental run {run}: {result.measurement.wall_s:.1f}s, read {result.files_read} file(s)")
        increment.unlink()
        shutil.rmtree(incremental_dir, ignore_errors=True)

        pages: dict[str, dict] = {}
        for page in PAGES:
            measurement, result = run_page(page, base, args.page_repeat, logs)
            pages[page] = result
            step = steps.setdefault(f"page:{page}", report.Step(f"page:{page}", f"page: {result['page']}"))
            step.walls = list(result["warm_s"])
            step.cpus = list(result["warm_cpu_s"])
            step.rss = [measurement.max_rss_bytes]
            step.loads = [measurement.load_1min]
            step.others = [measurement.others_cores]
            step.first_s = result["first_s"]
            _log(f"page {result['page']}: warm median {result['warm_median_s'] * 1000:.0f} ms")

        browser.bench_step(
            base,
            logs,
            None if args.no_docs else Path(args.docs),
            args.page_repeat,
            f"the {items:,}-item benchmark warehouse",
        )
        # Thousands of small files, first build and unchanged rebuild (OPVALUE_BENCH_MANY_FILES=0 skips it).
        many_files.bench_step(work, None if args.no_docs else Path(args.docs), args.repeat)
        workflow_items = _workflow_items(base, pages.get("workflow_detail", {}).get("workflow_id"))
        body = block_markdown(
            items,
            info,
            steps,
            builds,
            incrementals,
            pages,
            facts,
            agreement.sentence(),
            workflow_items,
            started,
            increment_workflow,
        )
    finally:
        if cleanup is not None:
            cleanup.cleanup()

    print(
        f"\nopvalue bench: {items:,} work items, {info['cores']} cores, {info['memory'] / report.GIB:.1f} GiB, {started:%Y-%m-%d}"
    )
    print(report.plain_table(report.TABLE_HEADER, report.table_rows(steps)))
    print(f"\n{agreement.sentence()}")
    print(
        "\n"
        + xes.run_and_describe(
            args.repeat, docs=not args.no_docs and Path(args.docs).resolve() == DEFAULT_DOCS.resolve()
        )
    )  # connectors: BPIC 2012 XES
    if not args.no_docs:
        docs = Path(args.docs)
        report.write_docs(docs, items, body, intro_markdown())
        print(f"written to {docs} (block bench:{items})")
        data = report.size_data(docs.read_text())
        if len(data) > 1:
            print("\n" + report.scaling_markdown(data))
    return 0


def _add(step: report.Step, measurement: Measurement) -> None:
    step.walls.append(measurement.wall_s)
    step.cpus.append(measurement.cpu_s)
    step.others.append(measurement.others_cores)
    step.rss.append(measurement.max_rss_bytes)
    step.loads.append(measurement.load_1min)


def main(argv: list[str] | None = None) -> int:
    """Entry point for `python -m benchmarks.run`."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--items",
        type=int,
        default=int(os.environ.get("BENCH_ITEMS") or DEFAULT_ITEMS),
        help=f"work items to generate (default $BENCH_ITEMS, else {DEFAULT_ITEMS:,})",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of the floor and of the incremental build (default 3)"
    )
    parser.add_argument(
        "--build-repeat",
        type=int,
        default=0,
        help=f"cold full builds (default 3, or 2 from {FEWER_BUILDS_FROM:,} items)",
    )
    parser.add_argument(
        "--page-repeat", type=int, default=7, help="warm loads of each page after the first (default 7)"
    )
    parser.add_argument(
        "--docs",
        default=os.environ.get("BENCH_DOCS") or str(DEFAULT_DOCS),
        help="markdown file for the results (default $BENCH_DOCS, else docs/performance.md)",
    )
    parser.add_argument("--no-docs", action="store_true", help="print the table only")
    parser.add_argument(
        "--workdir", help="keep the input, warehouse and logs here (reused by a later run of the same size)"
    )
    args = parser.parse_args(argv)
    if args.items < 1000 or args.repeat < 1 or args.page_repeat < 1 or args.build_repeat < 0:
        parser.error("--items must be at least 1000 and every repeat at least 1")
    started = time.perf_counter()
    try:
        code = bench(args)
    except BenchError as error:
        print(f"bench failed: {error}", file=sys.stderr)
        return 1
    _log(f"bench done in {time.perf_counter() - started:.0f}s")
    return code


if __name__ == "__main__":
    sys.exit(main())
