"""Figures of the value sections: data in, figure out, in the dashboard's `opvalue` template."""

from __future__ import annotations

from datetime import date
from typing import Any

import plotly.graph_objects as go
import polars as pl

from dashboards import charts, text

NET_COLOR = "#1b9e77"
COST_COLOR = "#d95f02"
BAND_FILL = "rgba(27,158,119,0.15)"


def money(value: Any, currency: str | None, decimals: int = 0) -> str:
    """`EUR 1,234` (an amount with its currency code); "—" when missing."""
    if text.is_missing(value):
        return "—"
    return f"{currency or ''} {float(value):,.{decimals}f}".strip()


def amount(value: Any, decimals: int = 1) -> str:
    """A number of units, `1,234.5`; "—" when missing."""
    if text.is_missing(value):
        return "—"
    return f"{float(value):,.{decimals}f}"


def _finish(fig: go.Figure, title: str, how_to_read: str, height: int = 380) -> go.Figure:
    fig.update_layout(template="opvalue", title=dict(text=title), height=height, meta={"caption": how_to_read})
    return fig


def _band(fig: go.Figure, x: list, low: list, high: list, name: str) -> None:
    """A shaded interval between `low` and `high` (gaps where an end is missing)."""
    fig.add_trace(
        go.Scatter(x=x, y=high, mode="lines", line=dict(width=0), showlegend=False, hoverinfo="skip", connectgaps=False)
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=low,
            mode="lines",
            line=dict(width=0),
            fill="tonexty",
            fillcolor=BAND_FILL,
            name=name,
            hoverinfo="skip",
            connectgaps=False,
        )
    )


def portfolio_monthly(months: pl.DataFrame, currency: str) -> go.Figure:
    """Realised net value of the value workflows and the tool cost of every deployed workflow, per month."""
    title = f"Net value and tool cost per month ({currency})"
    rows = months.filter(pl.col("currency") == currency).sort("month_on")
    if rows.is_empty():
        return charts.empty(title, "No month after go-live yet.")
    x = rows["month_on"].to_list()
    fig = go.Figure()
    _band(
        fig,
        x,
        [None if v is None else float(v) for v in rows["net_value_low"]],
        [None if v is None else float(v) for v in rows["net_value_high"]],
        "net value: 95% interval",
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=[float(v) for v in rows["net_value"]],
            mode="lines+markers",
            name="realised net value (value workflows)",
            line=dict(color=NET_COLOR, width=2.5),
        )
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=[float(v) for v in rows["tool_cost_all"]],
            mode="lines+markers",
            name="tool cost (every deployed workflow)",
            line=dict(color=COST_COLOR, dash="dot"),
        )
    )
    fig.add_hline(y=0, line=dict(color="#c8c8c8", width=1))
    fig.update_xaxes(title_text="month (first and last months are partial)", dtick="M1", tickformat="%b %Y")
    fig.update_yaxes(title_text=f"{currency} per month")
    # Legend under the plot (at the figure's bottom edge, below the tick labels and the axis title, which push the
    # plot up): above it, its three lines ran into the title on a phone.
    fig.update_layout(
        legend=dict(orientation="h", yref="container", y=0, yanchor="bottom", xanchor="left", x=0),
        margin=dict(b=90),
    )
    return _finish(
        fig,
        title,
        "Green: what the workflows with a value decision saved that month, in money, less their tool cost that "
        "month; the band is its 95% interval. Orange: what the tool cost across every deployed workflow. Only "
        "priced metrics count; months are calendar months, the current one is incomplete.",
        height=440,
    )


def monthly_trend(
    months: pl.DataFrame, metric_label: str, deployed_on: date | None, use_money: bool, unit: str, currency: str | None
) -> go.Figure:
    """One metric's saving month by month since go-live, with its interval and the go-live date marked."""
    column = "money_saved" if use_money else "units_saved"
    axis = f"{currency} saved per month" if use_money else f"{unit} saved per month"
    title = f"{metric_label}: saving per month since go-live"
    rows = months.sort("month_on")
    if rows.is_empty() or rows[column].is_null().all():
        return charts.empty(title, "No month with an estimate yet.")
    x = rows["month_on"].to_list()

    def values(name: str) -> list:
        return [None if v is None else float(v) for v in rows[name].to_list()]

    fig = go.Figure()
    _band(fig, x, values(f"{column}_low"), values(f"{column}_high"), "95% interval")
    fig.add_trace(
        go.Scatter(
            x=x, y=values(column), mode="lines+markers", name="saving that month", line=dict(color=NET_COLOR, width=2.5)
        )
    )
    fig.add_hline(y=0, line=dict(color="#c8c8c8", width=1))
    if deployed_on is not None:
        fig.add_shape(
            type="line",
            x0=deployed_on,
            x1=deployed_on,
            y0=0,
            y1=1,
            yref="paper",
            line=dict(color="#262730", width=1.5, dash="dash"),
        )
        fig.add_annotation(
            x=deployed_on,
            y=1,
            yref="paper",
            text=f"go-live {text.day(deployed_on)}",
            showarrow=False,
            xanchor="left",
            yanchor="top",
            xshift=4,
            font=dict(size=12),
            bgcolor="rgba(255,255,255,0.85)",
        )
    fig.update_xaxes(title_text="month of opening", tickformat="%b %Y")
    fig.update_yaxes(title_text=axis)
    return _finish(
        fig,
        title,
        "Each point: that month's items times how much less of this metric they needed than before go-live "
        "(above 0 is a saving). The band is the 95% interval; months with few closed items have wide bands, and "
        "the latest month's closed items are the quick ones, so it is flattered.",
    )
