"""AI-usage reports -> usage rows: GitHub Copilot usage metrics and Microsoft 365 Copilot usage.

**GitHub Copilot** (the usage-metrics API's per-user 1-day and 28-day reports, as
downloaded: a JSON object with `day_totals`, a JSON array of records, or NDJSON, one record
a line). One usage row per record (user and day). Actions are
`user_initiated_interaction_count + code_generation_activity_count`: the prompts and chat
turns a person started, plus the completions, edits and agent changes Copilot generated
for them. Acceptances (`code_acceptance_activity_count`) are left out because an accepted
suggestion was already counted when it was generated. The user is `user_login` (or
`user_id` with `user: user_id`), handed over raw: the reader pseudonymises user ids.
The seat list (`GET /orgs/{org}/copilot/billing/seats`), when the mapping names it,
supplies each user's team (`assigning_team.slug`) and the registry's `eligible_users`.

**Microsoft 365 Copilot** (the admin-center / Graph `getMicrosoft365CopilotUsageUserDetail`
CSV). Its columns, from Microsoft's Graph documentation: Report Refresh Date, User
Principal Name, Display Name, Last Activity Date, Copilot Chat Last Activity Date,
Microsoft Teams Copilot Last Activity Date, Word Copilot Last Activity Date, Excel Copilot
Last Activity Date, PowerPoint Copilot Last Activity Date, Outlook Copilot Last Activity
Date, OneNote Copilot Last Activity Date, Loop Copilot Last Activity Date, Report Period.
The snapshot says only the *last* day each user used each app in the period: one usage
row per user and distinct last-activity day, actions = apps last used that day. It cannot
say how often anyone used Copilot, nor on which other days; repeated snapshots (one a day)
or the by-date variant (a `Report Date` column: activity on that date only) give daily use.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from pipelines.connectors.common import (
    ConnectorError,
    Conversion,
    content_bytes,
    detect_format,
    read_table,
)
from pipelines.connectors.mapping import Mapping
from pipelines.connectors.timestamps import date_expr

GITHUB_ACTION_FIELDS = ("user_initiated_interaction_count", "code_generation_activity_count")
M365_APPS = {
    "Copilot Chat": "Copilot Chat Last Activity Date",
    "Microsoft Teams": "Microsoft Teams Copilot Last Activity Date",
    "Word": "Word Copilot Last Activity Date",
    "Excel": "Excel Copilot Last Activity Date",
    "PowerPoint": "PowerPoint Copilot Last Activity Date",
    "Outlook": "Outlook Copilot Last Activity Date",
    "OneNote": "OneNote Copilot Last Activity Date",
    "Loop": "Loop Copilot Last Activity Date",
}
M365_USER = "User Principal Name"
M365_REPORT_DATE = "Report Date"


def _json_records(path: Path, *, list_key: str) -> list:
    """Records of a JSON report: an object holding `list_key`, a JSON array, or NDJSON lines."""
    kind = detect_format(path)
    data = content_bytes(path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConnectorError(f"not valid UTF-8 (first bad byte at offset {error.start})") from None
    if kind == "ndjson":
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except ValueError as error:
                raise ConnectorError(f"line {number} is not JSON: {error}") from None
        return records
    if kind != "json":
        raise ConnectorError(f"expected a JSON or NDJSON report, found {kind} content")
    try:
        document = json.loads(text)
    except ValueError as error:
        raise ConnectorError(f"not valid JSON: {error}") from None
    if isinstance(document, dict):
        if list_key not in document and ("day" in document or "assignee" in document):
            return [document]  # NDJSON of a single record reads as one JSON object
        if list_key not in document:
            raise ConnectorError(f"the JSON object has no '{list_key}' list (keys: {', '.join(list(document)[:15])})")
        document = document[list_key]
    if not isinstance(document, list):
        raise ConnectorError(f"'{list_key}' is not a list")
    return document


def seat_holders(path: Path) -> list[dict]:
    """(login, user id, team slug) of every seat in a Copilot seat list."""
    seats = []
    for number, seat in enumerate(_json_records(path, list_key="seats"), start=1):
        assignee = seat.get("assignee") if isinstance(seat, dict) else None
        if not isinstance(assignee, dict) or not assignee.get("login"):
            raise ConnectorError(f"seat {number} has no assignee.login")
        team = seat.get("assigning_team") or {}
        seats.append(
            {
                "login": str(assignee["login"]),
                "id": str(assignee.get("id", "")),
                "team": team.get("slug") if isinstance(team, dict) else None,
            }
        )
    return seats


def _seat_list(mapping: Mapping) -> list[dict] | None:
    seats_file = mapping.get("seats")
    if not seats_file:
        return None
    path = mapping.path.parent / seats_file
    if "/" in seats_file or not path.is_file():
        raise ConnectorError(f"the seat list '{seats_file}' named by the mapping is not in {mapping.path.parent.name}/")
    try:
        return seat_holders(path)
    except ConnectorError as error:
        raise ConnectorError(f"seat list {seats_file}: {error}") from None


def workflow_of_users(mapping: Mapping, users: pl.Expr, teams: pl.Expr) -> pl.Expr:
    """The workflow of each user: the user list first, then the team map, then `id`/`default`."""
    workflow = mapping.get("workflow", {})
    fallback = workflow.get("id", workflow.get("default"))
    out = pl.lit(fallback, dtype=pl.String)
    if workflow.get("teams"):
        out = teams.replace_strict(workflow["teams"], default=out, return_dtype=pl.String)
    if workflow.get("users"):
        out = users.replace_strict(workflow["users"], default=out, return_dtype=pl.String)
    return out


def eligible_by_workflow(mapping: Mapping) -> dict[str, int]:
    """Seat holders per workflow, by the same assignment the usage rows get."""
    seats = _seat_list(mapping)
    if seats is None:
        return {}
    user_key = "id" if mapping.get("user") == "user_id" else "login"
    frame = pl.DataFrame(seats, schema={"login": pl.String, "id": pl.String, "team": pl.String})
    assigned = frame.select(
        workflow_of_users(mapping, pl.col(user_key), pl.col("team")).alias("workflow_id"), pl.col(user_key)
    )
    counts = assigned.drop_nulls("workflow_id").group_by("workflow_id").agg(pl.col(user_key).n_unique().alias("n"))
    return dict(counts.iter_rows())


def convert_github(path: Path, mapping: Mapping) -> Conversion:
    """One usage row per record of a per-user report (one user and day)."""
    records = _json_records(path, list_key="day_totals")
    if not records:
        raise ConnectorError("the report has no user records (day_totals is empty)")
    user_field = "user_id" if mapping.get("user") == "user_id" else "user_login"
    rows = []
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            rows.append(
                {
                    "native_row": number,
                    "usage_date": None,
                    "user_id": None,
                    "actions": f"record {number} is not an object",
                }
            )
            continue
        missing = [
            f for f in GITHUB_ACTION_FIELDS if not isinstance(record.get(f), int) or isinstance(record.get(f), bool)
        ]
        if missing:
            # Handed on as text, so the reader quarantines the row and quotes the field.
            shown = ", ".join(f"{f}={record.get(f)!r}" if f in record else f"{f} missing" for f in missing)
            actions = f"not a count: {shown}"
        else:
            actions = str(sum(record[f] for f in GITHUB_ACTION_FIELDS))
        user = record.get(user_field)
        rows.append(
            {
                "native_row": number,
                "usage_date": None if record.get("day") is None else str(record.get("day")),
                "user_id": None if user is None or user == "" else str(user),
                "actions": actions,
            }
        )
    frame = pl.DataFrame(
        rows, schema={"native_row": pl.Int64, "usage_date": pl.String, "user_id": pl.String, "actions": pl.String}
    )
    seats = _seat_list(mapping)
    if seats is not None:
        key = "id" if user_field == "user_id" else "login"
        teams = (
            pl.DataFrame(seats, schema={"login": pl.String, "id": pl.String, "team": pl.String})
            .select(pl.col(key).alias("user_id"), pl.col("team").alias("__team"))
            .unique("user_id", keep="first")
        )
        frame = frame.join(teams, on="user_id", how="left")
    else:
        frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias("__team"))
    usage = frame.select(
        "native_row",
        date_expr("usage_date", fmt=None).alias("usage_date"),
        "user_id",
        workflow_of_users(mapping, pl.col("user_id"), pl.col("__team")).alias("workflow_id"),
        "actions",
    ).sort("native_row")
    users = usage.get_column("user_id").n_unique()
    note = f"{len(records):,} user-day records ({users:,} users) -> {usage.height:,} usage rows"
    if seats is not None:
        note += f"; seat list: {len(seats):,} seats"
    return Conversion(
        frame=usage,
        unit="user and day (native_row = the record's position in the report)",
        note=note,
        stats={"records": len(records), "users": users},
    )


def convert_m365(path: Path, mapping: Mapping) -> Conversion:
    """Usage rows from a Microsoft 365 Copilot usage user-detail CSV (snapshot or by date)."""
    frame = read_table(path, mapping.get("missing_values", []))
    present = [column for column in M365_APPS.values() if column in frame.columns]
    if M365_USER not in frame.columns or not present:
        raise ConnectorError(
            f"not a Microsoft 365 Copilot usage user-detail export: needs '{M365_USER}' and the "
            f"'<app> Copilot Last Activity Date' columns; it has: {', '.join(frame.columns[:20])}"
        )
    workflow = mapping.get("workflow", {})
    app_of_column = {column: app for app, column in M365_APPS.items()}
    frame = frame.with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("__row"))
    long = frame.unpivot(
        index=["__row", M365_USER, *([M365_REPORT_DATE] if M365_REPORT_DATE in frame.columns else [])],
        on=present,
        variable_name="__column",
        value_name="__date",
    )
    long = long.filter(pl.col("__date").is_not_null()).with_columns(
        pl.col("__column").replace_strict(app_of_column, return_dtype=pl.String).alias("__app"),
        date_expr("__date", fmt=mapping.get("timestamp_format")).alias("__day"),
    )
    by_date = M365_REPORT_DATE in frame.columns
    if by_date:
        # The by-date variant: a row says what the user did on its report date only.
        long = long.filter(pl.col("__day") == date_expr(M365_REPORT_DATE, fmt=mapping.get("timestamp_format")))
    app_map = workflow.get("apps")
    user_workflow = workflow_of_users(mapping, pl.col(M365_USER), pl.lit(None, dtype=pl.String))
    if app_map:
        long = long.with_columns(
            pl.col("__app").replace_strict(app_map, default=user_workflow, return_dtype=pl.String).alias("__workflow")
        )
    else:
        long = long.with_columns(user_workflow.alias("__workflow"))
    usage = (
        long.group_by("__row", M365_USER, "__day", "__workflow", maintain_order=True)
        .agg(pl.col("__app").n_unique().alias("__apps"))
        .sort("__row", "__day", "__workflow", nulls_last=True)
    )
    # A native row can give several usage rows (one per day and workflow): native_row is
    # row * 100 + position within the native row.
    usage = usage.with_columns(
        (pl.col("__row") * 100 + pl.int_range(1, pl.len() + 1).over("__row")).cast(pl.Int64).alias("native_row")
    )
    out = usage.select(
        "native_row",
        pl.col("__day").alias("usage_date"),
        pl.col(M365_USER).alias("user_id"),
        pl.col("__workflow").alias("workflow_id"),
        pl.col("__apps").cast(pl.String).alias("actions"),
    )
    inactive = frame.height - usage.get_column("__row").n_unique()
    note = (
        f"{frame.height:,} users ({'by date' if by_date else 'snapshot: last activity day per app'}) -> {out.height:,} usage rows; "
        f"{inactive:,} users with no Copilot activity in the report give no row"
    )
    unit = "user, day and workflow (native_row = native data row x 100 + n)"
    return Conversion(frame=out, unit=unit, note=note, stats={"users": frame.height, "inactive_users": inactive})
