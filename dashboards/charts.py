"""Plotly figure builders: data in, figure out.

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
    LABEL_POSITIONS (to the right first).
    """

    def box(x: float, y: float, r: float, label: str, position: str) -> tuple[float, float, float, float]:
        w, h = 6.3 * len(label) + 4, 15.0
        vertical, horizontal = position.split()
        if vertical == "middle":
            top = y - h / 2
            left = x + r + 3 if horizontal == "right" else x - r - 3 - w
        else:
            top = y - r - 2 - h if vertical == "top" else y + r + 2
            left = x - w / 2 if horizontal == "center" else x
        return (left, top, left + w, top + h)

    def overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
        dx = min(a[2], b[2]) - max(a[0], b[0])
        dy = min(a[3], b[3]) - max(a[1], b[1])
        return dx * dy if dx > 0 and dy > 0 else 0.0

    bubbles = [(x - r, y - r, x + r, y + r) for x, y, r, _ in points]
    placed: list[tuple[float, float, float, float]] = []
    chosen = []
    for index, (x, y, r, label) in enumerate(points):
        best, best_cost = LABEL_POSITIONS[0], float("inf")
        for position in LABEL_POSITIONS:
            candidate = box(x, y, r, label, position)
            cost = sum(overlap(candidate, other) for i, other in enumerate(bubbles) if i != index)
            cost += 2 * sum(overlap(candidate, other) for other in placed)
            cost += 1000 * (max(0.0, -candidate[0]) + max(0.0, candidate[2] - width))
            if cost < best_cost - 1e-9:
                best, best_cost = position, cost
        chosen.append(best)
        placed.append(box(x, y, r, label, best))
    return chosen


# -- portfolio ---------------------------------------------------------------------------


def adoption_value_matrix(scorecard: pl.DataFrame, threshold: float, metric_labels: Mapping[str, str]) -> go.Figure:
    """Bubble per deployed workflow: x adoption rate, y primary-metric change %, size items measured,
    shape and colour the decision (`DECISION_SYMBOLS`, `DECISION_COLORS`).

    The y axis runs downwards (falls plotted up) because every metric is better when lower,
    so "up and right" is value with adoption. Quadrant lines at `threshold` and 0.
    """
    title = "Adoption × value"
    plotted = scorecard.filter(pl.col("adoption_rate").is_not_null() & pl.col("primary_change_pct").is_not_null())
    if plotted.is_empty():
        return empty(title, "No deployed workflow has both an adoption rate and a measured change yet.")
    rows = plotted.to_dicts()
    max_items = max((r["items_measured"] or 0) for r in rows) or 1
    lows = [r["primary_ci_low_pct"] for r in rows if r["primary_ci_low_pct"] is not None] + [
        r["primary_change_pct"] for r in rows
    ]
    highs = [r["primary_ci_high_pct"] for r in rows if r["primary_ci_high_pct"] is not None] + [
        r["primary_change_pct"] for r in rows
    ]
    bottom, top = max(max(highs), 10.0), min(min(lows), -10.0)
    pad = (bottom - top) * 0.08
    y_range = (bottom + pad, top - pad)  # reversed: falls plotted up
    x_range = (-0.04, 1.12)
    plot_width, plot_height = 1000.0, 430.0
    positions = dict(
        zip(
            [r["workflow_id"] for r in rows],
            _label_positions(
                [
                    (
                        (r["adoption_rate"] - x_range[0]) / (x_range[1] - x_range[0]) * plot_width,
                        (r["primary_change_pct"] - y_range[1]) / (y_range[0] - y_range[1]) * plot_height,
                        max(3.0, 16.0 * math.sqrt(max(r["items_measured"] or 0, 1) / max_items)),
                        r["name"] or "",
                    )
                    for r in rows
                ],
                plot_width,
            ),
        )
    )
    fig = go.Figure()
    decisions = list(DECISION_COLORS) + sorted({r.get("decision") or "unknown" for r in rows} - set(DECISION_COLORS))
    for decision in decisions:
        group = [r for r in rows if (r.get("decision") or "unknown") == decision]
        if not group:
            continue
        colour = DECISION_COLORS.get(decision, "#4a4a4a")
        change = [r["primary_change_pct"] for r in group]
        low = [
            r["primary_ci_low_pct"] if r["primary_ci_low_pct"] is not None else r["primary_change_pct"] for r in group
        ]
        high = [
            r["primary_ci_high_pct"] if r["primary_ci_high_pct"] is not None else r["primary_change_pct"] for r in group
        ]
        fig.add_trace(
            go.Scatter(
                x=[r["adoption_rate"] for r in group],
                y=change,
                mode="markers+text",
                name=text.label(text.DECISION_LABELS, decision),
                showlegend=True,
                text=[text.plain(r["name"]) for r in group],
                textposition=[positions[r["workflow_id"]] for r in group],
                textfont=dict(size=11, color="#4a4a4a"),
                cliponaxis=False,
                marker=dict(
                    size=[max(r["items_measured"] or 0, 1) for r in group],
                    sizemode="area",
                    sizeref=2.0 * max_items / (46.0**2),
                    sizemin=7,
                    symbol=DECISION_SYMBOLS.get(decision, "circle"),
                    color=colour,
                    opacity=0.85,
                    line=dict(
                        color=colour if DECISION_SYMBOLS.get(decision, "").endswith("open") else "white", width=1.5
                    ),
                ),
                error_y=dict(
                    type="data",
                    symmetric=False,
                    array=[h - c for h, c in zip(high, change)],
                    arrayminus=[c - lo for c, lo in zip(change, low)],
                    color=colour,
                    thickness=1.2,
                    width=0,
                ),
                customdata=[
                    [
                        text.plain(r["business_owner"] or "no owner"),
                        text.label(text.STAGE_LABELS, r["stage"]),
                        text.plain(metric_labels.get(r["primary_metric"], r["primary_metric"])),
                        text.change_with_ci(r["primary_change_pct"], r["primary_ci_low_pct"], r["primary_ci_high_pct"]),
                        text.share(r["adoption_rate"]),
                        f"{r['items_measured'] or 0:,}",
                        text.label(text.VERDICT_LABELS, r["primary_verdict"]),
                        text.label(text.DECISION_LABELS, decision),
                    ]
                    for r in group
                ],
                hovertemplate=(
                    "<b>%{text}</b><br>owner: %{customdata[0]} · stage: %{customdata[1]}"
                    "<br>decision: %{customdata[7]}"
                    "<br>%{customdata[2]}: %{customdata[3]} (95% CI)<br>verdict: %{customdata[6]}"
                    "<br>adoption: %{customdata[4]} · items measured: %{customdata[5]}<extra></extra>"
                ),
            )
        )
    fig.add_vline(x=threshold, line=dict(color="#8a8a8a", width=1, dash="dash"))
    fig.add_hline(y=0, line=dict(color="#8a8a8a", width=1, dash="dash"))
    for x, y, xanchor, yanchor, words in (
        # Two lines each, so the labels of neighbouring quadrants do not meet on a phone.
        (1, 1, "right", "top", "Value with<br>adoption"),
        (1, 0, "right", "bottom", "Adoption<br>without value"),
        (0, 1, "left", "top", "Value without<br>adoption"),
        (0, 0, "left", "bottom", "No value,<br>no adoption"),
    ):
        fig.add_annotation(
            x=x,
            y=y,
            xref="x domain",
            yref="y domain",
            xanchor=xanchor,
            yanchor=yanchor,
            showarrow=False,
            text=f"<b>{words}</b>",
            font=dict(size=11, color="#555555"),
            bgcolor="rgba(255,255,255,0.8)",
            align=xanchor,
        )
    fig.update_xaxes(title="Adoption (active ÷ eligible users)", tickformat=".0%", range=list(x_range), zeroline=False)
    fig.update_yaxes(
        title="Primary metric change<br>(falls plotted up)",
        range=list(y_range),
        tickformat="+.0f",
        ticksuffix="%",
        zeroline=False,
    )
    # Legend under the plot: above it, it collides with the title on a phone.
    fig.update_layout(
        legend=dict(orientation="h", yanchor="top", y=-0.16, xanchor="left", x=0, title_text="Decision: ")
    )
    return _finish(
        fig,
        title,
        f"Each bubble is a deployed workflow, sized by the items measured; whiskers are the 95% CI of its primary "
        f"metric's change. Right of the dashed line at least {threshold:.0%} of eligible users are active (adopted). "
        f"Above the zero line the metric fell, which is better for all five metrics. Shape and colour are the "
        f"decision (legend below): only Scale, Close gaps and Drive adoption count as value, wherever a bubble sits; a "
        f"contested or guardrail-flagged workflow is never value.",
        height=560,
    )


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


def metric_changes(results: pl.DataFrame, metric_labels: Mapping[str, str], primary_metric: str | None) -> go.Figure:
    """Dot-and-whisker of every metric's change % with its 95% CI, coloured by verdict."""
    title = "Change in every metric after deployment"
    measured = results.filter(pl.col("change_pct").is_not_null())
    if measured.is_empty():
        return empty(title, "No metric has a relative change to show (not deployed, or zero baselines).")
    rows = sorted(
        measured.to_dicts(),
        key=lambda r: list(metric_labels).index(r["metric"]) if r["metric"] in metric_labels else 99,
    )
    rows.reverse()  # first metric at the top
    names = [
        metric_labels.get(r["metric"], r["metric"]) + (" (primary)" if r["metric"] == primary_metric else "")
        for r in rows
    ]
    fig = go.Figure()
    for verdict, colour in VERDICT_COLORS.items():
        idx = [i for i, r in enumerate(rows) if r["verdict"] == verdict]
        if not idx:
            continue
        group = [rows[i] for i in idx]
        fig.add_trace(
            go.Scatter(
                x=[r["change_pct"] for r in group],
                y=[names[i] for i in idx],
                mode="markers",
                name=text.VERDICT_LABELS[verdict],
                showlegend=True,
                marker=dict(size=11, color=colour, symbol=VERDICT_SYMBOLS[verdict]),
                error_x=dict(
                    type="data",
                    symmetric=False,
                    array=[
                        (r["ci_high_pct"] if r["ci_high_pct"] is not None else r["change_pct"]) - r["change_pct"]
                        for r in group
                    ],
                    arrayminus=[
                        r["change_pct"] - (r["ci_low_pct"] if r["ci_low_pct"] is not None else r["change_pct"])
                        for r in group
                    ],
                    color=colour,
                    thickness=2,
                    width=6,
                ),
                customdata=[
                    [
                        text.change_with_ci(r["change_pct"], r["ci_low_pct"], r["ci_high_pct"]),
                        text.label(text.VERDICT_LABELS, r["verdict"])
                        + text.chance_clause(r["verdict"], r.get("p_adjusted")),
                    ]
                    for r in group
                ],
                hovertemplate="<b>%{y}</b><br>%{customdata[0]}<br>%{customdata[1]}<extra></extra>",
            )
        )
    fig.add_vline(x=0, line=dict(color="#8a8a8a", width=1, dash="dash"))
    fig.update_xaxes(title="Change, % (95% CI)<br>left of 0 is better", ticksuffix="%")
    fig.update_yaxes(categoryorder="array", categoryarray=names)
    missing = results.filter(pl.col("change_pct").is_null())["metric"].to_list()
    note = (
        f" Not shown (zero baseline, no percentage): {', '.join(metric_labels.get(m, m) for m in missing)}."
        if missing
        else ""
    )
    return _finish(
        fig,
        title,
        "Dots are the relative change of each metric, post period against baseline; whiskers the 95% CI. All five "
        "metrics are better when lower, so a whisker entirely left of the dashed line is an improvement and one "
        "that crosses it is no clear change." + note,
        height=320,
    )


def period_comparison(result: Mapping[str, Any], metric_label: str) -> go.Figure:
    """Baseline against post value of one metric, each with its 95% CI (dot and whisker)."""
    unit = result.get("unit") or ""
    scale = 100.0 if unit == "share" else 1.0
    periods = [
        (
            "After deployment",
            result.get("post_value"),
            result.get("post_ci_low"),
            result.get("post_ci_high"),
            result.get("n_post"),
            POST_COLOR,
        ),
        (
            "Baseline",
            result.get("baseline_value"),
            result.get("baseline_ci_low"),
            result.get("baseline_ci_high"),
            result.get("n_baseline"),
            BASELINE_COLOR,
        ),
    ]
    fig = go.Figure()
    for name, value, low, high, n, colour in periods:
        if text.is_missing(value):
            continue
        low = value if text.is_missing(low) else low
        high = value if text.is_missing(high) else high
        fig.add_trace(
            go.Scatter(
                x=[value * scale],
                y=[f"{name} (n={n or 0:,})"],
                mode="markers+text",
                showlegend=False,
                marker=dict(size=12, color=colour),
                text=[text.metric_value(value, unit)],
                textposition="top center",
                error_x=dict(
                    type="data",
                    symmetric=False,
                    array=[(high - value) * scale],
                    arrayminus=[(value - low) * scale],
                    color=colour,
                    thickness=2,
                    width=8,
                ),
                hovertemplate=f"{name}: {text.metric_value(value, unit)} (95% CI {text.metric_value(low, unit)} to {text.metric_value(high, unit)})<extra></extra>",
            )
        )
    statistic = {
        "hours": "median",
        "share": "share",
        "count": "mean (capped at p99)",
        "money": "mean (capped at p99)",
    }.get(unit, "value")
    fig.update_xaxes(title=f"{metric_label}, {statistic} ({text.UNIT_AXIS.get(unit, unit)})", rangemode="tozero")
    fig.update_yaxes(range=[-0.6, 1.6])
    return _finish(
        fig,
        f"{metric_label}: baseline vs after deployment",
        f"Dots are each period's {statistic}; whiskers its 95% CI. The metric is better when lower. Whiskers that "
        f"do not overlap point to a real difference; the change's own CI is in the chart above. n is the number of "
        f"items behind each period's value: it can differ between metrics (each counts the items that have a "
        f"value for it) and from the weekly chart (which leaves out the last, incomplete week).",
        height=260,
    )


def _complete_weeks(weekly: pl.DataFrame, periods: Periods | None) -> pl.DataFrame:
    """Weeks that end on or before the data cutoff: a last, partial week would look like a sudden drop."""
    if periods is None or weekly.is_empty():
        return weekly
    return weekly.filter(pl.col("week_start_on") + timedelta(days=6) <= periods.post_end_on)


def weekly_trend(
    weekly: pl.DataFrame,
    metric_label: str,
    unit: str,
    periods: Periods | None,
    result: Mapping[str, Any] | None = None,
) -> go.Figure:
    """One metric per ISO week, with the deployment date marked and the periods shaded.

    With `result` (a value_metrics row) each period's overall value is drawn as a dashed level.
    """
    title = f"{metric_label} per week"
    series = _complete_weeks(weekly.filter(pl.col("value").is_not_null()), periods).sort("week_start_on")
    if series.is_empty():
        return empty(title, f"No weekly {metric_label.lower()} values to show.")
    scale = 100.0 if unit == "share" else 1.0
    weeks = series["week_start_on"].to_list()
    fig = go.Figure(
        go.Scatter(
            x=weeks,
            y=[v * scale for v in series["value"].to_list()],
            mode="lines+markers",
            name="weekly value",
            line=dict(color="#262730", width=1.5),
            marker=dict(size=5, color="#262730"),
            customdata=series["n"].to_list(),
            hovertemplate="week of %{x|%d %b %Y}: %{y:.2f} (n=%{customdata})<extra></extra>",
            showlegend=False,
        )
    )
    _mark_periods(fig, periods)
    if periods is not None and result is not None:
        for start, end, value, colour, name in (
            (periods.baseline_start_on, periods.deployed_on, result.get("baseline_value"), BASELINE_COLOR, "baseline"),
            (
                periods.post_start_on,
                periods.post_end_on + timedelta(days=1),
                result.get("post_value"),
                POST_COLOR,
                "after",
            ),
        ):
            if text.is_missing(value):
                continue
            fig.add_trace(
                go.Scatter(
                    x=[start, end],
                    y=[value * scale] * 2,
                    mode="lines",
                    name=f"{name}: {text.metric_value(value, unit)}",
                    line=dict(color=colour, width=2.5, dash="dash"),
                    hoverinfo="skip",
                )
            )
    fig.update_xaxes(title="week starting (ISO weeks, UTC)")
    fig.update_yaxes(title=f"{metric_label} ({text.UNIT_AXIS.get(unit, unit)})", rangemode="tozero")
    weekly_stat = "median of closed items" if unit == "hours" else ("share" if unit == "share" else "mean")
    censor = " Recent weeks look faster because their slowest items are still open." if unit == "hours" else ""
    if periods is None:
        how = (
            f"Each point is one week's {weekly_stat} for items opened that week. The workflow is not deployed, so "
            f"there are no periods to compare. Weeks with few items jump around.{censor}"
        )
    else:
        how = (
            f"Each point is one week's {weekly_stat} for items opened that week. Grey band: baseline; blue band: after "
            f"deployment (dashed line: go-live); dashed levels: each period's overall value. Weeks with few items "
            f"jump around, so judge the levels, not single weeks. The last, incomplete week is left out.{censor}"
        )
    return _finish(fig, title, how, height=340)


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


def effect_views(views: pl.DataFrame, metric_label: str) -> go.Figure:
    """The three estimates of one metric's effect, each with its CI and its label."""
    title = f"{metric_label}: three views of the same effect"
    order = list(text.VIEW_LABELS)
    rows = sorted(views.to_dicts(), key=lambda r: order.index(r["view"]) if r["view"] in order else 99)
    rows = [r for r in rows if r["estimate_pct"] is not None]
    if not rows:
        return empty(title, "No estimate for this metric yet.")
    rows.reverse()
    names = [
        f"{text.label(text.VIEW_LABELS, r['view'])}<br><span style='font-size:11px;color:#6b6b6b'>"
        + wrap(text.plain(r["label"] or ""), 30).replace(
            "<br>", "</span><br><span style='font-size:11px;color:#6b6b6b'>"
        )
        + "</span>"
        for r in rows
    ]
    colours = []
    for r in rows:
        low, high = r["ci_low_pct"], r["ci_high_pct"]
        if low is None or high is None:
            colours.append(VERDICT_COLORS["insufficient_data"])
        elif high < 0:
            colours.append(VERDICT_COLORS["improved"])
        elif low > 0:
            colours.append(VERDICT_COLORS["worsened"])
        else:
            colours.append(VERDICT_COLORS["no_clear_change"])
    fig = go.Figure(
        go.Scatter(
            x=[r["estimate_pct"] for r in rows],
            y=names,
            mode="markers",
            showlegend=False,
            marker=dict(size=12, color=colours),
            error_x=dict(
                type="data",
                symmetric=False,
                array=[
                    (r["ci_high_pct"] if r["ci_high_pct"] is not None else r["estimate_pct"]) - r["estimate_pct"]
                    for r in rows
                ],
                arrayminus=[
                    r["estimate_pct"] - (r["ci_low_pct"] if r["ci_low_pct"] is not None else r["estimate_pct"])
                    for r in rows
                ],
                color="#6b6b6b",
                thickness=2,
                width=6,
            ),
            customdata=[
                [
                    text.change_with_ci(r["estimate_pct"], r["ci_low_pct"], r["ci_high_pct"]),
                    r["n_treated"],
                    r["n_comparison"],
                ]
                for r in rows
            ],
            hovertemplate="%{customdata[0]}<br>n treated %{customdata[1]}, comparison %{customdata[2]}<extra></extra>",
        )
    )
    fig.add_vline(x=0, line=dict(color="#8a8a8a", width=1, dash="dash"))
    fig.update_xaxes(title="Estimated effect, % (95% CI); left of 0 is better", ticksuffix="%")
    fig.update_yaxes(categoryorder="array", categoryarray=names)
    return _finish(
        fig,
        title,
        "Before/after compares the periods; assisted vs unassisted compares items after deployment, but people "
        "choose when to use AI, so it is an association; difference-in-differences subtracts the change seen in "
        "comparison workflows over the same weeks. When the three agree, the effect is more believable.",
        height=280,
    )


# -- data quality ------------------------------------------------------------------------

OUTCOME_LABELS = {
    "rows_staged": "staged",
    "rows_quarantined": "quarantined",
    "rows_deduplicated": "exact duplicates",
    "rows_superseded": "superseded by a later file",
}


def rows_by_source(counts: pl.DataFrame) -> go.Figure:
    """What became of every row read, per source: staged, quarantined, de-duplicated, superseded."""
    title = "What became of the rows read, per source"
    if counts.is_empty():
        return empty(title, "No input file has been read yet.")
    sources = [text.plain(source) for source in counts["source"].to_list()]
    read = counts["rows_read"].to_list()
    fig = go.Figure()
    for column, name in OUTCOME_LABELS.items():
        values = counts[column].to_list()
        fig.add_trace(
            go.Bar(
                y=sources,
                x=values,
                orientation="h",
                name=name,
                marker_color=SOURCE_OUTCOME_COLORS[column],
                customdata=[(v / r * 100) if r else 0 for v, r in zip(values, read)],
                hovertemplate="%{y}: %{x:,} rows " + name + " (%{customdata:.2f}% of rows read)<extra></extra>",
            )
        )
    # The quarantined count sits under each source's name, not after its bar, so it fits a phone.
    ticks = []
    for source, total, quarantined in zip(sources, read, counts["rows_quarantined"].to_list()):
        share = f"{quarantined / total:.2%}" if total else "0%"
        ticks.append(
            f"{source}<br><span style='font-size:11px;color:{SOURCE_OUTCOME_COLORS['rows_quarantined']}'>"
            f"{quarantined:,} quarantined ({share})</span>"
        )
    fig.update_layout(barmode="stack")
    fig.update_yaxes(tickvals=sources, ticktext=ticks)
    fig.update_xaxes(title="rows read (files now in the input folder)", rangemode="tozero")
    return _finish(
        fig,
        title,
        "Every row read ends in exactly one outcome, so each bar's length is the rows read. Orange is quarantined: "
        "broke a rule of the data contract and was set aside with its reason (below); nothing is dropped silently.",
        height=max(240, 120 + 50 * len(sources)),
    )


def quarantine_over_time(run_counts: pl.DataFrame) -> go.Figure:
    """Quarantined share of rows read per source and pipeline run."""
    title = "Quarantined rows per run"
    if run_counts.is_empty():
        return empty(title, "No run has recorded per-source counts yet.")
    fig = go.Figure()
    for source in sorted(set(run_counts["source"].to_list())):
        part = run_counts.filter(pl.col("source") == source).sort("started_at")
        read = part["rows_read"].to_list()
        quarantined = part["rows_quarantined"].to_list()
        fig.add_trace(
            go.Scatter(
                x=part["started_at"].to_list(),
                y=[(q / r) if r else 0 for q, r in zip(quarantined, read)],
                mode="lines+markers",
                name=text.plain(source),
                customdata=list(zip(quarantined, read, part["rows_staged"].to_list())),
                hovertemplate=text.plain(source)
                + ", run at %{x|%d %b %H:%M}: %{customdata[0]:,} of %{customdata[1]:,} rows quarantined, %{customdata[2]:,} staged<extra></extra>",
            )
        )
    fig.update_xaxes(title="pipeline run started (UTC)", tickformat="%d %b %H:%M")
    fig.update_yaxes(title="quarantined, % of rows read", tickformat=".2~%", rangemode="tozero")
    return _finish(
        fig,
        title,
        "One point per pipeline run and source: the share of rows read in that run that broke a rule. A jump means "
        "a new file or a changed export broke the contract; hover for the counts.",
        height=320,
    )


def rejection_reasons(reasons: pl.DataFrame) -> go.Figure:
    """Quarantined rows per rule, most frequent on top, split by source."""
    title = "Quarantined rows by rule"
    if reasons.is_empty():
        return empty(title, "No row was quarantined.")
    totals = reasons.group_by("rule").agg(pl.col("rows").sum()).sort(["rows", "rule"], descending=[False, True])
    order = [text.plain(rule) for rule in totals["rule"].to_list()]
    fig = go.Figure()
    for source in sorted(set(reasons["source"].to_list())):
        part = reasons.filter(pl.col("source") == source)
        fig.add_trace(
            go.Bar(
                y=[text.plain(rule) for rule in part["rule"].to_list()],
                x=part["rows"].to_list(),
                orientation="h",
                name=text.plain(source),
                customdata=[text.plain(reason) for reason in part["typical_reason"].to_list()],
                hovertemplate="%{y} (" + text.plain(source) + "): %{x:,} rows<br>e.g. %{customdata}<extra></extra>",
            )
        )
    fig.update_layout(barmode="stack")
    fig.update_yaxes(categoryorder="array", categoryarray=order, title=None)
    fig.update_xaxes(title="quarantined rows (by the first rule each row broke)", rangemode="tozero", tickformat=",d")
    if int(totals["rows"].max()) <= 10:
        fig.update_xaxes(dtick=1)
    return _finish(
        fig,
        title,
        "Quarantined rows counted by the first rule they broke, most frequent at the top, coloured by source. The "
        "table below shows sample rows for a rule with every reason and the raw values as read.",
        height=max(240, 120 + 40 * len(order)),
    )
