"""Figures and tables of the governance views: data in, figure or frame out (no Streamlit).

Every value that came from an input file stays a plain table cell or a trace label, never
markdown, so a workflow name or note cannot inject formatting or links.
"""

from __future__ import annotations

from collections.abc import Mapping

import plotly.graph_objects as go
import polars as pl

from dashboards import text
from dashboards.charts import STAGE_COLORS, _finish, empty
from dashboards.governance_data import REQUIREMENTS

RATE_COLORS = {"escalation": "#7570b3", "override": "#d95f02", "correction": "#1b9e77"}
RATE_LABELS = {"escalation": "Escalated", "override": "Overridden", "correction": "Corrected"}
PASS, FAIL = "✓", "✗ missing"


def gate_table(gate: pl.DataFrame) -> pl.DataFrame:
    """One row per workflow: ready or not, what is missing, who owns it, and each requirement."""
    if gate.is_empty():
        return pl.DataFrame()
    return gate.select(
        pl.col("name").alias("Workflow"),
        pl.col("stage").replace_strict(text.STAGE_LABELS, default=pl.col("stage")).alias("Stage"),
        pl.col("business_owner").fill_null("— nobody").alias("Who owns it"),
        pl.when(pl.col("ready")).then(pl.lit("Ready to scale")).otherwise(pl.lit("Not ready")).alias("Gate"),
        pl.format("{} of {}", pl.col("requirements_passed"), pl.col("requirements_total")).alias("Passed"),
        pl.col("missing").replace("", "—").alias("Missing"),
        *[
            pl.when(pl.col(f"{name}_pass")).then(pl.lit(PASS)).otherwise(pl.lit(FAIL)).alias(label)
            for name, label in REQUIREMENTS.items()
        ],
    )


def gaps_table(gate: pl.DataFrame) -> pl.DataFrame:
    """One row per failing requirement: the workflow, the requirement, why, and who owns it."""
    if gate.is_empty():
        return pl.DataFrame(
            schema={"Workflow": pl.String, "Requirement": pl.String, "Why": pl.String, "Who owns it": pl.String}
        )
    parts = [
        gate.filter(~pl.col(f"{name}_pass")).select(
            pl.col("name").alias("Workflow"),
            pl.lit(label).alias("Requirement"),
            pl.col(f"{name}_reason").alias("Why"),
            pl.col("business_owner").fill_null("— nobody").alias("Who owns it"),
        )
        for name, label in REQUIREMENTS.items()
    ]
    return pl.concat(parts).sort("Workflow", maintain_order=True)


def funnel_table(funnel: pl.DataFrame) -> pl.DataFrame:
    """The funnel today: counts that add up, conversion and median days per stage."""
    return funnel.select(
        pl.col("stage").replace_strict(text.STAGE_LABELS, default=pl.col("stage")).alias("Stage"),
        pl.col("workflows_entered").alias("Entered"),
        pl.col("workflows_moved_on").alias("Moved on"),
        pl.col("workflows_retired").alias("Retired"),
        pl.col("workflows_still_there").alias("Still there"),
        pl.col("conversion_rate")
        .map_elements(lambda v: text.share(v), return_dtype=pl.String)
        .fill_null("—")
        .alias("Conversion to next stage"),
        pl.col("median_days_in_stage")
        .map_elements(lambda v: f"{v:.0f} days", return_dtype=pl.String)
        .fill_null("unknown")
        .alias("Median time in stage"),
        pl.col("basis_note").alias("Basis"),
    )


def funnel_over_time(quarterly: pl.DataFrame) -> go.Figure:
    """Workflows in each stage at the end of every quarter, and entries per quarter."""
    title = "Workflows in each stage, by quarter"
    if quarterly.is_empty():
        return empty(title, "No stage history yet: add `workflow_stages/` files to see the funnel over time.")
    fig = go.Figure()
    for stage, label in text.STAGE_LABELS.items():
        rows = quarterly.filter(pl.col("stage") == stage)
        fig.add_trace(
            go.Bar(
                x=rows["quarter_label"].to_list(),
                y=rows["workflows_in_stage_at_end"].to_list(),
                name=label,
                marker=dict(color=STAGE_COLORS[stage]),
                customdata=rows["workflows_entered"].to_list(),
                hovertemplate=f"{label}, %{{x}}: %{{y}} workflows at quarter end (%{{customdata}} entered)<extra></extra>",
            )
        )
    fig.update_layout(barmode="group")
    fig.update_xaxes(title="quarter")
    fig.update_yaxes(title="workflows at quarter end", rangemode="tozero")
    return _finish(
        fig,
        title,
        "Bars count the workflows in each stage on the last day of each quarter (from stage history). Pilots piling "
        "up while production stays flat is the pilot-to-production gap.",
    )


def conversion_over_time(quarterly: pl.DataFrame) -> go.Figure:
    """Cumulative conversion from investigation to pilot and pilot to production, by quarter."""
    title = "Conversion to date, by quarter"
    steps = {"investigation": "Investigation → pilot", "pilot": "Pilot → production"}
    rows = quarterly.filter(pl.col("stage").is_in(list(steps)) & (pl.col("workflows_reached_to_date") > 0))
    if rows.is_empty():
        return empty(title, "No stage history yet: conversion over time needs `workflow_stages/` files.")
    fig = go.Figure()
    for stage, label in steps.items():
        part = rows.filter(pl.col("stage") == stage)
        rate = (part["workflows_converted_to_date"] / part["workflows_reached_to_date"] * 100).to_list()
        fig.add_trace(
            go.Scatter(
                x=part["quarter_label"].to_list(),
                y=rate,
                name=label,
                mode="lines+markers",
                marker=dict(color=STAGE_COLORS["pilot" if stage == "investigation" else "production"]),
                customdata=list(
                    zip(part["workflows_converted_to_date"].to_list(), part["workflows_reached_to_date"].to_list())
                ),
                hovertemplate=f"{label}, %{{x}}: %{{y:.0f}}%% (%{{customdata[0]}} of %{{customdata[1]}})<extra></extra>",
            )
        )
    fig.update_xaxes(title="quarter")
    fig.update_yaxes(title="% of workflows that entered the stage", range=[0, 105])
    return _finish(
        fig,
        title,
        "Of the workflows that had entered a stage by each quarter's end, the share that had moved on to the next "
        "funnel stage by then (retirement is not a conversion).",
        height=360,
    )


def exception_rates(monthly: pl.DataFrame, deployed_on: object = None) -> go.Figure:
    """Monthly escalation, override and correction rates of assisted items, with 95% intervals."""
    title = "Exceptions: escalated, overridden and corrected assisted items, by month"
    if monthly.is_empty() or monthly["assisted_items"].sum() == 0:
        return empty(title, "No AI-assisted items since go-live, so no exception rates yet.")
    fig = go.Figure()
    months = monthly["month_start_on"].to_list()
    for measure, label in RATE_LABELS.items():
        rate = monthly[f"{measure}_rate"]
        if rate.null_count() == rate.len():
            continue  # the flag is never recorded for this workflow
        scaled = [None if v is None else v * 100 for v in rate.to_list()]
        low = [
            None if v is None or r is None else r - v * 100
            for v, r in zip(monthly[f"{measure}_ci_low"].to_list(), scaled)
        ]
        high = [
            None if v is None or r is None else v * 100 - r
            for v, r in zip(monthly[f"{measure}_ci_high"].to_list(), scaled)
        ]
        fig.add_trace(
            go.Scatter(
                x=months,
                y=scaled,
                name=label,
                mode="lines+markers",
                marker=dict(color=RATE_COLORS[measure]),
                error_y=dict(type="data", symmetric=False, array=high, arrayminus=low, thickness=1, width=3),
                hovertemplate=f"{label}, %{{x|%b %Y}}: %{{y:.1f}}%<extra></extra>",
            )
        )
    if deployed_on is not None:
        fig.add_vline(x=str(deployed_on), line=dict(color="#7f7f7f", dash="dot"))
        fig.add_annotation(x=str(deployed_on), y=1, yref="paper", text="go-live", showarrow=False, yanchor="bottom")
    fig.update_xaxes(title="month opened")
    fig.update_yaxes(title="% of assisted items", rangemode="tozero")
    return _finish(
        fig,
        title,
        "Each point is the share of that month's AI-assisted items that were escalated, overridden or corrected; "
        "bars are 95% intervals. A climbing override or correction line means people trust the output less.",
        height=380,
    )


def guardrail_sentence(row: Mapping[str, object] | None) -> str:
    """One plain sentence on the rising-rate guardrail of a workflow."""
    if row is None:
        return "Not deployed: no exception guardrail."
    if row["has_exception_guardrail"]:
        return f"Guardrail: {row['guardrail_reason']} (first 90 days after go-live against the last 90 days)."
    statuses = {row["override_status"], row["correction_status"]}
    if statuses == {"insufficient_data"}:
        return "Not enough assisted items with override or correction flags to judge a trend yet."
    return "No rising override or correction rate since go-live."
