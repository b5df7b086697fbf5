"""The benchmark runs end to end at a tiny size and writes its table; its docs blocks replace in place.

Timings are never asserted: on a shared machine they mean nothing at this size. What must
hold is that every step runs, the floor computes the same numbers as the build, and the
results land between the bench's markers without touching anything else in the file.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from benchmarks import report
from benchmarks.measure import run_measured

ROOT = Path(__file__).resolve().parents[1]
STEPS = [
    "floor (raw DuckDB)",
    "full build (cold)",
    "incremental (+10,000 items)",
    "page: Portfolio",
    "page: Workflow detail",
    "page: Readiness",
    "page: Data quality",
]


def test_the_bench_runs_every_step_and_writes_its_table(tmp_path):
    docs = tmp_path / "performance.md"
    docs.write_text("# Performance\n\n## Dashboard queries\n\nSomeone else's section.\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.run",
            "--items",
            "20000",
            "--repeat",
            "1",
            "--build-repeat",
            "1",
            "--page-repeat",
            "1",
            "--docs",
            str(docs),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,  # a generous bound: the machine is shared and often loaded
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for step in STEPS:
        assert step in result.stdout
    assert "wall s (median)" in result.stdout and "peak RSS" in result.stdout
    # The floor is only a fair reference if it computes what the build computes.
    agreed = re.search(r"([\d,]+) of ([\d,]+) per-workflow", result.stdout)
    assert agreed and agreed.group(1) == agreed.group(2) and agreed.group(1) != "0"

    text = docs.read_text()
    assert text.count("<!-- bench:20000:start -->") == 1 and "<!-- bench:20000:end -->" in text
    assert "<!-- bench:intro:start -->" in text and "<!-- bench:scaling:start -->" in text
    assert "## Dashboard queries\n\nSomeone else's section." in text
    block = text[text.index("<!-- bench:20000:start -->") : text.index("<!-- bench:20000:end -->")]
    for step in STEPS:
        assert f"| {step} |" in block
    assert " cores (" in block and "others' cores" in block and "Code: commit" in block


def test_a_rerun_replaces_its_own_block_and_keeps_every_other_line(tmp_path):
    docs = tmp_path / "performance.md"
    foreign = (
        "# Performance\n\nIntro by hand.\n\n## Dashboard queries\n\n| query | ms |\n| --- | --- |\n| scorecard | 4 |\n"
    )
    docs.write_text(foreign)
    data = '<!-- bench:data {"items": %d, "date": "2026-01-01", "steps": {"floor": {"label": "floor (raw DuckDB)", "median_s": %f, "max_rss": %d, "runs": 3}}} -->'

    report.write_docs(
        docs, 1_000_000, "### one million, first\n" + data % (1_000_000, 5.0, 500 * report.MIB), "## Benchmark"
    )
    report.write_docs(
        docs, 10_000_000, "### ten million\n" + data % (10_000_000, 60.0, 900 * report.MIB), "## Benchmark"
    )
    report.write_docs(
        docs, 1_000_000, "### one million, second\n" + data % (1_000_000, 6.0, 500 * report.MIB), "## Benchmark"
    )
    text = docs.read_text()

    assert "one million, first" not in text and text.count("### one million, second") == 1
    assert text.count("<!-- bench:1000000:start -->") == 1 and text.count("<!-- bench:intro:start -->") == 1
    assert text.index("bench:1000000:start") < text.index("bench:10000000:start") < text.index("bench:scaling:start")
    for line in foreign.splitlines():
        assert line in text
    # The scaling block sets the sizes side by side: 60 s over 6 s is 10x, linear, so it passes.
    scaling = text[text.index("bench:scaling:start") : text.index("bench:scaling:end")]
    assert "| floor (raw DuckDB) | 6.00 | 60.0 | 10.0× (1.00) |" in scaling and "| pass |" in scaling


def test_a_step_is_measured_in_its_own_process(tmp_path):
    # A child that allocates ~200 MB reports it; a second, small one does not inherit that peak.
    big = run_measured(
        [sys.executable, "-c", "b = bytearray(200 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096])"],
        report=tmp_path / "big.json",
    )
    small = run_measured([sys.executable, "-c", "pass"], report=tmp_path / "small.json")
    assert big.returncode == small.returncode == 0
    assert big.max_rss_bytes > 200 * report.MIB
    assert small.max_rss_bytes < 100 * report.MIB


def test_a_measured_command_gets_no_dagster_home_no_opvalue_setting_and_bytecode_caching(monkeypatch):
    from benchmarks.run import _child_env

    monkeypatch.setenv("DAGSTER_HOME", "/somewhere")
    monkeypatch.setenv("OPVALUE_WAREHOUSE", "/elsewhere.duckdb")
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    monkeypatch.setenv("PATH", "/usr/bin")
    env = _child_env(OPVALUE_INPUT_DIR="/in")
    assert "DAGSTER_HOME" not in env
    assert "PYTHONDONTWRITEBYTECODE" not in env  # every run after the first imports cached bytecode
    assert env["OPVALUE_INPUT_DIR"] == "/in"
    assert "OPVALUE_WAREHOUSE" not in env
    assert env["PATH"] == "/usr/bin"
