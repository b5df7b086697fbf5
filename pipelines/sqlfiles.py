"""Reading and running the `.sql` files that live next to the assets that use them."""

from __future__ import annotations

from pathlib import Path

import duckdb


def sql_text(anchor: str, name: str) -> str:
    """The text of `sql/<name>.sql` in the folder of the module file `anchor` (pass `__file__`)."""
    return (Path(anchor).parent / "sql" / f"{name}.sql").read_text()


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
