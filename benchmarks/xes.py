"""XES conversion time and peak memory on BPIC 2012 (262,200 events, 13,087 cases).

`python -m benchmarks.xes [--repeat N]`, also called by `make bench`. Each run is a child
process measured by benchmarks/measure.py (wall time, CPU time, peak RSS) that reads the log
the way a build does: the connector converts the XES to one row per case and the reader
types and validates the rows (`read_source_file`). The real log lives in ../shared/realdata;
without it the step is skipped with a note. The figures go into docs/connectors.md between
its `bench:xes` markers.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.measure import run_measured

ROOT = Path(__file__).resolve().parents[1]
BPIC = ROOT.parent / "shared" / "realdata" / "bpic2012.xes.gz"
MAPPING = ROOT / "tests" / "connectors" / "bpic2012" / "bpic2012.yaml"
DOCS = ROOT / "docs" / "connectors.md"
START, END = "<!-- bench:xes:start -->", "<!-- bench:xes:end -->"
GIB = 1 << 30


def _child(input_dir: Path) -> int:
    """Read the linked log once, as the ingest step does; print rows and seconds as JSON."""
    from pipelines.ingest.reader import read_source_file
    from pipelines.ingest.sources import WORK_ITEMS

    started = time.perf_counter()
    result = read_source_file(input_dir / "connectors" / BPIC.name, WORK_ITEMS, input_dir)
    seconds = time.perf_counter() - started
    print(json.dumps({"status": result.status, "reason": result.reason, "rows": result.rows_read, "seconds": seconds}))
    return 0 if result.status == "loaded" else 1


def measure(repeat: int = 3) -> dict | None:
    """Median wall seconds and the largest peak RSS over `repeat` child runs, or None without the log."""
    if not BPIC.is_file():
        return None
    walls, cpus, loads, rss, inner, rows = [], [], [], [], [], 0
    with tempfile.TemporaryDirectory(prefix="opvalue-xes-") as work:
        input_dir = Path(work) / "input"
        (input_dir / "connectors").mkdir(parents=True)
        (input_dir / "connectors" / MAPPING.name).write_text(MAPPING.read_text())
        (input_dir / "connectors" / BPIC.name).symlink_to(BPIC)
        for run in range(repeat):
            out = Path(work) / f"out-{run}.json"
            measurement = run_measured(
                [sys.executable, "-m", "benchmarks.xes", "--child", str(input_dir)],
                cwd=ROOT,
                stdout=out,
                report=Path(work) / f"report-{run}.json",
            )
            if measurement.returncode != 0:
                raise RuntimeError(f"the XES conversion failed: {out.read_text()[:500]}")
            child = json.loads(out.read_text().strip().splitlines()[-1])
            walls.append(measurement.wall_s)
            cpus.append(measurement.cpu_s)
            loads.append(measurement.load_1min)
            rss.append(measurement.max_rss_bytes)
            inner.append(child["seconds"])
            rows = child["rows"]
    return {
        "runs": repeat,
        "cases": rows,
        "wall_s": statistics.median(walls),
        "cpu_s": statistics.median(cpus),
        "load_1min": statistics.median(loads),
        "read_s": statistics.median(inner),
        "peak_rss_bytes": max(rss),
    }


def describe(result: dict | None) -> str:
    """One markdown paragraph with the figures."""
    if result is None:
        return f"XES (BPIC 2012): skipped, {BPIC} is not here."
    return (
        f"XES (BPIC 2012, 262,200 events -> {result['cases']:,} cases), median of {result['runs']} runs: "
        f"**{result['read_s']:.1f} s** to convert and validate ({result['wall_s']:.1f} s with interpreter start-up "
        f"and imports; {result['cpu_s']:.1f} CPU seconds in all, which other jobs on the machine do not inflate; "
        f"1-minute load average {result['load_1min']:.1f} when it started), "
        f"peak memory **{result['peak_rss_bytes'] / GIB:.2f} GiB** (limit 1 GiB)."
    )


def write_docs(text: str, docs: Path = DOCS) -> None:
    """Replace the block between the bench:xes markers in docs/connectors.md."""
    if not docs.is_file():
        return
    page = docs.read_text()
    if START not in page or END not in page:
        return
    head, rest = page.split(START, 1)
    _, tail = rest.split(END, 1)
    docs.write_text(f"{head}{START}\n{text}\n{END}{tail}")


def run_and_describe(repeat: int = 3, docs: bool = True) -> str:
    """Measure, write the docs block, and return the paragraph (what `make bench` prints)."""
    text = describe(measure(repeat))
    if docs:
        write_docs(text)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.xes", description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-docs", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(Path(args.child))
    print(run_and_describe(max(1, args.repeat), docs=not args.no_docs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
