"""Readiness: is this workflow owned and governed enough to scale?"""

import polars as pl
import streamlit as st

from dashboards import charts, data, tables, text, ui

db = ui.page("Readiness", "Is this workflow owned and governed enough to scale?", "readiness")
filters = ui.filters(db)
readiness = data.readiness(db, filters.teams, filters.stages, data.min_closed_items())
labels = {metric: data.metric_label(metric) for metric in data.METRICS}

if readiness.is_empty():
    st.info("No workflow matches the team and stage filters.")
    st.stop()

complete = readiness.filter(pl.col("items_in_place") == 7).height
production_gaps = readiness.filter((pl.col("stage") == "production") & (pl.col("items_in_place") < 7)).height
undefensible = readiness.filter(pl.col("value_claim") != "defensible").height
tiles = st.columns(3)
tiles[0].metric("Fully governed", f"{complete} of {readiness.height}", border=True,
                help="Owner, eligible users, review point, support path, data scope, risk tier and target all set.")
tiles[1].metric("In production with gaps", production_gaps, border=True,
                help="Production workflows missing at least one governance item.")
tiles[2].metric("Value claims not yet defensible", undefensible, border=True,
                help="No business owner, or no baseline (too few closed items before deployment, or not deployed).")

with st.container(key="wide_only_matrix"):
    ui.chart(charts.readiness_matrix(readiness))

st.subheader("Governance by workflow")
with st.container(key="wide_only_table"):
    st.dataframe(
        tables.readiness_table(readiness, labels).to_pandas().style.map(tables.gap_style),
        hide_index=True,
        height=ui.table_height(readiness.height),
        column_config={"Workflow": st.column_config.TextColumn(pinned=True), "Value claim": st.column_config.TextColumn(width="medium")},
    )
with st.container(key="narrow_only_readiness"):
    # On a phone the matrix and the table become one list: what is missing, workflow by workflow.
    for row in readiness.to_dicts():
        missing = [item.lower() for column, item in charts.READINESS_ITEMS.items() if not row[column]]
        st.markdown(
            f"**{text.md(row['name'])}** · {text.label(text.STAGE_LABELS, row['stage'])}  \n"
            + (f"missing: {', '.join(missing)}" if missing else "everything in place")
            + f"  \nvalue claim: {text.md(row['value_claim'])}"
        )
st.caption(
    "A gap reads “missing”, highlighted. “In place” counts the seven registry items (owner, eligible users, review "
    f"point, support path, data scope, risk tier, target). A baseline needs at least {data.min_closed_items()} closed "
    "items of the primary metric before deployment. Fix gaps in the registry (`workflows.csv`)."
)
