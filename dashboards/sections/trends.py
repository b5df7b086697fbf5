"""Portfolio section "Trends by month": adoption, decisions and net value month by month, over a
range of months chosen with a slider kept in the address (`?months=Mar+2026&months=Oct+2026`).

Embed with `trends.render(db, filters, threshold)` inside a lazy expander: it runs its queries
and draws its three charts only when called. Adoption and decisions follow the team and stage
filters; net value is the portfolio's (`marts.portfolio_monthly_value` has no per-team split).
"""

from __future__ import annotations

from datetime import date

import polars as pl
import streamlit as st

from dashboards import charts, data, text, ui
from dashboards.sections import value_charts, value_data

RANGE_KEY = "months"


def _read(db: data.Warehouse, name: str, params: dict) -> pl.DataFrame:
    with data.connection(db).cursor() as cur:
        cur.execute("use warehouse")
        return cur.sql((value_data.SQL_DIR / f"{name}.sql").read_text(), params=params).pl()


@st.cache_data(ttl=data.TTL_SECONDS, show_spinner=False)
def adoption(db: data.Warehouse, teams: tuple[str, ...], stages: tuple[str, ...], threshold: float):
    """Portfolio adoption per month (`marts.monthly_adoption`) for the workflows in the filters."""
    params = {"teams": list(teams), "stages": list(stages), "threshold": threshold}
    return _read(db, "trend_adoption", params)


@st.cache_data(ttl=data.TTL_SECONDS, show_spinner=False)
def decisions(db: data.Warehouse, teams: tuple[str, ...], stages: tuple[str, ...]):
    """Workflows per decision per month (`marts.scorecard_history`) for the workflows in the filters."""
    return _read(db, "trend_decisions", {"teams": list(teams), "stages": list(stages)})


def month_key(month: date) -> str:
    """How a month is written in the address: `2026-03`."""
    return f"{month:%Y-%m}"


def month_label(key: str) -> str:
    """`2026-03` -> "Mar 2026"."""
    return date.fromisoformat(f"{key}-01").strftime("%b %Y")


def in_range(frame: pl.DataFrame, first: str, last: str) -> pl.DataFrame:
    """The rows of `frame` whose `month_on` lies in the chosen months, both ends included."""
    month = pl.col("month_on").dt.strftime("%Y-%m")
    return frame.filter((month >= first) & (month <= last))


def render(db: data.Warehouse, filters: ui.Filters, threshold: float) -> None:
    """The range slider and the three monthly charts."""
    adoption_months = adoption(db, filters.teams, filters.stages, threshold)
    decision_months = decisions(db, filters.teams, filters.stages)
    value_months = value_data.portfolio_monthly(db)
    frames = [adoption_months, decision_months, value_months]
    months = sorted({month_key(m) for frame in frames for m in frame["month_on"].to_list()})
    if not months:
        st.info("No month to show yet: no deployed workflow has a month after go-live.", icon=":material/info:")
        return
    if len(months) == 1:
        first = last = months[0]
        st.caption(f"One month so far: {month_label(first)}.")
    else:
        first, last = st.select_slider(
            "Months",
            options=months,
            value=(months[0], months[-1]),
            key=RANGE_KEY,
            bind="query-params",
            format_func=month_label,
            help="The range of months the three charts show; kept in the address, so a shared link shows the same.",
        )
    st.caption(
        f"{month_label(first)} to {month_label(last)}. Adoption and decisions follow the team and stage filters; "
        "net value covers every workflow."
    )

    ui.chart(charts.adoption_trend(in_range(adoption_months, first, last), threshold))
    ui.chart(charts.decision_trend(in_range(decision_months, first, last)))
    # The currency "What it is worth" shows: the one picked there, else its first (most value workflows).
    summary = value_data.portfolio(db)
    currencies = summary["currency"].to_list()
    currency = st.session_state.get("value_currency") or (currencies[0] if currencies else None)
    if currency is None:
        return
    ui.chart(value_charts.portfolio_monthly(in_range(value_months, first, last), currency))
    if len(currencies) > 1:
        st.caption(
            f"In {text.md(currency)}, the currency chosen under \u201cWhat it is worth\u201d; amounts in different "
            "currencies are never added together."
        )
