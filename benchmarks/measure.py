"""Run one command as a child process and report its wall time, CPU time and peak memory.

`resource.getrusage(RUSAGE_CHILDREN)` is a running maximum over every child a process has
ever waited for, so it cannot tell two steps apart; `os.wait4` returns the usage of the one
child it reaps (and of the grandchildren that child waited for).

One more trap: Linux carries a process's peak RSS across `exec`, and a child starts with
its parent's memory mapped, so a child of a large process (the bench, with DuckDB and
polars loaded) reports at least the parent's size. Each measured command is therefore
started by this small stdlib-only script, whose own footprint (about 10 MB, a bare Python)
is the most it can add.

    python benchmarks/measure.py -- python -m pipelines.cli build

runs the command with this terminal, then prints one JSON line on stderr: wall and CPU
seconds, peak RSS in bytes, the exit code and the load average when it started.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Measurement:
    """One run of one command."""

    wall_s: float
    cpu_s: float
    """User plus system CPU seconds of the command and the children it waited for."""
    max_rss_bytes: int
    """Peak resident set size (Linux reports ru_maxrss in KiB)."""
    returncode: int
    load_1min: float
    """The 1-minute load average when the command ended (this command included)."""
    others_cores: float = float("nan")
    """Cores kept busy by everything else on the machine while the command ran, on average:
    the machine's busy CPU time (/proc/stat) minus the command's own, over its wall time."""


def _busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (NaN where /proc/stat is missing)."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(x) for x in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return float("nan")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    busy = sum(fields[:8]) - idle  # user nice system idle iowait irq softirq steal; guests are in user
    return busy / os.sysconf("SC_CLK_TCK")


def _run(command: list[str]) -> Measurement:
    busy_before = _busy_seconds()
    started = time.perf_counter()
    process = subprocess.Popen(command)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    busy = _busy_seconds() - busy_before
    # wait4 reaped the child; tell Popen so it does not try to reap it again.
    process.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    # The 1-minute load average as the run ends: what the machine was doing meanwhile (this
    # run included), printed beside every figure since the machine is shared.
    load = os.getloadavg()[0]
    return Measurement(
        wall_s=wall,
        cpu_s=cpu,
        max_rss_bytes=usage.ru_maxrss * 1024,
        returncode=process.returncode,
        load_1min=load,
        others_cores=max(busy - cpu, 0.0) / wall if wall > 0 else float("nan"),
    )


def run_measured(
    command: list[str],
    *,
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
    stdout: Path | None = None,
    stderr: Path | None = None,
    report: Path,
) -> Measurement:
    """Run `command` through this script; its output goes to the given files (else is discarded)."""
    report.unlink(missing_ok=True)
    wrapper = [sys.executable, "-I", str(Path(__file__).resolve()), "--report", str(report), "--", *command]
    with open(stdout or os.devnull, "wb") as out, open(stderr or os.devnull, "wb") as err:
        returncode = subprocess.call(wrapper, env=env, cwd=cwd, stdout=out, stderr=err)
    if not report.exists():
        raise RuntimeError(f"the measuring wrapper exited with {returncode} and wrote no report: {command}")
    return Measurement(**json.loads(report.read_text()))


def main(argv: list[str] | None = None) -> int:
    """`python benchmarks/measure.py [--report FILE] -- cmd ...`."""
    args = list(sys.argv[1:] if argv is None else argv)
    report = None
    if args[:1] == ["--report"]:
        report, args = Path(args[1]), args[2:]
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        print("usage: python benchmarks/measure.py [--report FILE] -- command [args...]", file=sys.stderr)
        return 2
    measurement = _run(args)
    line = json.dumps(asdict(measurement))
    if report is None:
        print(line, file=sys.stderr)
    else:
        report.write_text(line)
    return measurement.returncode


if __name__ == "__main__":
    sys.exit(main())
