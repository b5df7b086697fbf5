"""Portfolio: which workflows create value, and which are only used? The decision comes first."""

import polars as pl
import streamlit as st

from dashboards import data, tables, text, ui, vega_charts
from dashboards.sections import portfolio_value, trends


@st.cache_data(ttl=data.TTL_SECONDS, show_spinner=False)
def adoption_value_spec(
    db: data.Warehouse, teams: tuple[str, ...], stages: tuple[str, ...], threshold: float, labels: dict[str, str]
):
    """The adoption × value chart for one warehouse version and filter, built once: placing 200 names
    and validating the spec took about 0.3 s of every run of this page (`vega_charts.spec`)."""
    return vega_charts.spec(vega_charts.adoption_value_matrix(data.scorecard(db, teams, stages), threshold, labels))


db = ui.page("Portfolio", "Which workflows create value, and which are only used?", "portfolio")
filters = ui.filters(db)
scorecard = data.scorecard(db, filters.teams, filters.stages)
threshold = data.adoption_threshold()
labels = {metric: data.metric_label(metric) for metric in data.METRICS}

if scorecard.is_empty():
    st.info("No workflow matches the team and stage filters.")
    st.stop()

# The headline: what to do with each workflow, counted per decision (one rule, the mart's).
st.subheader("What to do next")
counts = dict(scorecard.group_by("decision").len().iter_rows())
with st.container(horizontal=True, gap="small", key="decision_counts"):
    for decision in list(text.DECISION_LABELS) + sorted(set(counts) - set(text.DECISION_LABELS), key=str):
        if counts.get(decision):
            st.metric(
                text.label(text.DECISION_LABELS, decision),
                counts[decision],
                help=text.DECISION_MEANINGS.get(decision),
                border=True,
                width="content",
            )
st.caption(
    "Each workflow has one decision, from its measured change, the checks on it, adoption and the ready-to-scale "
    "gate (docs/methods.md, \u201cOne decision per workflow\u201d). Hover a number for what it means; each workflow's "
    "reasons are in the scorecard below and at the top of its page."
)

# Value and adoption counted apart, so "adopted" is never read as "valuable".
deployed = scorecard.filter(pl.col("deployed_on").is_not_null())
showing_value = deployed.filter(pl.col("shows_value").fill_null(False)).height
adopted_only = scorecard.filter(pl.col("quadrant") == "adoption_without_value").height
unjudged = deployed.filter(pl.col("decision") == "wait_for_data").height
tiles = st.columns(4)
tiles[0].metric(
    "Workflows in production",
    scorecard.filter(pl.col("stage") == "production").height,
    help="Registered workflows whose stage is production.",
    border=True,
)
tiles[1].metric(
    "Share showing value",
    text.share(showing_value / deployed.height) if deployed.height else "—",
    help="Deployed workflows whose decision is a value decision (scale, close gaps or drive adoption), out of all "
    "deployed workflows. A contested or guardrail-flagged workflow never counts, whatever its before/after says.",
    border=True,
)
tiles[1].caption(f"{showing_value} of {deployed.height} deployed workflows have a value decision")
tiles[2].metric(
    "Adopted without value",
    adopted_only,
    help=f"Adoption rate at least {threshold:.0%}, but no value decision.",
    border=True,
)
tiles[2].caption("used by most eligible people, no value shown")
tiles[3].metric(
    "Not enough data",
    unjudged,
    help="Deployed workflows with too few closed items, or too little baseline, for a verdict.",
    border=True,
)
tiles[3].caption("deployed, but too little data to judge yet")

with st.container(key="portfolio_value"):
    portfolio_value.render(db)
    if filters.teams or filters.stages:
        st.caption("The value figures cover every workflow: the team and stage filters do not apply to them.")

# Lazy: queried and drawn only when opened; open or closed, and the months, are kept in the address.
trend_section = st.expander("Trends by month", key="trends", bind="query-params", icon=":material/trending_up:")
if trend_section.open:
    with trend_section:
        trends.render(db, filters, threshold)

with st.container(key="bubbles"):
    ui.chart(adoption_value_spec(db, filters.teams, filters.stages, threshold, labels))
off_chart = scorecard.filter(pl.col("adoption_rate").is_null() | pl.col("primary_change_pct").is_null())
if not off_chart.is_empty():
    st.caption(
        "Not on the chart (no change or no adoption rate to plot): "
        + ", ".join(
            f"{text.md(row['name'])} ({text.label(text.DECISION_LABELS, row['decision']).lower()})"
            for row in off_chart.to_dicts()
        )
        + "."
    )

funnel, attention = st.columns(2, gap="large")
with funnel:
    # Four numbers: counts, not a chart (a chart here cost a first visit more than it told).
    st.subheader("Workflows by stage")
    stage_counts = dict(scorecard.group_by("stage").len().iter_rows())
    with st.container(horizontal=True, gap="small", key="stage_counts"):
        for stage in text.STAGE_LABELS:
            st.metric(text.label(text.STAGE_LABELS, stage), stage_counts.get(stage, 0), border=True, width="content")
    st.caption(
        "Workflows registered at each stage today, investigation to retired. Many pilots and few in production is "
        "the pilot-to-production gap; Ready to scale says what each one is missing."
    )
with attention:
    st.subheader("Adopted without value")
    st.caption(
        "Most eligible people use these, yet there is no value decision: the place to ask whether the workflow "
        "around the tool needs redesign before scaling further."
    )
    adopted_rows = scorecard.filter(pl.col("quadrant") == "adoption_without_value").to_dicts()
    if not adopted_rows:
        st.markdown("None in this selection.")
    # One markdown element per part of the list (one per workflow was 74 elements on a 200-workflow
    # portfolio); the rest behind a lazy expander, as a long list cost every first visit its parsing.
    ui.long_list(
        [
            f"- **{text.md(row['name'])}** ({text.md(row['team'] or 'no team')}): {text.share(row['adoption_rate'])} adoption; "
            f"{labels.get(row['primary_metric'], row['primary_metric']).lower()} "
            f"{text.change_with_ci(row['primary_change_pct'], row['primary_ci_low_pct'], row['primary_ci_high_pct'])}, "
            f"{text.label(text.VERDICT_LABELS, row['primary_verdict']).lower()}; "
            f"decision: {text.label(text.DECISION_LABELS, row['decision']).lower()}"
            for row in adopted_rows
        ],
        key="adopted_more",
        rest_label="{n} more adopted without value",
    )
    # One rule: the mart's `guardrail_metrics` (a guardrail that worsened while the primary improved).
    flagged = scorecard.filter(pl.col("guardrail_metrics").is_not_null())
    if not flagged.is_empty():
        st.subheader("Improved, with a worsened guardrail")
        st.caption(
            "The primary metric improved while a guardrail (error, rework, override or correction rate) got worse: "
            "flag it, do not celebrate it yet."
        )
        for row in flagged.to_dicts():
            worse = [
                labels.get(code.strip()) or text.words(code.strip()) for code in row["guardrail_metrics"].split(",")
            ]
            st.markdown(
                f"- **{text.md(row['name'])}**: {labels.get(row['primary_metric'], row['primary_metric']).lower()} "
                f"{text.pct(row['primary_change_pct'])}, but {text.md(' and '.join(w.lower() for w in worse))} worsened; "
                f"decision: {text.label(text.DECISION_LABELS, row['decision']).lower()}"
            )

st.subheader("Scorecard")
with st.container(key="wide_only_scorecard"):
    st.dataframe(
        tables.scorecard_table(scorecard, labels),
        hide_index=True,
        height=ui.table_height(scorecard.height),
        column_config={
            "Workflow": st.column_config.TextColumn(pinned=True, width="medium"),
            "Decision": st.column_config.TextColumn(
                help="What to do next, from the evidence (sort by clicking the header). The reasons are in \u201cWhy\u201d."
            ),
            "Adoption %": st.column_config.ProgressColumn(
                format="%.0f%%",
                min_value=0,
                max_value=100,
                color="#7570b3",
                help="Active ÷ eligible users after deployment: use, not value.",
            ),
            "Change % (95% CI)": st.column_config.TextColumn(help="Lower is better for every metric."),
            "Why": st.column_config.TextColumn(width="large"),
            "Details": st.column_config.LinkColumn(display_text="open"),
        },
    )
with st.container(key="narrow_only_scorecard"):
    # On a phone a wide table shows three columns; the list shows what matters, whole names first.
    # Hidden on a desktop, whose browser still parses it: the rest of a long list waits in a lazy expander.
    ui.long_list(
        [
            f"**[{text.md(row['name'])}]({text.detail_link(row['workflow_id'])})**  \n"
            f"{text.md(text.label(text.DECISION_LABELS, row['decision']))} · "
            f"{text.whole_pct(row['primary_change_pct'])} {labels.get(row['primary_metric'], row['primary_metric']).lower()} · "
            f"{text.label(text.VERDICT_LABELS, row['primary_verdict'])} · adoption {text.share(row['adoption_rate'])}"
            for row in scorecard.to_dicts()
        ],
        key="all_workflows",
        rest_label="{n} more workflows",
        separator="\n\n",
    )
st.download_button(
    "Download the scorecard (CSV)",
    tables.csv_safe(scorecard).write_csv(),
    file_name="opvalue_scorecard.csv",
    mime="text/csv",
    icon=":material/download:",
)
st.caption(
    "Change is the primary metric's relative change after deployment with its 95% CI; lower is better for every "
    "metric. The CSV holds the unrounded numbers and every column of `marts.workflow_scorecard`."
)
