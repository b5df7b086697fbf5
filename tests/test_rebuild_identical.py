"""Two builds of the same inputs give the same tables, to the last bit.

A parallel sum of doubles adds in whatever order DuckDB's threads finish, so before the
sums were made exact two builds of the same folder differed in the last digits (30.582065333333343
against …333). DuckDB splits a scan among threads by row group (122,880 rows), so the
inputs here are large enough for several threads to share every item-level aggregate.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[1]
ITEMS = 300_000
WORKFLOWS = 40
SCHEMAS = ("staging", "intermediate", "marts")
# Columns that record the run itself, not the data: they differ between two builds by design.
RUN_METADATA = {
    ("marts", "scorecard_history"): {"recorded_at"},
    # The run whose change set it is, and when the staging its fingerprints stand for was staged.
    ("intermediate", "build_inputs"): {"run_id", "staging_states"},
}


def _build(input_dir: Path, workdir: Path) -> Path:
    """`python -m pipelines.cli build` (what `make pipeline` runs) with its own warehouse and DAGSTER_HOME."""
    workdir.mkdir()
    (workdir / "dagster_home").mkdir()
    warehouse = workdir / "opvalue.duckdb"
    env = {
        **os.environ,
        "OPVALUE_INPUT_DIR": str(input_dir),
        "OPVALUE_WAREHOUSE": str(warehouse),
        "DAGSTER_HOME": str(workdir / "dagster_home"),
    }
    run = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "build"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    return warehouse


def _differences(first: Path, second: Path) -> tuple[int, list[str]]:
    """How many tables were compared, and each (table: columns) whose rows differ between the two."""
    con = duckdb.connect()
    con.execute(f"attach '{first}' as first_build (read_only)")
    con.execute(f"attach '{second}' as second_build (read_only)")

    def tables(catalog: str) -> set[tuple[str, str]]:
        return set(
            con.execute(
                "select table_schema, table_name from information_schema.tables "
                "where table_catalog = ? and table_schema in (select unnest(?::varchar[]))",
                [catalog, list(SCHEMAS)],
            ).fetchall()
        )

    found = tables("first_build")
    assert found == tables("second_build")
    differing = []
    for schema, table in sorted(found):
        columns = [
            name
            for (name,) in con.execute(
                "select column_name from information_schema.columns "
                "where table_catalog = 'first_build' and table_schema = ? and table_name = ? order by ordinal_position",
                [schema, table],
            ).fetchall()
            if name not in RUN_METADATA.get((schema, table), set())
        ]
        listed = ", ".join(f'"{name}"' for name in columns)
        one = f"select {listed} from first_build.{schema}.{table}"
        two = f"select {listed} from second_build.{schema}.{table}"
        # Rows as multisets, both ways: a row twice in one build and once in the other counts.
        only_first = con.execute(f"select count(*) from ({one} except all {two})").fetchone()[0]
        only_second = con.execute(f"select count(*) from ({two} except all {one})").fetchone()[0]
        if only_first or only_second:
            columns_differing = [
                name
                for name in columns
                if con.execute(
                    f'select count(*) from (select "{name}" from first_build.{schema}.{table} '
                    f'except all select "{name}" from second_build.{schema}.{table})'
                ).fetchone()[0]
            ]
            differing.append(f"{schema}.{table}: {', '.join(columns_differing) or 'rows'}")
    con.close()
    return len(found), differing


def test_two_builds_of_the_same_inputs_give_identical_tables(tmp_path):
    threads = duckdb.connect().execute("select current_setting('threads')").fetchone()[0]
    if int(threads) < 2:
        pytest.skip("DuckDB runs one thread on this machine: there is no parallel sum to check")
    input_dir = tmp_path / "inputs"
    generate = [
        sys.executable,
        "-m",
        "pipelines.sample.generate",
        "--out",
        str(input_dir),
        "--items",
        str(ITEMS),
        "--workflows",
        str(WORKFLOWS),
    ]
    subprocess.run(generate, cwd=ROOT, check=True, capture_output=True)
    first = _build(input_dir, tmp_path / "first")
    second = _build(input_dir, tmp_path / "second")
    compared, differing = _differences(first, second)
    assert compared >= 30  # every staging, intermediate and mart table, not an empty listing
    assert differing == []
