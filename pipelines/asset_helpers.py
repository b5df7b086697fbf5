"""Small helpers every domain's assets share: metadata tables, grain checks, writing a frame,
and grouping small tables into one Dagster step."""

import inspect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import dagster as dg
import duckdb
import polars as pl

from pipelines.resources import WarehouseResource


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


@dataclass(frozen=True)
class TablePart:
    """One table of a grouped step (`grouped_step`): its asset spec, its checks and the
    function that builds it and returns its `MaterializeResult`."""

    spec: dg.AssetSpec
    check_specs: tuple[dg.AssetCheckSpec, ...]
    build: Callable[..., dg.MaterializeResult]


def table_part(
    *,
    key: dg.AssetKey,
    group_name: str,
    kinds: set[str],
    deps: Sequence[dg.AssetKey] = (),
    check_specs: Sequence[dg.AssetCheckSpec] = (),
) -> Callable[[Callable[..., dg.MaterializeResult]], TablePart]:
    """`@dg.asset`'s arguments for a table built inside a grouped step: the decorated function
    (`warehouse` in, `MaterializeResult` out) becomes a `TablePart`; its docstring is the
    asset's description in the UI, as for an asset of its own."""

    def wrap(build: Callable[..., dg.MaterializeResult]) -> TablePart:
        spec = dg.AssetSpec(
            key,
            group_name=group_name,
            kinds=set(kinds),
            deps=list(deps),
            description=inspect.cleandoc(build.__doc__ or ""),
        )
        return TablePart(spec, tuple(check_specs), build)

    return wrap


def _keyed(result: dg.MaterializeResult, key: dg.AssetKey) -> dg.MaterializeResult:
    """`result` addressed to `key`, its check results too: in a step of many tables each result
    must say which table it is for (several have a check named `grain`)."""
    checks = [
        dg.AssetCheckResult(
            asset_key=key,
            check_name=check.check_name,
            passed=check.passed,
            metadata=check.metadata,
            severity=check.severity,
            description=check.description,
        )
        for check in result.check_results or []
    ]
    return dg.MaterializeResult(asset_key=key, metadata=result.metadata, check_results=checks)


def grouped_step(
    name: str, parts: Sequence[TablePart]
) -> Callable[[Callable[..., Iterator[dg.MaterializeResult]]], dg.AssetsDefinition]:
    """One Dagster step that builds `parts`: the same tables, checks and metadata as one asset
    each, for one step's cost (its start, events and run-storage writes) instead of one per
    table. For small tables whose own work takes milliseconds, where Dagster's cost per step
    was most of a run that recomputes one workflow (docs/performance.md).

    Decorates the step's function (its docstring is the step's description), which builds
    the parts with `build_parts`."""

    def wrap(fn: Callable[..., Iterator[dg.MaterializeResult]]) -> dg.AssetsDefinition:
        return dg.multi_asset(
            name=name,
            specs=[part.spec for part in parts],
            check_specs=[check for part in parts for check in part.check_specs],
            description=inspect.cleandoc(fn.__doc__ or ""),
        )(fn)

    return wrap


def build_parts(warehouse: WarehouseResource, parts: Sequence[TablePart]) -> Iterator[dg.MaterializeResult]:
    """Build `parts` one after another, in the order given (each after the tables it reads)."""
    for part in parts:
        yield _keyed(part.build(warehouse), part.spec.key)
