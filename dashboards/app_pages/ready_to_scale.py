"""Ready to scale: which workflows pass the gate, what is missing and who owns it; the funnel over time."""

import polars as pl
import streamlit as st

from dashboards import governance_charts as charts
from dashboards import governance_data as gov
from dashboards import text, ui

# Served at `/readiness` (the address of the page it replaced), so old links keep working.
db = ui.page(
    "Ready to scale", "Which workflows are ready to scale, what is missing, and who owns the gap?", "readiness"
)
filters = ui.filters(db)
gate = gov.gate(db, filters.teams, filters.stages)
stalled = gov.stalled(db, filters.teams)

if gate.is_empty():
    st.info("No workflow matches the team and stage filters.")
    st.stop()

ready = gate.filter(pl.col("ready")).height
production_not_ready = gate.filter((pl.col("stage") == "production") & ~pl.col("ready")).height
late_targets = gate.filter(pl.col("is_target_set_after_results")).height
tiles = st.columns(4)
tiles[0].metric(
    "Ready to scale",
    f"{ready} of {gate.height}",
    border=True,
    help="Every one of the eleven requirements passes, value included.",
)
tiles[1].metric(
    "In production, not ready",
    production_not_ready,
    border=True,
    help="Running in production while at least one requirement fails.",
)
tiles[2].metric(
    "Stalled pilots", stalled.height, border=True, help="In pilot longer than the stall limit with no decision since."
)
tiles[3].metric(
    "Targets set after the results",
    late_targets,
    border=True,
    help="The success target was agreed after go-live, so it may have been fitted to the results.",
)

st.subheader("The gate, workflow by workflow")
with st.container(key="wide_only_gate"):
    st.dataframe(charts.gate_table(gate), hide_index=True, height=ui.table_height(gate.height))
with st.container(key="narrow_only_gate"):
    # On a phone the eleven-column grid becomes a list: what is missing, workflow by workflow.
    # One markdown element for the whole list: hidden on a desktop, so it should cost the browser little.
    entries = []
    for row in gate.to_dicts():
        verdict = (
            "ready to scale" if row["ready"] else f"{row['requirements_passed']} of {row['requirements_total']} passed"
        )
        entries.append(
            f"**{text.md(row['name'])}** · {text.label(text.STAGE_LABELS, row['stage'])} · {verdict}  \n"
            + (f"missing: {text.md(row['missing'])}" if row["missing"] else "everything in place")
            + f"  \nowner: {text.md(row['business_owner'] or 'nobody')}"
        )
    st.markdown("\n\n".join(entries))
st.caption(
    "Each requirement is judged from evidence as of the data cutoff: registry fields, escalations logged, feedback "
    "raised and resolved in the last 60 days, a target dated before go-live, recent items and the measured value."
)

st.subheader("What is missing, and who owns it")
gaps = charts.gaps_table(gate)
if gaps.is_empty():
    st.success("Nothing is missing: every workflow shown passes every requirement.")
else:
    st.dataframe(gaps, hide_index=True, height=ui.table_height(gaps.height))

st.subheader("From investigation to production")
funnel = gov.funnel(db)
st.dataframe(charts.funnel_table(funnel), hide_index=True, height=ui.table_height(funnel.height))
st.caption(
    "Entered = moved on + retired + still there. Median time in stage counts workflows still in a stage as "
    "unfinished stays (Kaplan-Meier), so long waits are not hidden. All teams and stages: the funnel is not filtered."
)
# Lazy: the two charts are drawn only when opened (kept in the address, `?quarters=true`), so a
# first visit loads no chart code at all.
by_quarter = st.expander(
    "Stages and conversion by quarter", key="quarters", bind="query-params", icon=":material/bar_chart:"
)
if by_quarter.open:
    with by_quarter:
        quarterly = gov.funnel_quarterly(db)
        ui.chart(charts.funnel_over_time(quarterly))
        ui.chart(charts.conversion_over_time(quarterly))

st.subheader("Stalled pilots")
if stalled.is_empty():
    st.success("No pilot has waited longer than the stall limit without a decision.")
else:
    st.dataframe(
        stalled.select(
            pl.col("name").alias("Workflow"),
            pl.col("business_owner").fill_null("— nobody").alias("Who owns it"),
            pl.col("pilot_entered_on").alias("In pilot since"),
            pl.col("days_in_pilot").alias("Days in pilot"),
            pl.col("decided_by").alias("Pilot approved by"),
            pl.col("note").alias("Note"),
        ),
        hide_index=True,
    )
    st.caption(f"In pilot for more than {int(stalled['stall_days'][0])} days with no decision recorded since.")
