"""`python -m benchmarks.floor --input DIR --database FILE`: run `floor.sql` once.

The floor is a plain DuckDB script; this module only hands it the input folder (as the
DuckDB variable `input_dir`) and runs it against a database file, so the bench can time it
as a subprocess like every other step.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb

FLOOR_SQL = Path(__file__).with_name("floor.sql")


def run_floor(input_dir: Path, database: Path) -> None:
    """Run the floor script on `input_dir`, writing its tables to `database`."""
    con = duckdb.connect(str(database))
    try:
        con.execute("set variable input_dir = ?", [str(input_dir.resolve())])
        con.execute(FLOOR_SQL.read_text())
        con.execute("checkpoint")
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    """Entry point for `python -m benchmarks.floor`."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.floor", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--input", type=Path, required=True, help="the input folder (workflows.csv, work_items/, usage/)"
    )
    parser.add_argument("--database", type=Path, required=True, help="DuckDB file to write the floor's tables to")
    args = parser.parse_args(argv)
    run_floor(args.input, args.database)
    return 0


if __name__ == "__main__":
    sys.exit(main())
