"""Plotly figure builders: data in, figure out (the charts opened on demand: trends, tab expanders,
the value and governance sections). The charts a page draws on arrival are Vega-Lite, in
`dashboards/vega_charts.py`, which shares this module's colours, shapes and font.

Every figure uses the `opvalue` template (white background, light grid, one font), carries a
title, axis titles with units, and a short "how to read it" caption in `fig.layout.meta`
(`caption(fig)` returns it; the pages print it under the chart). Verdicts have one colour
everywhere; time series mark the deployment date and shade the baseline and post periods.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import polars as pl

from dashboards import text

VERDICT_COLORS = {
    "improved": "#1b9e77",
    "worsened": "#d95f02",
    "no_clear_change": "#8c8c8c",
    "negligible": "#7570b3",
    "insufficient_data": "#c8c8c8",
    "insufficient_baseline": "#a6a6a6",
}
"""Teal, orange and two greys: "no clear change" is a grey, not a slate blue, so it stays apart
from "improved" under deuteranopia; every verdict also has its own marker shape."""
VERDICT_SYMBOLS = {
    "improved": "circle",
    "worsened": "x",
    "no_clear_change": "square",
    "negligible": "diamond",
    "insufficient_data": "circle-open",
    "insufficient_baseline": "triangle-up-open",
}
DECISION_COLORS = {
    "scale": "#009e73",
    "close_gaps": "#0072b2",
    "drive_adoption": "#56b4e9",
    "fix_guardrail": "#d55e00",
    "redesign": "#e69f00",
    "reconsider": "#8c8c8c",
    "contested": "#cc79a7",
    "unknown_adoption": "#6c7a89",
    "wait_for_data": "#b8b8b8",
    "not_deployed": "#d0d0d0",
}
"""The Okabe-Ito palette (built to stay apart under the common colour blindnesses): value
decisions in greens and blues, what to fix in orange and vermilion, the rest in greys."""
DECISION_SYMBOLS = {
    "scale": "circle",
    "close_gaps": "diamond",
    "drive_adoption": "triangle-up",
    "fix_guardrail": "x",
    "redesign": "square",
    "reconsider": "triangle-down",
    "contested": "star",
    "unknown_adoption": "hourglass",
    "wait_for_data": "circle-open",
    "not_deployed": "cross-thin-open",
}
"""A shape per decision as well as a colour, so the bubble chart survives colour blindness and greyscale print."""
MARKER_SYMBOLS = DECISION_SYMBOLS
STATUS_COLORS = {"ok": "#1b9e77", "warn": "#d95f02", "not_applicable": "#b8b8b8"}
BASELINE_COLOR = "#7f7f7f"
POST_COLOR = "#2b6cb0"
BASELINE_FILL = "rgba(127,127,127,0.10)"
POST_FILL = "rgba(43,108,176,0.08)"
STAGE_COLORS = {"investigation": "#9ecae1", "pilot": "#4292c6", "production": "#08519c", "retired": "#b8b8b8"}
SOURCE_OUTCOME_COLORS = {
    "rows_staged": "#1b9e77",
    "rows_quarantined": "#d95f02",
    "rows_deduplicated": "#9e9ac8",
    "rows_superseded": "#6c7a89",
}
FONT = '"Source Sans", "Source Sans Pro", -apple-system, "Segoe UI", Helvetica, Arial, sans-serif'
"""Streamlit's page font is served as "Source Sans" (the charts asked for "Source Sans Pro" and fell back to Arial)."""

pio.templates["opvalue"] = go.layout.Template(
    layout=go.Layout(
        font=dict(family=FONT, size=13, color="#262730"),
        title=dict(font=dict(size=17), x=0, xanchor="left", y=0.97),
        paper_bgcolor="white",
        plot_bgcolor="white",
        colorway=["#2b6cb0", "#1b9e77", "#d95f02", "#7570b3", "#6c7a89", "#e7298a"],
        xaxis=dict(
            automargin=True,
            gridcolor="#ececec",
            linecolor="#c8c8c8",
            zerolinecolor="#c8c8c8",
            ticks="outside",
            tickcolor="#c8c8c8",
        ),
        yaxis=dict(
            automargin=True,
            gridcolor="#ececec",
            linecolor="#c8c8c8",
            zerolinecolor="#c8c8c8",
            ticks="outside",
            tickcolor="#c8c8c8",
        ),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="left", x=0, bgcolor="rgba(0,0,0,0)"),
        hoverlabel=dict(bgcolor="white", font=dict(family=FONT, size=12)),
        margin=dict(l=10, r=10, t=64, b=10),
    )
)


def wrap(words: str, width: int = 34) -> str:
    """Break a long label into `<br>`-separated lines of about `width` characters (already escaped text)."""
    lines: list[str] = []
    for word in words.split(" "):
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "<br>".join(lines)


def _finish(fig: go.Figure, title: str, how_to_read: str, height: int = 420) -> go.Figure:
    # Long axis titles wrap, so a phone-wide chart does not cut them.
    for axis in (fig.layout.xaxis, fig.layout.yaxis):
        if axis.title.text and "<br>" not in axis.title.text and len(axis.title.text) > 34:
            axis.title.text = wrap(axis.title.text)
    fig.update_layout(template="opvalue", title=dict(text=title), height=height, meta={"caption": how_to_read})
    return fig


def caption(fig: go.Figure) -> str:
    """The figure's "how to read it" sentence, printed under the chart."""
    meta = fig.layout.meta or {}
    return meta.get("caption", "") if isinstance(meta, Mapping) else ""


def empty(title: str, message: str) -> go.Figure:
    """A blank figure that says why there is nothing to draw (pages show its message instead of it)."""
    fig = go.Figure()
    fig.add_annotation(text=message, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False, font=dict(size=14))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig = _finish(fig, title, message, height=240)
    fig.layout.meta = {"caption": message, "empty": True}
    return fig


def is_empty(fig: go.Figure) -> bool:
    """Whether `fig` is a placeholder from `empty()`."""
    meta = fig.layout.meta or {}
    return isinstance(meta, Mapping) and bool(meta.get("empty"))


@dataclass(frozen=True)
class Periods:
    """The compared windows of one workflow, for shading time series."""

    baseline_start_on: date
    deployed_on: date
    post_start_on: date
    post_end_on: date


def _mark_periods(fig: go.Figure, periods: Periods | None, *, row: int | None = None) -> None:
    """Shade the baseline and post windows and draw the deployment date as a labelled line."""
    if periods is None:
        return
    post_end = periods.post_end_on + timedelta(days=1)
    fig.add_vrect(
        x0=periods.baseline_start_on, x1=periods.deployed_on, fillcolor=BASELINE_FILL, line_width=0, layer="below"
    )
    fig.add_vrect(x0=periods.post_start_on, x1=post_end, fillcolor=POST_FILL, line_width=0, layer="below")
    # add_shape + add_annotation rather than add_vline(annotation_text=...): the latter fails on date axes.
    fig.add_shape(
        type="line",
        x0=periods.deployed_on,
        x1=periods.deployed_on,
        y0=0,
        y1=1,
        yref="paper",
        line=dict(color="#262730", width=1.5, dash="dash"),
    )
    fig.add_annotation(
        x=periods.deployed_on,
        y=1,
        yref="paper",
        text=f"deployed {text.day(periods.deployed_on)}",
        showarrow=False,
        xanchor="left",
        yanchor="top",
        font=dict(size=12),
        xshift=4,
        bgcolor="rgba(255,255,255,0.85)",
    )
    for x0, x1, name in (
        (periods.baseline_start_on, periods.deployed_on, "baseline"),
        (periods.post_start_on, post_end, "after deployment"),
    ):
        fig.add_annotation(
            x=x0 + (x1 - x0) / 2,
            y=0,
            yref="paper",
            text=name,
            showarrow=False,
            yanchor="bottom",
            font=dict(size=11, color="#6b6b6b"),
        )


LABEL_POSITIONS = ("middle right", "middle left", "top center", "bottom center", "top right", "bottom right")


def _label_positions(points: list[tuple[float, float, float, str]], width: float = 1000.0) -> list[str]:
    """A text position per bubble so that names overlap each other and other bubbles as little as possible.

    `points` are (x_px, y_px, radius_px, label) in screen pixels (y downwards). Greedy: bubbles
    are placed in turn, each taking the position whose label box overlaps least with the
    bubbles and the labels already placed, and stays inside the plot; ties keep the order of
    LABEL_POSITIONS (to the right first). The overlaps of one candidate box with every box are
    computed at once (numpy): with 200 bubbles a loop over pairs took about 300 ms of every
    Portfolio run, this takes about 20.
    """
    if not points:
        return []
    x, y, r = (np.array([p[i] for p in points], dtype=float) for i in range(3))
    w = np.array([6.3 * len(p[3]) + 4 for p in points])
    h = 15.0
    # Candidate label boxes, one row per LABEL_POSITIONS entry: left, top, right, bottom.
    lefts, tops = [], []
    for position in LABEL_POSITIONS:
        vertical, horizontal = position.split()
        if vertical == "middle":
            tops.append(y - h / 2)
            lefts.append(x + r + 3 if horizontal == "right" else x - r - 3 - w)
        else:
            tops.append(y - r - 2 - h if vertical == "top" else y + r + 2)
            lefts.append(x - w / 2 if horizontal == "center" else x)
    left, top = np.array(lefts), np.array(tops)
    right, bottom = left + w, top + h
    bubbles = (x - r, y - r, x + r, y + r)
    placed = np.empty((4, len(points)))

    def overlap(box: tuple[float, float, float, float], others) -> np.ndarray:
        dx = np.minimum(box[2], others[2]) - np.maximum(box[0], others[0])
        dy = np.minimum(box[3], others[3]) - np.maximum(box[1], others[1])
        return np.where((dx > 0) & (dy > 0), dx * dy, 0.0)

    chosen = []
    for index in range(len(points)):
        best, best_cost = 0, float("inf")
        for k in range(len(LABEL_POSITIONS)):
            candidate = (left[k, index], top[k, index], right[k, index], bottom[k, index])
            with_bubbles = overlap(candidate, bubbles)
            with_bubbles[index] = 0.0  # not its own bubble
            cost = float(with_bubbles.sum())
            cost += 2 * float(overlap(candidate, placed[:, :index]).sum())
            cost += 1000 * (max(0.0, -candidate[0]) + max(0.0, candidate[2] - width))
            if cost < best_cost - 1e-9:
                best, best_cost = k, cost
        chosen.append(LABEL_POSITIONS[best])
        placed[:, index] = (left[best, index], top[best, index], right[best, index], bottom[best, index])
    return chosen


# -- portfolio ---------------------------------------------------------------------------


DECISION_PATTERNS = {
    "scale": "",
    "close_gaps": "/",
    "drive_adoption": "|",
    "fix_guardrail": "x",
    "redesign": "\\",
    "reconsider": "-",
    "contested": "+",
    "unknown_adoption": ".",
    "wait_for_data": ".",
    "not_deployed": "",
}
"""A fill pattern per decision for bars, the bars' counterpart of `DECISION_SYMBOLS` (Plotly has eight patterns:
the two light greys, waiting for data and not deployed, share theirs with a darker decision or with none)."""
ADOPTION_TREND_COLOR = "#7570b3"
"""The scorecard's adoption colour."""


def adoption_trend(months: pl.DataFrame, threshold: float) -> go.Figure:
    """Portfolio adoption per month: active ÷ eligible users over the deployed workflows live that month."""
    title = "Adoption by month"
    rows = months.filter(pl.col("adoption_rate").is_not_null()).sort("month_on")
    if rows.is_empty():
        return empty(title, "No month with usage after go-live in this range.")
    fig = go.Figure(
        go.Scatter(
            x=rows["month_on"].to_list(),
            y=[round(v * 100) for v in rows["adoption_rate"]],
            mode="lines+markers",
            marker=dict(symbol="circle", size=8, color=ADOPTION_TREND_COLOR),
            line=dict(color=ADOPTION_TREND_COLOR, width=2.5),
            name="active ÷ eligible users",
            customdata=list(zip(rows["workflows_with_adoption"].to_list(), rows["workflows_adopted"].to_list())),
            hovertemplate="%{x|%b %Y}: %{y}% of eligible people active<br>%{customdata[0]} workflows live, "
            "%{customdata[1]} at or above the adoption threshold<extra></extra>",
        )
    )
    fig.add_hline(
        y=round(threshold * 100),
        line=dict(color="#8c8c8c", dash="dash", width=1),
        annotation_text=f"adopted: {threshold:.0%}",
        annotation_position="bottom right",
    )
    fig.update_xaxes(title_text="month", dtick="M1", tickformat="%b %Y")
    fig.update_yaxes(title_text="% of eligible users active that month", range=[0, 100], ticksuffix="%")
    return _finish(
        fig,
        title,
        "Share of eligible people active. Each point is a calendar month: people who used the tool that month ÷ "
        "people eligible, over the deployed "
        "workflows live that month (a workflow joins in its go-live month). Usage, not value. The current month is "
        "left out until it is complete.",
        height=360,
    )


def decision_trend(counts: pl.DataFrame) -> go.Figure:
    """Workflows per decision, month by month (stacked bars, colour and pattern per decision)."""
    title = "Decisions by month"
    if counts.is_empty():
        return empty(title, "No decision recorded in this range yet.")
    months = sorted(set(counts["month_on"].to_list()))
    present = set(counts["decision"].to_list())
    order = [d for d in text.DECISION_LABELS if d in present] + sorted(present - set(text.DECISION_LABELS), key=str)
    fig = go.Figure()
    for decision in order:
        rows = dict(counts.filter(pl.col("decision") == decision).select("month_on", "workflows").iter_rows())
        label = text.label(text.DECISION_LABELS, decision)
        fig.add_trace(
            go.Bar(
                x=months,
                y=[rows.get(m, 0) for m in months],
                name=label,
                marker=dict(
                    color=DECISION_COLORS.get(decision, "#8c8c8c"),
                    # Overlay: the decision's colour fills the bar, the pattern is drawn on top in white.
                    pattern=dict(
                        shape=DECISION_PATTERNS.get(decision, ""), fgcolor="white", size=6, fillmode="overlay"
                    ),
                    line=dict(color="white", width=1),
                ),
                text=[rows.get(m) or "" for m in months],
                textposition="inside",
                insidetextanchor="middle",
                textangle=0,
                hovertemplate=f"%{{x|%b %Y}}: %{{y}} workflows to {text.plain(label).lower()}<extra></extra>",
            )
        )
    fig.update_layout(
        barmode="stack",
        legend=dict(orientation="h", yanchor="top", y=-0.12, xanchor="left", x=0, title_text="Decision: "),
    )
    fig.update_xaxes(dtick="M1", tickformat="%b %Y")
    fig.update_yaxes(title_text="workflows", dtick=1 if max(counts["workflows"].to_list()) < 8 else None)
    return _finish(
        fig,
        title,
        "Workflows per decision. Each bar is a month: every workflow's decision as of that month's last recorded "
        "build, one colour and "
        "pattern per decision (legend below). A month appears once a build has recorded it "
        "(marts.scorecard_history), so the history starts with the first build kept.",
        height=400,
    )


# -- workflow detail ---------------------------------------------------------------------


def _complete_weeks(weekly: pl.DataFrame, periods: Periods | None) -> pl.DataFrame:
    """Weeks that end on or before the data cutoff: a last, partial week would look like a sudden drop."""
    if periods is None or weekly.is_empty():
        return weekly
    return weekly.filter(pl.col("week_start_on") + timedelta(days=6) <= periods.post_end_on)


def cycle_time_distribution(bins: pl.DataFrame, baseline_median: Any = None, post_median: Any = None) -> go.Figure:
    """Share of closed items per log-spaced cycle-time bin, baseline against post, as step outlines."""
    title = "Cycle time distribution: before vs after"
    if bins.is_empty():
        return empty(title, "No closed items in the baseline or post window.")
    first = bins.row(0, named=True)
    step = math.log(first["upper_hours"]) - math.log(first["lower_hours"])
    low_log = math.log(first["lower_hours"]) - first["bin"] * step
    n_bins = int(bins["bin"].max()) + 1
    edges = [math.exp(low_log + i * step) for i in range(n_bins + 1)]
    peak = float(bins["share"].max()) * 100
    fig = go.Figure()
    for period, name, colour, fill, median, other in (
        ("baseline", "Baseline", BASELINE_COLOR, BASELINE_FILL, baseline_median, post_median),
        ("post", "After deployment", POST_COLOR, "rgba(43,108,176,0.18)", post_median, baseline_median),
    ):
        part = bins.filter(pl.col("period") == period)
        if part.is_empty():
            continue
        shares = dict(zip(part["bin"].to_list(), part["share"].to_list()))
        ys = [shares.get(i, 0.0) * 100 for i in range(n_bins)]
        fig.add_trace(
            go.Scatter(
                x=edges,
                y=ys + [ys[-1]],
                mode="lines",
                line_shape="hv",
                name=f"{name} (n={int(part['items'].sum()):,})",
                line=dict(color=colour, width=2),
                fill="tozeroy",
                fillcolor=fill,
                hovertemplate="from %{x:.1f} h: %{y:.1f}% of items<extra>" + name + "</extra>",
            )
        )
        if not text.is_missing(median):
            # A two-point trace, not a shape: traces take hours directly on a log axis.
            fig.add_trace(
                go.Scatter(
                    x=[median, median],
                    y=[0, peak * 1.08],
                    mode="lines+text",
                    showlegend=False,
                    line=dict(color=colour, width=1.5, dash="dot"),
                    text=["", f"median {median:.1f} h"],
                    textposition="top right" if _is_larger(median, other) else "top left",
                    textfont=dict(size=11, color=colour),
                    hoverinfo="skip",
                )
            )
    ticks = [t for t in (0.1, 0.25, 0.5, 1, 2, 4, 8, 12, 24, 48, 72, 168, 336, 720, 2160) if edges[0] <= t <= edges[-1]]
    fig.update_xaxes(
        type="log", title="Cycle time, hours (log scale)", tickvals=ticks, ticktext=[f"{t:g} h" for t in ticks]
    )
    fig.update_yaxes(title="Share of closed items (%)", rangemode="tozero", ticksuffix="%")
    return _finish(
        fig,
        title,
        "How long closed items took, before (grey) and after (blue) deployment, as a share of each period's closed "
        "items. A shift to the left is faster work; a thinner right tail means fewer very slow items. Dotted lines "
        "are the period medians (Kaplan–Meier, which also counts items still open); open items are not in the bars.",
        height=340,
    )


def _is_larger(value: Any, other: Any) -> bool:
    """Whether `value` is at least `other` (True when `other` is missing): labels point away from each other."""
    return text.is_missing(other) or value >= other


def adoption_over_time(weekly: pl.DataFrame, periods: Periods | None) -> go.Figure:
    """Weekly active ÷ eligible users and weekly assisted share of items, with the deployment marked."""
    title = "Weekly use: active users and AI-assisted items"
    weekly = _complete_weeks(weekly, periods)
    if weekly.is_empty():
        return empty(title, "No usage or items recorded for this workflow.")
    weeks = weekly["week_start_on"].to_list()
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=weeks,
            y=weekly["active_rate"].to_list(),
            mode="lines+markers",
            name="weekly active ÷ eligible users",
            line=dict(color="#7570b3", width=2),
            marker=dict(size=5),
            customdata=list(zip(weekly["active_users"].to_list(), weekly["eligible_users"].to_list())),
            hovertemplate="week of %{x|%d %b %Y}: %{y:.0%} (%{customdata[0]} of %{customdata[1]} users)<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=weeks,
            y=weekly["assisted_share"].to_list(),
            mode="lines+markers",
            name="share of items AI-assisted",
            line=dict(color="#1b9e77", width=2, dash="solid"),
            marker=dict(size=5, symbol="diamond"),
            customdata=weekly["items"].to_list(),
            hovertemplate="week of %{x|%d %b %Y}: %{y:.0%} of %{customdata} items<extra></extra>",
        )
    )
    _mark_periods(fig, periods)
    fig.update_xaxes(title="week starting (ISO weeks, UTC)")
    fig.update_yaxes(title="share (%)", tickformat=".0%", range=[0, 1.05])
    return _finish(
        fig,
        title,
        "Purple: users with at least one AI action that week ÷ eligible users. Green: items opened that week that "
        "were worked with AI. This is use, not value. The headline adoption rate counts anyone active at any time "
        "after deployment, so it is higher than a typical week.",
        height=340,
    )


# -- data quality ------------------------------------------------------------------------

OUTCOME_LABELS = {
    "rows_staged": "staged",
    "rows_quarantined": "quarantined",
    "rows_deduplicated": "exact duplicates",
    "rows_superseded": "superseded by a later file",
}
