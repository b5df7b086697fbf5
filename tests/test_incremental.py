"""Incremental marts: a run recomputes only the workflows whose inputs changed, and its tables
equal, value for value, what a fresh build of the same inputs gives (pipelines/changes.py)."""

from __future__ import annotations

import csv
import math
import shutil
from pathlib import Path

import duckdb
import pytest

from tests.conftest import SAMPLE_DIR, build_warehouse

# Run metadata: when the build ran, what it recomputed, its fingerprints. Everything else in
# these schemas must be identical between an incremental and a fresh build.
RUN_METADATA = {
    "intermediate.governance_as_of",  # built_at
    "marts.scorecard_history",  # recorded_at: one row per build
    "intermediate.workflow_changes",
    "intermediate.build_inputs",
    # Kept from build to build by design (a baseline is frozen by the first build past its
    # date): a fresh build has no history to keep, so these differ whatever the marts do.
    "marts.frozen_baselines",
    "marts.baseline_comparison",
}
COMPARED_SCHEMAS = ("intermediate", "marts", "staging")
FLOATS = {"DOUBLE", "FLOAT", "REAL"}
FLOAT_TOLERANCE = 1e-9
DEPLOYED = "claims_triage"
COMPARISON = "expense_audit"


def _tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "select schema_name || '.' || table_name from duckdb_tables() "
        "where schema_name in ? and not temporary order by 1",
        [list(COMPARED_SCHEMAS)],
    ).fetchall()
    return [r[0] for r in rows if r[0] not in RUN_METADATA]


def _rows(con: duckdb.DuckDBPyConnection, catalog: str, table: str) -> tuple[list[str], list[tuple]]:
    """The table's rows, non-float columns first, sorted: a multiset in a canonical order."""
    columns = con.execute(
        "select column_name, data_type from duckdb_columns() where database_name = ? "
        "and schema_name || '.' || table_name = ? order by column_index",
        [catalog, table],
    ).fetchall()
    exact = [f'"{c}"' for c, t in columns if t not in FLOATS]
    floats = [f'"{c}"' for c, t in columns if t in FLOATS]
    ordered = exact + floats
    rows = con.execute(
        f"select {', '.join(ordered)} from {catalog}.{table} order by {', '.join(ordered)} nulls first"
    ).fetchall()
    return [c for c in ordered], rows


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=FLOAT_TOLERANCE, abs_tol=1e-12)
    return a == b


def _differences(incremental: Path, fresh: Path) -> dict[str, int]:
    """Per table: the rows that differ between the incremental and the fresh build.

    Every non-float value must be equal; floats too, to 1e-9 relative: two fresh builds of
    the same inputs still differ in the last digit of some parallel sums (issue 16's
    bit-identical part), which an incremental build cannot be more exact than."""
    con = duckdb.connect()
    con.execute(f"attach '{incremental}' as inc (read_only)")
    con.execute(f"attach '{fresh}' as fresh (read_only)")
    try:
        con.execute("use inc")
        inc_tables = _tables(con)
        con.execute("use fresh")
        fresh_tables = _tables(con)
        con.execute("use memory")
        assert inc_tables == fresh_tables
        assert "marts.value_metrics" in inc_tables and "intermediate.item_periods" in inc_tables
        out = {}
        for table in inc_tables:
            columns, inc_rows = _rows(con, "inc", table)
            fresh_columns, fresh_rows = _rows(con, "fresh", table)
            assert columns == fresh_columns, table
            differing = abs(len(inc_rows) - len(fresh_rows)) + sum(
                not all(_same(a, b) for a, b in zip(x, y, strict=True))
                for x, y in zip(inc_rows, fresh_rows, strict=False)
            )
            if differing:
                out[table] = differing
        return out
    finally:
        con.close()


def _recomputed(warehouse: Path) -> tuple[bool, list[str]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        full = con.execute("select full_rebuild from intermediate.build_inputs").fetchone()[0]
        workflows = [
            r[0]
            for r in con.execute(
                "select workflow_id from intermediate.workflow_changes where recomputed order by 1"
            ).fetchall()
        ]
        # The run's record says the same (ops.pipeline_runs.recomputed_workflows).
        recorded = con.execute(
            "select recomputed_workflows from ops.pipeline_runs order by started_at desc limit 1"
        ).fetchone()[0]
        assert sorted(recorded) == workflows
        return full, workflows
    finally:
        con.close()


def _did(warehouse: Path) -> list[tuple]:
    """Every deployed workflow's difference-in-differences estimates, in order."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(
            "select workflow_id, metric, estimate_pct, n_comparison from marts.effect_views "
            "where view = 'diff_in_diff' and workflow_id <> ? order by 1, 2",
            [DEPLOYED],
        ).fetchall()
    finally:
        con.close()


def _persistence(warehouse: Path) -> tuple[float, float]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute("select rho, rho_estimate from intermediate.week_persistence").fetchone()
    finally:
        con.close()


def _add_items(inputs: Path, workflow_id: str, name: str, prefix: str, count: int = 40) -> None:
    """A new file: copies of the workflow's latest items under new ids (valid, new, late)."""
    con = duckdb.connect()
    try:
        source = (inputs / "work_items" / "items_20*.csv").as_posix()
        target = (inputs / "work_items" / name).as_posix()
        con.execute(
            f"""
            copy (
                select ? || item_id as item_id, * exclude (item_id)
                from read_csv('{source}', all_varchar = true, union_by_name = true)
                where workflow_id = ? and opened_at like '2026-10%'
                order by opened_at desc, item_id
                limit {int(count)}
            ) to '{target}' (header, delimiter ',')
            """,
            [prefix, workflow_id],
        )
    finally:
        con.close()


def _step(inputs: Path, previous: Path, tmp_path: Path, name: str, hashed: list | None = None) -> Path:
    """Build incrementally on a copy of `previous`, and fresh; the tables must be identical
    (`intermediate.workflow_inputs` included: fingerprints kept from the previous build or
    re-hashed for some workflows only must equal a hash of every staged row)."""
    incremental = tmp_path / f"{name}_inc" / "opvalue.duckdb"
    incremental.parent.mkdir()
    shutil.copyfile(previous, incremental)
    if hashed is not None:
        hashed.clear()
    build_warehouse(inputs, incremental)
    incremental_hashed = list(hashed or [])
    fresh = build_warehouse(inputs, tmp_path / f"{name}_fresh" / "opvalue.duckdb")
    if hashed is not None:
        hashed[:] = incremental_hashed  # what the incremental build hashed, not the fresh one
    assert _differences(incremental, fresh) == {}
    return incremental


@pytest.mark.skipif(not SAMPLE_DIR.exists(), reason="the bundled sample is not in this checkout")
def test_an_incremental_build_equals_a_fresh_build_and_recomputes_only_what_changed(tmp_path, monkeypatch):
    from pipelines import changes

    # Which staged rows the change set hashes: (source, the workflows, or None for every row).
    hashed: list[tuple[str, list[str] | None]] = []
    hash_sql = changes._hash_sql

    def spy(source, table, workflows):
        hashed.append((source, None if workflows is None else sorted(workflows)))
        return hash_sql(source, table, workflows)

    monkeypatch.setattr(changes, "_hash_sql", spy)
    # The week persistence: estimated only when some workflow's items moved, from the terms of
    # the workflows that moved (None: every workflow's).
    from pipelines.metrics import assets as metric_assets

    estimated: list[tuple[str, ...] | None] = []
    update_persistence = metric_assets.update_persistence

    def persistence_spy(con, config, workflows=None):
        estimated.append(None if workflows is None else tuple(workflows))
        return update_persistence(con, config, workflows)

    monkeypatch.setattr(metric_assets, "update_persistence", persistence_spy)
    # The exception guardrails and monthly exception rates: the changed workflows alone while
    # the governance cutoff stands (each mart named by the table that keeps its cutoff).
    from pipelines.governance import assets as governance_assets

    guardrail_sets: list[tuple[str, tuple[str, ...] | None]] = []
    while_cutoff_stands = governance_assets._while_cutoff_stands

    def guardrail_spy(con, run_id, tables, kept_at):
        guardrail_sets.append((kept_at, while_cutoff_stands(con, run_id, tables, kept_at)))
        return guardrail_sets[-1][1]

    monkeypatch.setattr(governance_assets, "_while_cutoff_stands", guardrail_spy)
    # The value marts' post-period item counts: the changed workflows' alone, every other
    # workflow's kept from the table rebuilt (per workflow, then per month).
    from pipelines.value import assets as value_assets

    counted: list[tuple[str, tuple[str, ...] | None]] = []
    count_post_items = value_assets.count_post_items

    def count_spy(con, run_id, grain):
        counted.append((grain, count_post_items(con, run_id, grain)))
        return counted[-1][1]

    monkeypatch.setattr(value_assets, "count_post_items", count_spy)
    inputs = tmp_path / "inputs"
    shutil.copytree(SAMPLE_DIR, inputs, ignore=shutil.ignore_patterns("expected"))
    base = build_warehouse(inputs, tmp_path / "base" / "opvalue.duckdb")
    full, everyone = _recomputed(base)
    assert full and DEPLOYED in everyone and COMPARISON in everyone
    assert ("items", None) in hashed  # a first build hashes every staged row

    # Nothing changed: nothing is recomputed, no staged row is read to fingerprint it, and
    # the tables stay as they were.
    estimated.clear()
    counted.clear()
    same = _step(inputs, base, tmp_path, "same", hashed)
    assert _recomputed(same) == (False, [])
    assert hashed == []
    assert estimated == [None]  # the fresh build's; the incremental one kept the table
    # The incremental build counts no workflow's items, the fresh build every workflow's.
    assert counted == [("per_workflow", ()), ("per_month", ()), ("per_workflow", None), ("per_month", None)]

    # A new file with items of one deployed workflow: only that workflow is recomputed, and
    # only its staged items are hashed again (the loader re-staged its keys alone).
    _add_items(inputs, DEPLOYED, "items_zz_deployed.csv", "NEWD-")
    estimated.clear()
    guardrail_sets.clear()
    counted.clear()
    one = _step(inputs, same, tmp_path, "deployed", hashed)
    assert counted[:2] == [("per_workflow", (DEPLOYED,)), ("per_month", (DEPLOYED,))]
    # The incremental build (rates, then guardrails), then the fresh build.
    assert guardrail_sets == [
        ("intermediate.exception_monthly_counts", (DEPLOYED,)),
        ("intermediate.exception_window_counts", (DEPLOYED,)),
        ("intermediate.exception_monthly_counts", None),
        ("intermediate.exception_window_counts", None),
    ]
    # Items moved: the incremental build computes that workflow's terms again, the fresh one
    # every workflow's, and both pool to the same estimate, to the last bit.
    assert estimated == [(DEPLOYED,), None]
    assert _persistence(one) == _persistence(tmp_path / "deployed_fresh" / "opvalue.duckdb")
    assert _recomputed(one) == (False, [DEPLOYED])
    assert hashed == [("items", [DEPLOYED])]

    # A comparison workflow's new items move every deployed workflow's difference-in-differences.
    _add_items(inputs, COMPARISON, "items_zz_comparison.csv", "NEWC-")
    comparison = _step(inputs, one, tmp_path, "comparison")
    assert _recomputed(comparison) == (False, [COMPARISON])
    assert _did(one) != _did(comparison)  # the test above would catch a stale composite

    # A registry change (one workflow's eligible users) recomputes that workflow.
    registry = inputs / "workflows.csv"
    with registry.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        if row["workflow_id"] == DEPLOYED:
            row["eligible_users"] = str(int(row["eligible_users"]) + 25)
    with registry.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    changed = _step(inputs, comparison, tmp_path, "registry")
    assert _recomputed(changed) == (False, [DEPLOYED])

    # An item newer than every other moves the governance cutoff, which every workflow's
    # exception rates and guardrail are judged at: both are recomputed for every workflow.
    later = inputs / "work_items" / "items_zz_later.csv"
    con = duckdb.connect()
    con.execute(
        f"""
        copy (
            select 'LATER-' || item_id as item_id, * exclude (item_id, opened_at, closed_at),
                '2026-11-25T09:00:00Z' as opened_at, null as closed_at
            from read_csv('{(inputs / "work_items" / "items_zz_deployed.csv").as_posix()}', all_varchar = true)
            limit 1
        ) to '{later.as_posix()}' (header, delimiter ',')
        """
    )
    con.close()
    guardrail_sets.clear()
    moved = _step(inputs, changed, tmp_path, "cutoff")
    assert _recomputed(moved) == (False, [DEPLOYED])
    assert [workflows for _, workflows in guardrail_sets] == [None, None, None, None]


def test_a_change_of_definitions_recomputes_every_workflow(tmp_path, monkeypatch):
    """A different code version or definition hash than the previous build's: all recomputed."""
    from pipelines import changes

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("create schema staging")
    con.execute("create table staging.workflows as select 'wf_a' as workflow_id, date '2026-01-01' as deployed_on")
    con.execute("create table staging.work_items as select 'wf_a' as workflow_id, 'i1' as item_id")
    for table in changes.PER_WORKFLOW_TABLES:
        schema, name = table.split(".")
        con.execute(f"create schema if not exists {schema}")
        con.execute(f"create table {table} as select 'wf_a' as workflow_id")
    first = changes.detect_changes(con)
    assert first.full and first.reason == "no previous build to reuse" and first.workflows == ("wf_a",)
    assert changes.detect_changes(con).workflows == ()
    # A later step may widen the set: the columns are typed even when the reason was null.
    con.execute("update intermediate.build_inputs set full_rebuild = true, full_reason = ?", ["widened"])
    con.execute("insert into staging.work_items values ('wf_a', 'i2')")
    assert changes.detect_changes(con) == changes.ChangeSet(False, "1 of 1 workflows' inputs changed", ("wf_a",), False)
    monkeypatch.setattr(changes, "code_version", lambda: "other")
    again = changes.detect_changes(con)
    assert again.full and again.reason == "code version changed"
    monkeypatch.setattr(changes, "definitions_hash", lambda: "other")
    assert changes.detect_changes(con).reason == "metric definitions or settings changed"
