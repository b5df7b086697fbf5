"""Row rules, file rejection and reconciliation of the ingest layer."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from pipelines.ingest.load import load_source
from pipelines.ingest.reader import read_source_file
from pipelines.ingest.sources import SOURCES, USAGE, WORK_ITEMS, WORKFLOWS

INGESTED_AT = datetime(2026, 11, 1)


@pytest.fixture(autouse=True)
def _own_pseudonym_key(own_pseudonym_key):
    """Usage files are read under a key of the test's own, never the checkout's key file."""


def load_all(root: Path, db: Path) -> tuple[duckdb.DuckDBPyConnection, dict]:
    con = duckdb.connect(str(db))
    summaries = {spec.name: load_source(con, spec, root, INGESTED_AT) for spec in SOURCES}
    return con, summaries


def quarantined(con, source: str) -> dict[tuple[str, int], tuple[str, str]]:
    rows = con.execute(
        "select source_file, row_number, rule, reason from quarantine.rejected_rows where source = ?", [source]
    ).fetchall()
    return {(f, n): (rule, reason) for f, n, rule, reason in rows}


def test_every_row_rule_sends_the_row_to_quarantine_with_a_named_reason(tiny_inputs, tmp_path):
    con, _ = load_all(tiny_inputs, tmp_path / "w.duckdb")
    items = quarantined(con, "work_items")
    jan = "work_items/items_2026_01.csv"
    assert items[(jan, 4)][0] == "closed_before_opened" and "closed_at" in items[(jan, 4)][1]
    assert items[(jan, 5)] == ("unparseable", "opened_at: cannot read 'not-a-date' as a ISO 8601 timestamp")
    assert items[(jan, 6)][0] == "out_of_range" and "rework_count: -1" in items[(jan, 6)][1]
    assert items[(jan, 7)][0] == "out_of_range" and "touchpoints: 0" in items[(jan, 7)][1]
    assert items[(jan, 8)][0] == "unparseable" and "had_error: cannot read 'maybe'" in items[(jan, 8)][1]
    assert items[(jan, 9)] == ("unknown_workflow", "workflow_id: 'wf_zzz' is not in the registry")
    assert items[(jan, 10)][0] == items[(jan, 11)][0] == "conflicting_duplicate"
    assert (
        items[(jan, 10)][1]
        == "workflow_id + item_id: another row in the same file has this key with different rework_count"
    )
    assert items[(jan, 12)] == ("missing_value", "item_id: required value is missing")
    assert len(items) == 9

    registry = quarantined(con, "workflows")
    assert (
        registry[("workflows.csv", 3)][0] == "out_of_range" and "stage: 'someday'" in registry[("workflows.csv", 3)][1]
    )
    assert registry[("workflows.csv", 4)] == ("missing_value", "eligible_users: required when deployed_on is set")

    usage = quarantined(con, "usage")
    usage_file = "usage/usage_2026_03.csv"
    assert usage[(usage_file, 3)][0] == "out_of_range"
    assert usage[(usage_file, 4)][0] == "unparseable" and "usage_date" in usage[(usage_file, 4)][1]
    assert usage[(usage_file, 5)][0] == "unknown_workflow"


def test_quarantine_keeps_the_raw_record_as_json(tiny_inputs, tmp_path):
    con, _ = load_all(tiny_inputs, tmp_path / "w.duckdb")
    record = con.execute(
        "select record from quarantine.rejected_rows where source = 'work_items' and row_number = 5"
    ).fetchone()[0]
    assert json.loads(record)["opened_at"] == "not-a-date"


def test_counts_reconcile_per_source_and_per_file(tiny_inputs, tmp_path):
    con, summaries = load_all(tiny_inputs, tmp_path / "w.duckdb")
    items = summaries["work_items"]
    assert items.reconciles
    # 13 + 2 rows read; the legacy file is rejected whole and reads 0 rows.
    assert (
        items.rows_read,
        items.rows_staged,
        items.rows_quarantined,
        items.rows_deduplicated,
        items.rows_superseded,
    ) == (
        15,
        4,
        9,
        1,
        1,
    )
    per_file = con.execute(
        "select count(*) from ops.ingested_files "
        "where rows_read <> rows_staged + rows_quarantined + rows_deduplicated + rows_superseded"
    ).fetchone()[0]
    assert per_file == 0
    assert all(summary.reconciles for summary in summaries.values())


def test_a_later_file_supersedes_and_an_exact_duplicate_is_kept_once(tiny_inputs, tmp_path):
    con, _ = load_all(tiny_inputs, tmp_path / "w.duckdb")
    i2 = con.execute(
        "select closed_at, rework_count, source_file from staging.work_items where item_id = 'i2'"
    ).fetchall()
    assert i2 == [(datetime(2026, 1, 7), 1, "work_items/items_2026_02.csv")]
    assert con.execute("select count(*) from staging.work_items where item_id = 'i1'").fetchone()[0] == 1


def test_timestamps_with_offsets_are_converted_to_utc(tiny_inputs, tmp_path):
    con, _ = load_all(tiny_inputs, tmp_path / "w.duckdb")
    opened = con.execute("select opened_at from staging.work_items where item_id = 'i2'").fetchone()[0]
    assert opened == datetime(2026, 1, 5, 7, 0)


def test_booleans_numbers_and_registry_defaults_parse(tiny_inputs, tmp_path):
    con, _ = load_all(tiny_inputs, tmp_path / "w.duckdb")
    i10 = con.execute(
        "select had_error, ai_assisted, external_spend, escalated from staging.work_items where item_id = 'i10'"
    ).fetchone()
    assert i10 == (True, True, 12.5, False)
    assert con.execute("select stage, primary_metric from staging.workflows where workflow_id = 'wf_a'").fetchone() == (
        "production",
        "cycle_time_hours",
    )


def test_missing_required_column_rejects_the_file_and_the_rest_still_loads(tiny_inputs, tmp_path):
    con, summaries = load_all(tiny_inputs, tmp_path / "w.duckdb")
    rejected = con.execute("select source_file, reason from quarantine.rejected_files").fetchall()
    assert rejected == [
        (
            "work_items/items_legacy.csv",
            "missing required column(s): closed_at, rework_count, touchpoints, had_error, external_spend, ai_assisted",
        )
    ]
    assert summaries["work_items"].rows_staged > 0
    assert summaries["work_items"].extra_columns == {"work_items/items_2026_01.csv": ["notes"]}


@pytest.mark.parametrize(
    ("name", "content", "reason_part"),
    [
        ("empty.csv", b"", "empty file"),
        ("header_only.csv", b"usage_date,user_id,workflow_id,actions\n", "header only"),
        ("semicolon.csv", b"usage_date;user_id;workflow_id;actions\n2026-01-01;u;wf_a;1\n", "separated by ';'"),
        (
            "latin1.csv",
            "usage_date,user_id,workflow_id,actions\n2026-01-01,Jos\u00e9,wf_a,1\n".encode("latin-1"),
            "not valid UTF-8",
        ),
        (
            "dup_header.csv",
            b"usage_date,user_id,user_id,workflow_id,actions\n2026-01-01,u,u,wf_a,1\n",
            "duplicated header",
        ),
        ("binary.csv", bytes(range(256)) * 4, "binary content"),
        ("excel.csv", b"PK\x03\x04" + b"\x00" * 100, "Excel"),
        ("notes.txt", b"hello", "unsupported file type"),
        ("fake.parquet", b"not parquet at all", "not a Parquet file"),
    ],
)
def test_broken_files_are_rejected_with_a_reason(tmp_path, name, content, reason_part):
    root = tmp_path / "in"
    (root / "usage").mkdir(parents=True)
    path = root / "usage" / name
    path.write_bytes(content)
    result = read_source_file(path, USAGE, root)
    assert result.status == "rejected"
    assert reason_part in result.reason


def test_a_bom_is_ignored(tmp_path):
    root = tmp_path / "in"
    (root / "usage").mkdir(parents=True)
    path = root / "usage" / "bom.csv"
    path.write_bytes("\ufeffusage_date,user_id,workflow_id,actions\n2026-01-01,u1,wf_a,3\n".encode())
    result = read_source_file(path, USAGE, root)
    assert result.status == "loaded" and result.valid.height == 1


def test_parquet_with_typed_and_wrongly_typed_columns(tmp_path):
    import polars as pl

    root = tmp_path / "in"
    (root / "work_items").mkdir(parents=True)
    good = pl.DataFrame(
        {
            "item_id": ["p1", "p2"],
            "workflow_id": ["wf_a", "wf_a"],
            "opened_at": [datetime(2026, 1, 1, 8), datetime(2026, 1, 2, 8)],
            "closed_at": [datetime(2026, 1, 1, 9), None],
            "rework_count": [0, 1],
            "touchpoints": [1, 2],
            "had_error": [False, True],
            "external_spend": [0.0, 3.5],
            "ai_assisted": [True, False],
        }
    )
    good.write_parquet(root / "work_items" / "a.parquet")
    good.with_columns(pl.lit("lots").alias("touchpoints")).write_parquet(root / "work_items" / "b.parquet")
    ok = read_source_file(root / "work_items" / "a.parquet", WORK_ITEMS, root)
    assert ok.status == "loaded" and ok.valid.height == 2 and ok.quarantined_count == 0
    wrong = read_source_file(root / "work_items" / "b.parquet", WORK_ITEMS, root)
    assert wrong.quarantined_count == 2
    assert set(wrong.quarantined.get_column("rule")) == {"unparseable"}


def test_a_huge_single_field_is_quarantined_and_its_record_truncated(tmp_path):
    root = tmp_path / "in"
    (root / "usage").mkdir(parents=True)
    path = root / "usage" / "huge.csv"
    path.write_text("usage_date,user_id,workflow_id,actions\n2026-01-01,u1,wf_a," + "9" * 10_000_000 + "\n")
    result = read_source_file(path, USAGE, root)
    assert result.quarantined_count == 1
    record = json.loads(result.quarantined.get_column("record")[0])
    assert len(record["actions"]) < 1000


def test_an_unchanged_file_is_not_read_again_and_a_removed_file_leaves(tiny_inputs, tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    load_source(con, WORKFLOWS, tiny_inputs, INGESTED_AT)
    first = load_source(con, WORK_ITEMS, tiny_inputs, INGESTED_AT)
    again = load_source(con, WORK_ITEMS, tiny_inputs, INGESTED_AT)
    assert (first.files_read, again.files_read, again.files_reused) == (3, 0, 3)
    assert again.rows_staged == first.rows_staged
    (tiny_inputs / "work_items" / "items_2026_02.csv").unlink()
    after = load_source(con, WORK_ITEMS, tiny_inputs, INGESTED_AT)
    assert con.execute("select count(*) from staging.work_items where source_file like '%2026_02%'").fetchone()[0] == 0
    # i2 falls back to its open January version once the February file is gone.
    assert con.execute("select closed_at from staging.work_items where item_id = 'i2'").fetchone()[0] is None
    assert after.reconciles


def test_extra_columns_named_like_internal_ones_do_not_leak(tmp_path):
    root = tmp_path / "in"
    (root / "usage").mkdir(parents=True)
    path = root / "usage" / "extra.csv"
    path.write_text("usage_date,user_id,workflow_id,actions,rule,reason,__index\n2026-01-01,u1,wf_a,-3,x,y,z\n")
    result = read_source_file(path, USAGE, root)
    row = result.quarantined.row(0, named=True)
    assert row["rule"] == "out_of_range" and row["reason"].startswith("actions: -3")
    assert result.extra_columns == ["rule", "reason", "__index"]


def test_the_registry_may_carry_a_data_through_date(tmp_path):
    from tests.conftest import REGISTRY_HEADER, write

    root = tmp_path / "in"
    write(
        root / "workflows.csv",
        f"""
        {REGISTRY_HEADER},data_through
        wf_a,Claims,Ann,Ops,production,2026-03-01,10,low,,-20,QA,#help,claims,2026-10-31
        wf_b,Invoices,Bo,Fin,pilot,,,,,,,,,
        wf_c,Bad cutoff,Cy,Ops,pilot,,,,,,,,,31/10/2026
        """,
    )
    con, summaries = load_all(root, tmp_path / "w.duckdb")
    cutoffs = dict(con.execute("select workflow_id, data_through from staging.workflows").fetchall())
    assert cutoffs == {"wf_a": datetime(2026, 10, 31).date(), "wf_b": None}
    assert quarantined(con, "workflows")[("workflows.csv", 3)] == (
        "unparseable",
        "data_through: cannot read '31/10/2026' as a date (YYYY-MM-DD)",
    )
    # The column is optional: the tiny registry has none and every workflow's cutoff is blank.
    assert summaries["workflows"].reconciles


def test_rows_handed_over_as_text_meet_the_same_rules(tmp_path):
    """`validate_rows` is where a converted native export joins the reader."""
    import polars as pl

    from pipelines.ingest.reader import FileResult, RawRows, validate_rows

    frame = pl.DataFrame(
        {
            "usage_date": ["2026-03-02", "2026-03-02", "infinity"],
            "user_id": ["ann@example.com", " ", "bo@example.com"],
            "workflow_id": ["wf_a", "wf_a", "wf_a"],
            "actions": ["3", "1", "1"],
            "source_system": ["x", "x", "x"],
        }
    )
    result = validate_rows(RawRows(frame=frame), USAGE, FileResult("usage", "usage/native.json", 10, "abc"))
    assert (result.status, result.rows_read, result.extra_columns) == ("loaded", 3, ["source_system"])
    assert result.valid.height == 1 and result.valid.get_column("user_id")[0].startswith("p_")
    reasons = dict(result.quarantined.select("row_number", "reason").iter_rows())
    assert reasons == {
        2: "user_id: required value is missing",
        3: "usage_date: cannot read 'infinity' as a date (YYYY-MM-DD)",
    }
