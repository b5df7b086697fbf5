"""Workflow detail: did this workflow get better, and how sure are we?"""

from datetime import timedelta

import polars as pl
import streamlit as st

from dashboards import charts, data, tables, text, ui
from dashboards.sections import exceptions_feedback, workflow_charts, workflow_value

# The widths of a metric tab's two columns (2 : 3, large gap) on a 1,440-pixel screen: each chart's
# picture is drawn for its column (`ui.chart`). A comment, not a docstring: Streamlit's magic would
# write a bare string onto the page.
COMPARISON_PX, TREND_PX = 480, 730

db = ui.page("Workflow detail", "Did this workflow get better, and how sure are we?", "workflow")
workflows = data.workflow_options(db)
if workflows.is_empty():
    st.info("The workflow registry is empty: add workflows to `workflows.csv` and run `make pipeline`.")
    st.stop()

workflow_id = ui.workflow_picker(workflows)
labels = {metric: data.metric_label(metric) for metric in data.METRICS}
card = data.scorecard(db).filter(pl.col("workflow_id") == workflow_id).row(0, named=True)
results = data.value_metrics(db, workflow_id)
by_metric = {row["metric"]: row for row in results.to_dicts()}
primary = card["primary_metric"]
primary_result = by_metric.get(primary)

st.header(text.md(card["name"]))
st.caption(
    f"{text.md(card['team'] or 'no team')} · {text.label(text.STAGE_LABELS, card['stage'])} · "
    f"owner: {text.md(card['business_owner'] or 'none')} · primary metric: {labels.get(primary, primary)}"
)
with st.container(border=True, key="decision"):
    # The decision first, in words, with the reasons that led to it (the mart's one rule).
    st.markdown(f"### {text.decision_line(card['decision'], card['decision_reasons'])}")
    st.caption(f"Decision: {text.DECISION_MEANINGS.get(card['decision'], 'see docs/methods.md')}.")
    st.markdown(
        "#### "
        + text.summary_sentence(
            labels.get(primary, primary),
            primary_result,
            card["adoption_rate"],
            card["assisted_share"],
            data.min_closed_items(),
            worsened_guardrails=[
                (labels[metric], by_metric[metric])
                for metric in text.GUARDRAIL_METRICS
                if metric != primary and metric in by_metric and by_metric[metric]["verdict"] == "worsened"
            ],
        )
    )
    if primary_result is not None:
        st.caption(
            f"Compared: before, {text.day(primary_result['baseline_start_on'])} – "
            f"{text.day(primary_result['deployed_on'] - timedelta(days=1))} ({primary_result['n_baseline']:,} items), "
            f"with after, {text.day(primary_result['post_start_on'])} – {text.day(primary_result['post_end_on'])} "
            f"({primary_result['n_post']:,} items)."
            + (f" Note: {text.md(primary_result['note'])}." if primary_result.get("note") else "")
        )

tiles = st.columns(4)
change_value, change_caption = text.change_tile(
    card["primary_verdict"] if primary_result is not None else None,
    card["primary_change_pct"],
    card["primary_ci_low_pct"],
    card["primary_ci_high_pct"],
)
tiles[0].metric(
    f"{labels.get(primary, primary)} change",
    change_value,
    help="Relative change of the primary metric, after deployment against before. Lower is better.",
    border=True,
)
tiles[0].caption(change_caption)
tiles[1].metric(
    "Target",
    text.whole_pct(card["target_change_pct"]),
    help="The registry's success target for the primary metric.",
    border=True,
)
tiles[1].caption(text.target_clause(card["target_change_pct"], card["target_met"]))
tiles[2].metric("Adoption rate", text.share(card["adoption_rate"]), border=True)
tiles[2].caption(
    f"{card['active_users']:,} of {card['eligible_users']:,} eligible users active after deployment"
    if card["active_users"] is not None and card["eligible_users"]
    else "no usage measured"
)
tiles[3].metric("Items AI-assisted", text.share(card["assisted_share"]), border=True)
tiles[3].caption(
    f"of {card['post_items']:,} items after deployment" if card["post_items"] else "no items after deployment"
)

periods = workflow_charts.periods(db, workflow_id, primary)  # the weekly trend's periods, too

if results.is_empty():
    st.info(
        "This workflow has no deployment date, so there is no before and after to compare. Its weekly metrics "
        "below are what the comparison workflows contribute to difference-in-differences."
    )
else:
    ui.chart(workflow_charts.metric_changes(db, workflow_id, primary))

st.subheader("Metric by metric")
ordered = [primary] + [metric for metric in data.METRICS if metric != primary]
st.caption(
    f"One tab per metric, the primary metric ({labels.get(primary, primary).lower()}) first. The tab is kept in the address."
)
# Only the open tab is drawn: tabs bound to the address (`?metric=`) track which one is open.
metric_tabs = st.tabs([labels[m] for m in ordered], key="metric", bind="query-params", default=labels[primary])
for tab, metric in zip(metric_tabs, ordered):
    if not tab.open:
        continue
    with tab:
        result = by_metric.get(metric)
        comparison, trend = st.columns([2, 3], gap="large")
        with comparison:
            if result is None:
                st.caption("No before/after for a workflow that is not deployed.")
            else:
                ui.chart(workflow_charts.period_comparison(db, workflow_id, metric), width=COMPARISON_PX)
                st.markdown(
                    f"**{text.label(text.VERDICT_LABELS, result['verdict'])}**: "
                    f"{text.change_with_ci(result['change_pct'], result['ci_low_pct'], result['ci_high_pct'])}"
                    + text.chance_clause(result["verdict"], result["p_adjusted"])
                )
                st.caption(data.metric_definitions()[metric].formula)
        with trend:
            ui.chart(workflow_charts.weekly_trend(db, workflow_id, metric, primary), width=TREND_PX)
        if metric == "cycle_time_hours" and result is not None:
            distribution = st.expander(
                "Cycle time distribution, before vs after", key="show_distribution", on_change="rerun"
            )
            if distribution.open:
                with distribution:
                    ui.chart(
                        charts.cycle_time_distribution(
                            data.cycle_time_distribution(db, workflow_id),
                            result["baseline_value"],
                            result["post_value"],
                        )
                    )

        st.markdown("##### How sure are we? Three views of the same effect")
        metric_views = data.effect_views(db, workflow_id).filter(pl.col("metric") == metric)
        if metric_views.is_empty():
            st.caption("No estimates for this metric.")
        else:
            for column, row in zip(st.columns(len(metric_views)), metric_views.to_dicts()):
                with column.container(border=True):
                    st.markdown(f"**{text.label(text.VIEW_LABELS, row['view'])}**")
                    st.markdown(f"### {text.whole_pct(row['estimate_pct'])}")
                    st.caption(
                        f"95% CI {text.whole_pct(row['ci_low_pct'])} to {text.whole_pct(row['ci_high_pct'])} · "
                        f"{text.md(row['label'])} · n = {row['n_treated'] or 0:,} treated, {row['n_comparison'] or 0:,} comparison"
                    )
            ui.chart(workflow_charts.effect_views(db, workflow_id, metric))

        st.markdown("##### Method checks")
        metric_checks = data.method_checks(db, workflow_id).filter(pl.col("metric") == metric)
        if metric_checks.is_empty():
            st.caption("No checks for this metric.")
        for row in metric_checks.to_dicts():
            colour, icon = {"ok": ("green", "check"), "warn": ("orange", "warning")}.get(
                row["status"], ("gray", "remove")
            )
            st.markdown(
                f":{colour}-badge[:material/{icon}: {text.label(text.CHECK_LABELS, row['check_name'])}: "
                f"{text.label(text.CHECK_STATUS_LABELS, row['status'])}] {text.md(row['detail'])}"
            )

        analyst = st.expander("Numbers for analysts", key="show_analyst", on_change="rerun", icon=":material/table:")
        if analyst.open:
            with analyst:
                if result is not None:
                    st.dataframe(tables.analyst_table(result), hide_index=True)
                st.dataframe(
                    tables.views_table(data.effect_views(db, workflow_id).filter(pl.col("metric") == metric)),
                    hide_index=True,
                )

# Lazy sections: drawn only when opened; open or closed is kept in the address (`?value=`, `?exceptions=`).
worth = st.expander("What it is worth", key="value", bind="query-params", icon=":material/payments:")
if worth.open:
    with worth:
        workflow_value.render(db, workflow_id)

exceptions = st.expander("Exceptions and feedback", key="exceptions", bind="query-params", icon=":material/feedback:")
if exceptions.open:
    with exceptions:
        exceptions_feedback.render(workflow_id)

adoption = st.expander("Adoption over time", key="show_adoption", on_change="rerun", icon=":material/group:")
if adoption.open:
    with adoption:
        if results.is_empty():
            st.caption("Not deployed: there is no AI use to show yet.")
        else:
            ui.chart(charts.adoption_over_time(data.weekly_adoption(db, workflow_id), periods))
