"""Data quality: can I trust the inputs?"""

from datetime import UTC, datetime

import polars as pl
import streamlit as st

from dashboards import data, tables, text, ui, vega_charts

CHARTS = {
    "rows_by_source": lambda db: vega_charts.rows_by_source(data.rows_by_source(db)),
    "quarantine_over_time": lambda db: vega_charts.quarantine_over_time(data.run_source_counts(db)),
    "rejection_reasons": lambda db: vega_charts.rejection_reasons(data.rejection_reasons(db)),
}


@st.cache_data(ttl=data.TTL_SECONDS, show_spinner=False)
def chart_spec(db: data.Warehouse, name: str):
    """The page's chart `name` as its Vega-Lite spec, built once per warehouse version (`vega_charts.spec`)."""
    return vega_charts.spec(CHARTS[name](db))


db = ui.page("Data quality", "Can I trust the inputs?", "data-quality")
now = datetime.now(UTC).replace(tzinfo=None)  # the warehouse stores naive UTC timestamps

st.subheader("Last pipeline run")
counts = data.rows_by_source(db)
runs = data.pipeline_runs(db)
if runs.is_empty():
    st.info("The pipeline has not recorded a run yet.")
else:
    last = runs.row(0, named=True)
    report = st.success if last["status"] == "success" else st.error
    report(
        text.run_summary(last, now),
        icon=":material/check_circle:" if last["status"] == "success" else ":material/error:",
    )
    with st.expander(f"Recent runs ({runs.height})"):
        st.dataframe(tables.runs_table(runs), hide_index=True)

st.subheader("Freshness per source")
freshness = data.source_freshness(db)
st.dataframe(tables.freshness_table(freshness, now), hide_index=True)
st.caption(
    "Newest record: latest opened or closed item, latest usage day, and for the registry when its file last "
    "changed. A source is stale when its newest record is older than its limit."
)

st.subheader("Rows staged and quarantined")
ui.chart(chart_spec(db, "rows_by_source"))
st.dataframe(tables.counts_table(counts), hide_index=True)
run_counts = data.run_source_counts(db)
if run_counts["run_id"].n_unique() > 1:
    ui.chart(chart_spec(db, "quarantine_over_time"))
else:
    st.caption("Quarantined rows per run appear as a trend from the second recorded run.")

st.subheader("Why rows were rejected")
reasons = data.rejection_reasons(db)
if reasons.is_empty():
    st.success("No row was quarantined: every row read met the data contract.")
else:
    ui.chart(chart_spec(db, "rejection_reasons"))
    rules = (
        reasons.group_by("rule")
        .agg(pl.col("rows").sum())
        .sort(["rows", "rule"], descending=[True, False])["rule"]
        .to_list()
    )
    rule = st.selectbox("Sample rows for rule", rules)
    st.dataframe(data.rejected_rows_sample(db, rule), hide_index=True)
    st.caption(
        "Up to 20 rows per rule: the file, the data row number (header not counted), every reason and the raw values."
    )

st.subheader("Rejected files")
rejected = data.rejected_files(db)
if rejected.is_empty():
    st.success("No file was rejected.")
else:
    st.dataframe(rejected, hide_index=True)
    st.caption(
        "A rejected file is not read at all (for example a missing required column); fix it and the next run reads it."
    )
