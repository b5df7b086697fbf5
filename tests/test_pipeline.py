"""Assets materialised in-process into a DuckDB under tmp_path."""

from __future__ import annotations

import duckdb
import pytest

from tests.conftest import build_warehouse

STAGING_AND_MARTS = [
    "staging.workflows",
    "staging.work_items",
    "staging.usage",
    "marts.value_metrics",
    "marts.adoption",
    "marts.workflow_scorecard",
]


def snapshot(path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {table: con.execute(f"select * from {table} order by all").fetchall() for table in STAGING_AND_MARTS}
    finally:
        con.close()


def test_tiny_inputs_build_every_table_with_reconciled_counts(tiny_inputs, tmp_path):
    warehouse = build_warehouse(tiny_inputs, tmp_path / "w.duckdb")
    con = duckdb.connect(str(warehouse), read_only=True)
    assert con.execute("select count(*) from marts.workflow_scorecard").fetchone()[0] == 2
    quadrants = dict(con.execute("select workflow_id, quadrant from marts.workflow_scorecard").fetchall())
    assert quadrants == {"wf_a": "insufficient_data", "wf_b": "not_deployed"}
    assert con.execute("select count(*) from marts.value_metrics").fetchone()[0] == 5
    unreconciled = con.execute(
        "select count(*) from ops.ingested_files "
        "where rows_read <> rows_staged + rows_quarantined + rows_deduplicated + rows_superseded"
    ).fetchone()[0]
    assert unreconciled == 0


def test_a_second_build_leaves_every_staging_and_mart_table_identical(tiny_inputs, tmp_path):
    warehouse = tmp_path / "w.duckdb"
    build_warehouse(tiny_inputs, warehouse)
    first = snapshot(warehouse)
    build_warehouse(tiny_inputs, warehouse)
    assert snapshot(warehouse) == first


@pytest.mark.parametrize("table", ["marts.value_metrics", "marts.adoption", "marts.workflow_scorecard"])
def test_mart_columns_match_the_documented_contract(tiny_inputs, tmp_path, table):
    from pathlib import Path

    warehouse = build_warehouse(tiny_inputs, tmp_path / "w.duckdb")
    con = duckdb.connect(str(warehouse), read_only=True)
    columns = [row[0] for row in con.execute(f"describe {table}").fetchall()]
    doc = (Path(__file__).parents[1] / "docs" / "warehouse.md").read_text()
    section = doc.split(f"### `{table}`")[1].split("\n### ")[0]
    for column in columns:
        assert f"`{column}`" in section, f"{table}.{column} is not documented in docs/warehouse.md"


def test_the_publishing_step_comes_after_every_other_asset():
    """A step that ran after the publish would write to a build that is no longer there."""
    from pipelines.definitions import defs
    from pipelines.monitoring.publish_gate import PUBLISHED_WAREHOUSE

    graph = defs.resolve_asset_graph()
    assert set(graph.get(PUBLISHED_WAREHOUSE).parent_keys) == set(graph.get_all_asset_keys()) - {PUBLISHED_WAREHOUSE}
