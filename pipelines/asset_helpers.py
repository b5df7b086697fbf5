"""Small helpers every domain's assets share: metadata tables, grain checks, writing a frame."""

import dagster as dg
import duckdb
import polars as pl


def markdown_table(rows: list[tuple], headers: list[str]) -> str:
    """A small markdown table for the Dagster UI; cells are shortened and pipes escaped."""

    def cell(value: object) -> str:
        text = "" if value is None else str(value)
        return text[:120].replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def grain_check(
    con: duckdb.DuckDBPyConnection,
    table: str,
    grain: list[str],
    expected_sql: str | None = None,
    asset_key: dg.AssetKey | None = None,
) -> dg.AssetCheckResult:
    """Passes when `grain` identifies every row of `table` (and matches the expected count).

    `asset_key` is needed only inside a multi-asset, where more than one asset has a `grain` check.
    """
    columns = ", ".join(grain)
    rows, distinct = con.execute(f"select count(*), count(distinct ({columns})) from {table}").fetchall()[0]
    expected = con.execute(expected_sql).fetchall()[0][0] if expected_sql else rows
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name="grain",
        passed=rows == distinct == expected,
        metadata={"rows": rows, "distinct_grain": distinct, "expected_rows": expected, "grain": columns},
    )


def write_table(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    """Replace `table` (schema-qualified) with `frame`'s rows, creating its schema if needed."""
    con.execute(f"create schema if not exists {table.split('.')[0]}")
    con.register("_frame", frame)
    try:
        con.execute(f"create or replace table {table} as select * from _frame")
    finally:
        con.unregister("_frame")
