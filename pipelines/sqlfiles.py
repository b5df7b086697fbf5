"""Reading and running the `.sql` files that live next to the assets that use them."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb


def table_exists(con: duckdb.DuckDBPyConnection, table: str, *, catalog: str | None = None) -> bool:
    """Whether `schema.table` is a table or view of the database `con` is connected to (or of
    the attached database `catalog`). Checked before reading a table a first build has not made
    yet: an unknown name would otherwise fall through to DuckDB's scan of Python objects.
    `fetchall`, not `fetchone`: DuckDB 2 refuses other work on a connection whose result was
    not read to the end."""
    schema, name = table.split(".")
    return bool(
        con.execute(
            "select count(*) from information_schema.tables "
            "where table_catalog = coalesce(?, current_database()) and table_schema = ? and table_name = ?",
            [catalog, schema, name],
        ).fetchall()[0][0]
    )


# The exact sum, written once: a parallel sum of doubles adds in whatever order DuckDB's threads
# finish, so two builds could differ in the last bit. A value below 1e9 in size (every real
# count, share, hour or amount) is added as DECIMAL(38, 10), integer arithmetic that gives the
# same result in any order; a larger one is added as a double, so no input can overflow the
# decimal. The SQL files write `exact_sum(x)` (the sum of x) or `exact_sum_sq(x)` (the sum of
# x * x, split on the size of x); `sql_text` expands them. `x` is a column name.
_EXACT_SUM = (
    "(coalesce(cast(sum(cast(case when abs({x}) < 1e9 then {value} end as decimal(38, 10))) as double), 0)"
    " + coalesce(sum({value}) filter (where abs({x}) >= 1e9), 0))"
)
_EXACT_SUM_CALL = re.compile(r"\bexact_sum(?P<squared>_sq)?\((?P<x>\w+)\)")


def expand_exact_sums(sql: str) -> str:
    """`sql` with every `exact_sum(x)` and `exact_sum_sq(x)` written out (see `_EXACT_SUM`)."""

    def expand(call: re.Match[str]) -> str:
        x = call.group("x")
        return _EXACT_SUM.format(x=x, value=f"{x} * {x}" if call.group("squared") else x)

    return _EXACT_SUM_CALL.sub(expand, sql)


def sql_text(anchor: str, name: str) -> str:
    """The text of `sql/<name>.sql` in the folder of the module file `anchor` (pass `__file__`),
    with its exact sums written out (`expand_exact_sums`)."""
    return expand_exact_sums((Path(anchor).parent / "sql" / f"{name}.sql").read_text())


def sql_sections(anchor: str, name: str) -> dict[str, str]:
    """The named sections of `sql/<name>.sql`, each without its closing semicolon.

    A section starts at a line `-- {placeholder}` and runs to the next one; comment lines
    before the first section are the file's header. Used for statements that fill the
    `{placeholder}`s of another file (see pipelines/ingest/sql/restage_full.sql).
    """
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in sql_text(anchor, name).splitlines():
        stripped = line.strip()
        if stripped.startswith("-- {") and stripped.endswith("}"):
            current = sections.setdefault(stripped[4:-1], [])
        elif current is not None:
            current.append(line)
    return {key: "\n".join(lines).strip().removesuffix(";") for key, lines in sections.items()}


def run_script(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, object] | None = None) -> None:
    """Run a multi-statement SQL script; named `$parameters` reach the statements that use them.

    DuckDB binds prepared parameters to a single statement, so the script is split at
    semicolons that end a line (the house SQL files keep to that layout).
    """
    for statement in (part.strip() for part in sql.split(";\n")):
        if not statement or all(line.strip().startswith("--") or not line.strip() for line in statement.splitlines()):
            continue
        used = {name: value for name, value in (params or {}).items() if f"${name}" in statement}
        con.execute(statement, used or None)
