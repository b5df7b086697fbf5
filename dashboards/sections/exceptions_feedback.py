"""Exceptions and feedback: a section of the workflow page.

`render(workflow_id)` draws the monthly escalation, override and correction rates, the
rising-rate guardrail, the feedback loop's health and, when a baseline was frozen and has
moved since, the frozen and live baselines side by side.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboards import data, text, ui
from dashboards import governance_charts as charts
from dashboards import governance_data as gov


def render(workflow_id: str) -> None:
    """The section for one workflow."""
    db = data.current_warehouse()
    if db is None:
        return
    st.subheader("Exceptions and feedback")
    guardrail = gov.exception_guardrail(db, workflow_id)
    guardrail_row = guardrail.row(0, named=True) if guardrail.height else None
    monthly = gov.exception_rates(db, workflow_id)
    ui.chart(charts.exception_rates(monthly, guardrail_row["deployed_on"] if guardrail_row else None))
    st.text(charts.guardrail_sentence(guardrail_row))

    loop = gov.feedback_loop(db, workflow_id)
    if loop.height:
        row = loop.row(0, named=True)
        tiles = st.columns(4)
        tiles[0].metric(
            "Feedback loop",
            "Active" if row["is_loop_active"] else "Inactive",
            border=True,
            help="Active: feedback raised and resolved in the last 60 days before the data cutoff.",
        )
        tiles[1].metric(
            "Incorporated",
            text.share(row["incorporated_rate"]),
            border=True,
            help="Share of decided feedback that was incorporated (the rest was declined).",
        )
        tiles[2].metric(
            "Median days to incorporate",
            "—" if text.is_missing(row["median_days_to_incorporate"]) else f"{row['median_days_to_incorporate']:.0f}",
            border=True,
        )
        tiles[3].metric(
            "Open backlog", row["open_backlog"], border=True, help="Feedback still open; the oldest is listed below."
        )
        details = [f"Status: {row['loop_status']}."]
        if row["oldest_open_raised_on"] is not None:
            details.append(
                f"Oldest open item raised {text.day(row['oldest_open_raised_on'])} ({row['oldest_open_days']} days)."
            )
        if not text.is_missing(row["feedback_per_100_items"]):
            details.append(f"{row['feedback_per_100_items']:.1f} feedback items per 100 work items since go-live.")
        st.text(" ".join(details))

    baselines = gov.baseline_comparison(db, workflow_id)
    moved = baselines.filter(pl.col("has_baseline_moved"))
    if moved.height:
        st.warning(
            "The baseline was frozen and has moved since: items added or corrected later changed it. "
            "Judge the change against the frozen baseline.",
            icon=":material/lock:",
        )
        st.dataframe(
            moved.select(
                pl.col("metric").map_elements(data.metric_label, return_dtype=pl.String).alias("Metric"),
                pl.col("baseline_frozen_on").alias("Frozen on"),
                pl.col("frozen_baseline_value").round(3).alias("Frozen baseline"),
                pl.col("live_baseline_value").round(3).alias("Live baseline"),
                pl.col("post_value").round(3).alias("After go-live"),
                pl.col("change_vs_frozen_pct").round(1).alias("Change vs frozen (%)"),
                pl.col("change_vs_live_pct").round(1).alias("Change vs live (%)"),
            ),
            hide_index=True,
        )
    elif baselines.height:
        st.caption(f"Baseline frozen on {text.day(baselines['baseline_frozen_on'][0])}; it has not moved since.")
