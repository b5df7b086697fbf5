"""Hostile input at the reader (issue 10, findings 2-6, 8 and 9).

Each test plants one kind of hostile input next to good rows and checks three things: the
hostile part is quarantined, rejected or skipped with a reason naming the place and the
value; the good rows around it still load; and the ledger still reconciles
(rows read = staged + quarantined + de-duplicated + superseded).
"""

from __future__ import annotations

import csv
import json
import os
import random
import re
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.ingest.load import load_source
from pipelines.ingest.reader import read_source_file
from pipelines.ingest.sources import SOURCES, WORK_ITEMS
from pipelines.settings import SettingError, naive_time_zone
from tests.conftest import ITEMS_HEADER, REGISTRY_HEADER, build_warehouse, write

INGESTED_AT = datetime(2026, 11, 1)
GOOD_ITEM = "g1,wf_a,2026-01-05T09:00:00Z,2026-01-06T09:00:00Z,0,2,no,0,false"


@pytest.fixture(autouse=True)
def _own_pseudonym_key(own_pseudonym_key, monkeypatch):
    """Every test reads under its own key file (tests/conftest.py), in the default time zone."""
    monkeypatch.delenv("OPVALUE_TZ_WORK_ITEMS", raising=False)


def registry(root: Path, *rows: str) -> None:
    write(
        root / "workflows.csv",
        "\n".join([REGISTRY_HEADER, "wf_a,Claims,Ann,Ops,production,2026-03-01,10,low,,-20,QA,#help,claims", *rows])
        + "\n",
    )


def items(root: Path, name: str, *rows: str) -> Path:
    path = root / "work_items" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([ITEMS_HEADER, *rows]) + "\n")
    return path


def load_all(root: Path, db: Path) -> tuple[duckdb.DuckDBPyConnection, dict]:
    con = duckdb.connect(str(db))
    summaries = {spec.name: load_source(con, spec, root, INGESTED_AT) for spec in SOURCES}
    assert all(summary.reconciles for summary in summaries.values()), summaries
    unbalanced = con.execute(
        "select count(*) from ops.ingested_files "
        "where rows_read <> rows_staged + rows_quarantined + rows_deduplicated + rows_superseded"
    ).fetchone()[0]
    assert unbalanced == 0
    return con, summaries


def quarantined(con, source: str = "work_items") -> dict[int, tuple[str, str]]:
    rows = con.execute(
        "select row_number, rule, reason from quarantine.rejected_rows where source = ? order by 1", [source]
    ).fetchall()
    return {number: (rule, reason) for number, rule, reason in rows}


def staged_items(con) -> set[str]:
    return {row[0] for row in con.execute("select item_id from staging.work_items").fetchall()}


# --- finding 2: one infinite timestamp blocked every build -------------------------------


def test_infinite_and_unrepresentable_timestamps_never_fail_a_build(tmp_path):
    root = tmp_path / "in"
    registry(root)
    items(
        root,
        "items_2026_01.csv",
        GOOD_ITEM,
        "bad1,wf_a,infinity,,0,2,no,0,false",
        "bad2,wf_a,2026-01-05T09:00:00Z,294247-01-10,0,2,no,0,false",
        "g2,wf_a,2026-01-07T09:00:00Z,,0,2,no,0,true",
    )
    warehouse = build_warehouse(root, tmp_path / "w.duckdb")  # raises if the build fails
    con = duckdb.connect(str(warehouse), read_only=True)
    assert staged_items(con) == {"g1", "g2"}
    bad = quarantined(con)
    assert bad[2] == ("unparseable", "opened_at: 'infinity' is a special value, not a timestamp")
    assert bad[3] == ("unparseable", "closed_at: cannot read '294247-01-10' as a ISO 8601 timestamp")
    reconciles = con.execute(
        "select bool_and(rows_read = rows_staged + rows_quarantined + rows_deduplicated + rows_superseded) from ops.ingested_files"
    ).fetchone()[0]
    assert reconciles


# --- finding 3: out-of-range and odd timestamps were accepted silently ---------------------


@pytest.mark.parametrize(
    ("value", "rule", "reason_part"),
    [
        ("9999-12-31", "out_of_range", "is outside the accepted range 1990-01-01 to"),
        ("1900-01-01T00:00:00Z", "out_of_range", "is outside the accepted range"),
        ("1989-12-31T23:59:59Z", "out_of_range", "is outside the accepted range"),
        ("epoch", "unparseable", "is a special value"),
        ("now", "unparseable", "is a special value"),
        ("today", "unparseable", "is a special value"),
        ("-infinity", "unparseable", "is a special value"),
        ("0044-03-15 (BC)", "unparseable", "cannot read"),
        ("-0044-03-15", "unparseable", "cannot read"),
        ("2026-01-05T09:00:00+25:00", "unparseable", "has an offset outside -14:00 to +14:00"),
        ("2026-01-05T09:00:00+05:75", "unparseable", "has an offset outside"),
        ("2026-01-05 09:00:00 Europe/Paris", "unparseable", "cannot read"),
        ("2026-01-05T09:00:00 CET", "unparseable", "cannot read"),
        ("2026-01-05T09:00:00 PST", "unparseable", "cannot read"),
        ("294247-01-10", "unparseable", "cannot read"),
        ("2026-02-30T10:00:00Z", "unparseable", "is not a real date and time"),
        ("2026-01-05T24:00:00Z", "unparseable", "is not a real date and time"),
        ("2026-1-5 9:00", "unparseable", "cannot read"),
        ("2026-01-05T09:00:00+02:00:30", "unparseable", "cannot read"),
        # Other scripts' digits: the offset's made the whole file fail to read.
        ("2026-01-05T09:00:00+\u0660\u0662:00", "unparseable", "cannot read"),
        ("\u0662\u0660\u0662\u0666-01-05T09:00:00Z", "unparseable", "cannot read"),
        ("2026-01-05T09:00:0\u0660", "unparseable", "cannot read"),
    ],
)
def test_bad_timestamps_are_quarantined_with_the_column_and_the_value(tmp_path, value, rule, reason_part):
    root = tmp_path / "in"
    registry(root)
    items(root, "items_2026_01.csv", GOOD_ITEM, f"bad,wf_a,{value},,0,2,no,0,false")
    con, summaries = load_all(root, tmp_path / "w.duckdb")
    bad = quarantined(con)
    assert list(bad) == [2]
    assert bad[2][0] == rule
    assert bad[2][1].startswith(f"opened_at: '{value}'") or bad[2][1].startswith(f"opened_at: cannot read '{value}'")
    assert reason_part in bad[2][1]
    assert staged_items(con) == {"g1"}
    assert summaries["work_items"].rows_quarantined == 1


def test_the_range_ends_one_day_after_the_build(tmp_path):
    root = tmp_path / "in"
    (root / "work_items").mkdir(parents=True)
    now = datetime(2026, 11, 30, 12, 0)
    path = items(
        root,
        "items.csv",
        "soon,wf_a,2026-12-01T11:00:00Z,,0,2,no,0,false",
        "later,wf_a,2026-12-01T13:00:00Z,,0,2,no,0,false",
        "old,wf_a,1990-01-01T00:00:00Z,,0,2,no,0,false",
    )
    result = read_source_file(path, WORK_ITEMS, root, now=now)
    assert result.valid.get_column("item_id").to_list() == ["soon", "old"]
    assert result.quarantined.row(0, named=True)["reason"] == (
        "opened_at: '2026-12-01T13:00:00Z' is outside the accepted range 1990-01-01 to 2026-12-01 12:00 UTC (build time + 1 day)"
    )


def test_a_usage_date_far_in_the_future_is_out_of_range(tmp_path):
    root = tmp_path / "in"
    registry(root)
    write(
        root / "usage" / "u.csv", "usage_date,user_id,workflow_id,actions\n2026-03-02,u1,wf_a,1\n9999-01-01,u2,wf_a,1\n"
    )
    con, _ = load_all(root, tmp_path / "w.duckdb")
    bad = quarantined(con, "usage")
    assert bad[2][0] == "out_of_range" and bad[2][1].startswith(
        "usage_date: '9999-01-01' is outside the accepted range"
    )


def test_the_accepted_timestamp_forms(tmp_path):
    root = tmp_path / "in"
    path = items(
        root,
        "items.csv",
        "a,wf_a,2026-03-01T09:30:00Z,,0,2,no,0,false",
        "b,wf_a,2026-03-01t09:30:00z,,0,2,no,0,false",
        "c,wf_a,2026-03-01T11:30:00+02:00,,0,2,no,0,false",
        "d,wf_a,2026-03-01T11:30:00+0200,,0,2,no,0,false",
        "e,wf_a,2026-03-01T04:30:00-05,,0,2,no,0,false",
        "f,wf_a,2026-03-01 09:30:00,,0,2,no,0,false",
        "g,wf_a,2026-03-01T09:30,,0,2,no,0,false",
        "h,wf_a,2026-03-01T09:30:00.000000001Z,,0,2,no,0,false",
    )
    result = read_source_file(path, WORK_ITEMS, root)
    assert result.quarantined_count == 0
    assert set(result.valid.get_column("opened_at").to_list()) == {datetime(2026, 3, 1, 9, 30)}
    midnight = items(root, "day.csv", "z,wf_a,2026-03-01,,0,2,no,0,false")
    assert read_source_file(midnight, WORK_ITEMS, root).valid.get_column("opened_at").to_list() == [
        datetime(2026, 3, 1)
    ]


def test_a_time_zone_setting_reads_naive_timestamps_as_local_time_with_stated_dst_rules(tmp_path, monkeypatch):
    root = tmp_path / "in"
    path = items(
        root,
        "items.csv",
        "summer,wf_a,2026-06-01 12:00:00,,0,2,no,0,false",
        "winter,wf_a,2026-01-15 12:00:00,,0,2,no,0,false",
        "gap,wf_a,2026-03-29 02:30:00,,0,2,no,0,false",
        "overlap,wf_a,2026-10-25 02:30:00,,0,2,no,0,false",
        "zoned,wf_a,2026-06-01T12:00:00Z,,0,2,no,0,false",
    )
    naive = read_source_file(path, WORK_ITEMS, root, now=datetime(2026, 11, 30))
    assert naive.quarantined_count == 0  # without the setting, naive means UTC, as documented
    monkeypatch.setenv("OPVALUE_TZ_WORK_ITEMS", "Europe/Paris")
    local = read_source_file(path, WORK_ITEMS, root, now=datetime(2026, 11, 30))
    opened = dict(local.valid.select("item_id", "opened_at").iter_rows())
    assert opened == {
        "summer": datetime(2026, 6, 1, 10),
        "winter": datetime(2026, 1, 15, 11),
        "overlap": datetime(2026, 10, 25, 0, 30),  # the earlier instant (still summer time, UTC+2)
        "zoned": datetime(2026, 6, 1, 12),  # an explicit zone wins over the setting
    }
    gap = local.quarantined.row(0, named=True)
    assert (gap["row_number"], gap["rule"]) == (3, "unparseable")
    assert gap["reason"] == (
        "opened_at: '2026-03-29 02:30:00' does not exist in Europe/Paris (the clocks skipped that hour for daylight saving time)"
    )


def test_a_time_zone_setting_that_is_not_a_zone_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("OPVALUE_TZ_WORK_ITEMS", "Mars/Olympus")
    with pytest.raises(SettingError, match="OPVALUE_TZ_WORK_ITEMS='Mars/Olympus' is not an IANA time zone"):
        naive_time_zone("work_items")


def test_changing_the_time_zone_setting_reads_the_files_again(tmp_path, monkeypatch):
    root = tmp_path / "in"
    registry(root)
    items(root, "items.csv", "a,wf_a,2026-06-01 12:00:00,,0,2,no,0,false")
    con, _ = load_all(root, tmp_path / "w.duckdb")
    monkeypatch.setenv("OPVALUE_TZ_WORK_ITEMS", "America/New_York")
    again = load_source(con, WORK_ITEMS, root, INGESTED_AT)
    assert again.files_read == 1 and again.reconciles
    assert con.execute("select opened_at from staging.work_items").fetchone()[0] == datetime(2026, 6, 1, 16)


# --- finding 4: short rows were staged ------------------------------------------------------


def test_a_short_row_is_quarantined_with_its_line_and_field_count_and_supersedes_nothing(tmp_path):
    root = tmp_path / "in"
    registry(root)
    items(root, "items_2026_01.csv", "s1,wf_a,2026-01-05T09:00:00Z,2026-01-06T09:00:00Z,1,2,no,0,false")
    items(
        root,
        "items_2026_02.csv",
        GOOD_ITEM,
        "s1,wf_a,2026-01-05T09:00:00Z",
        "g2,wf_a,2026-01-07T09:00:00Z,,0,2,no,0,true",
    )
    con, summaries = load_all(root, tmp_path / "w.duckdb")
    bad = quarantined(con)
    assert bad == {2: ("wrong_field_count", "line 3: 3 of 9 fields")}
    # The January version of s1 stands: a short row never supersedes a good one.
    s1 = con.execute("select closed_at, source_file from staging.work_items where item_id = 's1'").fetchall()
    assert s1 == [(datetime(2026, 1, 6, 9), "work_items/items_2026_01.csv")]
    assert staged_items(con) == {"s1", "g1", "g2"}
    assert summaries["work_items"].rows_read == 4
    record = json.loads(con.execute("select record from quarantine.rejected_rows").fetchone()[0])
    assert record == {"line": 3, "fields": ["s1", "wf_a", "2026-01-05T09:00:00Z"]}


def test_a_cut_last_line_is_quarantined_and_says_the_file_may_be_cut(tmp_path):
    root = tmp_path / "in"
    registry(root)
    path = root / "work_items" / "items.csv"
    path.parent.mkdir(parents=True)
    path.write_text(f"{ITEMS_HEADER}\n{GOOD_ITEM}\ng2,wf_a,2026-01-07T09:00:00Z,,0,2,no,0,true\ncut,wf_a,2026-01-0")
    con, summaries = load_all(root, tmp_path / "w.duckdb")
    assert quarantined(con) == {
        3: ("wrong_field_count", "line 4: 3 of 9 fields (the file's last line, with no line end: the file may be cut)")
    }
    assert staged_items(con) == {"g1", "g2"}
    assert summaries["work_items"].rows_read == 3


# --- finding 5: one stray comma rejected a whole file -----------------------------------------


def test_a_stray_comma_quarantines_its_row_and_keeps_the_rest_of_the_file(tmp_path):
    root = tmp_path / "in"
    registry(root)
    rows = [f"i{n},wf_a,2026-01-05T09:00:00Z,,0,2,no,0,false" for n in range(1, 6)]
    rows[2] = "i3,wf_a,2026-01-05T09:00:00Z,,0,2,no,1,250.50,false"  # 1,250.50 unquoted
    rows.insert(4, '"q\nmulti",wf_a,2026-01-05T09:00:00Z,,0,2,no,0,false')  # a quoted line break
    items(root, "items_2026_03.csv", *rows)
    con, summaries = load_all(root, tmp_path / "w.duckdb")
    assert quarantined(con) == {3: ("wrong_field_count", "line 4: 10 of 9 fields")}
    assert staged_items(con) == {"i1", "i2", "i4", "q\nmulti", "i5"}
    manifest = con.execute(
        "select status, rows_read, rows_staged, rows_quarantined from ops.ingested_files where source = 'work_items'"
    ).fetchall()
    assert manifest == [("loaded", 6, 5, 1)]
    assert summaries["work_items"].rows_read == 6
    # Row numbers are data rows; i5 comes after the row with a line break in it.
    i5 = con.execute("select row_number from ingest.work_items_rows where item_id = 'i5'").fetchone()[0]
    assert i5 == 6


def test_an_unmatched_quote_is_one_quarantined_row_that_names_its_lines(tmp_path):
    root = tmp_path / "in"
    registry(root)
    items(
        root,
        "items.csv",
        GOOD_ITEM,
        '"g2,wf_a,2026-01-07T09:00:00Z,,0,2,no,0,true',
        "g3,wf_a,2026-01-07T09:00:00Z,,0,2,no,0,true",
    )
    con, summaries = load_all(root, tmp_path / "w.duckdb")
    assert quarantined(con) == {
        2: ("wrong_field_count", "line 3: 1 of 9 fields (one quoted field runs from line 3 to 4: an unmatched quote?)")
    }
    assert staged_items(con) == {"g1"}
    assert summaries["work_items"].rows_read == 2


# --- finding 6: an extra Parquet column of an unsupported type failed the build -------------


def test_a_parquet_extra_column_of_any_type_is_ignored_and_reported(tmp_path):
    root = tmp_path / "in"
    registry(root)
    (root / "work_items").mkdir(parents=True)
    pl.DataFrame(
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
            "handling_time": [timedelta(hours=1), timedelta(minutes=5)],
            "tags": [["a"], ["b", "c"]],
        }
    ).write_parquet(root / "work_items" / "items.parquet")
    warehouse = build_warehouse(root, tmp_path / "w.duckdb")
    con = duckdb.connect(str(warehouse), read_only=True)
    assert staged_items(con) == {"p1", "p2"}
    extras = con.execute("select status, extra_columns from ops.ingested_files where source = 'work_items'").fetchall()
    assert extras == [("loaded", ["handling_time", "tags"])]


# --- finding 8: links outside the folder were followed; odd entries ignored silently ------


def test_links_out_of_the_folder_are_rejected_and_odd_entries_are_listed_as_skipped(tmp_path):
    root = tmp_path / "in"
    registry(root)
    items(root, "items_2026_01.csv", GOOD_ITEM)
    secret = tmp_path / "outside" / "secret.csv"
    secret.parent.mkdir()
    secret.write_text(f"{ITEMS_HEADER}\nleak,wf_a,2026-01-05T09:00:00Z,,0,2,no,0,false\n")
    folder = root / "work_items"
    os.symlink(secret, folder / "items_2026_02.csv")
    os.symlink(folder / "items_2026_01.csv", folder / "items_2026_03.csv")  # inside: followed
    os.symlink(tmp_path / "nowhere.csv", folder / "items_2026_04.csv")
    (folder / "archive").mkdir()
    items(root, "archive/items_2025.csv", "old,wf_a,2026-01-05T09:00:00Z,,0,2,no,0,false")
    (folder / ".~lock.items_2026_01.csv#").write_text("lock")
    con, summaries = load_all(root, tmp_path / "w.duckdb")
    assert "leak" not in staged_items(con) and "old" not in staged_items(con)
    rejected = con.execute("select source_file, reason from quarantine.rejected_files").fetchall()
    assert rejected == [
        (
            "work_items/items_2026_02.csv",
            f"symlink to {secret}, outside the input folder; opvalue reads only files inside it",
        )
    ]
    assert summaries["work_items"].files_rejected == 1
    skipped = dict(con.execute("select entry, reason from ops.skipped_files where source = 'work_items'").fetchall())
    assert set(skipped) == {
        "work_items/.~lock.items_2026_01.csv#",
        "work_items/archive",
        "work_items/items_2026_04.csv",
    }
    assert skipped["work_items/archive"].startswith("sub-folder")
    assert skipped["work_items/items_2026_04.csv"].startswith("dangling symlink")
    assert skipped["work_items/.~lock.items_2026_01.csv#"].startswith("dot-file")
    assert summaries["work_items"].skipped_entries == skipped
    loaded = {
        row[0] for row in con.execute("select source_file from ops.ingested_files where status = 'loaded'").fetchall()
    }
    assert {"work_items/items_2026_01.csv", "work_items/items_2026_03.csv"} <= loaded
    # Gone on the next load once the entries are gone.
    (folder / "archive" / "items_2025.csv").unlink()
    (folder / "archive").rmdir()
    load_source(con, WORK_ITEMS, root, INGESTED_AT)
    assert "work_items/archive" not in {r[0] for r in con.execute("select entry from ops.skipped_files").fetchall()}


def test_a_source_folder_linked_out_of_the_input_folder_is_not_read(tmp_path):
    root = tmp_path / "in"
    registry(root)
    elsewhere = tmp_path / "elsewhere"
    items(elsewhere, "items.csv", "leak,wf_a,2026-01-05T09:00:00Z,,0,2,no,0,false")
    os.symlink(elsewhere / "work_items", root / "work_items")
    con, summaries = load_all(root, tmp_path / "w.duckdb")
    assert staged_items(con) == set()
    reason = con.execute("select reason from quarantine.rejected_files where source = 'work_items'").fetchone()[0]
    assert reason == (
        f"resolves to {(elsewhere / 'work_items' / 'items.csv').resolve()} through a linked folder, "
        "outside the input folder; opvalue reads only files inside it"
    )
    assert summaries["work_items"].rows_read == 0


# --- finding 9: "not in the registry" for a workflow whose registry row was quarantined -----


def test_items_of_a_quarantined_registry_row_say_why_it_was_quarantined(tmp_path):
    root = tmp_path / "in"
    registry(
        root,
        "wf_dup,Dup one,Ann,Ops,production,2026-03-01,10,low,,,,,",
        "wf_dup,Dup two,Ann,Ops,production,2026-03-01,12,low,,,,,",
        "wf_neg,Negative,Ann,Ops,production,2026-03-01,-5,low,,,,,",
    )
    items(
        root,
        "items.csv",
        GOOD_ITEM,
        "d1,wf_dup,2026-01-05T09:00:00Z,,0,2,no,0,false",
        "n1,wf_neg,2026-01-05T09:00:00Z,,0,2,no,0,false",
        "z1,wf_zzz,2026-01-05T09:00:00Z,,0,2,no,0,false",
    )
    con, _ = load_all(root, tmp_path / "w.duckdb")
    bad = quarantined(con)
    assert bad[2] == (
        "unknown_workflow",
        (
            "workflow_id: workflow 'wf_dup''s registry row was quarantined: "
            "workflow_id: another row in the same file has this key with different name, eligible_users"
        ),
    )
    assert bad[3] == (
        "unknown_workflow",
        "workflow_id: workflow 'wf_neg''s registry row was quarantined: eligible_users: -5 is out of range (must be >= 0)",
    )
    assert bad[4] == ("unknown_workflow", "workflow_id: 'wf_zzz' is not in the registry")


# Every value of the common form (and near misses of it), each at the edge of a rule.
UTC_SECONDS_EDGES = [
    "2026-03-01T09:30:00Z",
    "2024-02-29T10:00:00Z",  # leap day
    "2026-02-29T10:00:00Z",  # not a leap year
    "2026-11-31T00:00:00Z",
    "2026-13-02T08:00:00Z",
    "2026-01-01T24:00:00Z",
    "2026-03-01T09:60:00Z",
    "2026-03-01T09:30:61Z",
    "2016-12-31T23:59:60Z",  # a leap second
    "0000-01-01T00:00:00Z",
    "1989-12-31T23:59:59Z",
    "1990-01-01T00:00:00Z",
    "2026-12-01T11:59:59Z",  # build time + 1 day, less a second
    "2026-12-01T12:00:01Z",
    "2027-01-01T00:00:00Z",
    "2026-03-01T9:30:00Z",
    " 2026-03-01T09:30:00Z",
    "2026-03-01T09:30:00z",
    "2026-03-01T09:30:00.5Z",
    "2026-03-01T09:30:00+01:00",
    "2026-03-01T09:30:00-05:30",
    "2026-03-01T09:30:00-00:00",
    "2026-03-01T09:30:00+14:00",
    "2026-03-01T09:30:00-14:00",
    "2026-03-01T09:30:00+14:01",
    "2026-03-01T09:30:00+05:60",
    "2026-03-01T09:30:00+23:00",
    "2026-03-01T09:30:00+0100",
    "2026-12-01T13:30:00+02:00",  # inside the range only once the offset is applied
    "1990-01-01T00:30:00+01:00",  # outside it only once the offset is applied
    "2026-03-01T09:30:00",
    "2026-03-29T02:30:00",  # no such time in Paris (daylight saving)
    "2026-10-25T02:30:00",  # twice in Paris
    "2026-03-01 09:30",
    "now",
    None,
    # Digits from other scripts match `\d`: the common form's length and slices must not
    # read them as a zone or an offset.
    "\u0662\u0660\u0662\u0666-03-01T09:30:00Z",
    "2026-03-01T09:30:00+\u0660\u0661:00",
    "2026-03-01T09:30:00+01:\u0660\u0660",
    "2026-03-01T09:30:0\u0660",
]


@pytest.mark.parametrize("time_zone", [None, "Europe/Paris"])
def test_common_timestamp_forms_read_as_the_exact_path_reads_them(time_zone):
    """The one-format reading of `YYYY-MM-DDTHH:MM:SS` (then `Z`, `±HH:MM` or nothing) gives
    every value, valid or not, the value, rule and reason the exact path gives it."""
    from pipelines.ingest.reader import _parse_timestamps, _parse_timestamps_exactly

    frame = pl.DataFrame({"opened_at": UTC_SECONDS_EDGES}, schema={"opened_at": pl.String})
    now = datetime(2026, 11, 30, 12)
    fast = _parse_timestamps(frame, ["opened_at"], time_zone, now)
    exact = _parse_timestamps_exactly(frame, ["opened_at"], time_zone, now)
    assert fast.columns == exact.columns
    assert fast.to_dicts() == exact.to_dicts()
    # The common form is read, and its failures keep their rule: not every value came out null.
    rules = dict(zip(UTC_SECONDS_EDGES, fast.get_column("__failure_rule_opened_at").to_list(), strict=True))
    assert rules["2026-03-01T09:30:00Z"] is None
    assert rules["2026-02-29T10:00:00Z"] == "unparseable"
    assert rules["1989-12-31T23:59:59Z"] == "out_of_range"
    assert rules["2027-01-01T00:00:00Z"] == "out_of_range"


FIELD_COUNT_CASES = {
    "plain": "a,b,c\n1,2,3\n4,5,6\n",
    "no_last_line_end": "a,b,c\n1,2,3\n4,5",
    "blank_lines": "a,b,c\n\n1,2,3\n\n\n4,5,6\n",
    "spaces_line": "a,b,c\n   \n1,2,3\n",
    "crlf": "a,b,c\r\n1,2,3\r\n\r\n4,5\r\n",
    "lone_cr": "a,b,c\r1,2,3\n4,5,6\n",
    "cr_at_end": "a,b,c\n1,2,3\r",
    "bom": "\ufeffa,b,c\n1,2,3\n",
    "bom_quoted_header": '\ufeff"a",b,c\n1,2,3\n',
    "quoted_comma": 'a,b,c\n1,"2,5",3\n4,5,6\n',
    "quoted_newline": 'a,b,c\n1,"two\nlines, and a comma",3\n4,5,6\n',
    "quoted_newlines_crlf": 'a,b,c\r\n1,"two\r\nlines",3\r\n4,5,6\r\n',
    "quote_mid_field": 'a,b,c\n1,ab"c,3\n4,5,6\n',
    "doubled_quotes": 'a,b,c\n1,"say ""hi""",3\n',
    "unmatched_quote": 'a,b,c\n1,"unclosed,3\n4,5,6\n7,8,9\n',
    "unmatched_quote_at_end": 'a,b,c\n1,2,3\n4,5,"6\n',
    "quote_then_more": 'a,b,c\n1,"x"y,3\n4,5,6,7\n',
    "consecutive_quoted": 'a,b,c\n"1",2,3\n"4","5\n",6\n"7",8\n9,10,11\n',
    "multibyte": 'a,b,c\n1,\u00e9\u00e8,3\n\u4e2d,"\u6587\n\u5b57",x\n',
    "nul": "a,b,c\n1,2\x00,3\n",
}


@pytest.mark.parametrize("name", sorted(FIELD_COUNT_CASES))
def test_field_counts_on_the_bytes_match_the_csv_module(tmp_path, name):
    """Counting fields on the bytes (the csv module only from lines with a quote) gives the
    counts the csv module gives reading every record, or the same error."""
    from pipelines.ingest.reader import _field_counts, _field_counts_by_csv

    path = tmp_path / f"{name}.csv"
    path.write_bytes(FIELD_COUNT_CASES[name].encode())
    try:
        expected = _field_counts_by_csv(path)
    except csv.Error as error:
        with pytest.raises(csv.Error, match=re.escape(str(error))):
            _field_counts(path)
    else:
        assert _field_counts(path) == expected


def test_field_counts_on_random_files_match_the_csv_module(tmp_path, monkeypatch):
    """The same on 300 files drawn from the characters that decide a record's fields, every
    quoted line read from its own line (never the whole file by the csv module)."""
    from pipelines.ingest import reader
    from pipelines.ingest.reader import _field_counts, _field_counts_by_csv

    monkeypatch.setattr(reader, "QUOTED_LINES_SHARE", 1.0)
    rng = random.Random(20261130)
    # No lone carriage return: a file with one is counted by the csv module whole (a case above).
    pieces = ["a", "bc", ",", ",", ",", '"', '""', "\n", "\n", "\r\n", " ", "\u00e9"]
    whole_file_passes = []
    monkeypatch.setattr(
        reader, "_field_counts_by_csv", lambda path: whole_file_passes.append(path) or _field_counts_by_csv(path)
    )
    compared = 0
    for number in range(300):
        lines = ["h1,h2,h3"] + [
            "1,2,3" if rng.random() < 0.5 else "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
            for _ in range(rng.randint(1, 40))
        ]
        path = tmp_path / f"random_{number}.csv"
        path.write_bytes("\n".join(lines).encode() + (b"\n" if rng.random() < 0.7 else b""))
        try:
            expected = _field_counts_by_csv(path)
        except csv.Error:
            with pytest.raises(csv.Error):
                _field_counts(path)
            continue
        assert _field_counts(path) == expected, path.read_bytes()
        compared += 1
    assert compared > 200
    assert len(whole_file_passes) < 30  # nearly every file took the line-by-line path
