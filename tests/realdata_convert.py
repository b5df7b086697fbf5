"""Convert the public logs in ``../shared/realdata`` into opvalue's input contract, for tests.

A stop-gap until real connectors exist (and independent of them): small, readable, and
faithful to docs/data-contract.md. Process-mining logs are one row per event; opvalue's work
items are one row per case.

* **Helpdesk (XES, gzip)**: a case opens at its first event and closes at its last when that
  event is ``Closed`` (else it is still open); ``rework_count`` = events that repeat an
  activity already seen in the case; ``touchpoints`` = distinct resources on the case.
  The log has no error or spend data: ``had_error`` and ``external_spend`` are blank (unknown),
  and ``touchpoints`` is blanked on every third case (case number divisible by 3) so the
  tests can see that a blank leaves the metric's ``n``.
* **ServiceNow incidents (CSV, gzip)**: one row per update; the latest row per incident
  (highest ``sys_mod_count``, the later row on a tie) is the item. ``opened_at`` to
  ``resolved_at`` is the work (``closed_at`` includes the tool's automatic close), timestamps
  ``d/m/yyyy hh:mm`` taken as UTC, ``?`` is missing; ``rework_count`` = ``reopen_count``,
  ``touchpoints`` = ``reassignment_count`` + 1; the workflow is the ``category``.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd

XES = "{http://www.xes-standard.org/}"
ITEM_COLUMNS = ["item_id", "workflow_id", "opened_at", "closed_at", "rework_count", "touchpoints", "had_error",
                "external_spend", "ai_assisted"]  # fmt: skip
REGISTRY_COLUMNS = ["workflow_id", "name", "business_owner", "team", "stage", "deployed_on", "eligible_users", "risk_tier",
                    "primary_metric", "target_change_pct", "review_point", "support_path", "data_scope"]  # fmt: skip


def helpdesk_items(path: Path, workflow_id: str = "helpdesk") -> pd.DataFrame:
    """One row per helpdesk case, in the contract's item columns (typed; blanks are NA)."""
    rows = []
    with gzip.open(path, "rb") as stream:
        case, events = None, []
        for _, element in ET.iterparse(stream, events=("end",)):
            tag = element.tag.removeprefix(XES)
            if tag == "event":
                attrs = {child.get("key"): child.get("value") for child in element}
                events.append(
                    (pd.Timestamp(attrs["time:timestamp"]), attrs.get("concept:name"), attrs.get("org:resource"))
                )
                element.clear()
            elif tag == "trace":
                case = next(
                    (
                        c.get("value")
                        for c in element
                        if c.tag.removeprefix(XES) == "string" and c.get("key") == "concept:name"
                    ),
                    None,
                )
                if case is not None and events:
                    rows.append(_helpdesk_case(case, sorted(events, key=lambda e: e[0]), workflow_id))
                case, events = None, []
                element.clear()
    return pd.DataFrame(rows, columns=ITEM_COLUMNS)


def _helpdesk_case(case: str, events: list[tuple], workflow_id: str) -> dict:
    activities = [e[1] for e in events]
    resources = {e[2] for e in events if e[2]}
    number = int(re.sub(r"\D", "", case) or 0)
    return {
        "item_id": case,
        "workflow_id": workflow_id,
        "opened_at": events[0][0].tz_convert("UTC").tz_localize(None),
        "closed_at": events[-1][0].tz_convert("UTC").tz_localize(None) if activities[-1] == "Closed" else pd.NaT,
        "rework_count": len(activities) - len(set(activities)),
        "touchpoints": pd.NA if number % 3 == 0 else len(resources),
        "had_error": pd.NA,
        "external_spend": pd.NA,
        "ai_assisted": pd.NA,
    }


def servicenow_items(path: Path) -> pd.DataFrame:
    """One row per incident (its latest update), in the contract's item columns, plus
    ``assigned_to`` (for pretend usage)."""
    with gzip.open(path, "rt", encoding="utf-8", newline="") as stream:
        raw = pd.read_csv(stream, dtype=str, keep_default_na=False)
    raw = raw.replace("?", pd.NA)
    raw["_order"] = range(len(raw))
    raw["_mod"] = pd.to_numeric(raw["sys_mod_count"])
    latest = raw.sort_values(["number", "_mod", "_order"]).groupby("number", sort=False).tail(1)

    def when(column: str) -> pd.Series:
        return pd.to_datetime(latest[column], format="%d/%m/%Y %H:%M")

    return pd.DataFrame(
        {
            "item_id": latest["number"].to_numpy(),
            "workflow_id": latest["category"].map(slug).to_numpy(),
            "opened_at": when("opened_at").to_numpy(),
            "closed_at": when("resolved_at").to_numpy(),
            "rework_count": pd.to_numeric(latest["reopen_count"]).astype("Int64").to_numpy(),
            "touchpoints": (pd.to_numeric(latest["reassignment_count"]) + 1).astype("Int64").to_numpy(),
            "had_error": pd.NA,
            "external_spend": pd.NA,
            "ai_assisted": pd.NA,
            "assigned_to": latest["assigned_to"].to_numpy(),
        }
    ).sort_values(["opened_at", "item_id"], ignore_index=True)


def slug(text: object) -> str:
    """``Category 26`` -> ``category_26``; missing -> ``unknown``."""
    if text is None or text is pd.NA or (isinstance(text, float) and pd.isna(text)):
        return "unknown"
    return re.sub(r"[^a-z0-9]+", "_", str(text).strip().lower()).strip("_") or "unknown"


def registry_row(workflow_id: str, deployed_on: str | None = None, eligible_users: int | None = None,
                 primary_metric: str = "cycle_time_hours") -> dict:  # fmt: skip
    """A registry row with every readiness item in place."""
    return {
        "workflow_id": workflow_id, "name": workflow_id.replace("_", " ").title(), "business_owner": "Owner",
        "team": "Service desk", "stage": "production" if deployed_on else "investigation", "deployed_on": deployed_on,
        "eligible_users": eligible_users, "risk_tier": "low", "primary_metric": primary_metric, "target_change_pct": None,
        "review_point": "Team lead", "support_path": "#help", "data_scope": "tickets",
    }  # fmt: skip


def _text(value: object) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)) or value is pd.NaT:
        return ""
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _write(path: Path, columns: list[str], rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_text(row.get(c)) for c in columns])
    path.write_text(buffer.getvalue())


def write_inputs(folder: Path, items: pd.DataFrame, registry: list[dict], usage: pd.DataFrame | None = None) -> Path:
    """Write an input folder: ``workflows.csv``, ``work_items/items.csv`` and, when given, ``usage/usage.csv``."""
    _write(folder / "workflows.csv", REGISTRY_COLUMNS, registry)
    frame = items[ITEM_COLUMNS].astype(object).where(items[ITEM_COLUMNS].notna(), None)
    frame["opened_at"] = [pd.Timestamp(v) for v in items["opened_at"]]
    frame["closed_at"] = [pd.Timestamp(v) if pd.notna(v) else None for v in items["closed_at"]]
    _write(folder / "work_items" / "items.csv", ITEM_COLUMNS, frame.to_dict("records"))
    if usage is not None:
        _write(
            folder / "usage" / "usage.csv",
            ["usage_date", "user_id", "workflow_id", "actions"],
            usage.to_dict("records"),
        )
    return folder
