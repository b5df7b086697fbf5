"""Workflow section "What it is worth": savings per month by metric (money where the
registry gives a rate, else units), the monthly trend with go-live marked, and how the
decision changed across builds.

Embed with `workflow_value.render(db, workflow_id)`. Input values (names, currency, notes)
are shown as text only, never as markdown.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboards import data, ui
from dashboards.sections import value_charts, value_data
from dashboards.sections.portfolio_value import DECISION_LABELS
from dashboards.sections.value_charts import amount, money


def _saving_text(row: dict) -> tuple[str, str]:
    """The saving per month and its interval, in money when the row has money, else in units."""
    if row["money_saved_per_month"] is not None:
        currency = row["currency"]
        return money(
            row["money_saved_per_month"], currency
        ), f"{money(row['money_saved_low'], currency)} to {money(row['money_saved_high'], currency)}"
    unit = row["unit_saved"]
    return (
        f"{amount(row['units_saved_per_month'])} {unit}",
        f"{amount(row['units_saved_low'])} to {amount(row['units_saved_high'])}",
    )


def _tiles(card: dict) -> None:
    currency = card["currency"]
    with st.container(horizontal=True, gap="medium"):
        st.metric("Decision", DECISION_LABELS.get(card["decision"], str(card["decision"])), border=True)
        st.metric(
            f"Net value per month ({currency})",
            money(card["net_value_per_month"], currency) if card["net_value_per_month"] is not None else "no tool cost",
            help="Money saved less the tool's monthly cost (eligible users x cost per user). Blank when the registry gives no tool cost.",
            border=True,
        )
        st.metric(f"Money saved per month ({currency})", money(card["money_saved_per_month"], currency), border=True)
        st.metric(f"Tool cost per month ({currency})", money(card["tool_cost_per_month"], currency), border=True)
        st.metric("Items per month", amount(card["items_per_month"], 0), border=True)
    if card["net_value_low"] is not None:
        st.caption(
            f"Net value 95% interval: {money(card['net_value_low'], currency)} to {money(card['net_value_high'], currency)} per month."
        )
    if card["metrics_not_in_money"]:
        not_in_money = ", ".join(
            data.metric_label(code.strip()).lower() for code in card["metrics_not_in_money"].split(",")
        )
        st.text("Not in the money total (no rate in the registry, or too little data): " + not_in_money + ".")
    if card["value_at_stake_basis"]:
        at_stake = card["value_at_stake_per_month"]
        lead = (
            f"Value at stake: {money(at_stake, currency)} per month — " if at_stake is not None else "Value at stake — "
        )
        st.text(lead + card["value_at_stake_basis"] + ".")


def render(db: data.Warehouse, workflow_id: str) -> None:
    """Draw the section for one workflow."""
    st.subheader("What it is worth")
    workflows = value_data.workflows(db)
    matches = workflows.filter(pl.col("workflow_id") == workflow_id)
    if matches.is_empty():
        st.info("This workflow is not in the value marts.", icon=":material/info:")
        return
    card = matches.row(0, named=True)
    if card["deployed_on"] is None:
        st.info("Not deployed: a comparison workflow has no saving of its own.", icon=":material/info:")
        _history(db, workflow_id)
        return
    _tiles(card)

    savings = value_data.savings(db, workflow_id)
    if not savings.is_empty():
        rows = []
        for row in savings.to_dicts():
            saved, interval = _saving_text(row)
            rows.append(
                {
                    "Metric": data.metric_label(row["metric"]),
                    "Saved per month": saved,
                    "95% interval": interval,
                    "Per item: before → after": f"{amount(row['baseline_per_item'], 3)} → {amount(row['post_per_item'], 3)}",
                    "Items per month": amount(row["items_per_month"], 0),
                    "Note": row["note"] or "",
                }
            )
        st.dataframe(pl.DataFrame(rows), hide_index=True, width="stretch", height=ui.table_height(len(rows)))
        st.caption(
            "Saved per month = (before − after per item) × items per month after go-live; the interval comes from "
            "the change's interval. Money where the registry gives a rate; otherwise units."
        )

    months = value_data.monthly(db, workflow_id)
    if not months.is_empty() and not savings.is_empty():
        metrics = savings["metric"].to_list()
        primary = card["primary_metric"] if card["primary_metric"] in metrics else metrics[0]
        metric = st.selectbox(
            "Trend of",
            metrics,
            index=metrics.index(primary),
            format_func=data.metric_label,
            key=f"value_trend_{workflow_id}",
        )
        chosen = savings.filter(pl.col("metric") == metric).row(0, named=True)
        use_money = chosen["money_saved_per_month"] is not None
        ui.chart(
            value_charts.monthly_trend(
                months.filter(pl.col("metric") == metric),
                data.metric_label(metric),
                card["deployed_on"],
                use_money,
                chosen["unit_saved"],
                card["currency"],
            )
        )
    _history(db, workflow_id)


def _history(db: data.Warehouse, workflow_id: str) -> None:
    history = value_data.history(db, workflow_id)
    st.markdown("**How the decision changed across builds**")
    shown = history.select(
        pl.col("data_cutoff_at").alias("Data up to"),
        pl.col("decision").replace_strict(DECISION_LABELS, default=pl.col("decision")).alias("Decision"),
        pl.col("primary_change_pct").round(1).alias("Primary change %"),
        pl.col("primary_ci_low_pct").round(1).alias("CI low %"),
        pl.col("primary_ci_high_pct").round(1).alias("CI high %"),
        (pl.col("adoption_rate") * 100).round(0).alias("Adoption %"),
        pl.col("net_value_per_month").cast(pl.Float64).alias("Net value / month"),
        pl.col("currency").alias("Currency"),
    )
    st.dataframe(shown, hide_index=True, width="stretch", height=ui.table_height(shown.height))
    st.caption("One row per build with newer data; a rebuild of the same data replaces its own row.")
