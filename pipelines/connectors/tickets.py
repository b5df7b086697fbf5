"""Ticket exports (a row per ticket, or a row per update as ServiceNow's incident log) -> work items.

With a row per update, the latest row of each ticket (by the `updated` column, then file
order) holds its current values, and re-entering a state the ticket had left counts as
rework: the states are read in order, consecutive rows in one state are one visit, and
rework = visits beyond the first, summed over the states counted (`rework.states`, or all).
A Jira issue CSV is a ticket export with a preset mapping (`connector: jira`).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipelines.connectors.common import ConnectorError, Conversion, read_table
from pipelines.connectors.mapping import Mapping
from pipelines.connectors.timestamps import utc_expr

ROW = "__native_row"


def convert(path: Path, mapping: Mapping) -> Conversion:
    """The work items of one ticket export, one row per ticket."""
    columns = mapping.get("columns", {})
    frame = read_table(path, mapping.get("missing_values", []))
    absent = sorted({native for native in columns.values() if native not in frame.columns})
    if absent:
        raise ConnectorError(
            f"the export has no column(s) {', '.join(repr(a) for a in absent)} named in the mapping's columns; "
            f"it has: {', '.join(frame.columns[:30])}"
        )
    workflow = mapping.get("workflow", {})
    for extra in (
        workflow.get("attribute"),
        mapping.get("error", {}).get("column"),
        mapping.get("ai_assisted", {}).get("column"),
    ):
        if extra and extra not in frame.columns:
            raise ConnectorError(f"the export has no column '{extra}' named in the mapping")
    frame = frame.with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias(ROW))
    key = columns["key"]
    fmt, tz = mapping.get("timestamp_format"), mapping.timezone
    per_update = mapping.get("rows", "ticket") == "update"

    order = [ROW]
    if per_update and "updated" in columns:
        updated, _ = utc_expr(columns["updated"], fmt=fmt, timezone=tz)
        frame = frame.with_columns(updated.alias("__updated"))
        order = ["__updated", ROW]
    frame = frame.sort(order, nulls_last=False)

    state = columns.get("state")
    rework = None
    if per_update and state:
        visits = frame.filter(pl.col(key).is_not_null()).with_columns(
            (pl.col(state) != pl.col(state).shift(1).over(key)).fill_null(True).alias("__new_visit")
        )
        visits = visits.filter(pl.col("__new_visit") & pl.col(state).is_not_null())
        only = mapping.get("rework", {}).get("states")
        if only:
            visits = visits.filter(pl.col(state).is_in(only))
        rework = (
            visits.group_by(key, state)
            .agg(pl.len().alias("__n"))
            .group_by(key)
            .agg((pl.col("__n") - 1).sum().alias("__rework"))
        )

    if per_update:
        # The latest row wins; a row without a key cannot join a ticket and is handed on
        # alone (quarantined for its missing item_id), never dropped.
        keyed = frame.filter(pl.col(key).is_not_null())
        latest = keyed.group_by(key, maintain_order=True).agg(pl.all().last(), pl.col(ROW).min().alias("__first_row"))
        unkeyed = frame.filter(pl.col(key).is_null()).with_columns(pl.col(ROW).alias("__first_row"))
        tickets = pl.concat([latest, unkeyed.select(latest.columns)], how="vertical")
    else:
        tickets = frame.with_columns(pl.col(ROW).alias("__first_row"))
    if rework is not None:
        tickets = tickets.join(rework, on=key, how="left", nulls_equal=False)
    tickets = tickets.sort("__first_row")

    def col(role: str) -> pl.Expr:
        return pl.col(columns[role]) if role in columns else pl.lit(None, dtype=pl.String)

    _, opened_text = utc_expr(columns["opened"], fmt=fmt, timezone=tz)
    ends = [c for c in ("resolved", "closed") if c in columns]
    end_text = pl.lit(None, dtype=pl.String)
    if ends:
        handed = [utc_expr(columns[c], fmt=fmt, timezone=tz)[1] for c in ends]
        # `resolved` is the end of the work; `closed` (often an automatic close days later)
        # is used only when the ticket has no resolved time.
        end_text = pl.coalesce(handed)
    open_states = mapping.get("open_states")
    if open_states and state:
        end_text = pl.when(pl.col(state).is_in(open_states)).then(None).otherwise(end_text)

    if rework is not None:
        rework_expr = pl.col("__rework").fill_null(0).cast(pl.String)
    elif "reopen_count" in columns:
        rework_expr = col("reopen_count")
    else:
        rework_expr = pl.lit(None, dtype=pl.String)
    if "reassignment_count" in columns:
        # The first assignment plus every reassignment: the hand-offs the ticket went through.
        reassigned = col("reassignment_count").cast(pl.Int64, strict=False)
        touch = (
            pl.when(reassigned.is_not_null())
            .then((reassigned + 1).cast(pl.String))
            .otherwise(col("reassignment_count"))
        )
    else:
        touch = pl.lit(None, dtype=pl.String)
    error = mapping.get("error", {})
    if error.get("column"):
        values = error.get("values") or ["true", "yes", "1"]
        error_expr = pl.col(error["column"]).is_in(values).cast(pl.String).str.to_lowercase()
        error_expr = pl.when(pl.col(error["column"]).is_null()).then(None).otherwise(error_expr)
    elif error.get("reopened") and "reopen_count" in columns:
        reopened = col("reopen_count").cast(pl.Int64, strict=False)
        error_expr = (
            pl.when(reopened.is_not_null())
            .then((reopened > 0).cast(pl.String).str.to_lowercase())
            .otherwise(col("reopen_count"))
        )
    else:
        error_expr = pl.lit(None, dtype=pl.String)
    ai = mapping.get("ai_assisted", {})
    if ai:
        values = ai.get("values") or ["true", "yes", "1"]
        ai_expr = (
            pl.when(pl.col(ai["column"]).is_null())
            .then(None)
            .otherwise(pl.col(ai["column"]).is_in(values).cast(pl.String).str.to_lowercase())
        )
    else:
        ai_expr = pl.lit(None, dtype=pl.String)

    items = tickets.select(
        pl.col("__first_row").alias("native_row"),
        pl.col(key).alias("item_id"),
        _workflow_expr(workflow).alias("workflow_id"),
        opened_text.alias("opened_at"),
        end_text.alias("closed_at"),
        rework_expr.alias("rework_count"),
        touch.alias("touchpoints"),
        error_expr.alias("had_error"),
        col("spend").alias("external_spend"),
        ai_expr.alias("ai_assisted"),
        pl.lit(None, dtype=pl.String).alias("escalated"),
        col("team").alias("team"),
    )
    stats = {
        "native_rows": frame.height,
        "tickets": items.height,
        "complete": int(items.get_column("closed_at").is_not_null().sum()),
        "open": int(items.get_column("closed_at").is_null().sum()),
    }
    note = f"{frame.height:,} rows -> {items.height:,} tickets ({stats['complete']:,} resolved or closed, {stats['open']:,} open)"
    unit = "ticket (native_row = the ticket's first data row in the export)"
    return Conversion(frame=items, unit=unit, note=note, stats=stats)


def _workflow_expr(workflow: dict) -> pl.Expr:
    if "id" in workflow:
        return pl.lit(workflow["id"], dtype=pl.String)
    values, default = workflow.get("values"), workflow.get("default")
    column = pl.col(workflow["attribute"])
    if values:
        return column.replace_strict(values, default=default, return_dtype=pl.String)
    return column.fill_null(pl.lit(default, dtype=pl.String))
