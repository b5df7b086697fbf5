"""Connectors on small hand-written exports: mapping rules, time zones, hostile inputs, the hook."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.connectors import convert, native_digest, native_files
from pipelines.connectors.__main__ import main as connectors_main
from pipelines.connectors.mapping import MappingError, load_mapping, parse_mapping
from pipelines.connectors.timestamps import utc_expr
from pipelines.ingest.reader import read_source_file
from pipelines.ingest.sources import USAGE, WORK_ITEMS, WORKFLOWS
from pipelines.privacy import pseudonym
from tests.conftest import REGISTRY_HEADER, build_warehouse, write

FIXTURES = Path(__file__).parent / "connectors"

SMALL_XES = """<?xml version="1.0" encoding="UTF-8"?>
<log xes.version="1.0" xmlns="http://www.xes-standard.org/">
  <trace>
    <string key="concept:name" value="A1"/>
    <string key="cost" value="120.5"/>
    <event><string key="concept:name" value="register"/><string key="org:resource" value="ann"/>
      <string key="lifecycle:transition" value="start"/><date key="time:timestamp" value="2024-01-02T09:00:00+01:00"/></event>
    <event><string key="concept:name" value="register"/><string key="org:resource" value="ann"/>
      <string key="lifecycle:transition" value="complete"/><date key="time:timestamp" value="2024-01-02T09:30:00+01:00"/></event>
    <event><string key="concept:name" value="check"/><string key="org:resource" value="bob"/>
      <string key="lifecycle:transition" value="complete"/><date key="time:timestamp" value="2024-01-03T10:00:00+01:00"/></event>
    <event><string key="concept:name" value="check"/><string key="org:resource" value="cy"/>
      <string key="lifecycle:transition" value="complete"/><date key="time:timestamp" value="2024-01-04T10:00:00+01:00"/></event>
    <event><string key="concept:name" value="reopen"/><string key="org:resource" value="bob"/>
      <string key="lifecycle:transition" value="complete"/><date key="time:timestamp" value="2024-01-05T10:00:00+01:00"/></event>
    <event><string key="concept:name" value="close"/><string key="org:resource" value="ann"/>
      <string key="lifecycle:transition" value="complete"/><date key="time:timestamp" value="2024-01-06T12:00:00+01:00"/></event>
  </trace>
  <trace>
    <string key="concept:name" value="A2"/>
    <event><string key="concept:name" value="register"/><string key="org:resource" value="bob"/>
      <string key="lifecycle:transition" value="complete"/><date key="time:timestamp" value="2024-02-01T08:00:00"/></event>
  </trace>
  <trace>
    <string key="concept:name" value="A3"/>
    <event><string key="concept:name" value="register"/>
      <string key="lifecycle:transition" value="complete"/><date key="time:timestamp" value="not a time"/></event>
  </trace>
</log>
"""

SMALL_XES_MAPPING = """
connector: event_log
file: log.xes
timezone: Europe/Amsterdam
workflow: {id: claims}
complete: {activities: [close]}
error: {activities: [reopen]}
spend: case:cost
"""


def _folder(tmp_path: Path, files: dict[str, str | bytes], registry: str | None = None) -> Path:
    """An input folder with `connectors/` holding the given files and, optionally, a registry."""
    root = tmp_path / "inputs"
    for name, content in files.items():
        path = root / "connectors" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    if registry is not None:
        write(root / "workflows.csv", registry)
    return root


def _read(root: Path, name: str, spec=WORK_ITEMS):
    return read_source_file(root / "connectors" / name, spec, root)


# --- event logs -------------------------------------------------------------------------


def test_xes_case_rules_lifecycle_time_zone_and_bad_timestamp(tmp_path):
    root = _folder(tmp_path, {"log.xes": SMALL_XES, "log.yaml": SMALL_XES_MAPPING})
    result = _read(root, "log.xes")
    assert result.status == "loaded" and result.rows_read == 3
    valid = result.valid.sort("item_id")
    a1 = valid.row(0, named=True)
    assert a1["item_id"] == "A1"
    # The start transition is a timestamp (the case opened at it) but not a second "register".
    assert str(a1["opened_at"]) == "2024-01-02 08:00:00"
    assert str(a1["closed_at"]) == "2024-01-06 11:00:00"
    assert a1["rework_count"] == 1  # check twice; register start+complete is one execution
    assert a1["touchpoints"] == 3  # ann, bob, cy
    assert a1["had_error"] is True and a1["external_spend"] == 120.5
    a2 = valid.row(1, named=True)
    # A naive timestamp is read in the mapping's zone (CET in February: UTC+1).
    assert str(a2["opened_at"]) == "2024-02-01 07:00:00" and a2["closed_at"] is None
    assert a2["had_error"] is False and a2["touchpoints"] == 1
    # A3's only timestamp is unreadable: quarantined, the reason quoting the native text, the record naming the case.
    bad = result.quarantined.row(0, named=True)
    assert bad["source_file"] == "connectors/log.xes" and bad["row_number"] == 3
    assert "not a time" in bad["reason"] and json.loads(bad["record"])["item_id"] == "A3"


def test_xes_gzip_reads_the_same_as_plain(tmp_path):
    root = _folder(
        tmp_path,
        {
            "log.xes.gz": gzip.compress(SMALL_XES.encode()),
            "log.yaml": SMALL_XES_MAPPING.replace("log.xes", "log.xes.gz"),
        },
    )
    plain = _folder(tmp_path / "plain", {"log.xes": SMALL_XES, "log.yaml": SMALL_XES_MAPPING})
    gz, xes = _read(root, "log.xes.gz"), _read(plain, "log.xes")
    assert gz.valid.drop("source_file", "row_hash").equals(xes.valid.drop("source_file", "row_hash"))


def test_event_csv_with_rework_subset_and_attribute_workflow(tmp_path):
    csv_text = (
        "case,activity,ts,who,unit\n"
        "c1,open,2024-03-01 10:00,ann,north\n"
        "c1,fix,2024-03-01 11:00,bob,north\n"
        "c1,review,2024-03-01 12:00,cy,north\n"
        "c1,fix,2024-03-01 13:00,bob,north\n"
        "c1,review,2024-03-01 14:00,cy,north\n"
        "c2,open,2024-03-02 10:00,ann,south\n"
        ",fix,2024-03-02 11:00,bob,south\n"
        "c3,open,2024-03-03 10:00,ann,east\n"
    )
    mapping = """
connector: event_log
file: events.csv
columns: {case: case, activity: activity, timestamp: ts, resource: who}
workflow: {attribute: unit, values: {north: wf_north, south: wf_south}}
rework: {activities: [fix]}
team: unit
"""
    root = _folder(tmp_path, {"events.csv": csv_text, "events.yaml": mapping})
    result = _read(root, "events.csv")
    assert result.rows_read == 4  # three cases and one event without a case id
    valid = {row["item_id"]: row for row in result.valid.iter_rows(named=True)}
    assert valid["c1"]["rework_count"] == 1  # only `fix` counts; `review` repeats too but is not listed
    assert valid["c1"]["workflow_id"] == "wf_north" and valid["c1"]["team"] == "north"
    assert valid["c2"]["workflow_id"] == "wf_south"
    reasons = result.quarantined.get_column("reason").to_list()
    # East is not in the value map and no default: the case is quarantined, not guessed.
    assert any("workflow_id: required value is missing" in r for r in reasons)
    assert any("item_id: required value is missing" in r for r in reasons)


def test_dst_rule_ambiguous_takes_first_and_gap_is_quarantined():
    frame = pl.DataFrame({"t": ["2024-10-27 02:30", "2024-03-31 02:30", "2024-07-01 12:00"]})
    parsed, handed = utc_expr("t", fmt=None, timezone="Europe/Amsterdam")
    out = frame.select(parsed.alias("p"), handed.alias("h"))
    # 02:30 on 27 Oct 2024 happens twice in Amsterdam: the first (CEST, UTC+2) is taken.
    assert str(out["p"][0]) == "2024-10-27 00:30:00"
    # 02:30 on 31 Mar 2024 never happens there: no instant, the text goes on with a note.
    assert out["p"][1] is None and "DST gap" in out["h"][1]
    assert out["h"][2] == "2024-07-01T10:00:00.000000+00:00"


# --- ticket exports and the Jira preset ---------------------------------------------------


def test_ticket_updates_latest_row_wins_and_repeated_states_are_rework(tmp_path):
    csv_text = (
        "number,state,opened,resolved,updated,reassigned,reopened,group\n"
        "INC1,New,1/3/2016 09:00,?,1/3/2016 09:00,0,0,G1\n"
        "INC1,Active,1/3/2016 09:00,?,1/3/2016 10:00,1,0,G1\n"
        "INC1,Resolved,1/3/2016 09:00,2/3/2016 10:00,2/3/2016 10:00,1,0,G1\n"
        "INC1,Active,1/3/2016 09:00,?,3/3/2016 10:00,1,1,G2\n"
        "INC1,Active,1/3/2016 09:00,?,3/3/2016 11:00,2,1,G2\n"
        "INC1,Resolved,1/3/2016 09:00,4/3/2016 10:00,4/3/2016 10:00,2,1,G2\n"
        "INC2,New,5/3/2016 09:00,?,5/3/2016 09:00,0,0,G1\n"
        "INC3,New,31/3/2016 25:00,?,5/3/2016 09:00,0,0,G1\n"
    )
    mapping = """
connector: tickets
file: incidents.csv
rows: update
timestamp_format: "%d/%m/%Y %H:%M"
timezone: UTC
missing_values: ["?"]
workflow: {id: incidents}
columns: {key: number, state: state, opened: opened, resolved: resolved, updated: updated,
          reassignment_count: reassigned, reopen_count: reopened, team: group}
error: {reopened: true}
"""
    root = _folder(tmp_path, {"incidents.csv": csv_text, "incidents.yaml": mapping})
    result = _read(root, "incidents.csv")
    assert result.rows_read == 3
    rows = {r["item_id"]: r for r in result.valid.iter_rows(named=True)}
    inc1 = rows["INC1"]
    assert str(inc1["closed_at"]) == "2016-03-04 10:00:00" and inc1["team"] == "G2"
    # Visits: New, Active, Resolved, Active (two rows, one visit), Resolved -> Active and Resolved repeat once each.
    assert inc1["rework_count"] == 2 and inc1["touchpoints"] == 3 and inc1["had_error"] is True
    assert rows["INC2"]["closed_at"] is None and rows["INC2"]["had_error"] is False
    reason = result.quarantined.row(0, named=True)["reason"]
    assert "31/3/2016 25:00" in reason


def test_jira_preset_reads_the_documented_export(tmp_path):
    root = tmp_path / "inputs" / "connectors"
    root.mkdir(parents=True)
    for name in ("jira_issues.csv", "jira.yaml"):
        shutil.copy(FIXTURES / "jira" / name, root / name)
    result = _read(root.parent, "jira_issues.csv")
    assert result.rows_read == 5
    rows = {r["item_id"]: r for r in result.valid.iter_rows(named=True)}
    assert set(rows) == {"SUP-101", "SUP-102", "OPS-7"}
    # 03/Feb/26 9:15 AM in London (GMT) is 09:15 UTC; 09/Apr/26 5:00 PM is BST, 16:00 UTC.
    assert str(rows["SUP-101"]["opened_at"]) == "2026-02-03 09:15:00"
    assert str(rows["OPS-7"]["closed_at"]) == "2026-04-09 16:00:00"
    assert rows["SUP-102"]["closed_at"] is None
    assert rows["OPS-7"]["workflow_id"] == "vendor_onboarding" and rows["SUP-101"]["team"] == "Billing"
    reasons = dict(zip(result.quarantined.get_column("row_number"), result.quarantined.get_column("reason")))
    # SUP-103 was created at 01:30 on 29 Mar 2026, inside London's spring-forward gap.
    assert "DST gap" in reasons[3] and "29/Mar/26 1:30 AM" in reasons[3]
    assert "31/Feb/26 9:00 AM" in reasons[5]


# --- usage reports ------------------------------------------------------------------------


def test_github_copilot_ndjson_and_missing_field(tmp_path):
    records = [
        {
            "day": "2026-04-01",
            "user_login": "ann",
            "user_initiated_interaction_count": 3,
            "code_generation_activity_count": 4,
        },
        {"day": "2026-04-01", "user_login": "bob", "code_generation_activity_count": 2},
        {
            "day": "2026-04-02",
            "user_login": "ann",
            "user_initiated_interaction_count": 0,
            "code_generation_activity_count": 0,
        },
    ]
    ndjson = "\n".join(json.dumps(r) for r in records) + "\n"
    mapping = (
        "connector: github_copilot\nfile: users.ndjson\nworkflow: {users: {ann: code_review}, default: other_dev}\n"
    )
    root = _folder(tmp_path, {"users.ndjson": ndjson, "users.yaml": mapping})
    result = _read(root, "users.ndjson", USAGE)
    assert result.status == "loaded" and result.rows_read == 3
    valid = result.valid.sort("usage_date")
    assert valid.get_column("actions").to_list() == [7, 0]
    assert valid.get_column("workflow_id").to_list() == ["code_review", "code_review"]
    bad = result.quarantined.row(0, named=True)
    assert bad["row_number"] == 2 and "user_initiated_interaction_count missing" in bad["reason"]


def test_m365_snapshot_gives_last_activity_days_per_app(tmp_path):
    root = tmp_path / "inputs" / "connectors"
    root.mkdir(parents=True)
    for name in ("copilot_usage_user_detail.csv", "m365.yaml"):
        shutil.copy(FIXTURES / "m365" / name, root / name)
    result = _read(root.parent, "copilot_usage_user_detail.csv", USAGE)
    assert result.status == "loaded" and result.quarantined_count == 0
    rows = {
        (r["user_id"], str(r["usage_date"]), r["workflow_id"]): r["actions"] for r in result.valid.iter_rows(named=True)
    }
    assert rows == {
        (pseudonym("ada@contoso.example"), "2026-07-02", "knowledge_work"): 1,  # Copilot Chat
        (pseudonym("ada@contoso.example"), "2026-07-01", "knowledge_work"): 1,  # Teams
        (pseudonym("ada@contoso.example"), "2026-07-02", "contract_drafting"): 1,  # Word
        (pseudonym("ada@contoso.example"), "2026-06-30", "customer_email"): 1,  # Outlook
        (pseudonym("grace@contoso.example"), "2026-06-29", "finance_reporting"): 1,  # Excel
        (pseudonym("grace@contoso.example"), "2026-06-29", "knowledge_work"): 1,  # PowerPoint
        (pseudonym("edsger@contoso.example"), "2026-07-01", "knowledge_work"): 1,  # Teams
    }


def test_m365_by_date_keeps_only_the_report_date(tmp_path):
    text = (FIXTURES / "m365" / "copilot_usage_user_detail.csv").read_text().splitlines()
    header = text[0].replace("Report Refresh Date,", "Report Refresh Date,Report Date,")
    rows = [line.replace("2026-07-03,", "2026-07-03,2026-07-01,", 1) for line in text[1:]]
    mapping = "connector: m365_copilot\nfile: bydate.csv\nworkflow: {id: knowledge_work}\n"
    root = _folder(tmp_path, {"bydate.csv": "\n".join([header, *rows]) + "\n", "bydate.yaml": mapping})
    result = _read(root, "bydate.csv", USAGE)
    assert sorted(result.valid.get_column("user_id").to_list()) == sorted(
        [pseudonym("ada@contoso.example"), pseudonym("edsger@contoso.example")]
    )
    assert set(str(d) for d in result.valid.get_column("usage_date")) == {"2026-07-01"}


# --- hostile inputs: a reason, never a crash -------------------------------------------------


def test_malformed_xes_is_a_rejected_file(tmp_path):
    truncated = SMALL_XES[: SMALL_XES.index("<trace>", 200) + 40]
    root = _folder(tmp_path, {"log.xes": truncated, "log.yaml": SMALL_XES_MAPPING})
    result = _read(root, "log.xes")
    assert result.status == "rejected" and "not well-formed XES" in result.reason


def test_xes_entities_are_not_expanded(tmp_path):
    hostile = SMALL_XES.replace(
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<?xml version="1.0"?><!DOCTYPE log [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
    ).replace('value="A2"', 'value="&x;"')
    root = _folder(tmp_path, {"log.xes": hostile, "log.yaml": SMALL_XES_MAPPING})
    result = _read(root, "log.xes")
    ids = [] if result.valid is None else result.valid.get_column("item_id").to_list()
    assert not any("root:" in (i or "") for i in ids)


@pytest.mark.parametrize(
    ("mapping", "expected"),
    [
        (SMALL_XES_MAPPING + "colums: {case: x}\n", "unknown key(s) 'colums'"),
        (SMALL_XES_MAPPING.replace("Europe/Amsterdam", "Mars/Olympus"), "not an IANA time zone"),
        ("connector: event_log\nfile: log.xes\n", "'workflow' is required"),
        (
            "connector: tickets\nfile: log.xes\nworkflow: {id: a}\ncolumns: {key: k, opened: o}\n",
            "'timezone' is required",
        ),
        ("connector: sap\nfile: log.xes\n", "'connector' must be one of"),
        (
            "connector: event_log\nfile: ../secrets.xes\nworkflow: {id: a}\n",
            "must name a file in the mapping's own folder",
        ),
        ("connector: [unclosed\n", "not valid YAML"),
        (
            "connector: github_copilot\nfile: log.xes\nseats: ../../etc/passwd\nworkflow: {id: a}\n",
            "'seats' must name a file",
        ),
    ],
)
def test_bad_mapping_is_a_rejected_file_with_a_reason(tmp_path, mapping, expected):
    root = _folder(tmp_path, {"log.xes": SMALL_XES, "log.yaml": mapping})
    # A broken mapping is listed under its connector's source when that can be read.
    spec = USAGE if "github_copilot" in mapping else WORK_ITEMS
    listed = native_files("work_items", root) + native_files("usage", root)
    assert sorted(p.name for p in listed) == ["log.xes", "log.yaml"]  # the mapping, and the file it no longer names
    assert root / "connectors" / "log.yaml" in native_files(spec.name, root)
    result = read_source_file(root / "connectors" / "log.yaml", spec, root)
    assert result.status == "rejected" and expected in result.reason
    orphan = read_source_file(root / "connectors" / "log.xes", WORK_ITEMS, root)
    assert orphan.status == "rejected" and "no mapping file" in orphan.reason


def test_copilot_json_with_missing_field_is_quarantined_not_crashed(tmp_path):
    report = {
        "report_start_day": "2026-04-25",
        "day_totals": [{"day": "2026-04-25", "user_login": "hubot", "code_generation_activity_count": 25}],
    }
    mapping = "connector: github_copilot\nfile: report.json\nworkflow: {id: code_review}\n"
    root = _folder(tmp_path, {"report.json": json.dumps(report), "report.yaml": mapping})
    result = _read(root, "report.json", USAGE)
    assert result.status == "loaded" and result.quarantined_count == 1
    assert "user_initiated_interaction_count missing" in result.quarantined.row(0, named=True)["reason"]
    broken = _folder(tmp_path / "b", {"report.json": '{"day_totals": [', "report.yaml": mapping})
    assert "not valid JSON" in _read(broken, "report.json", USAGE).reason
    wrong = _folder(tmp_path / "c", {"report.json": '{"seats": []}', "report.yaml": mapping})
    assert "no 'day_totals'" in _read(wrong, "report.json", USAGE).reason


def test_mapping_file_loader_refuses_non_utf8_and_huge(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_bytes(b"connector: event_log\nfile: \xff\xfe\n")
    with pytest.raises(MappingError, match="UTF-8"):
        load_mapping(path)
    path.write_text("# " + "x" * 300_000)
    with pytest.raises(MappingError, match="too large"):
        load_mapping(path)


# --- the hook: digest, listing, full build, preview -----------------------------------------


def test_digest_changes_with_the_mapping_not_only_the_export(tmp_path):
    root = _folder(tmp_path, {"log.xes": SMALL_XES, "log.yaml": SMALL_XES_MAPPING})
    before = native_digest(root / "connectors" / "log.xes")
    (root / "connectors" / "log.yaml").write_text(SMALL_XES_MAPPING.replace("close]", "close, check]"))
    assert native_digest(root / "connectors" / "log.xes") != before
    assert native_digest(Path(__file__)) is None


def test_build_with_connectors_ledgers_the_native_file_and_seat_list_sets_eligible_users(tmp_path):
    seats = {
        "total_seats": 3,
        "seats": [
            {"assignee": {"login": "ann", "id": 1}, "assigning_team": {"slug": "reviewers"}},
            {"assignee": {"login": "bob", "id": 2}, "assigning_team": {"slug": "reviewers"}},
            {"assignee": {"login": "cy", "id": 3}, "assigning_team": {"slug": "other"}},
        ],
    }
    usage = {
        "day_totals": [
            {
                "day": "2024-01-03",
                "user_login": "ann",
                "user_initiated_interaction_count": 2,
                "code_generation_activity_count": 1,
            },
            {
                "day": "2024-01-03",
                "user_login": "cy",
                "user_initiated_interaction_count": 1,
                "code_generation_activity_count": 1,
            },
        ]
    }
    copilot_mapping = (
        "connector: github_copilot\nfile: usage.json\nseats: seats.json\nworkflow: {teams: {reviewers: claims}}\n"
    )
    root = _folder(
        tmp_path,
        {
            "log.xes": SMALL_XES,
            "log.yaml": SMALL_XES_MAPPING,
            "usage.json": json.dumps(usage),
            "seats.json": json.dumps(seats),
            "usage.yaml": copilot_mapping,
        },
        registry=f"{REGISTRY_HEADER}\nclaims,Claims,Owner,Team,pilot,2024-01-15,,low,,,,,\n",
    )
    warehouse = build_warehouse(root, tmp_path / "w.duckdb")
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        files = dict(
            con.execute("select source_file, rows_read from ops.ingested_files where source = 'work_items'").fetchall()
        )
        assert files == {"connectors/log.xes": 3}
        reconcile = con.execute(
            "select rows_read = rows_staged + rows_quarantined + rows_deduplicated + rows_superseded from ops.ingested_files"
        ).fetchall()
        assert all(ok for (ok,) in reconcile)
        # Two seat holders are on the team mapped to `claims`; the registry left it blank.
        assert con.execute("select eligible_users from staging.workflows").fetchall() == [(2,)]
        staged = con.execute("select user_id, workflow_id, actions from staging.usage").fetchall()
        assert len(staged) == 1 and staged[0][1:] == ("claims", 3)
        assert con.execute(
            "select count(*) from quarantine.rejected_rows where source = 'usage' and source_file = 'connectors/usage.json'"
        ).fetchall() == [(1,)]  # cy's team is not mapped: no workflow, quarantined with a reason
    finally:
        con.close()
    assert WORKFLOWS.files(root) == [root / "workflows.csv"]


def test_preview_prints_format_rows_and_reasons(tmp_path, capsys):
    root = _folder(tmp_path, {"log.xes": SMALL_XES, "log.yaml": SMALL_XES_MAPPING})
    code = connectors_main(
        ["preview", str(root / "connectors" / "log.xes"), "--mapping", str(root / "connectors" / "log.yaml")]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "detected format: xes" in out and "-> 3 cases (1 complete, 2 open)" in out
    assert "A1" in out and "not a time" in out
    assert connectors_main(["preview", str(root / "connectors" / "log.yaml")]) == 1
    assert "REJECTED" in capsys.readouterr().out


def test_convert_runs_without_the_reader(tmp_path):
    root = _folder(tmp_path, {"log.xes": SMALL_XES, "log.yaml": SMALL_XES_MAPPING})
    mapping = parse_mapping(SMALL_XES_MAPPING, root / "connectors" / "log.yaml")
    conversion = convert(root / "connectors" / "log.xes", mapping)
    assert conversion.stats["events"] == 8 and conversion.stats["events_counted"] == 7


# --- docs and templates stay in step with the mapping grammar -------------------------------


def test_templates_are_valid_mappings_and_every_key_is_documented():
    from pipelines.connectors.mapping import CONNECTORS, SCHEMAS

    root = Path(__file__).resolve().parents[1]
    templates = {p.stem: load_mapping(p) for p in (root / "data" / "templates" / "connectors").glob("*.yaml")}
    assert set(templates) == set(CONNECTORS)
    assert all(mapping.connector == name for name, mapping in templates.items())
    doc = (root / "docs" / "connectors.md").read_text()
    for connector, keys in SCHEMAS.items():
        assert f"connector: {connector}\n" in doc, f"no worked example for {connector}"
        for key in keys:
            assert f"`{key}`" in doc, f"mapping key {key} ({connector}) is not documented"


def test_github_copilot_single_record_ndjson(tmp_path):
    record = {
        "day": "2026-04-01",
        "user_login": "ann",
        "user_initiated_interaction_count": 1,
        "code_generation_activity_count": 2,
    }
    mapping = "connector: github_copilot\nfile: one.ndjson\nworkflow: {id: code_review}\n"
    root = _folder(tmp_path, {"one.ndjson": json.dumps(record) + "\n", "one.yaml": mapping})
    result = _read(root, "one.ndjson", USAGE)
    assert result.status == "loaded" and result.valid.get_column("actions").to_list() == [3]


def test_parquet_event_log_keeps_zoned_instants_and_zones_naive_ones(tmp_path):
    from datetime import datetime as dt

    events = pl.DataFrame(
        {
            "case:concept:name": ["p1", "p1", "p2"],
            "concept:name": ["start", "end", "start"],
            "time:timestamp": [dt(2024, 6, 1, 8, 0), dt(2024, 6, 1, 9, 30), dt(2024, 6, 2, 8, 0)],
        }
    ).with_columns(pl.col("time:timestamp").dt.replace_time_zone("America/New_York"))
    naive = events.with_columns(pl.col("time:timestamp").dt.replace_time_zone(None))
    mapping = "connector: event_log\nfile: {name}\ntimezone: Europe/Amsterdam\nworkflow: {{id: claims}}\ncomplete: {{activities: [end]}}\n"
    root = tmp_path / "inputs" / "connectors"
    root.mkdir(parents=True)
    events.write_parquet(root / "zoned.parquet")
    naive.write_parquet(root / "naive.parquet")
    (root / "zoned.yaml").write_text(mapping.format(name="zoned.parquet"))
    (root / "naive.yaml").write_text(mapping.format(name="naive.parquet"))
    zoned = {r["item_id"]: r for r in _read(root.parent, "zoned.parquet").valid.iter_rows(named=True)}
    local = {r["item_id"]: r for r in _read(root.parent, "naive.parquet").valid.iter_rows(named=True)}
    # 08:00 in New York (EDT, UTC-4) is 12:00 UTC; a naive 08:00 read in Amsterdam (CEST) is 06:00 UTC.
    assert (
        str(zoned["p1"]["opened_at"]) == "2024-06-01 12:00:00"
        and str(zoned["p1"]["closed_at"]) == "2024-06-01 13:30:00"
    )
    assert str(local["p1"]["opened_at"]) == "2024-06-01 06:00:00" and zoned["p2"]["closed_at"] is None


def test_broken_or_missing_seat_list_rejects_the_usage_file_and_keeps_the_registry(tmp_path):
    usage = {
        "day_totals": [
            {
                "day": "2024-01-03",
                "user_login": "ann",
                "user_initiated_interaction_count": 1,
                "code_generation_activity_count": 1,
            }
        ]
    }
    mapping = "connector: github_copilot\nfile: usage.json\nseats: seats.json\nworkflow: {id: claims}\n"
    registry = f"{REGISTRY_HEADER}\nclaims,Claims,Owner,Team,pilot,2024-01-15,7,low,,,,,\n"
    broken = _folder(
        tmp_path, {"usage.json": json.dumps(usage), "seats.json": "{not json", "usage.yaml": mapping}, registry=registry
    )
    assert "seat list seats.json" in _read(broken, "usage.json", USAGE).reason
    kept = read_source_file(broken / "workflows.csv", WORKFLOWS, broken)
    assert kept.status == "loaded" and kept.valid.get_column("eligible_users").to_list() == [7]
    missing = _folder(tmp_path / "m", {"usage.json": json.dumps(usage), "usage.yaml": mapping}, registry=registry)
    entry = read_source_file(missing / "connectors" / "usage.yaml", USAGE, missing)
    assert entry.status == "rejected" and "seat list 'seats.json'" in entry.reason


def test_the_build_summary_reports_what_each_connector_read_and_produced(tmp_path, monkeypatch, capsys):
    from pipelines import cli

    root = _folder(
        tmp_path,
        {"log.xes": SMALL_XES, "log.yaml": SMALL_XES_MAPPING},
        registry=f"{REGISTRY_HEADER}\nclaims,Claims,Owner,Team,pilot,2024-01-15,5,low,,,,,\n",
    )
    monkeypatch.setenv("OPVALUE_INPUT_DIR", str(root))
    monkeypatch.setenv("OPVALUE_WAREHOUSE", str(tmp_path / "w" / "opvalue.duckdb"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()
    # No usage source at all: allowed explicitly.
    assert cli.main(["build", "--allow-empty"]) == 0
    out = capsys.readouterr().out
    # SMALL_XES holds one case with an unparseable timestamp.
    assert "connector connectors/log.xes: 3 work_items rows, 2 staged, 1 quarantined" in out, out
    assert "workflows by decision: " in out
