"""Pseudonymous people (issue 10, finding 10): no raw user id is stored in the warehouse."""

from __future__ import annotations

import csv
import json
import os
import stat
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from pipelines import privacy
from pipelines.ingest.load import load_source
from pipelines.ingest.sources import SOURCES, USAGE
from tests.conftest import SAMPLE_DIR, write

INGESTED_AT = datetime(2026, 11, 1)
RAW_IDS = ("anna.berg@example.com", "u2", "Bob.Smith@example.com")


@pytest.fixture
def key_file(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "keys" / "pseudonym.key"
    monkeypatch.delenv("OPVALUE_PSEUDONYM_KEY", raising=False)
    monkeypatch.setenv("OPVALUE_PSEUDONYM_KEY_FILE", str(path))
    return path


def usage_inputs(root: Path) -> Path:
    write(
        root / "workflows.csv",
        "workflow_id,name,business_owner,team,stage,deployed_on,eligible_users,risk_tier,primary_metric,"
        "target_change_pct,review_point,support_path,data_scope\n"
        "wf_a,Claims,Ann,Ops,production,2026-03-01,10,low,,-20,QA,#help,claims\n",
    )
    write(
        root / "usage" / "usage_2026_03.csv",
        "usage_date,user_id,workflow_id,actions\n"
        "2026-03-02,anna.berg@example.com,wf_a,4\n"
        "2026-03-02, u2 ,wf_a,-1\n"  # quarantined: out of range
        "2026-03-02,Bob.Smith@example.com,wf_zzz,1\n"  # quarantined: unknown workflow
        "2026-03-03,anna.berg@example.com,wf_a,2,extra\n"  # quarantined: 5 of 4 fields
        "2026-03-04,anna.berg@example.com,wf_a,1\n",
    )
    return root


def load_all(root: Path, db: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(db))
    summaries = [load_source(con, spec, root, INGESTED_AT) for spec in SOURCES]
    assert all(summary.reconciles for summary in summaries)
    return con


def every_text_value(con) -> list[str]:
    """Every value of every column of every table, as text."""
    values: list[str] = []
    tables = con.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        "where table_catalog = current_database() order by all"
    ).fetchall()
    for schema, table, column in tables:
        rows = con.execute(f'select distinct cast("{column}" as varchar) from "{schema}"."{table}"').fetchall()
        values += [row[0] for row in rows if row[0] is not None]
    return values


def test_user_ids_are_pseudonymised_in_staging_ingest_rows_and_quarantine(tmp_path, key_file):
    con = load_all(usage_inputs(tmp_path / "in"), tmp_path / "w.duckdb")
    key = privacy.pseudonym_key()
    anna = privacy.pseudonym("anna.berg@example.com", key)
    assert anna.startswith("p_") and len(anna) == 22
    assert con.execute("select distinct user_id from staging.usage").fetchall() == [(anna,)]
    # Rows that passed the reader's rules (the unknown workflow is decided at staging).
    assert {r[0] for r in con.execute("select user_id from ingest.usage_rows").fetchall()} == {
        anna,
        privacy.pseudonym("Bob.Smith@example.com", key),
    }
    records = dict(con.execute("select rule, record from quarantine.rejected_rows where source = 'usage'").fetchall())
    assert set(records) == {"out_of_range", "unknown_workflow", "wrong_field_count"}
    assert json.loads(records["out_of_range"])["user_id"] == privacy.pseudonym("u2", key)
    assert json.loads(records["unknown_workflow"])["user_id"] == privacy.pseudonym("Bob.Smith@example.com", key)
    assert anna in json.loads(records["wrong_field_count"])["fields"]
    text = "\n".join(every_text_value(con))
    assert not any(raw in text for raw in RAW_IDS)
    # The ledger still holds: 5 read = 2 staged + 3 quarantined.
    assert con.execute(
        "select rows_read, rows_staged, rows_quarantined from ops.ingested_files where source = 'usage'"
    ).fetchall() == [(5, 2, 3)]


def test_the_key_file_is_created_once_owner_only_and_pseudonyms_are_stable_across_builds(tmp_path, key_file):
    root = usage_inputs(tmp_path / "in")
    first = load_all(root, tmp_path / "a.duckdb")
    assert key_file.exists() and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key_text = key_file.read_text()
    second = load_all(root, tmp_path / "b.duckdb")
    assert key_file.read_text() == key_text
    query = "select user_id, usage_date from staging.usage order by all"
    assert first.execute(query).fetchall() == second.execute(query).fetchall()


def test_a_new_key_gives_new_pseudonyms_and_rereads_the_files(tmp_path, key_file, monkeypatch):
    root = usage_inputs(tmp_path / "in")
    con = load_all(root, tmp_path / "w.duckdb")
    before = {r[0] for r in con.execute("select user_id from ingest.usage_rows").fetchall()}
    monkeypatch.setenv("OPVALUE_PSEUDONYM_KEY", "a-rotated-key-of-enough-length-1234")
    summary = load_source(con, USAGE, root, INGESTED_AT)
    assert summary.files_read == 1 and summary.reconciles
    after = {r[0] for r in con.execute("select user_id from ingest.usage_rows").fetchall()}
    assert after.isdisjoint(before)
    assert privacy.pseudonym("anna.berg@example.com") in after


def test_a_short_key_is_refused(monkeypatch):
    monkeypatch.setenv("OPVALUE_PSEUDONYM_KEY", "short")
    with pytest.raises(privacy.SettingError, match="OPVALUE_PSEUDONYM_KEY is shorter than 16"):
        privacy.pseudonym_key()


def test_the_command_finds_a_persons_pseudonym(tmp_path, key_file):
    con = load_all(usage_inputs(tmp_path / "in"), tmp_path / "w.duckdb")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.privacy", "pseudonym", "anna.berg@example.com"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    found = done.stdout.strip()
    assert con.execute("select count(*) from staging.usage where user_id = ?", [found]).fetchone()[0] == 2
    wrong = subprocess.run(
        [sys.executable, "-m", "pipelines.privacy"], capture_output=True, text=True, env=env, check=False
    )
    assert wrong.returncode == 2 and "usage:" in wrong.stderr


def test_no_raw_user_id_of_the_sample_appears_anywhere_in_a_built_warehouse(sample_warehouse):
    raw_ids: set[str] = set()
    for path in sorted((SAMPLE_DIR / "usage").glob("*.csv")):
        with path.open(newline="") as handle:
            raw_ids |= {row["user_id"].strip() for row in csv.DictReader(handle) if row.get("user_id")}
    raw_ids.discard("")
    assert len(raw_ids) > 100  # the sample's people, so the scan below means something
    con = duckdb.connect(str(sample_warehouse), read_only=True)
    con.execute("create temp table raw_ids as select unnest(?::varchar[]) as raw_id", [sorted(raw_ids)])
    columns = con.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        "where table_catalog = current_database() and table_schema <> 'temp' order by all"
    ).fetchall()
    assert len(columns) > 50
    leaks = []
    for schema, table, column in columns:
        hits = con.execute(
            f'select count(*) from (select distinct cast("{column}" as varchar) as v from "{schema}"."{table}") as t '
            "join raw_ids on contains(t.v, raw_ids.raw_id)"
        ).fetchone()[0]
        if hits:
            leaks.append(f"{schema}.{table}.{column}: {hits}")
    assert leaks == []
    # The people are there, under pseudonyms.
    assert (
        con.execute(
            "select count(distinct user_id) from staging.usage where user_id like 'p\\_%' escape '\\'"
        ).fetchone()[0]
        > 100
    )
