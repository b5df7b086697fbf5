"""A warehouse from before the change set read the loader's re-staged workflows keeps its
`ops.staging_state` rows and gains the two columns, null ("not known": hash every row)."""

import duckdb

from pipelines.ingest.load import ensure_tables


def test_an_older_staging_state_gains_the_restaged_columns() -> None:
    con = duckdb.connect()
    con.execute("create schema ops")
    con.execute(
        "create table ops.staging_state (source varchar primary key, inputs_fingerprint varchar not null, "
        "rules_fingerprint varchar not null, restaged varchar not null, rows_restaged bigint not null, "
        "staged_at timestamp not null)"
    )
    con.execute("insert into ops.staging_state values ('work_items', 'i', 'r', 'full', 10, '2026-11-01 06:00:00')")
    ensure_tables(con)
    ensure_tables(con)  # idempotent
    rows = con.execute(
        "select source, inputs_fingerprint, restaged_from, restaged_workflows from ops.staging_state"
    ).fetchall()
    assert rows == [("work_items", "i", None, None)]
