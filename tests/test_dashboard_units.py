"""The dashboard's pure parts: the sentences leaders read, table shaping and figure builders."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal

import plotly.graph_objects as go
import polars as pl
import pytest

from dashboards import charts, tables, text, ui, vega_charts

DEPLOYED = date(2026, 4, 6)


def result(**overrides) -> dict:
    """A marts.value_metrics row with defaults for an improved cycle time."""
    row = {
        "metric": "cycle_time_hours",
        "unit": "hours",
        "verdict": "improved",
        "deployed_on": DEPLOYED,
        "baseline_start_on": DEPLOYED - timedelta(days=90),
        "post_start_on": DEPLOYED,
        "post_end_on": date(2026, 6, 30),
        "change_pct": -34.0,
        "ci_low_pct": -38.0,
        "ci_high_pct": -30.0,
        "abs_change": -3.0,
        "n_baseline": 400,
        "n_post": 500,
        "n_baseline_closed": 390,
        "n_post_closed": 470,
        "baseline_value": 10.0,
        "baseline_ci_low": 9.0,
        "baseline_ci_high": 11.0,
        "post_value": 6.6,
        "post_ci_low": 6.0,
        "post_ci_high": 7.2,
        "p_adjusted": 0.001,
    }
    row.update(overrides)
    return row


# -- sentences --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, "Cycle time fell 34% (95% CI 30–38%) since 6 Apr 2026"),
        (
            {"change_pct": -5.2, "ci_low_pct": -8.1, "ci_high_pct": -2.3},
            "Cycle time fell 5.2% (95% CI 2.3–8.1%) since 6 Apr 2026",
        ),
        (
            {"verdict": "worsened", "change_pct": 12.4, "ci_low_pct": 3.1, "ci_high_pct": 21.7},
            "Cycle time rose 12.4% (95% CI 3.1–21.7%) since 6 Apr 2026",
        ),
        (
            {"verdict": "no_clear_change", "change_pct": -3.2, "ci_low_pct": -10.4, "ci_high_pct": 4.0},
            "No clear change in cycle time since 6 Apr 2026 (-3%, 95% CI -10% to +4%)",
        ),
        (
            {"verdict": "insufficient_data", "n_baseline_closed": 12, "n_post_closed": 40},
            "Not enough data yet to judge cycle time: 12 closed items before and 40 after deployment on 6 Apr 2026 "
            "(at least 30 needed in each)",
        ),
        (
            {
                "verdict": "worsened",
                "unit": "share",
                "change_pct": None,
                "ci_low_pct": None,
                "ci_high_pct": None,
                "abs_change": 0.05,
            },
            "Cycle time worsened since 6 Apr 2026 (absolute change 5.0%; the baseline was zero, so no percentage)",
        ),
    ],
)
def test_change_sentence_is_honest_about_the_verdict(overrides, expected):
    assert text.change_sentence("Cycle time", result(**overrides), min_closed=30) == expected


def test_summary_sentence_matches_the_issue_example():
    sentence = text.summary_sentence("Cycle time", result(), adoption_rate=0.85, assisted_share=None, min_closed=30)
    assert sentence == "Cycle time fell 34% (95% CI 30–38%) since 6 Apr 2026; 85% of eligible users are active."


def test_summary_sentence_flags_a_worsened_guardrail_only_on_an_improvement():
    error = result(
        metric="error_rate", unit="share", verdict="worsened", change_pct=93.0, ci_low_pct=40.0, ci_high_pct=146.0
    )
    improved = text.summary_sentence(
        "Cycle time", result(), 0.78, 0.66, 30, worsened_guardrails=[("Error rate", error)]
    )
    assert "but error rate rose 93% (95% CI 40–146%): a guardrail to resolve before scaling" in improved
    assert "66% of items were AI-assisted" in improved
    flat = text.summary_sentence(
        "Cycle time", result(verdict="no_clear_change"), 0.78, None, 30, [("Error rate", error)]
    )
    assert "guardrail" not in flat


def test_summary_sentence_for_a_workflow_that_is_not_deployed():
    assert text.summary_sentence("Cycle time", None, None, None, 30).startswith(
        "Not deployed: there is no before/after"
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((-29.167, -36.812, -20.597), "-29.2% (-36.8 to -20.6)"),
        ((4.0, -1.0, 9.04), "+4.0% (-1.0 to +9.0)"),
        ((None, None, None), "—"),
        ((-3.0, None, None), "-3.0%"),
    ],
)
def test_change_with_ci(args, expected):
    assert text.change_with_ci(*args) == expected


@pytest.mark.parametrize(
    ("target", "met", "expected"),
    [
        (None, None, "no target set"),
        (-20.0, True, "target -20%: met"),
        (-20.0, False, "target -20%: not met"),
        (-20.0, None, "target -20%"),
    ],
)
def test_target_clause(target, met, expected):
    assert text.target_clause(target, met) == expected


@pytest.mark.parametrize(
    ("verdict", "expected"),
    [
        ("improved", ("-34%", "Improved; 95% CI -38% to -30%")),
        ("insufficient_data", ("—", "Not enough data; measured -34% on too few items, 95% CI -38% to -30%")),
        (None, ("—", "not deployed")),
    ],
)
def test_change_tile_shows_no_headline_number_without_a_verdict(verdict, expected):
    assert text.change_tile(verdict, -34.0, -38.0, -30.0) == expected


def test_adoption_clause_without_eligible_users():
    assert text.adoption_clause(None, None) == "adoption is unknown (no eligible users registered)"


# -- tables -----------------------------------------------------------------------------------


# -- figures ----------------------------------------------------------------------------------


def scorecard_rows() -> pl.DataFrame:
    base = {"team": "Ops", "stage": "production", "business_owner": "Ann", "primary_metric": "cycle_time_hours"}
    rows = [
        ("a", "Alpha", 0.9, -30.0, -40.0, -20.0, "improved", 800, "scale"),
        ("b", "Beta", 0.8, 2.0, -5.0, 9.0, "no_clear_change", 600, "redesign"),
        ("c", "Gamma", 0.2, 20.0, 10.0, 30.0, "worsened", 300, "reconsider"),
        ("d", "Delta", 0.6, -50.0, -90.0, 5.0, "insufficient_data", 20, "wait_for_data"),
        ("f", "Phi", 0.7, -35.0, -45.0, -25.0, "improved", 500, "contested"),
        ("e", "Epsilon", None, None, None, None, None, 0, "not_deployed"),
    ]
    return pl.DataFrame(
        [
            {
                **base,
                "workflow_id": w,
                "name": n,
                "adoption_rate": a,
                "primary_change_pct": c,
                "primary_ci_low_pct": lo,
                "primary_ci_high_pct": hi,
                "primary_verdict": v,
                "items_measured": items,
                "decision": d,
            }
            for w, n, a, c, lo, hi, v, items, d in rows
        ]
    )


def spec_layers(spec: dict) -> list[dict]:
    """Every unit layer of a (possibly nested) Vega-Lite spec."""
    return [unit for layer in spec["layer"] for unit in spec_layers(layer)] if "layer" in spec else [spec]


def spec_rows(spec: dict, layer: dict) -> list[dict]:
    """The rows a layer draws, from the spec's top-level datasets."""
    return spec["datasets"][layer["data"]["name"]]


def test_adoption_value_matrix_draws_quadrants_and_shapes_and_colours_by_decision():
    chart = vega_charts.adoption_value_matrix(scorecard_rows(), 0.5, {"cycle_time_hours": "Cycle time"})
    spec = chart.to_dict()
    units = spec_layers(spec)
    quadrants = [
        row["words"].replace("\n", " ")
        for layer in units
        if layer["mark"]["type"] == "text" and layer["encoding"]["text"]["field"] == "words"
        for row in spec_rows(spec, layer)
    ]
    # Four text layers (one per corner, each filtering its row) over the four labels.
    assert len(quadrants) == 16 and set(quadrants) == {
        "Value with adoption",
        "Adoption without value",
        "Value without adoption",
        "No value, no adoption",
    }
    bubbles = next(layer for layer in units if layer["mark"]["type"] == "point")
    rows = spec_rows(spec, bubbles)
    # One bubble per workflow with an adoption rate and a change; Epsilon (not deployed) is left out.
    assert sorted(row["name"] for row in rows) == ["Alpha", "Beta", "Delta", "Gamma", "Phi"]
    encoding = bubbles["encoding"]

    def drawn(channel: str, decision: str):
        scale = encoding[channel]["scale"]
        return scale["range"][scale["domain"].index(text.DECISION_LABELS[decision])]

    present = ["scale", "redesign", "reconsider", "contested", "wait_for_data"]
    assert encoding["color"]["scale"]["domain"] == [text.DECISION_LABELS[d] for d in present]  # the label map's order
    assert {d: drawn("color", d) for d in present} == {d: charts.DECISION_COLORS[d] for d in present}
    # Shape as well as colour, so the decision survives colour blindness (and greyscale print):
    # the contested bubble is not drawn like the one to scale, though both improved.
    shapes = {d: drawn("shape", d) for d in present}
    assert len({(shapes[d], drawn("fill", d)) for d in present}) == 5
    assert shapes["scale"] == "circle" and shapes["contested"] == vega_charts.STAR_PATH
    # "Wait for data" is an open circle: the shape of "scale", told apart by its white fill.
    assert drawn("fill", "wait_for_data") == "white" and drawn("fill", "scale") == charts.DECISION_COLORS["scale"]
    assert encoding["shape"]["legend"]["title"] == "Decision"
    # Every decision has its own shape (an open circle counting as its own) and its own colour.
    outlines = {(vega_charts.DECISION_SHAPES[d], d in vega_charts.OPEN_DECISIONS) for d in text.DECISION_LABELS}
    assert len(outlines) == len(text.DECISION_LABELS) == len(set(charts.DECISION_COLORS.values()))
    assert set(vega_charts.DECISION_SHAPES) == set(text.DECISION_LABELS) == set(charts.DECISION_COLORS)
    # Falls are plotted upwards; names beside the bubbles carry the class a phone hides.
    assert encoding["y"]["scale"]["reverse"] is True
    assert {layer["name"] for layer in units if layer.get("name", "").startswith("bubble_labels")}
    assert "bubble_labels" in ui.RESPONSIVE_CSS
    assert spec["config"]["background"] == "white" and spec["config"]["font"] == charts.FONT


def test_a_chart_drawn_on_the_server_is_an_svg_of_the_width_asked_that_fetches_nothing():
    chart = vega_charts.spec(
        vega_charts.adoption_value_matrix(scorecard_rows(), 0.5, {"cycle_time_hours": "Cycle time"})
    )
    document = vega_charts.svg(chart, 640)
    assert document.startswith("<svg") and 'width="640"' in document.split(">", 1)[0]
    assert "Adoption × value" in document and "Alpha" in document
    assert chart["width"] == "container"  # the cached spec is left as it was, for the interactive chart
    # The specs carry their rows; a spec that asks for a URL is refused rather than fetched.
    with pytest.raises(ValueError, match="not allowed"):
        vega_charts.svg({"data": {"url": "https://evil.example/rows.csv"}, "mark": "point"})


def test_adoption_value_spec_is_built_without_altairs_global_data_transformer():
    """The Portfolio caches the chart's spec, built outside Streamlit's lock on Altair's global data
    transformer: its rows must be written into the spec, whatever transformer another thread enabled."""
    import altair as alt

    def foreign(data):
        raise AssertionError("the chart's rows went through the global data transformer")

    chart = vega_charts.adoption_value_matrix(scorecard_rows(), 0.5, {"cycle_time_hours": "Cycle time"})
    alt.data_transformers.register("opvalue_test_foreign", foreign)
    with alt.data_transformers.enable("opvalue_test_foreign"):
        spec = vega_charts.spec(chart)
    assert spec == chart.to_dict()
    bubbles = next(layer for layer in spec_layers(spec) if layer["mark"]["type"] == "point")
    assert sorted(row["name"] for row in spec_rows(spec, bubbles)) == ["Alpha", "Beta", "Delta", "Gamma", "Phi"]
    assert vega_charts.title(spec) == "Adoption × value" and vega_charts.caption(spec) == vega_charts.caption(chart)
    nothing = vega_charts.adoption_value_matrix(scorecard_rows().head(0), 0.5, {})
    assert vega_charts.spec(nothing) is nothing and charts.is_empty(nothing)  # the placeholder stays a figure


def test_chart_rows_are_written_as_json_dates_as_iso_strings_and_decimals_as_floats():
    frame = pl.DataFrame(
        {
            "day": [date(2026, 3, 1), None],
            "at": [datetime(2026, 3, 1, 6, 30, 15, 250000), None],
            "usd": [Decimal("12.50"), Decimal("-0.25")],
            "name": ["a", "b"],
        }
    ).with_columns(pl.col("usd").cast(pl.Decimal(12, 2)))
    rows = vega_charts._values(frame).to_dict()["values"]
    assert rows == [
        {"day": "2026-03-01", "at": "2026-03-01T06:30:15.250", "usd": 12.5, "name": "a"},
        {"day": None, "at": None, "usd": -0.25, "name": "b"},
    ]
    json.dumps(rows)


def test_label_positions_keep_names_off_each_other_and_inside_the_plot():
    positions = charts._label_positions(
        [(100, 100, 10, "Left one"), (160, 100, 10, "Right one"), (990, 300, 10, "Edge")]
    )
    assert positions[0] != "middle right"  # would run into the second bubble
    assert positions[2] == "middle left"  # the right edge is near
    # A crowded column: small bubbles at the same x, 10 px apart (labels are 15 px tall). The first takes the
    # right; the next would run over its label, so the sides alternate.
    column = charts._label_positions([(500, 100 + 10 * i, 4, f"Workflow {i}") for i in range(6)])
    assert column == ["middle right", "middle left"] * 3
    assert charts._label_positions([]) == []


def test_weekly_trend_marks_deployment_shades_periods_and_drops_the_partial_week():
    periods = charts.Periods(date(2026, 1, 5), date(2026, 2, 2), date(2026, 2, 2), date(2026, 3, 4))
    weeks = [date(2026, 1, 5) + timedelta(weeks=i) for i in range(9)]  # the last starts 2 Mar: ends after 4 Mar
    weekly = pl.DataFrame(
        {
            "week_start_on": weeks,
            "metric": ["cycle_time_hours"] * 9,
            "value": [float(i) for i in range(9)],
            "n": [30] * 9,
        }
    )
    spec = vega_charts.weekly_trend(weekly, "Cycle time", "hours", periods, result()).to_dict()
    units = spec_layers(spec)
    line = next(layer for layer in units if layer["mark"]["type"] == "line")
    assert [row["week"] for row in spec_rows(spec, line)] == [w.isoformat() for w in weeks[:8]]
    bands = next(layer for layer in units if layer["mark"]["type"] == "rect")
    assert [(r["start"], r["end"]) for r in spec_rows(spec, bands)] == [
        ("2026-01-05", "2026-02-02"),
        ("2026-02-02", "2026-03-05"),
    ]
    marks = [(layer["mark"]["type"], spec_rows(spec, layer)[0]) for layer in units]
    assert ("rule", {"on": "2026-02-02", "words": "deployed 2 Feb 2026"}) in marks
    assert line["encoding"]["y"]["title"] == ["Cycle time (hours)"]
    levels = next(layer for layer in units if layer["mark"]["type"] == "rule" and "x2" in layer["encoding"])
    assert [row["level"] for row in spec_rows(spec, levels)] == [
        f"baseline: {text.metric_value(result()['baseline_value'], 'hours')}",
        f"after: {text.metric_value(result()['post_value'], 'hours')}",
    ]


def test_every_builder_titles_its_figure_and_says_how_to_read_it():
    periods = charts.Periods(date(2026, 1, 5), date(2026, 2, 2), date(2026, 2, 2), date(2026, 3, 31))
    weekly = pl.DataFrame(
        {
            "week_start_on": [date(2026, 1, 5), date(2026, 2, 2)],
            "active_users": [0, 5],
            "eligible_users": [10, 10],
            "active_rate": [0.0, 0.5],
            "items": [20, 25],
            "assisted_share": [0.0, 0.6],
        }
    )
    bins = pl.DataFrame(
        {
            "period": ["baseline", "post"],
            "bin": [0, 1],
            "lower_hours": [1.0, 2.0],
            "upper_hours": [2.0, 4.0],
            "items": [10, 12],
            "share": [1.0, 1.0],
        }
    )
    views = pl.DataFrame(
        {
            "view": ["before_after", "assisted_vs_unassisted", "diff_in_diff"],
            "estimate_pct": [-30.0, -45.0, -10.0],
            "ci_low_pct": [-40.0, -50.0, -25.0],
            "ci_high_pct": [-20.0, -40.0, 5.0],
            "n_treated": [5, 5, 5],
            "n_comparison": [5, 5, 5],
            "label": ["observational", "association (self-selected)", "DiD"],
        }
    )
    counts = pl.DataFrame(
        {
            "source": ["usage"],
            "rows_read": [10],
            "rows_staged": [8],
            "rows_quarantined": [1],
            "rows_deduplicated": [1],
            "rows_superseded": [0],
        }
    )
    reasons = pl.DataFrame(
        {
            "source": ["usage", "usage"],
            "rule": ["unparseable", "out_of_range"],
            "rows": [3, 1],
            "typical_reason": ["x", "y"],
        }
    )
    figures = [
        charts.adoption_trend(
            pl.DataFrame(
                {
                    "month_on": [date(2026, 1, 1), date(2026, 2, 1)],
                    "adoption_rate": [0.404, 0.6],
                    "workflows_with_adoption": [1, 2],
                    "workflows_adopted": [0, 1],
                }
            ),
            0.5,
        ),
        charts.decision_trend(
            pl.DataFrame(
                {
                    "month_on": [date(2026, 1, 1), date(2026, 2, 1), date(2026, 2, 1)],
                    "decision": ["wait_for_data", "scale", "contested"],
                    "workflows": [2, 1, 1],
                }
            )
        ),
        charts.cycle_time_distribution(bins, 1.5, 3.0),
        charts.adoption_over_time(weekly, periods),
    ]
    arrival = [
        vega_charts.adoption_value_matrix(scorecard_rows(), 0.5, {}),
        vega_charts.metric_changes(pl.DataFrame([result()]), {"cycle_time_hours": "Cycle time"}, "cycle_time_hours"),
        vega_charts.period_comparison(result(), "Cycle time"),
        vega_charts.effect_views(views, "Cycle time"),
        vega_charts.rows_by_source(counts),
        vega_charts.rejection_reasons(reasons),
        vega_charts.quarantine_over_time(
            pl.DataFrame(
                {
                    "run_id": ["a", "b"],
                    "started_at": [datetime(2026, 1, 1, 6, 30), datetime(2026, 1, 2, 6, 30)],
                    "source": ["usage"] * 2,
                    "rows_read": [10, 10],
                    "rows_staged": [9, 10],
                    "rows_quarantined": [1, 0],
                }
            )
        ),
    ]
    for fig in figures:
        assert isinstance(fig, go.Figure)
        assert fig.layout.title.text, fig
        assert len(charts.caption(fig)) > 20, fig.layout.title.text
        assert fig.layout.template.layout.paper_bgcolor == "white"
        assert not charts.is_empty(fig)
    import altair as alt

    def foreign(data):
        raise AssertionError("a chart's rows went through Altair's global data transformer")

    alt.data_transformers.register("opvalue_test_foreign", foreign)
    for chart in arrival:
        # Every arrival chart can be cached as its spec (`vega_charts.spec`, validated against Vega-Lite's
        # schema): built whatever transformer another session's thread enabled, and plain JSON.
        with alt.data_transformers.enable("opvalue_test_foreign"):
            spec = vega_charts.spec(chart)
        json.dumps(spec, allow_nan=False)
        assert spec["title"]["text"] and vega_charts.title(chart) in (
            spec["title"]["text"],
            " ".join(spec["title"]["text"]),
        )
        assert len(vega_charts.caption(chart)) > 20, vega_charts.title(chart)
        assert spec["config"]["background"] == "white" and spec["config"]["font"] == charts.FONT
    adoption = figures[0].data[0]
    assert list(adoption.y) == [40, 60]  # whole percentages
    decisions = {trace.name: trace for trace in figures[1].data}
    assert list(decisions) == ["Scale", "Contested", "Wait for data"]  # the label map's order, in words
    assert list(decisions["Scale"].y) == [0, 1] and list(decisions["Wait for data"].y) == [2, 0]
    assert decisions["Contested"].marker.pattern.shape != decisions["Scale"].marker.pattern.shape
    assert decisions["Contested"].marker.color == charts.DECISION_COLORS["contested"]
    placeholder = vega_charts.weekly_trend(
        pl.DataFrame(schema={"week_start_on": pl.Date, "value": pl.Float64, "n": pl.Int64}), "Cycle time", "hours", None
    )
    assert charts.is_empty(placeholder) and vega_charts.caption(placeholder) == "No weekly cycle time values to show."


def test_dot_whisker_charts_shape_and_order_their_rows():
    spec = vega_charts.metric_changes(
        pl.DataFrame(
            [
                result(),
                result(metric="error_rate", verdict="worsened", change_pct=93.0, ci_low_pct=40.0, ci_high_pct=146.0),
            ]
        ),
        {"cycle_time_hours": "Cycle time", "error_rate": "Error rate"},
        "cycle_time_hours",
    ).to_dict()
    dots = next(layer for layer in spec_layers(spec) if layer["mark"]["type"] == "point")
    rows = spec_rows(spec, dots)
    # In the label map's order, the primary marked; each verdict its own colour and shape.
    assert [(r["order"], r["metric"], r["verdict"]) for r in rows] == [
        (0, "Cycle time (primary)", "Improved"),
        (1, "Error rate", "Worsened"),
    ]
    assert dots["encoding"]["y"]["sort"] == {"field": "order", "op": "min", "order": "ascending"}
    shape = dots["encoding"]["shape"]["scale"]
    assert shape["range"][shape["domain"].index("Worsened")] == vega_charts.X_PATH
    assert shape["range"][shape["domain"].index("Improved")] == "circle"
    # Rows are ordered by a number, so no value from the data is written into a Vega expression.
    reasons = pl.DataFrame(
        {"source": ["usage", "items"], "rule": ["it's \u2028 odd", "b"], "rows": [1, 5], "typical_reason": [None, "y"]}
    )
    bars = vega_charts.rejection_reasons(reasons).to_dict()
    assert sorted((r["rule"], r["order"]) for r in spec_rows(bars, bars)) == [("b", 0), ("it's \u2028 odd", 1)]
    assert "odd" not in json.dumps({k: v for k, v in bars.items() if k != "datasets"})


# -- values from the data and the URL are text ------------------------------------------------

HOSTILE = [
    "[click](https://evil.example/a)",
    "![pixel](https://evil.example/p.png)",
    '<a href="https://evil.example/h">x</a> <img src=https://evil.example/i.png>',
    "https://evil.example/bare and www.evil.example and someone@evil.example",
    ":red[red] :material/home: $x^2$ **bold** _it_ `code` ~~gone~~",
    "# heading\n- list\n1. item\n> quote\n```\nfence",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_md_leaves_no_live_markdown_and_reads_as_the_value(value):
    from markdown_it import MarkdownIt

    escaped = text.md(value)
    rendered = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(escaped)
    for tag in ("<a ", "<img", "<strong", "<em", "<code", "<h1", "<ul", "<ol", "<blockquote", "<pre", "<s>", "<del"):
        assert tag not in rendered, (tag, rendered)
    # Unescaped and without the invisible word joiners, the reader sees the value (line breaks as spaces).
    import re

    shown = re.sub(r"\\(.)", r"\1", escaped).replace(text.WORD_JOINER, "")
    assert shown == re.sub(r"[\r\n]+", " ", value)
    # No bare URL or address survives for GitHub-flavoured autolinking.
    for start in ("://", "www.", "@e"):
        assert start not in escaped.replace("\\", "")


@pytest.mark.parametrize("value", HOSTILE)
def test_plain_leaves_no_html_for_plotly(value):
    import html

    escaped = text.plain(value)
    assert "<" not in escaped and ">" not in escaped
    assert html.unescape(escaped) == value


def test_missing_values_read_as_a_dash():
    assert text.md(None) == "—" and text.plain(float("nan")) == "—"


@pytest.mark.parametrize("workflow_id", ["claims_triage", "a b&c=d", "x/../../y?z#w", "é"])
def test_detail_link_url_encodes_the_id(workflow_id):
    from urllib.parse import parse_qs, urlsplit

    link = text.detail_link(workflow_id)
    parts = urlsplit(link)
    assert parts.path == "workflow" and parts.fragment == ""
    assert parse_qs(parts.query) == {"workflow": [workflow_id]}


def test_csv_safe_neutralises_formulas_and_keeps_numbers():
    frame = pl.DataFrame(
        {
            "name": ['=HYPERLINK("https://evil.example","x")', "+1", "-2", "@SUM(A1)", "\tx", "\rx", "plain", None],
            "n": [1, -2, 3, 4, 5, 6, 7, 8],
            "rate": [0.5, -0.1, None, 1.0, 0.0, 0.2, 0.3, 0.4],
        }
    )
    safe = tables.csv_safe(frame)
    assert safe["name"].to_list() == [
        '\'=HYPERLINK("https://evil.example","x")',
        "'+1",
        "'-2",
        "'@SUM(A1)",
        "'\tx",
        "'\rx",
        "plain",
        None,
    ]
    assert safe["n"].to_list() == frame["n"].to_list() and safe.schema["n"] == pl.Int64
    assert safe.schema["rate"] == pl.Float64
    reread = pl.read_csv(safe.write_csv().encode())
    assert reread.schema["n"].is_numeric() and reread["n"].to_list() == frame["n"].to_list()


def test_make_dashboard_binds_to_loopback_unless_host_is_set(monkeypatch):
    import os
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]

    def launch(**env) -> str:
        done = subprocess.run(
            ["make", "-n", "dashboard"], cwd=root, env={**os.environ, **env}, capture_output=True, text=True, check=True
        )
        [line] = [line for line in done.stdout.splitlines() if "streamlit run" in line]
        return line

    monkeypatch.delenv("HOST", raising=False)
    assert "--server.address 127.0.0.1" in launch()
    assert "--server.address 0.0.0.0" in launch(HOST="0.0.0.0")
    # `streamlit run` without make reads the same default from the project's config.
    import tomllib

    config = tomllib.loads((root / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"


# -- plain language and rounding --------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(-24.4, "-24%"), (-99.6, "-99.6%"), (0.3, "+0.3%"), (0.0, "+0%"), (150.2, "+150%"), (None, "—")],
)
def test_whole_pct_rounds_tiles_without_misleading(value, expected):
    assert text.whole_pct(value) == expected


def test_a_fall_short_of_100_percent_is_not_called_100():
    sentence = text.change_sentence("Cycle time", result(change_pct=-99.6, ci_low_pct=-99.9, ci_high_pct=-97.0), 30)
    assert "fell 99.6%" in sentence and "100%" not in sentence


@pytest.mark.parametrize(
    ("verdict", "p", "expected"),
    [
        ("improved", 0.001, ", very unlikely to be chance"),
        ("worsened", 0.03, ", unlikely to be chance"),
        ("no_clear_change", 0.4, ", could be chance"),
        ("insufficient_data", 0.001, ""),
        ("improved", None, ""),
    ],
)
def test_chance_clause_replaces_p_values_for_leaders(verdict, p, expected):
    assert text.chance_clause(verdict, p) == expected


def test_unknown_codes_read_as_words():
    assert text.label(text.DECISION_LABELS, "wait_for_data") == "Wait for data"
    assert text.label(text.DECISION_LABELS, "some_new_decision") == "Some new decision"
    assert text.label(text.VERDICT_LABELS, "negligible") == "Too small to matter"
    assert text.label(text.VERDICT_LABELS, "insufficient_baseline") == "Too little baseline"
    assert text.label(text.QUADRANT_LABELS, "adoption_unknown") == "Adoption unknown"


def test_decision_line_puts_the_decision_in_words_then_the_reasons():
    line = text.decision_line("redesign", "cycle time did not improve (no_clear_change); the tool is adopted")
    assert line == "**Redesign** — cycle time did not improve \\(no clear change\\); the tool is adopted"
    assert text.decision_line("wait_for_data", None) == "**Wait for data**"
    # A hostile reason stays text.
    assert "[x](" not in text.decision_line("contested", "[x](https://evil.example)")


@pytest.mark.parametrize("verdict", ["insufficient_data", "insufficient_baseline"])
def test_tiles_make_no_claim_without_enough_data_or_baseline(verdict):
    value, caption = text.change_tile(verdict, -34.0, -38.0, -30.0)
    assert value == "—" and caption.startswith(text.VERDICT_LABELS[verdict])
    assert text.label(text.VERDICT_LABELS, "no_clear_change") == "No clear change"


def test_as_of_line_and_stale_sources_name_the_source_and_its_age():
    from datetime import datetime

    now = datetime(2026, 11, 30, 12, 0)
    status = pl.DataFrame(
        {
            "source": ["usage", "work_items", "workflows"],
            "newest_record_at": [datetime(2026, 11, 2), datetime(2016, 11, 2, 18), datetime(2026, 11, 30, 11)],
            "limit_hours": [48.0, 48.0, 2160.0],
            "is_stale": [False, True, False],
            "built_at": [datetime(2026, 11, 30, 11, 30)] * 3,
        }
    )
    line = text.as_of_line(status, now)
    assert line.startswith("Data as of **2 Nov 2016** (newest work item; usage to 2 Nov 2026)")
    assert "built 30 Nov 2026 11:30 UTC (under 1 h ago)" in line
    stale = text.stale_sources(status, now)
    # usage was fresh when built, but is 28 days old now; work items are ten years old.
    assert stale == (
        "usage: newest record 28 days old (2 Nov 2026), limit 2 days; "
        "work items: newest record 10.1 years old (2 Nov 2016), limit 2 days"
    )
    fresh = status.with_columns(
        pl.lit(datetime(2026, 11, 30, 10)).alias("newest_record_at"), pl.lit(False).alias("is_stale")
    )
    assert text.stale_sources(fresh, now) == ""


def test_a_long_list_shows_its_head_and_sends_the_rest_only_when_opened():
    """A browser parses every markdown element it is sent, hidden or not: past `shown` entries the
    rest of a list waits in an expander, sent only when the address opens it."""
    from streamlit.testing.v1 import AppTest

    def app(entries: int = 20):
        from dashboards import ui

        ui.long_list([f"- entry {i}" for i in range(entries)], key="more", rest_label="{n} more entries", shown=15)

    closed = AppTest.from_function(app)
    closed.run()
    assert not closed.exception
    assert [m.value for m in closed.markdown] == ["\n".join(f"- entry {i}" for i in range(15))]
    assert [e.label for e in closed.expander] == ["5 more entries"]
    opened = AppTest.from_function(app)
    opened.query_params["more"] = "true"
    opened.run()
    assert [m.value for m in opened.markdown][-1] == "\n".join(f"- entry {i}" for i in range(15, 20))
    short = AppTest.from_function(app, kwargs={"entries": 3})
    short.run()
    assert [m.value for m in short.markdown] == ["- entry 0\n- entry 1\n- entry 2"] and not short.expander


def _magic_strings(statements: list) -> list[int]:
    """Line numbers of bare strings that Streamlit's magic would write onto a page (not inside functions)."""
    import ast

    found = []
    for statement in statements:
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant | ast.JoinedStr):
            found.append(statement.lineno)
        elif not isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            for field in ("body", "orelse", "finalbody", "handlers"):
                found += _magic_strings(getattr(statement, field, []) or [])
    return found


def test_no_page_script_writes_a_stray_string_onto_its_page():
    """A string standing alone in a page script (a docstring under a constant, say) is shown on the page
    by Streamlit's magic; only each script's own docstring, the first statement, is exempt."""
    import ast
    from pathlib import Path

    root = Path(ui.__file__).parent
    scripts = [root / "app.py", *sorted((root / "app_pages").glob("*.py"))]
    stray = {}
    for script in scripts:
        module = ast.parse(script.read_text())
        body = module.body[1:] if ast.get_docstring(module) is not None else module.body
        if lines := _magic_strings(body):
            stray[script.name] = lines
    assert len(scripts) >= 5 and stray == {}
