"""Process event logs (XES plain or gzip, event-per-row CSV or Parquet) -> one work item per case.

XES is read streaming with lxml's `iterparse`: each `<event>` is read when its end tag
arrives and cleared at once, and each finished `<trace>` is cleared and unlinked, so memory
holds one trace at a time plus the event table (only the attributes the mapping uses).
lxml was chosen over the standard library's ElementTree because its iterparse can filter
by tag, refuses entity expansion and network access (`resolve_entities=False`,
`no_network=True`) and is several times faster on large logs; pm4py, the field's
reference, loads the whole log into objects and is kept to tests as a cross-check.

Column names follow the XES standard and pm4py's CSV convention: a trace attribute `X`
is `case:X`, so one mapping vocabulary serves XES and CSV logs alike.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import polars as pl
from lxml import etree

from pipelines.connectors.common import ConnectorError, Conversion, read_table, sniff
from pipelines.connectors.mapping import Mapping
from pipelines.connectors.timestamps import utc_expr

DEFAULT_COLUMNS = {
    "case": "case:concept:name",
    "activity": "concept:name",
    "timestamp": "time:timestamp",
    "resource": "org:resource",
    "lifecycle": "lifecycle:transition",
}
# Transitions that count as doing an activity. A START/COMPLETE pair (or SCHEDULE, START,
# COMPLETE) is one execution, so counting every transition would double-count it.
DEFAULT_LIFECYCLE_COUNTED = ("complete",)
XES_VALUE_TAGS = {"string", "date", "int", "float", "boolean", "id"}
CASE_ORDINAL = "__case_ordinal"
EVENTS_PER_CHUNK = 20_000
EVENT_ORDINAL = "__event_ordinal"


def _local(tag: object) -> str:
    """Tag name without its namespace (XES files come with and without the XES namespace)."""
    text = tag if isinstance(tag, str) else ""
    return text.rsplit("}", 1)[-1]


def needed_attributes(mapping: Mapping) -> set[str]:
    """Every native attribute the mapping reads; the XES reader keeps only these."""
    columns = {**DEFAULT_COLUMNS, **mapping.get("columns", {})}
    names = set(columns.values())
    for section in ("complete", "error", "ai_assisted"):
        attribute = mapping.get(section, {}).get("attribute")
        if attribute:
            names.add(attribute)
    for key in ("spend", "team"):
        if mapping.get(key):
            names.add(mapping.get(key))
    touch = mapping.get("touchpoints")
    if touch and touch != "resources":
        names.add(touch)
    workflow_attribute = mapping.get("workflow", {}).get("attribute")
    if workflow_attribute:
        names.add(workflow_attribute)
    return names


def read_xes(path: Path, wanted: set[str] | None) -> pl.DataFrame:
    """A XES log as one row per event (strings), trace attributes as `case:<key>` columns.

    `wanted` limits the attributes kept (None keeps all). Raises `ConnectorError` for a file
    that is not well-formed XES.
    """
    rows: list[dict[str, str]] = []
    chunks: list[pl.DataFrame] = []

    def flush() -> None:
        # Events go into a columnar frame every EVENTS_PER_CHUNK: a list of dicts costs
        # several times the memory of the same strings in Arrow.
        if rows:
            names = sorted({name for row in rows for name in row} - {CASE_ORDINAL})
            chunks.append(pl.from_dicts(rows, schema={CASE_ORDINAL: pl.Int64, **{n: pl.String for n in names}}))
            rows.clear()

    opener = gzip.open if sniff(path)[:2] == b"\x1f\x8b" else open
    traces = 0
    pending: list[dict[str, str]] = []
    try:
        with opener(path, "rb") as handle:
            context = etree.iterparse(
                handle,
                events=("end",),
                tag=("{*}event", "{*}trace", "event", "trace"),
                resolve_entities=False,
                no_network=True,
                huge_tree=False,
                remove_comments=True,
            )
            for _, element in context:
                # The filter passes only events and traces, with or without the XES namespace.
                if element.tag.endswith("event"):
                    row = {}
                    for child in element:
                        key, value = child.get("key"), child.get("value")
                        # Nested values (list, container) carry no `value` and are skipped.
                        if key is not None and value is not None and (wanted is None or key in wanted):
                            row[key] = value
                    pending.append(row)
                    element.clear(keep_tail=False)
                else:
                    traces += 1
                    case_attributes = {}
                    for child in element:
                        tag = _local(child.tag)
                        key = child.get("key")
                        if tag in XES_VALUE_TAGS and key is not None and (wanted is None or f"case:{key}" in wanted):
                            case_attributes[f"case:{key}"] = child.get("value")
                    if not pending:
                        # A trace without events is still a case the log names: hand it over
                        # with no timestamp, so it is quarantined with a reason, not lost.
                        pending.append({})
                    for row in pending:
                        row.update(case_attributes)
                        row[CASE_ORDINAL] = traces
                    rows.extend(pending)
                    pending = []
                    if len(rows) >= EVENTS_PER_CHUNK:
                        flush()
                    element.clear(keep_tail=False)
                    parent = element.getparent()
                    if parent is not None:
                        while element.getprevious() is not None:
                            del parent[0]
    except etree.XMLSyntaxError as error:
        raise ConnectorError(f"not well-formed XES: {error.msg} (line {error.lineno})") from None
    except (OSError, EOFError, zlib.error) as error:
        raise ConnectorError(f"cannot read the XES file: {error}") from None
    if traces == 0:
        raise ConnectorError("no <trace> elements: not a XES event log, or an empty one")
    flush()
    frame = pl.concat(chunks, how="diagonal")
    return frame.with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias(EVENT_ORDINAL))


def read_event_table(path: Path, missing_values: list[str]) -> pl.DataFrame:
    """An event-per-row CSV or Parquet log as strings, in file order."""
    frame = read_table(path, missing_values)
    return frame.with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias(EVENT_ORDINAL))


def convert(path: Path, mapping: Mapping, fmt_kind: str) -> Conversion:
    """The work items of one event log, one row per case, as strings for the reader."""
    columns = {**DEFAULT_COLUMNS, **mapping.get("columns", {})}
    if fmt_kind == "xes":
        events = read_xes(path, needed_attributes(mapping))
        unit = "trace"
    else:
        events = read_event_table(path, mapping.get("missing_values", []))
        unit = "row"
    for role in ("case", "activity", "timestamp"):
        if columns[role] not in events.columns:
            raise ConnectorError(
                f"the log has no '{columns[role]}' attribute for the {role} (columns.{role} in the mapping); "
                f"it has: {', '.join(sorted(c for c in events.columns if not c.startswith('__'))[:20])}"
            )
    if fmt_kind != "xes":
        # Cases are numbered by first appearance, so the row number points into the log.
        first_row = events.group_by(columns["case"]).agg(pl.col(EVENT_ORDINAL).min().alias(CASE_ORDINAL))
        events = events.join(first_row, on=columns["case"], how="left", nulls_equal=True)
        # An event without a case id cannot join a case: it becomes its own row, quarantined.
        events = events.with_columns(
            pl.when(pl.col(columns["case"]).is_null())
            .then(pl.col(EVENT_ORDINAL))
            .otherwise(pl.col(CASE_ORDINAL))
            .alias(CASE_ORDINAL)
        )
    items, stats = cases_to_items(events, mapping, columns)
    stats = {"events": events.height, **stats}
    note = (
        f"{events.height:,} events ({stats['events_counted']:,} counted after lifecycle) -> {items.height:,} cases "
        f"({stats['complete']:,} complete, {stats['open']:,} open)"
    )
    return Conversion(
        frame=items, unit=f"case (native_row = the case's first {unit} in the log)", note=note, stats=stats
    )


def _match(section: dict, activity: str) -> pl.Expr | None:
    """Per-event flag for a `complete`/`error` section: an activity in a list, or an attribute value."""
    if not section:
        return None
    if "activities" in section:
        return pl.col(activity).is_in(section["activities"])
    values = section.get("values")
    attribute = pl.col(section["attribute"])
    if values:
        return attribute.is_in(values)
    # An attribute alone: true when the attribute is set and not a false-like word.
    return attribute.is_not_null() & ~attribute.str.to_lowercase().is_in(["false", "0", "no", ""])


def cases_to_items(events: pl.DataFrame, mapping: Mapping, columns: dict[str, str]) -> tuple[pl.DataFrame, dict]:
    """Aggregate an event table to one work-item row per case (every value a string)."""
    case, activity, timestamp = columns["case"], columns["activity"], columns["timestamp"]
    resource, lifecycle = columns["resource"], columns["lifecycle"]
    parsed, handed = utc_expr(timestamp, fmt=mapping.get("timestamp_format"), timezone=mapping.timezone)
    frame = events.with_columns(parsed.alias("__ts"), handed.alias("__ts_text"))
    counted_words = [w.lower() for w in mapping.get("lifecycle_counted", DEFAULT_LIFECYCLE_COUNTED)]
    if lifecycle in frame.columns:
        counted = pl.col(lifecycle).is_null() | pl.col(lifecycle).str.to_lowercase().is_in(counted_words)
    else:
        counted = pl.lit(True)
    frame = frame.with_columns(counted.alias("__counted"))

    # Attributes the mapping names but no event carries are blank, not an error.
    for name in sorted(({resource} | needed_attributes(mapping)) - set(frame.columns)):
        frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(name))

    rework_only = mapping.get("rework", {}).get("activities")
    repeat_source = frame.filter(pl.col("__counted") & pl.col(activity).is_not_null())
    if rework_only:
        repeat_source = repeat_source.filter(pl.col(activity).is_in(rework_only))
    repeats = (
        repeat_source.group_by(CASE_ORDINAL, activity)
        .agg(pl.len().alias("__n"))
        .group_by(CASE_ORDINAL)
        .agg((pl.col("__n") - 1).sum().alias("__rework"))
    )

    complete = _match(mapping.get("complete", {}), activity)
    error = _match(mapping.get("error", {}), activity)
    touch = mapping.get("touchpoints", "resources")
    touch_column = resource if touch == "resources" else touch
    aggregations = [
        pl.col(case).drop_nulls().first().alias("item_id"),
        pl.col("__ts").min().alias("__first"),
        pl.col("__ts").max().alias("__last"),
        # The first unreadable timestamp of the case, as written: the case is quarantined with it.
        pl.col("__ts_text").filter(pl.col("__ts").is_null()).first().alias("__bad_ts"),
        pl.col(touch_column).drop_nulls().n_unique().alias("__touch")
        if touch == "resources"
        else pl.col(touch_column).drop_nulls().first().alias("__touch"),
        pl.col("__counted").sum().alias("__counted_events"),
    ]
    if complete is not None:
        aggregations.append((complete & pl.col("__counted")).any().alias("__complete"))
    if error is not None:
        aggregations.append(error.any().alias("__error"))
    if mapping.get("spend"):
        aggregations.append(pl.col(mapping.get("spend")).drop_nulls().first().alias("__spend"))
    if mapping.get("team"):
        aggregations.append(pl.col(mapping.get("team")).drop_nulls().first().alias("__team"))
    ai = mapping.get("ai_assisted")
    if ai:
        values = ai.get("values")
        flag = (
            pl.col(ai["attribute"]).is_in(values)
            if values
            else pl.col(ai["attribute"]).str.to_lowercase().is_in(["true", "1", "yes"])
        )
        aggregations.append(flag.any().alias("__ai"))
    workflow = mapping.get("workflow", {})
    if workflow.get("attribute"):
        aggregations.append(pl.col(workflow["attribute"]).drop_nulls().first().alias("__workflow_value"))

    per_case = (
        frame.group_by(CASE_ORDINAL).agg(aggregations).join(repeats, on=CASE_ORDINAL, how="left").sort(CASE_ORDINAL)
    )
    is_complete = pl.col("__complete") if complete is not None else pl.lit(False)
    fmt_ts = "%Y-%m-%dT%H:%M:%S%.6f+00:00"
    bad = pl.col("__bad_ts").is_not_null()
    items = per_case.select(
        pl.col(CASE_ORDINAL).alias("native_row"),
        pl.col("item_id"),
        _workflow_expr(workflow).alias("workflow_id"),
        pl.when(bad).then(pl.col("__bad_ts")).otherwise(pl.col("__first").dt.strftime(fmt_ts)).alias("opened_at"),
        pl.when(is_complete & ~bad).then(pl.col("__last").dt.strftime(fmt_ts)).alias("closed_at"),
        pl.col("__rework").fill_null(0).cast(pl.String).alias("rework_count"),
        (
            pl.when(pl.col("__touch").cast(pl.Int64, strict=False) > 0).then(pl.col("__touch").cast(pl.String))
            if touch == "resources"
            else pl.col("__touch").cast(pl.String)
        ).alias("touchpoints"),
        (
            pl.col("__error").cast(pl.String).str.to_lowercase() if error is not None else pl.lit(None, dtype=pl.String)
        ).alias("had_error"),
        (pl.col("__spend") if mapping.get("spend") else pl.lit(None, dtype=pl.String)).alias("external_spend"),
        (pl.col("__ai").cast(pl.String).str.to_lowercase() if ai else pl.lit(None, dtype=pl.String)).alias(
            "ai_assisted"
        ),
        pl.lit(None, dtype=pl.String).alias("escalated"),
        (pl.col("__team") if mapping.get("team") else pl.lit(None, dtype=pl.String)).alias("team"),
    )
    stats = {
        "cases": items.height,
        "complete": int(items.get_column("closed_at").is_not_null().sum()),
        "open": int(items.get_column("closed_at").is_null().sum()),
        "events_counted": int(frame.get_column("__counted").sum()),
    }
    return items, stats


def _workflow_expr(workflow: dict) -> pl.Expr:
    """The workflow id of each case: a fixed id, or its attribute's value through the value map."""
    if "id" in workflow:
        return pl.lit(workflow["id"], dtype=pl.String)
    default = workflow.get("default")
    values = workflow.get("values")
    if values:
        return pl.col("__workflow_value").replace_strict(values, default=default, return_dtype=pl.String)
    return pl.col("__workflow_value").fill_null(pl.lit(default, dtype=pl.String))
