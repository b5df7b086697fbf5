"""Portfolio section "What it is worth": net monthly value of the workflows with a value
decision, with its interval, beside what the others cost, and a row per workflow under "Value
per workflow", queried and drawn only when opened (the month-by-month chart is in
`dashboards/sections/trends.py`).

Embed with `portfolio_value.render(db)` (db: `dashboards.data.Warehouse`). Names and other
input values are shown as text only (tables and plain strings), never as markdown.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboards import data, text, ui
from dashboards.sections import value_data
from dashboards.sections.value_charts import money

DECISION_LABELS = text.DECISION_LABELS
"""The one label map (`dashboards.text`), kept under this name for the sections that import it."""


def _tiles(row: dict) -> None:
    currency = row["currency"]
    interval = f"95% interval {money(row['net_value_low'], currency)} to {money(row['net_value_high'], currency)}"
    # No workflow with a value decision has a price: an amount of 0 would read as "worth nothing".
    priced = bool(row["value_workflows"])
    unpriced_without_value = not row.get("workflows_without_value_priced")

    def shown(value) -> str:
        return money(value, currency) if priced else "—"

    with st.container(horizontal=True, gap="medium"):
        st.metric(
            f"Net value per month ({currency})",
            shown(row["net_value_per_month"]),
            help=(
                f"Money saved less tool cost, per month, of the {row['value_workflows']} workflow(s) whose decision is "
                "scale, close gaps or drive adoption and that have a tool cost; " + interval + ". Contested workflows "
                "and those waiting for data are never added up."
            ),
            border=True,
        )
        st.metric(f"Money saved per month ({currency})", shown(row["money_saved_per_month"]), border=True)
        st.metric(f"Tool cost of those workflows ({currency})", shown(row["tool_cost_per_month"]), border=True)
        st.metric(
            f"Cost without value per month ({currency})",
            "—" if unpriced_without_value else money(row["cost_without_value_per_month"], currency),
            help=f"Tool cost of the {row['workflows_without_value']} workflow(s) to redesign or reconsider: used or not, no measured improvement.",
            border=True,
        )
        st.metric(
            f"At stake if adoption reached the target ({currency})",
            money(row["at_stake_adoption_per_month"], currency),
            help="Estimate for the drive-adoption workflows: their saving scaled up to the adoption target, assuming savings grow with the share of users who use the tool.",
            border=True,
        )
    st.caption(
        interval
        if priced
        else "No workflow with a value decision has a tool cost and a priced saving yet, so there is no total in money."
    )
    notes = []
    if row["value_workflows_unpriced"]:
        notes.append(
            f"{row['value_workflows_unpriced']} workflow(s) with a value decision have no tool cost or no priced saving, so they are not in the total."
        )
    if row["workflows_not_judged"]:
        notes.append(
            f"{row['workflows_not_judged']} workflow(s) are not judged yet (contested, waiting for data, a guardrail, unknown adoption); their tool cost is {money(row['cost_not_judged_per_month'], currency)} per month."
        )
    for note in notes:
        st.caption(note)


def render(db: data.Warehouse) -> None:
    """Draw the section: headline tiles per currency, and the table per workflow in a closed expander."""
    st.subheader("What it is worth")
    portfolio = value_data.portfolio(db)
    if portfolio.is_empty():
        st.info("No deployed workflow yet, so nothing to value.", icon=":material/info:")
        return
    currencies = portfolio["currency"].to_list()
    currency = currencies[0]
    if len(currencies) > 1:
        currency = (
            st.segmented_control("Currency", currencies, default=currencies[0], key="value_currency") or currencies[0]
        )
        st.caption("Amounts in different currencies are never added together.")
    _tiles(portfolio.filter(pl.col("currency") == currency).row(0, named=True))

    # The month-by-month chart is under "Trends by month" (drawn only when opened), and so is the table per
    # workflow: a first visit drew 200 rows of it before the decisions' scorecard (open or closed is kept in the
    # address, `?value_table=true`).
    section = st.expander("Value per workflow", key="value_table", bind="query-params", icon=":material/table_rows:")
    if section.open:
        with section:
            _workflow_table(db, currency)


def _workflow_table(db: data.Warehouse, currency: str) -> None:
    """Money per deployed workflow in `currency`: saved, tool cost, net value with its interval, what is not in money."""
    workflows = value_data.workflows(db)
    shown = workflows.filter(pl.col("deployed_on").is_not_null() & (pl.col("currency") == currency)).select(
        pl.col("name").alias("Workflow"),
        pl.col("decision").replace_strict(DECISION_LABELS, default=pl.col("decision")).alias("Decision"),
        pl.col("money_saved_per_month").cast(pl.Float64).alias("Saved / month"),
        pl.col("tool_cost_per_month").cast(pl.Float64).alias("Tool cost / month"),
        pl.col("net_value_per_month").cast(pl.Float64).alias("Net value / month"),
        pl.col("net_value_low").cast(pl.Float64).alias("Net: low"),
        pl.col("net_value_high").cast(pl.Float64).alias("Net: high"),
        pl.col("metrics_not_in_money")
        .map_elements(
            lambda codes: ", ".join(data.metric_label(c.strip()) for c in codes.split(",")), return_dtype=pl.String
        )
        .alias("Not in money (no rate or too little data)"),
    )
    if shown.is_empty():
        st.info(f"No deployed workflow is valued in {currency}.", icon=":material/info:")
        return
    st.caption(
        f"Each deployed workflow valued in {currency}, per month: money saved, tool cost and net value with its 95% "
        "interval; the decision says whether it counts towards the total above."
    )
    money_format = {
        name: st.column_config.NumberColumn(format="%,.0f")
        for name in shown.columns
        if "/ month" in name or name.startswith("Net")
    }
    st.dataframe(
        shown, hide_index=True, width="stretch", height=ui.table_height(shown.height), column_config=money_format
    )
