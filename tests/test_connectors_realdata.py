"""Connectors on the real public exports in ../shared/realdata, checked against an independent reading.

The independent reading uses only the standard library (xml.etree, csv, json, datetime):
it shares no code with the connectors. pm4py is not installed in the project's environment,
so it is not used. The input folders are built under tmp_path with symbolic links to the
real files, which are never copied into the project.
"""

from __future__ import annotations

import csv
import gzip
import json
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from pipelines.ingest.reader import read_source_file
from pipelines.ingest.sources import USAGE, WORK_ITEMS
from pipelines.privacy import pseudonym
from tests.conftest import build_warehouse

REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata"
MAPPINGS = Path(__file__).parent / "connectors"
COPILOT = "copilot-metrics-api"

pytestmark = pytest.mark.skipif(
    not REALDATA.is_dir(),
    reason=f"the real public exports are not here ({REALDATA}); they live beside the project, not in it",
)


def _folder(tmp_path: Path, mapping: Path, natives: list[str], registry: Path | None = None) -> Path:
    """An input folder: the mapping copied, the real exports linked, and the registry if given."""
    root = tmp_path / "inputs"
    (root / "connectors").mkdir(parents=True)
    (root / "connectors" / mapping.name).write_text(mapping.read_text())
    for name in natives:
        (root / "connectors" / Path(name).name).symlink_to(REALDATA / name)
    if registry is not None:
        (root / "workflows.csv").write_text(registry.read_text())
    return root


def _utc(text: str) -> datetime:
    """An ISO 8601 timestamp with an offset, as naive UTC."""
    return datetime.fromisoformat(text).astimezone(UTC).replace(tzinfo=None)


# --- independent readings ------------------------------------------------------------------


def _xes_cases(name: str) -> dict[str, list[dict]]:
    """Every trace of a XES log: case id -> events (activity, time, resource, lifecycle)."""
    cases: dict[str, list[dict]] = {}
    ns = "{http://www.xes-standard.org/}"
    with gzip.open(REALDATA / name, "rb") as handle:
        for _, element in ET.iterparse(handle, events=("end",)):
            if element.tag != f"{ns}trace":
                continue
            case_id = next(c.get("value") for c in element if c.get("key") == "concept:name")
            events = []
            for event in element.iter(f"{ns}event"):
                attributes = {c.get("key"): c.get("value") for c in event}
                events.append(
                    {
                        "activity": attributes.get("concept:name"),
                        "time": _utc(attributes["time:timestamp"]),
                        "resource": attributes.get("org:resource"),
                        "lifecycle": (attributes.get("lifecycle:transition") or "complete").lower(),
                    }
                )
            cases[case_id] = events
            element.clear()
    return cases


def _expected_items(cases: dict[str, list[dict]], end: set[str], rework_only: set[str] | None) -> dict[str, dict]:
    out = {}
    for case_id, events in cases.items():
        counted = [e for e in events if e["lifecycle"] == "complete"]
        repeats = Counter(e["activity"] for e in counted if rework_only is None or e["activity"] in rework_only)
        complete = any(e["activity"] in end for e in counted)
        resources = {e["resource"] for e in events if e["resource"] is not None}
        out[case_id] = {
            "opened_at": min(e["time"] for e in events),
            "closed_at": max(e["time"] for e in events) if complete else None,
            "rework_count": sum(n - 1 for n in repeats.values()),
            "touchpoints": len(resources) or None,
        }
    return out


def _staged(result) -> dict[str, dict]:
    return {row["item_id"]: row for row in result.valid.iter_rows(named=True)}


def _check_items(result, expected: dict[str, dict]) -> None:
    """Case count, every case's values, and three named spot checks, against the independent reading."""
    got = _staged(result)
    assert result.status == "loaded"
    assert result.rows_read == len(expected)
    assert len(got) + result.quarantined_count == len(expected)
    assert set(got) <= set(expected)
    complete = sum(1 for e in expected.values() if e["closed_at"] is not None)
    assert sum(1 for r in got.values() if r["closed_at"] is not None) == complete
    # Three cases with the most rework: first/last timestamps, rework, distinct resources.
    spot = sorted(got, key=lambda c: (-expected[c]["rework_count"], c))[:3]
    for case_id in spot:
        for column in ("opened_at", "closed_at", "rework_count", "touchpoints"):
            assert got[case_id][column] == expected[case_id][column], (case_id, column)
    for column in ("opened_at", "closed_at", "rework_count", "touchpoints"):
        mismatched = [c for c in got if got[c][column] != expected[c][column]]
        assert not mismatched, (column, mismatched[:5])


# --- event logs ----------------------------------------------------------------------------


def test_helpdesk_xes(tmp_path):
    root = _folder(tmp_path, MAPPINGS / "helpdesk" / "helpdesk.yaml", ["helpdesk.xes.gz"])
    result = read_source_file(root / "connectors" / "helpdesk.xes.gz", WORK_ITEMS, root)
    cases = _xes_cases("helpdesk.xes.gz")
    expected = _expected_items(cases, {"Closed"}, {"Take in charge ticket", "Resolve ticket", "Assign seriousness"})
    assert len(expected) == 4580
    _check_items(result, expected)
    assert result.quarantined_count == 0
    distinct = {e["resource"] for events in cases.values() for e in events}
    assert max(r["touchpoints"] for r in _staged(result).values()) <= len(distinct)
    assert (
        sum(r["rework_count"] for r in _staged(result).values())
        == sum(e["rework_count"] for e in expected.values())
        > 0
    )


def test_bpic2012_xes_lifecycle_is_not_double_counted(tmp_path):
    root = _folder(tmp_path, MAPPINGS / "bpic2012" / "bpic2012.yaml", ["bpic2012.xes.gz"])
    result = read_source_file(root / "connectors" / "bpic2012.xes.gz", WORK_ITEMS, root)
    cases = _xes_cases("bpic2012.xes.gz")
    assert len(cases) == 13087 and sum(len(e) for e in cases.values()) == 262200
    expected = _expected_items(cases, {"A_APPROVED", "A_DECLINED", "A_CANCELLED"}, None)
    _check_items(result, expected)
    # Counting every transition would see each START+COMPLETE work item as a repeat.
    every_transition = sum(
        sum(n - 1 for n in Counter(e["activity"] for e in events).values()) for events in cases.values()
    )
    staged_rework = sum(r["rework_count"] for r in _staged(result).values())
    assert staged_rework == sum(e["rework_count"] for e in expected.values()) < every_transition
    cancelled = {c for c, events in cases.items() if any(e["activity"] == "A_CANCELLED" for e in events)}
    assert {c for c, r in _staged(result).items() if r["had_error"]} == cancelled


def test_receipt_event_csv(tmp_path):
    root = _folder(tmp_path, MAPPINGS / "receipt" / "receipt.yaml", ["receipt.csv.gz"])
    result = read_source_file(root / "connectors" / "receipt.csv.gz", WORK_ITEMS, root)
    with gzip.open(REALDATA / "receipt.csv.gz", "rt", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    cases: dict[str, list[dict]] = defaultdict(list)
    groups: dict[str, str] = {}
    for row in rows:
        cases[row["case:concept:name"]].append(
            {
                "activity": row["concept:name"],
                "time": _utc(row["time:timestamp"]),
                "resource": row["org:resource"] or None,
                "lifecycle": (row["lifecycle:transition"] or "complete").lower(),
            }
        )
        if row["case:group"]:
            groups.setdefault(row["case:concept:name"], row["case:group"])
    assert len(rows) == 8577 and len(cases) == 1434
    expected = _expected_items(cases, {"T10 Determine necessity to stop indication"}, None)
    _check_items(result, expected)
    assert {c: r["team"] for c, r in _staged(result).items() if r["team"]} == groups


# --- ticket export -------------------------------------------------------------------------


def _servicenow_expected() -> dict[str, dict]:
    def parse(text: str) -> datetime | None:
        return None if text == "?" else datetime.strptime(text, "%d/%m/%Y %H:%M")

    with gzip.open(REALDATA / "servicenow_incident_event_log.csv.gz", "rt", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 119998
    by_ticket: dict[str, list[tuple]] = defaultdict(list)
    for index, row in enumerate(rows):
        by_ticket[row["number"]].append((parse(row["sys_updated_at"]), index, row))
    expected = {}
    for number, updates in by_ticket.items():
        updates.sort(key=lambda u: (u[0] is not None, u[0] or datetime.min, u[1]))
        latest = updates[-1][2]
        visits, previous = Counter(), None
        for _, _, row in updates:
            if row["incident_state"] != previous and row["incident_state"] == "Active":
                visits["Active"] += 1
            previous = row["incident_state"]
        end = parse(latest["resolved_at"]) or parse(latest["closed_at"])
        expected[number] = {
            "opened_at": parse(latest["opened_at"]),
            "closed_at": end,
            "rework_count": max(visits["Active"] - 1, 0),
            "touchpoints": int(latest["reassignment_count"]) + 1,
            "had_error": int(latest["reopen_count"]) > 0,
            "team": None if latest["assignment_group"] == "?" else latest["assignment_group"],
        }
    return expected


def test_servicenow_ticket_updates(tmp_path):
    root = _folder(tmp_path, MAPPINGS / "servicenow" / "servicenow.yaml", ["servicenow_incident_event_log.csv.gz"])
    result = read_source_file(root / "connectors" / "servicenow_incident_event_log.csv.gz", WORK_ITEMS, root)
    expected = _servicenow_expected()
    assert len(expected) == 20769
    _check_items(result, expected)
    got = _staged(result)
    assert all(got[n]["had_error"] == expected[n]["had_error"] and got[n]["team"] == expected[n]["team"] for n in got)
    assert sum(r["rework_count"] for r in got.values()) > 0


# --- usage reports -------------------------------------------------------------------------


def _copilot_records(name: str) -> list[dict]:
    return json.loads((REALDATA / COPILOT / name).read_text())["day_totals"]


@pytest.mark.parametrize("report", ["organization-users-1-day-report.json", "organization-users-28-day-report.json"])
def test_github_copilot_per_user_reports(tmp_path, report):
    mapping = tmp_path / "copilot.yaml"
    mapping.write_text(
        (MAPPINGS / "copilot" / "copilot.yaml").read_text().replace("organization-users-28-day-report.json", report)
    )
    root = _folder(tmp_path, mapping, [f"{COPILOT}/{report}", f"{COPILOT}/organization_seats_response_sample.json"])
    result = read_source_file(root / "connectors" / report, USAGE, root)
    records = _copilot_records(report)
    seats = json.loads((REALDATA / COPILOT / "organization_seats_response_sample.json").read_text())["seats"]
    team = {s["assignee"]["login"]: s["assigning_team"]["slug"] for s in seats}
    workflows = {"the-a-team": "code_review", "frontend-team": "frontend_delivery", "backend-team": "backend_delivery"}
    assert result.rows_read == len(records) and result.quarantined_count == 0
    got = {(r["user_id"], str(r["usage_date"])): r for r in result.valid.iter_rows(named=True)}
    assert len(got) == len(records)
    for record in sorted(records, key=lambda r: (-r["user_initiated_interaction_count"], r["user_login"], r["day"]))[
        :3
    ]:
        row = got[(pseudonym(record["user_login"]), record["day"])]  # ids are pseudonymised at ingest
        assert row["actions"] == record["user_initiated_interaction_count"] + record["code_generation_activity_count"]
        assert row["workflow_id"] == workflows[team[record["user_login"]]]


def test_github_copilot_build_takes_eligible_users_from_the_seat_list(tmp_path):
    report = "organization-users-28-day-report.json"
    root = _folder(
        tmp_path,
        MAPPINGS / "copilot" / "copilot.yaml",
        [f"{COPILOT}/{report}", f"{COPILOT}/organization_seats_response_sample.json"],
        registry=MAPPINGS / "copilot" / "workflows.csv",
    )
    warehouse = build_warehouse(root, tmp_path / "w.duckdb")
    seats = json.loads((REALDATA / COPILOT / "organization_seats_response_sample.json").read_text())["seats"]
    per_team = Counter(s["assigning_team"]["slug"] for s in seats)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        eligible = dict(con.execute("select workflow_id, eligible_users from staging.workflows").fetchall())
        staged = con.execute("select count(*), sum(actions) from staging.usage").fetchone()
    finally:
        con.close()
    assert eligible == {
        "code_review": per_team["the-a-team"],
        "frontend_delivery": per_team["frontend-team"],
        "backend_delivery": per_team["backend-team"],  # the seat list replaces the registry's 99
    }
    records = _copilot_records(report)
    assert staged == (
        len(records),
        sum(r["user_initiated_interaction_count"] + r["code_generation_activity_count"] for r in records),
    )


# --- full builds: a scorecard from a native export alone -------------------------------------


@pytest.mark.parametrize(
    ("name", "native", "workflow_id", "items"),
    [
        ("helpdesk", "helpdesk.xes.gz", "helpdesk", 4580),
        ("servicenow", "servicenow_incident_event_log.csv.gz", "incidents", 20769),
    ],
)
def test_full_build_produces_a_scorecard(tmp_path, name, native, workflow_id, items):
    root = _folder(tmp_path, MAPPINGS / name / f"{name}.yaml", [native], registry=MAPPINGS / name / "workflows.csv")
    warehouse = build_warehouse(root, tmp_path / "w.duckdb")
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        ledger = con.execute(
            "select source_file, rows_read, rows_staged, rows_quarantined from ops.ingested_files where source = 'work_items'"
        ).fetchall()
        card = con.execute(
            "select items_measured, quadrant from marts.workflow_scorecard where workflow_id = ?", [workflow_id]
        ).fetchall()
    finally:
        con.close()
    assert ledger == [(f"connectors/{native}", items, items, 0)]
    assert len(card) == 1 and card[0][0] > 0 and card[0][1] is not None
