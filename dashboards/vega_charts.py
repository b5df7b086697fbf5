"""Vega-Lite (Altair) figure builders for the charts a page draws on arrival: data in, chart out.

Why a second chart library: a first visit has to be drawn within 2.5 s on a 2-core machine, and
Streamlit loads Plotly's browser bundle (4.7 MB) with a page's first Plotly chart; parsing and
running it cost about 1.7 s of each first visit, Vega-Lite's about 0.5 s (docs/dashboard.md,
"Two chart libraries"). So the charts drawn when a page opens are Vega-Lite (Altair ships with
Streamlit: no new dependency), and the detail opened on demand (tabs' expanders, trends, the value
and governance sections) stays in Plotly (`dashboards/charts.py`). Since even Vega-Lite's code cost
a first visit about 1 s, a page shows these charts as SVG pictures drawn on the server from the same
spec (`svg`, `ui.chart`) unless the reader switches "Interactive charts" on.

Every chart carries the look of `charts.py`'s `opvalue` template (white background, light grid,
the page's font), a title, axis titles with units, and its "how to read it" caption in
`usermeta` (`caption(chart)`). Verdicts and decisions have the same colours as in `charts.py`
and a shape each, so they survive colour blindness and greyscale print. Values from the data are
plain strings: Vega draws text as text (no markup), and its tooltips escape HTML.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

import altair as alt
import plotly.graph_objects as go
import polars as pl
import polars.selectors as cs

from dashboards import charts, text

# Shapes in Vega's names, or SVG paths in its unit square (-1..1) where it has no such shape.
X_PATH = "M-0.9,-0.6L-0.6,-0.9L0,-0.3L0.6,-0.9L0.9,-0.6L0.3,0L0.9,0.6L0.6,0.9L0,0.3L-0.6,0.9L-0.9,0.6L-0.3,0Z"
STAR_PATH = (
    "M"
    + "L".join(
        f"{round(r * math.sin(math.pi * i / 5), 3)},{round(-r * math.cos(math.pi * i / 5), 3)}"
        for i, r in zip(range(10), [1.0, 0.42] * 5)
    )
    + "Z"
)
HOURGLASS_PATH = "M-0.8,-1L0.8,-1L0.1,0L0.8,1L-0.8,1L-0.1,0Z"
CROSS_PATH = (
    "M-0.25,-1L0.25,-1L0.25,-0.25L1,-0.25L1,0.25L0.25,0.25L0.25,1L-0.25,1L-0.25,0.25L-1,0.25L-1,-0.25L-0.25,-0.25Z"
)
DECISION_SHAPES = {
    "scale": "circle",
    "close_gaps": "diamond",
    "drive_adoption": "triangle-up",
    "fix_guardrail": X_PATH,
    "redesign": "square",
    "reconsider": "triangle-down",
    "contested": STAR_PATH,
    "unknown_adoption": HOURGLASS_PATH,
    "wait_for_data": "circle",
    "not_deployed": CROSS_PATH,
}
"""The shapes of `charts.DECISION_SYMBOLS` in Vega: "wait for data" is an open circle (`OPEN_DECISIONS`)."""
OPEN_DECISIONS = {"wait_for_data", "not_deployed"}
VERDICT_SHAPES = {
    "improved": "circle",
    "worsened": X_PATH,
    "no_clear_change": "square",
    "negligible": "diamond",
    "insufficient_data": "circle",
    "insufficient_baseline": "triangle-up",
}
OPEN_VERDICTS = {"insufficient_data", "insufficient_baseline"}
LINE_BREAK = "\n"
"""Splits an axis label into lines (`SPLIT_LINES`)."""
SPLIT_LINES = "split(datum.label, '\\n')"
"""The axis `labelExpr` that draws a label on several lines. Categories are ordered by a number
(`ORDER`), never by a list of their values: Vega-Lite writes such a list into an expression, where
a value from the data could break it."""
ORDER = alt.EncodingSortField(field="order", op="min", order="ascending")
TITLE_WIDTH = 38
"""Titles longer than this wrap: Vega does not wrap text, and a phone's chart is about 350 px wide."""
DASH = [5, 4]


def _lines(words: str, width: int = TITLE_WIDTH) -> str | list[str]:
    wrapped = charts.wrap(words, width).split("<br>")
    return wrapped[0] if len(wrapped) == 1 else wrapped


def _finish(chart: alt.TopLevelMixin, title: str, how_to_read: str, height: int = 320) -> alt.TopLevelMixin:
    """Title, size, caption and the house look (the `opvalue` template's, in Vega-Lite's config).

    `height` is the whole chart's, title, axes and legend included: Streamlit fits the chart to it.
    """
    return (
        chart.properties(
            title=alt.Title(_lines(title), anchor="start", fontSize=17, fontWeight=600, color="#262730", offset=12),
            height=height,
            width="container",
            usermeta={"caption": how_to_read, "title": title},
            # On the spec, not in the config: Streamlit sets the spec's padding, which would win.
            padding={"left": 8, "right": 26, "top": 6, "bottom": 6},  # room for half of a last date label
        )
        .configure(font=charts.FONT, background="white")
        .configure_view(stroke=None)
        .configure_axis(
            labelFontSize=12,
            titleFontSize=13,
            titleFontWeight="normal",
            labelColor="#262730",
            titleColor="#262730",
            gridColor="#ececec",
            domainColor="#c8c8c8",
            tickColor="#c8c8c8",
            labelLimit=180,
            titleLineHeight=16,  # two-line axis titles, evenly spaced
        )
        .configure_legend(
            orient="bottom",
            direction="horizontal",
            columns=2,
            labelFontSize=12,
            titleFontSize=13,
            titleFontWeight="normal",
            labelLimit=150,
            symbolSize=110,
        )
    )


def _meta(chart: Any) -> Mapping[str, Any]:
    usermeta = chart.get("usermeta") if isinstance(chart, Mapping) else chart.usermeta
    return usermeta if isinstance(usermeta, Mapping) else {}


def caption(chart: Any) -> str:
    """The chart's "how to read it" sentence (a Plotly placeholder from `charts.empty` has one too;
    a chart may also be given as its spec, `spec()`)."""
    if isinstance(chart, go.Figure):
        return charts.caption(chart)
    return _meta(chart).get("caption", "")


def title(chart: Any) -> str:
    """The chart's title on one line."""
    if isinstance(chart, go.Figure):
        return chart.layout.title.text
    return _meta(chart)["title"]


def spec(chart: Any) -> dict[str, Any] | go.Figure:
    """The chart as its Vega-Lite spec (a Plotly placeholder as it is), for a chart built once and
    kept in Streamlit's cache; `ui.chart` draws either.

    Building the adoption × value chart of 200 workflows and validating its spec took about 0.3 s of
    every Portfolio run. The chart must carry its rows as values (`_values`), not frames: a frame
    would go through Altair's data transformer, a global that Streamlit switches to its own while
    it draws a chart for another session.
    """
    return chart if isinstance(chart, go.Figure) else chart.to_dict()


SVG_WIDTH = 1200
"""Pixels across a chart drawn on the server (`svg`), title, axes and legend included: about the main
column of the wide layout on a laptop (1,280 pixels on a 1,440-pixel screen); the page scales the
picture to the column. The adoption × value chart places its names for a plot of about 1,000 pixels."""


def svg(chart_spec: Mapping[str, Any], width: int = SVG_WIDTH) -> str:
    """The chart drawn on the server: an SVG document `width` pixels wide, by vl-convert (Vega's own
    renderer, run in its embedded JavaScript engine), so the browser shows a picture and loads no chart
    code.

    Why: a first visit to a page with a Vega-Lite chart loaded and compiled Vega's code and drew the
    chart in the browser, about 1 s on a 2-core machine whatever the chart (docs/performance.md,
    "Dashboard in a real browser"); here the same spec takes 0.04-0.16 s once per warehouse version
    (`ui.chart` keeps it), and its first call in a process about 0.6 s more, to start the engine.
    `allowed_base_urls=[]`: the specs carry their rows (`_values`), so the renderer fetches nothing.
    Values from the data are written as SVG text (escaped), and the page shows the document as an
    image, in which no script runs.
    """
    import vl_convert

    drawn = {**chart_spec, "width": width, "autosize": {"type": "fit-x", "contains": "padding"}}
    return vl_convert.vegalite_to_svg(drawn, allowed_base_urls=[])


def _values(frame: pl.DataFrame) -> alt.InlineData:
    """`frame`'s rows written into the spec (Altair's data transformer never sees them: `spec()`).

    Every chart's data goes through here, so any chart can be built once and cached. The rows must
    be JSON: dates become ISO strings (a date alone is read as UTC midnight, as Streamlit's Arrow
    path gives it) and decimals floats.
    """
    frame = frame.with_columns(
        cs.date().dt.strftime("%Y-%m-%d"),
        cs.datetime().dt.strftime("%Y-%m-%dT%H:%M:%S%.3f"),
        cs.decimal().cast(pl.Float64),
    )
    return alt.InlineData(values=frame.to_dicts())


def _iso(value: date | datetime) -> str:
    return value.isoformat()


def _legend_scale(codes: list[str], labels: Mapping[str, str], values: Mapping[str, Any]) -> alt.Scale:
    """A scale from each code's label (in the label map's order) to its colour or shape."""
    return alt.Scale(domain=[text.label(labels, c) for c in codes], range=[values[c] for c in codes])


# -- portfolio ---------------------------------------------------------------------------


def adoption_value_matrix(scorecard: pl.DataFrame, threshold: float, metric_labels: Mapping[str, str]):
    """Bubble per deployed workflow: x adoption rate, y primary-metric change %, size items measured,
    shape and colour the decision (`DECISION_SHAPES`, `charts.DECISION_COLORS`).

    The y axis runs downwards (falls plotted up) because every metric is better when lower, so
    "up and right" is value with adoption. Quadrant lines at `threshold` and 0. Names sit beside
    their bubbles where they overlap least (`charts._label_positions`); a phone hides them (CSS on
    the `bubble_labels_marks` class), they are in the tooltip.
    """
    chart_title = "Adoption × value"
    plotted = scorecard.filter(pl.col("adoption_rate").is_not_null() & pl.col("primary_change_pct").is_not_null())
    if plotted.is_empty():
        return charts.empty(chart_title, "No deployed workflow has both an adoption rate and a measured change yet.")
    rows = plotted.to_dicts()
    max_items = max((r["items_measured"] or 0) for r in rows) or 1
    lows = [r["primary_ci_low_pct"] for r in rows if r["primary_ci_low_pct"] is not None]
    highs = [r["primary_ci_high_pct"] for r in rows if r["primary_ci_high_pct"] is not None]
    changes = [r["primary_change_pct"] for r in rows]
    worst, best = max(highs + changes + [10.0]), min(lows + changes + [-10.0])
    pad = (worst - best) * 0.08
    y_domain = [best - pad, worst + pad]  # drawn reversed: falls plotted up
    x_domain = [-0.04, 1.12]
    plot_width, plot_height = 1000.0, 430.0

    def radius(items: Any) -> float:
        return max(4.0, 23.0 * math.sqrt(max(items or 0, 1) / max_items))

    def px(r: Mapping[str, Any]) -> tuple[float, float]:
        x = (r["adoption_rate"] - x_domain[0]) / (x_domain[1] - x_domain[0]) * plot_width
        y = (r["primary_change_pct"] - y_domain[0]) / (y_domain[1] - y_domain[0]) * plot_height
        return x, y

    positions = charts._label_positions(
        [(*px(r), radius(r["items_measured"]), r["name"] or "") for r in rows], plot_width
    )
    decisions = list(charts.DECISION_COLORS) + sorted(
        {r.get("decision") or "unknown" for r in rows} - set(charts.DECISION_COLORS)
    )
    present = [d for d in decisions if any((r.get("decision") or "unknown") == d for r in rows)]
    records = []
    for r, position in zip(rows, positions):
        decision = r.get("decision") or "unknown"
        vertical, horizontal = position.split()
        gap = radius(r["items_measured"]) + 3
        dx = {"right": gap, "left": -gap}.get(horizontal, 0.0) if vertical == "middle" else 0.0
        dy = {"top": gap + 7, "bottom": -gap - 7}.get(vertical, 0.0)
        records.append(
            {
                "adoption": r["adoption_rate"],
                "change": r["primary_change_pct"],
                "low": r["primary_ci_low_pct"] if r["primary_ci_low_pct"] is not None else r["primary_change_pct"],
                "high": r["primary_ci_high_pct"] if r["primary_ci_high_pct"] is not None else r["primary_change_pct"],
                "items": max(r["items_measured"] or 0, 1),
                "name": r["name"] or "",
                "decision": text.label(text.DECISION_LABELS, decision),
                "owner": r["business_owner"] or "no owner",
                "stage": text.label(text.STAGE_LABELS, r["stage"]),
                "primary": f"{metric_labels.get(r['primary_metric'], r['primary_metric'])}: "
                + text.change_with_ci(r["primary_change_pct"], r["primary_ci_low_pct"], r["primary_ci_high_pct"])
                + " (95% CI)",
                "verdict": text.label(text.VERDICT_LABELS, r["primary_verdict"]),
                "adoption_text": text.share(r["adoption_rate"]),
                "items_text": f"{r['items_measured'] or 0:,}",
                # The label's place in data units: beside the bubble, on the side with the fewest collisions.
                "label_x": r["adoption_rate"] + dx / plot_width * (x_domain[1] - x_domain[0]),
                "label_y": r["primary_change_pct"] + dy / plot_height * (y_domain[1] - y_domain[0]),
                "align": "left" if dx > 0 else ("right" if dx < 0 else "center"),
            }
        )
    frame = pl.DataFrame(records)
    colour = _legend_scale(
        present, text.DECISION_LABELS, {d: charts.DECISION_COLORS.get(d, "#4a4a4a") for d in present}
    )
    fill = _legend_scale(
        present,
        text.DECISION_LABELS,
        {d: "white" if d in OPEN_DECISIONS else charts.DECISION_COLORS.get(d, "#4a4a4a") for d in present},
    )
    shape = _legend_scale(present, text.DECISION_LABELS, {d: DECISION_SHAPES.get(d, "circle") for d in present})
    x = alt.X(
        "adoption:Q",
        title="Adoption (active ÷ eligible users)",
        scale=(x_scale := alt.Scale(domain=x_domain, nice=False, zero=False)),
        axis=alt.Axis(format=".0%", values=[0, 0.2, 0.4, 0.6, 0.8, 1.0]),
    )
    y = alt.Y(
        "change:Q",
        title=["Primary metric change", "(falls plotted up)"],
        scale=(y_scale := alt.Scale(domain=y_domain, reverse=True, nice=False, zero=False)),
        axis=alt.Axis(labelExpr="(datum.value > 0 ? '+' : '') + format(datum.value, '.0f') + '%'"),
    )
    base = alt.Chart(_values(frame))
    legend = alt.Legend(title="Decision", orient="bottom", columns=2, labelLimit=130)  # two fit a phone
    tooltip = [
        alt.Tooltip("name:N", title="workflow"),
        alt.Tooltip("owner:N"),
        alt.Tooltip("stage:N"),
        alt.Tooltip("decision:N"),
        alt.Tooltip("primary:N", title="change"),
        alt.Tooltip("verdict:N"),
        alt.Tooltip("adoption_text:N", title="adoption"),
        alt.Tooltip("items_text:N", title="items measured"),
    ]
    whiskers = base.mark_rule(strokeWidth=1.3).encode(
        x=x, y=y, y2="high:Q", color=alt.Color("decision:N", scale=colour, legend=legend)
    )
    bubbles = base.mark_point(opacity=0.85, strokeWidth=1.5).encode(
        x=x,
        y=y,
        size=alt.Size("items:Q", scale=alt.Scale(range=[50, 1650], zero=True), legend=None),
        shape=alt.Shape("decision:N", scale=shape, legend=legend),
        fill=alt.Fill("decision:N", scale=fill, legend=legend),
        color=alt.Color("decision:N", scale=colour, legend=legend),
        tooltip=tooltip,
    )
    labels = [
        base.transform_filter(alt.datum.align == align)
        .mark_text(align=align, baseline="middle", fontSize=11, color="#4a4a4a")
        .encode(x=alt.X("label_x:Q", scale=x_scale), y=alt.Y("label_y:Q", scale=y_scale), text="name:N")
        .properties(name=f"bubble_labels_{align}")
        for align in ("left", "right", "center")
    ]
    lines = alt.Chart(_values(pl.DataFrame({"adoption": [threshold]}))).mark_rule(
        color="#8a8a8a", strokeDash=DASH, strokeWidth=1
    ).encode(x=alt.X("adoption:Q", scale=x_scale)) + alt.Chart(_values(pl.DataFrame({"change": [0.0]}))).mark_rule(
        color="#8a8a8a", strokeDash=DASH, strokeWidth=1
    ).encode(y=alt.Y("change:Q", scale=y_scale))
    corners = pl.DataFrame(
        {
            "x": [x_domain[1], x_domain[1], x_domain[0], x_domain[0]],
            "y": [y_domain[0], y_domain[1], y_domain[0], y_domain[1]],
            "words": [
                "Value with\nadoption",
                "Adoption\nwithout value",
                "Value without\nadoption",
                "No value,\nno adoption",
            ],
            "align": ["right", "right", "left", "left"],
            "baseline": ["top", "bottom", "top", "bottom"],
        }
    )
    quadrants = [
        alt.Chart(_values(corners))
        .transform_filter((alt.datum.align == align) & (alt.datum.baseline == baseline))
        .mark_text(
            align=align,
            baseline=baseline,
            lineBreak="\n",
            fontSize=11,
            fontWeight="bold",
            color="#555555",
            dx=-4 if align == "right" else 4,
            dy=4 if baseline == "top" else -4,
        )
        .encode(x=alt.X("x:Q", scale=x_scale), y=alt.Y("y:Q", scale=y_scale), text="words:N")
        for align, baseline in (("right", "top"), ("right", "bottom"), ("left", "top"), ("left", "bottom"))
    ]
    chart = alt.layer(lines, *quadrants, whiskers, bubbles, *labels).resolve_scale(
        color="shared", fill="shared", stroke="shared", shape="shared"
    )
    return _finish(
        chart,
        chart_title,
        f"Each bubble is a deployed workflow, sized by the items measured; whiskers are the 95% CI of its primary "
        f"metric's change. Right of the dashed line at least {threshold:.0%} of eligible users are active (adopted). "
        f"Above the zero line the metric fell, which is better for all five metrics. Shape and colour are the "
        f"decision (legend below): only Scale, Close gaps and Drive adoption count as value, wherever a bubble sits; a "
        f"contested or guardrail-flagged workflow is never value.",
        height=560,
    )


# -- workflow detail ---------------------------------------------------------------------


def _at(x: alt.X, field: str) -> alt.X:
    """`x` (title, axis, scale) on another quantitative field."""
    moved = x.copy()
    moved.shorthand = f"{field}:Q"
    return moved


def _dot_whisker(frame: pl.DataFrame, category: alt.Y, x: alt.X, point: dict, tooltip: list) -> list:
    """Whisker from `low` to `high` and a point at `value`, one row per category; `x` gives the axis (title,
    format, scale) and is used for every layer, so the layers share one axis title."""

    def at(field: str) -> alt.X:
        return _at(x, field)

    base = alt.Chart(_values(frame))
    whisker = base.mark_rule(strokeWidth=2).encode(y=category, x=at("low"), x2="high:Q", color=point["color"])
    ticks = [
        base.mark_tick(thickness=2, size=10).encode(y=category, x=at(end), color=point["color"])
        for end in ("low", "high")
    ]
    dots = base.mark_point(size=120, strokeWidth=2, opacity=1).encode(
        y=category, x=at("value"), tooltip=tooltip, **point
    )
    return [whisker, *ticks, dots]


def _zero_rule(x: alt.X) -> alt.Chart:
    return (
        alt.Chart(_values(pl.DataFrame({"value": [0.0]})))
        .mark_rule(color="#8a8a8a", strokeDash=DASH)
        .encode(x=_at(x, "value"))
    )


def metric_changes(results: pl.DataFrame, metric_labels: Mapping[str, str], primary_metric: str | None):
    """Dot-and-whisker of every metric's change % with its 95% CI; colour and shape the verdict."""
    chart_title = "Change in every metric after deployment"
    measured = results.filter(pl.col("change_pct").is_not_null())
    if measured.is_empty():
        return charts.empty(chart_title, "No metric has a relative change to show (not deployed, or zero baselines).")
    rows = sorted(
        measured.to_dicts(),
        key=lambda r: list(metric_labels).index(r["metric"]) if r["metric"] in metric_labels else 99,
    )
    frame = pl.DataFrame(
        [
            {
                "order": order,
                "metric": metric_labels.get(r["metric"], r["metric"])
                + (" (primary)" if r["metric"] == primary_metric else ""),
                "value": r["change_pct"],
                "low": r["ci_low_pct"] if r["ci_low_pct"] is not None else r["change_pct"],
                "high": r["ci_high_pct"] if r["ci_high_pct"] is not None else r["change_pct"],
                "verdict": text.label(text.VERDICT_LABELS, r["verdict"]),
                "change": text.change_with_ci(r["change_pct"], r["ci_low_pct"], r["ci_high_pct"]),
                "reading": text.label(text.VERDICT_LABELS, r["verdict"])
                + text.chance_clause(r["verdict"], r.get("p_adjusted")),
            }
            for order, r in enumerate(rows)
        ]
    )
    present = [v for v in charts.VERDICT_COLORS if any(r["verdict"] == v for r in rows)]
    colour = _legend_scale(present, text.VERDICT_LABELS, charts.VERDICT_COLORS)
    legend = alt.Legend(title="Verdict")
    point = {
        "color": alt.Color("verdict:N", scale=colour, legend=legend),
        "fill": alt.Fill(
            "verdict:N",
            scale=_legend_scale(
                present,
                text.VERDICT_LABELS,
                {v: "white" if v in OPEN_VERDICTS else charts.VERDICT_COLORS[v] for v in present},
            ),
            legend=legend,
        ),
        "shape": alt.Shape(
            "verdict:N", scale=_legend_scale(present, text.VERDICT_LABELS, VERDICT_SHAPES), legend=legend
        ),
    }
    category = alt.Y("metric:N", sort=ORDER, title=None)
    x = alt.X(
        "low:Q", title=["Change, % (95% CI)", "left of 0 is better"], axis=alt.Axis(labelExpr="datum.label + '%'")
    )
    tooltip = [alt.Tooltip("metric:N"), alt.Tooltip("change:N"), alt.Tooltip("reading:N", title="verdict")]
    missing = results.filter(pl.col("change_pct").is_null())["metric"].to_list()
    note = (
        f" Not shown (zero baseline, no percentage): {', '.join(metric_labels.get(m, m) for m in missing)}."
        if missing
        else ""
    )
    return _finish(
        alt.layer(_zero_rule(x), *_dot_whisker(frame, category, x, point, tooltip)),
        chart_title,
        "Dots are the relative change of each metric, post period against baseline; whiskers the 95% CI. All five "
        "metrics are better when lower, so a whisker entirely left of the dashed line is an improvement and one "
        "that crosses it is no clear change." + note,
        height=150 + 36 * len(rows),
    )


def period_comparison(result: Mapping[str, Any], metric_label: str):
    """Baseline against post value of one metric, each with its 95% CI (dot and whisker)."""
    unit = result.get("unit") or ""
    scale = 100.0 if unit == "share" else 1.0
    records = []
    for name, value, low, high, n, colour in (
        (
            "After deployment",
            *(result.get(f"post_{k}") for k in ("value", "ci_low", "ci_high")),
            result.get("n_post"),
            charts.POST_COLOR,
        ),
        (
            "Baseline",
            *(result.get(f"baseline_{k}") for k in ("value", "ci_low", "ci_high")),
            result.get("n_baseline"),
            charts.BASELINE_COLOR,
        ),
    ):
        if text.is_missing(value):
            continue
        low = value if text.is_missing(low) else low
        high = value if text.is_missing(high) else high
        records.append(
            {
                "order": len(records),
                "period": f"{name} (n={n or 0:,})",
                "value": value * scale,
                "low": low * scale,
                "high": high * scale,
                "colour": colour,
                "shown": text.metric_value(value, unit),
                "reading": f"{name}: {text.metric_value(value, unit)} "
                f"(95% CI {text.metric_value(low, unit)} to {text.metric_value(high, unit)})",
            }
        )
    statistic = {
        "hours": "median",
        "share": "share",
        "count": "mean (capped at p99)",
        "money": "mean (capped at p99)",
    }.get(unit, "value")
    chart_title = f"{metric_label}: baseline vs after deployment"
    how = (
        f"Dots are each period's {statistic}; whiskers its 95% CI. The metric is better when lower. Whiskers that "
        f"do not overlap point to a real difference; the change's own CI is in the chart above. n is the number of "
        f"items behind each period's value: it can differ between metrics (each counts the items that have a "
        f"value for it) and from the weekly chart (which leaves out the last, incomplete week)."
    )
    if not records:
        return charts.empty(chart_title, "No value for either period.")
    frame = pl.DataFrame(records)
    colour = alt.Color("colour:N", scale=None, legend=None)
    category = alt.Y("period:N", sort=ORDER, title=None)
    x = alt.X(
        "low:Q",
        title=charts.wrap(f"{metric_label}, {statistic} ({text.UNIT_AXIS.get(unit, unit)})", 40).split("<br>"),
        scale=alt.Scale(zero=True),
    )
    layers = _dot_whisker(
        frame,
        category,
        x,
        {"color": colour, "fill": alt.Fill("colour:N", scale=None)},
        [alt.Tooltip("reading:N", title="value")],
    )
    values = (
        alt.Chart(_values(frame))
        .mark_text(dy=-14, fontSize=12, color="#262730")
        .encode(y=category, x=_at(x, "value"), text="shown:N")
    )
    return _finish(alt.layer(*layers, values), chart_title, how, height=250)


def weekly_trend(
    weekly: pl.DataFrame,
    metric_label: str,
    unit: str,
    periods: charts.Periods | None,
    result: Mapping[str, Any] | None = None,
):
    """One metric per ISO week, with the deployment date marked and the periods shaded.

    With `result` (a value_metrics row) each period's overall value is drawn as a dashed level.
    """
    chart_title = f"{metric_label} per week"
    series = charts._complete_weeks(weekly.filter(pl.col("value").is_not_null()), periods).sort("week_start_on")
    if series.is_empty():
        return charts.empty(chart_title, f"No weekly {metric_label.lower()} values to show.")
    scale = 100.0 if unit == "share" else 1.0
    frame = pl.DataFrame(
        {
            "week": [_iso(w) for w in series["week_start_on"].to_list()],
            "value": [v * scale for v in series["value"].to_list()],
            "n": series["n"].to_list(),
            "shown": [f"{v * scale:,.2f}" for v in series["value"].to_list()],
            "week_text": [text.day(w) for w in series["week_start_on"].to_list()],
        }
    )
    time_axis = alt.Axis(format="%b %Y", labelAngle=0, labelOverlap=True, labelFlush=True)
    utc = alt.Scale(type="utc")
    x = alt.X("week:T", title="week starting (ISO weeks, UTC)", scale=utc, axis=time_axis)
    y = alt.Y("value:Q", title=charts.wrap(f"{metric_label} ({text.UNIT_AXIS.get(unit, unit)})", 30).split("<br>"))
    line = alt.Chart(_values(frame)).mark_line(
        color="#262730", strokeWidth=1.5, point=alt.OverlayMarkDef(size=22, color="#262730")
    )
    layers: list = []
    if periods is not None:
        post_end = periods.post_end_on + timedelta(days=1)
        bands = pl.DataFrame(
            {
                "start": [_iso(periods.baseline_start_on), _iso(periods.post_start_on)],
                "end": [_iso(periods.deployed_on), _iso(post_end)],
                "fill": [charts.BASELINE_FILL, charts.POST_FILL],
                "name": ["baseline", "after deployment"],
            }
        )
        layers.append(
            alt.Chart(_values(bands))
            .mark_rect()
            .encode(x=alt.X("start:T", scale=utc), x2="end:T", fill=alt.Fill("fill:N", scale=None))
        )
        layers.append(
            alt.Chart(_values(bands))
            .transform_calculate(middle="(toDate(datum.start) + toDate(datum.end)) / 2")
            .mark_text(baseline="bottom", dy=-4, fontSize=11, color="#6b6b6b", y="height")
            .encode(x=alt.X("middle:T", scale=utc), text="name:N")
        )
        deployed = pl.DataFrame(
            {"on": [_iso(periods.deployed_on)], "words": [f"deployed {text.day(periods.deployed_on)}"]}
        )
        layers.append(
            alt.Chart(_values(deployed))
            .mark_rule(color="#262730", strokeWidth=1.5, strokeDash=DASH)
            .encode(x=alt.X("on:T", scale=utc))
        )
        layers.append(
            alt.Chart(_values(deployed))
            .mark_text(align="left", baseline="top", dx=4, y=2, fontSize=12, color="#262730")
            .encode(x=alt.X("on:T", scale=utc), text="words:N")
        )
    layers.append(
        line.encode(
            x=x,
            y=y,
            tooltip=[
                alt.Tooltip("week_text:N", title="week of"),
                alt.Tooltip("shown:N", title=metric_label),
                alt.Tooltip("n:Q", title="items", format=","),
            ],
        )
    )
    if periods is not None and result is not None:
        levels = []
        for start, end, value, colour, name in (
            (
                periods.baseline_start_on,
                periods.deployed_on,
                result.get("baseline_value"),
                charts.BASELINE_COLOR,
                "baseline",
            ),
            (
                periods.post_start_on,
                periods.post_end_on + timedelta(days=1),
                result.get("post_value"),
                charts.POST_COLOR,
                "after",
            ),
        ):
            if not text.is_missing(value):
                levels.append(
                    {
                        "start": _iso(start),
                        "end": _iso(end),
                        "value": value * scale,
                        "level": f"{name}: {text.metric_value(value, unit)}",
                        "colour": colour,
                    }
                )
        if levels:
            level_frame = pl.DataFrame(levels)
            layers.append(
                alt.Chart(_values(level_frame))
                .mark_rule(strokeWidth=2.5, strokeDash=DASH)
                .encode(
                    x=alt.X("start:T", scale=utc),
                    x2="end:T",
                    y=alt.Y("value:Q"),
                    color=alt.Color(
                        "level:N",
                        scale=alt.Scale(domain=level_frame["level"].to_list(), range=level_frame["colour"].to_list()),
                        legend=alt.Legend(title=None, symbolType="stroke", symbolStrokeWidth=2.5, symbolDash=DASH),
                    ),
                )
            )
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
    return _finish(alt.layer(*layers), chart_title, how, height=340)


def effect_views(views: pl.DataFrame, metric_label: str):
    """The three estimates of one metric's effect, each with its CI and its label."""
    chart_title = f"{metric_label}: three views of the same effect"
    order = list(text.VIEW_LABELS)
    rows = sorted(views.to_dicts(), key=lambda r: order.index(r["view"]) if r["view"] in order else 99)
    rows = [r for r in rows if r["estimate_pct"] is not None]
    if not rows:
        return charts.empty(chart_title, "No estimate for this metric yet.")
    records = []
    for r in rows:
        low, high = r["ci_low_pct"], r["ci_high_pct"]
        if low is None or high is None:
            reading = "insufficient_data"
        elif high < 0:
            reading = "improved"
        elif low > 0:
            reading = "worsened"
        else:
            reading = "no_clear_change"
        records.append(
            {
                "order": len(records),
                "view": text.label(text.VIEW_LABELS, r["view"])
                + LINE_BREAK
                + charts.wrap(str(r["label"] or ""), 30).replace("<br>", LINE_BREAK),
                "value": r["estimate_pct"],
                "low": low if low is not None else r["estimate_pct"],
                "high": high if high is not None else r["estimate_pct"],
                "colour": charts.VERDICT_COLORS[reading],
                "change": text.change_with_ci(r["estimate_pct"], low, high),
                "counts": f"{r['n_treated'] or 0:,} treated, {r['n_comparison'] or 0:,} comparison",
            }
        )
    frame = pl.DataFrame(records)
    category = alt.Y(
        "view:N",
        sort=ORDER,
        title=None,
        axis=alt.Axis(labelExpr=SPLIT_LINES, labelLimit=200),
    )
    x = alt.X(
        "low:Q",
        title=["Estimated effect, % (95% CI)", "left of 0 is better"],
        axis=alt.Axis(labelExpr="datum.label + '%'"),
    )
    colour = alt.Color("colour:N", scale=None, legend=None)
    layers = _dot_whisker(
        frame,
        category,
        x,
        {"color": colour, "fill": alt.Fill("colour:N", scale=None)},
        [alt.Tooltip("change:N"), alt.Tooltip("counts:N", title="n")],
    )
    return _finish(
        alt.layer(_zero_rule(x), *layers),
        chart_title,
        "Before/after compares the periods; assisted vs unassisted compares items after deployment, but people "
        "choose when to use AI, so it is an association; difference-in-differences subtracts the change seen in "
        "comparison workflows over the same weeks. When the three agree, the effect is more believable.",
        height=130 + 60 * len(rows),
    )


# -- data quality ------------------------------------------------------------------------


def rows_by_source(counts: pl.DataFrame):
    """What became of every row read, per source: staged, quarantined, de-duplicated, superseded."""
    chart_title = "What became of the rows read, per source"
    if counts.is_empty():
        return charts.empty(chart_title, "No input file has been read yet.")
    records = []
    for row in counts.to_dicts():
        total, quarantined = row["rows_read"], row["rows_quarantined"]
        # The quarantined count sits under each source's name, not after its bar, so it fits a phone.
        share = f"{quarantined / total:.2%}" if total else "0%"
        source = f"{row['source']}{LINE_BREAK}{quarantined:,} quarantined ({share})"
        for order, (column, name) in enumerate(charts.OUTCOME_LABELS.items()):
            records.append(
                {
                    "source": source,
                    "source_name": row["source"],
                    "outcome": name,
                    "order": order,
                    "rows": row[column],
                    "share": f"{(row[column] / total * 100) if total else 0:.2f}% of rows read",
                }
            )
    frame = pl.DataFrame(records)
    outcomes = list(charts.OUTCOME_LABELS)
    chart = (
        alt.Chart(_values(frame))
        .mark_bar()
        .encode(
            y=alt.Y(
                "source:N",
                title=None,
                sort=None,
                axis=alt.Axis(labelExpr=SPLIT_LINES, labelLimit=200),
            ),
            x=alt.X(
                "rows:Q", title="rows read (files now in the input folder)", stack="zero", axis=alt.Axis(format=",d")
            ),
            color=alt.Color(
                "outcome:N",
                scale=alt.Scale(
                    domain=[charts.OUTCOME_LABELS[o] for o in outcomes],
                    range=[charts.SOURCE_OUTCOME_COLORS[o] for o in outcomes],
                ),
                # One column: "superseded by a later file" beside another label does not fit a phone.
                legend=alt.Legend(title=None, columns=1, labelLimit=0),
            ),
            order=alt.Order("order:Q"),
            tooltip=[
                alt.Tooltip("source_name:N", title="source"),
                alt.Tooltip("outcome:N"),
                alt.Tooltip("rows:Q", format=","),
                alt.Tooltip("share:N", title="share"),
            ],
        )
    )
    return _finish(
        chart,
        chart_title,
        "Every row read ends in exactly one outcome, so each bar's length is the rows read. Orange is quarantined: "
        "broke a rule of the data contract and was set aside with its reason (below); nothing is dropped silently.",
        height=max(240, 140 + 56 * counts.height),
    )


def quarantine_over_time(run_counts: pl.DataFrame):
    """Quarantined share of rows read per source and pipeline run."""
    chart_title = "Quarantined rows per run"
    if run_counts.is_empty():
        return charts.empty(chart_title, "No run has recorded per-source counts yet.")
    frame = run_counts.sort("source", "started_at").select(
        pl.col("started_at").map_elements(_iso, return_dtype=pl.String).alias("started"),
        pl.col("started_at").map_elements(lambda t: f"{t:%d %b %H:%M}", return_dtype=pl.String).alias("run"),
        "source",
        pl.when(pl.col("rows_read") > 0)
        .then(pl.col("rows_quarantined") / pl.col("rows_read"))
        .otherwise(0.0)
        .alias("share"),
        "rows_quarantined",
        "rows_read",
        "rows_staged",
    )
    chart = (
        alt.Chart(_values(frame))
        .mark_line(point=True)
        .encode(
            x=alt.X(
                "started:T",
                title="pipeline run started (UTC)",
                scale=alt.Scale(type="utc"),
                axis=alt.Axis(format="%d %b %H:%M", labelOverlap=True, labelFlush=True),
            ),
            y=alt.Y("share:Q", title="quarantined, % of rows read", axis=alt.Axis(format=".2~%")),
            color=alt.Color("source:N", legend=alt.Legend(title=None)),
            tooltip=[
                alt.Tooltip("source:N"),
                alt.Tooltip("run:N", title="run at"),
                alt.Tooltip("rows_quarantined:Q", title="rows quarantined", format=","),
                alt.Tooltip("rows_read:Q", title="rows read", format=","),
                alt.Tooltip("rows_staged:Q", title="rows staged", format=","),
            ],
        )
    )
    return _finish(
        chart,
        chart_title,
        "One point per pipeline run and source: the share of rows read in that run that broke a rule. A jump means "
        "a new file or a changed export broke the contract; hover for the counts.",
        height=320,
    )


def rejection_reasons(reasons: pl.DataFrame):
    """Quarantined rows per rule, most frequent on top, split by source."""
    chart_title = "Quarantined rows by rule"
    if reasons.is_empty():
        return charts.empty(chart_title, "No row was quarantined.")
    totals = reasons.group_by("rule").agg(pl.col("rows").sum()).sort(["rows", "rule"], descending=[True, False])
    frame = reasons.select("rule", "source", "rows", pl.col("typical_reason").fill_null("—")).join(
        totals.select("rule", order=pl.int_range(pl.len())), on="rule", how="left"
    )
    chart = (
        alt.Chart(_values(frame))
        .mark_bar()
        .encode(
            y=alt.Y("rule:N", title=None, sort=ORDER, axis=alt.Axis(labelLimit=200)),
            x=alt.X(
                "rows:Q",
                title=["quarantined rows", "(by the first rule each row broke)"],
                stack="zero",
                axis=alt.Axis(format=",d", tickMinStep=1),
            ),
            color=alt.Color("source:N", legend=alt.Legend(title=None)),
            tooltip=[
                alt.Tooltip("rule:N"),
                alt.Tooltip("source:N"),
                alt.Tooltip("rows:Q", format=","),
                alt.Tooltip("typical_reason:N", title="e.g."),
            ],
        )
    )
    return _finish(
        chart,
        chart_title,
        "Quarantined rows counted by the first rule they broke, most frequent at the top, coloured by source. The "
        "table below shows sample rows for a rule with every reason and the raw values as read.",
        height=max(240, 140 + 34 * totals.height),
    )
