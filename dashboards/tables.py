"""Tables as readers see them: marts rows turned into labelled, formatted columns.

Pure functions, frames in and frames out; the pages only place them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import polars as pl

from dashboards import text

FORMULA_START = r"^[=+\-@\t\r]"
"""A spreadsheet reads a cell starting with one of these as a formula (OWASP, CSV injection)."""


def csv_safe(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` for a CSV download: text columns neutralised against formula injection, numbers left as numbers."""
    text_columns = [name for name, dtype in frame.schema.items() if dtype in (pl.String, pl.Categorical, pl.Enum)]
    return frame.with_columns(
        pl.when(pl.col(name).cast(pl.String).str.contains(FORMULA_START))
        .then(pl.lit("'") + pl.col(name).cast(pl.String))
        .otherwise(pl.col(name).cast(pl.String))
        .alias(name)
        for name in text_columns
    )


SCORECARD_COLUMNS: list[tuple[str, pl.DataType, object]] = [
    ("Workflow", pl.String, lambda r, labels: r["name"]),
    ("Decision", pl.String, lambda r, labels: text.label(text.DECISION_LABELS, r.get("decision"))),
    (
        "Change % (95% CI)",
        pl.String,
        lambda r, labels: text.change_with_ci(
            r["primary_change_pct"], r["primary_ci_low_pct"], r["primary_ci_high_pct"]
        ),
    ),
    ("Verdict", pl.String, lambda r, labels: text.label(text.VERDICT_LABELS, r["primary_verdict"])),
    (
        "Adoption %",
        pl.Float64,
        lambda r, labels: None if r["adoption_rate"] is None else round(r["adoption_rate"] * 100),
    ),
    ("Primary metric", pl.String, lambda r, labels: labels.get(r["primary_metric"], r["primary_metric"])),
    ("Quadrant", pl.String, lambda r, labels: text.label(text.QUADRANT_LABELS, r["quadrant"])),
    ("Team", pl.String, lambda r, labels: r["team"]),
    ("Stage", pl.String, lambda r, labels: text.label(text.STAGE_LABELS, r["stage"])),
    ("Why", pl.String, lambda r, labels: text.plain_reasons(r.get("decision_reasons")) or None),
    ("Details", pl.String, lambda r, labels: text.detail_link(r["workflow_id"])),
]
"""The scorecard's columns in reading order, workflow, decision and change first (what a phone
shows): (header, type, value of a scorecard row given the metric labels)."""


def scorecard_table(scorecard: pl.DataFrame, metric_labels: Mapping[str, str]) -> pl.DataFrame:
    """The portfolio scorecard: workflow, decision, change with CI, verdict, adoption, metric, quadrant, team, stage, link."""
    rows = scorecard.to_dicts()
    return pl.DataFrame(
        {header: [value(r, metric_labels) for r in rows] for header, _, value in SCORECARD_COLUMNS},
        schema={header: dtype for header, dtype, _ in SCORECARD_COLUMNS},
    )


def views_table(views: pl.DataFrame) -> pl.DataFrame:
    """The three views of one metric as rows: view, estimate with CI, label, sizes."""
    rows = views.to_dicts()
    return pl.DataFrame(
        {
            "View": [text.label(text.VIEW_LABELS, r["view"]) for r in rows],
            "Estimate % (95% CI)": [
                text.change_with_ci(r["estimate_pct"], r["ci_low_pct"], r["ci_high_pct"]) for r in rows
            ],
            "Label": [r["label"] for r in rows],
            "n treated": [r["n_treated"] for r in rows],
            "n comparison": [r["n_comparison"] for r in rows],
        }
    )


def analyst_table(result: Mapping[str, object]) -> pl.DataFrame:
    """One metric's numbers for analysts: values, CIs, counts, the BH-adjusted p-value and the method."""
    unit = str(result.get("unit") or "")
    rows = [
        (
            "Before (baseline)",
            text.metric_value(result.get("baseline_value"), unit),
            f"{text.metric_value(result.get('baseline_ci_low'), unit)} to {text.metric_value(result.get('baseline_ci_high'), unit)}",
        ),
        (
            "After deployment",
            text.metric_value(result.get("post_value"), unit),
            f"{text.metric_value(result.get('post_ci_low'), unit)} to {text.metric_value(result.get('post_ci_high'), unit)}",
        ),
        (
            "Change %",
            text.pct(result.get("change_pct")),
            f"{text.pct(result.get('ci_low_pct'))} to {text.pct(result.get('ci_high_pct'))}",
        ),
        ("Items before / after", f"{result.get('n_baseline') or 0:,} / {result.get('n_post') or 0:,}", ""),
        (
            "Closed items before / after",
            f"{result.get('n_baseline_closed') or 0:,} / {result.get('n_post_closed') or 0:,}",
            "",
        ),
        ("BH-adjusted p", "—" if text.is_missing(result.get("p_adjusted")) else f"{result['p_adjusted']:.3g}", ""),
        ("Interval method", str(result.get("method") or "—"), ""),
    ]
    return pl.DataFrame(rows, schema=["Quantity", "Value", "95% CI"], orient="row")


def runs_table(runs: pl.DataFrame) -> pl.DataFrame:
    """Recent pipeline runs with their duration in seconds."""
    return runs.select(
        pl.col("started_at").alias("Started (UTC)"),
        pl.col("ended_at").alias("Ended (UTC)"),
        ((pl.col("ended_at") - pl.col("started_at")).dt.total_milliseconds() / 1000).round(1).alias("Seconds"),
        pl.col("status").alias("Status"),
        pl.col("message").alias("Message"),
        pl.col("run_id").alias("Run"),
    )


def freshness_table(freshness: pl.DataFrame, now: datetime) -> pl.DataFrame:
    """Freshness per source; with the pipeline's judgement when `ops.source_freshness` provided it."""
    rows = freshness.to_dicts()
    table: dict[str, list] = {
        "Source": [r["source"] for r in rows],
        "Newest record (UTC)": [text.when(r["newest_record_at"]) for r in rows],
    }
    if "age_hours" in freshness.columns:
        table["Age"] = [text.age(r["age_hours"]) for r in rows]
        table["Limit"] = [text.age(r["limit_hours"]) for r in rows]
        table["Status"] = ["stale" if r["is_stale"] else "fresh" for r in rows]
        table["Checked (UTC)"] = [text.when(r["checked_at"]) for r in rows]
    else:
        table["Age"] = [
            text.age((now - r["newest_record_at"]).total_seconds() / 3600) if r["newest_record_at"] else "—"
            for r in rows
        ]
        table["Files last read (UTC)"] = [text.when(r["last_ingested_at"]) for r in rows]
    return pl.DataFrame(table)


def counts_table(counts: pl.DataFrame) -> pl.DataFrame:
    """Row outcomes per source with reader-facing column names."""
    return counts.select(
        pl.col("source").alias("Source"),
        pl.col("files").alias("Files"),
        pl.col("rejected_files").alias("Rejected files"),
        pl.col("rows_read").alias("Rows read"),
        pl.col("rows_staged").alias("Staged"),
        pl.col("rows_quarantined").alias("Quarantined"),
        pl.col("rows_deduplicated").alias("Exact duplicates"),
        pl.col("rows_superseded").alias("Superseded"),
    )
