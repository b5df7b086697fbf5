"""Every dashboard page run with `streamlit.testing.v1.AppTest` against a real warehouse.

The sample warehouse (built once per session by the real pipeline) is the main fixture;
`two_runs_warehouse` is a copy with an earlier pipeline run recorded too, so per-run charts
have a trend. Expected numbers are queried from the warehouse, never hard-coded.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[1] / "dashboards" / "app.py"
PAGES = {
    "portfolio": "app_pages/portfolio.py",
    "workflow_detail": "app_pages/workflow_detail.py",
    "readiness": "app_pages/ready_to_scale.py",
    "data_quality": "app_pages/data_quality.py",
}
QUADRANT_LABELS = ("Value with adoption", "Adoption without value", "Value without adoption", "No value, no adoption")


# -- helpers ---------------------------------------------------------------------------------


def query(warehouse: Path, sql: str, params: list | None = None) -> pl.DataFrame:
    """Read the warehouse the way an analyst would, read-only."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.sql(sql, params=params or None).pl()
    finally:
        con.close()


def run_page(page: str, query_params: dict[str, str] | None = None, interactive: bool = False) -> AppTest:
    """Run the app, switch to `page` and run it; fail on any exception element.

    `interactive`: with "Interactive charts" on, so the arrival charts arrive as Vega-Lite specs
    (`vega_specs`) rather than pictures (`pictures`)."""
    at = AppTest.from_file(str(APP), default_timeout=120)
    if interactive:
        from dashboards import ui

        at.session_state[ui.INTERACTIVE_KEY] = True
    if page != "portfolio":
        at.run()
        at.switch_page(PAGES[page])
    # Set after switching: each page drops the address parameters other pages own.
    for key, value in (query_params or {}).items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def texts(at: AppTest) -> str:
    """Every markdown, caption, info, warning, success, header and title string on the page."""
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "success", "error"):
        parts += [str(element.value) for element in getattr(at, kind)]
    return "\n".join(parts)


def scorecard_frame(at: AppTest):
    """The portfolio's scorecard table (the value section above it has its own table)."""
    frames = [frame.value for frame in at.dataframe if "Change % (95% CI)" in frame.value.columns]
    assert len(frames) == 1, [list(frame.value.columns) for frame in at.dataframe]
    return frames[0]


def figures(at: AppTest) -> list[dict]:
    """The Plotly figures on the page, as JSON."""
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def vega_specs(at: AppTest) -> list[dict]:
    """The Vega-Lite (Altair) charts on the page, as JSON, with Streamlit's separately sent datasets
    read back into polars frames under `"datasets"` (by name)."""
    specs = []
    for chart in at.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        spec["datasets"] = {data.name: pl.read_ipc_stream(data.data.data) for data in chart.proto.datasets}
        specs.append(spec)
    return specs


def vega_titled(at: AppTest, title: str) -> dict:
    matches = [spec for spec in vega_specs(at) if spec["usermeta"]["title"] == title]
    assert matches, f"no chart titled {title!r}: {[spec['usermeta']['title'] for spec in vega_specs(at)]}"
    return matches[0]


def layers(spec: dict) -> list[dict]:
    """Every unit layer of a (possibly nested) layered spec."""
    return [unit for layer in spec["layer"] for unit in layers(layer)] if "layer" in spec else [spec]


def layer_rows(spec: dict, layer: dict) -> pl.DataFrame:
    """The rows a layer draws (its named dataset)."""
    return spec["datasets"][layer["data"]["name"]]


def pictures(at: AppTest) -> list[str]:
    """The charts drawn on the server (`vega_charts.svg`) on the page, as SVG documents."""
    prefix = "data:image/svg+xml;base64,"
    found = []
    for element in at.get("image"):
        for image in element.proto.imgs:
            assert image.url.startswith(prefix), image.url[:40]
            found.append(base64.b64decode(image.url[len(prefix) :]).decode())
    return found


def svg_tree(document: str):
    """An SVG document parsed without a DTD, entities or network (lxml)."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.fromstring(document.encode(), parser)


def etree_name(node) -> str:
    """An lxml element's tag without its namespace."""
    return node.tag.rsplit("}", 1)[-1]


def picture_title(document: str) -> str:
    """A picture's title as one line (Vega writes a wrapped title as one text element per line)."""
    titles = svg_tree(document).xpath("//*[contains(@class, 'role-title-text')]//*[local-name()='text']")
    return " ".join(" ".join(title.itertext()) for title in titles).strip()


def chart_titles(at: AppTest) -> list[str]:
    """Every chart's title: Plotly, Vega-Lite, and pictures of Vega-Lite charts."""
    return (
        [f["layout"]["title"]["text"] for f in figures(at)]
        + [s["usermeta"]["title"] for s in vega_specs(at)]
        + [picture_title(document) for document in pictures(at)]
    )


def figure_titled(at: AppTest, title: str) -> dict:
    matches = [fig for fig in figures(at) if fig["layout"].get("title", {}).get("text") == title]
    assert matches, f"no chart titled {title!r}: {[f['layout'].get('title', {}).get('text') for f in figures(at)]}"
    return matches[0]


def expected_change(change: float, low: float, high: float) -> str:
    """How the scorecard prints a change and its CI, written out independently of dashboards.text."""
    return f"{change:+.1f}% ({low:+.1f} to {high:+.1f})"


def day(value: date) -> str:
    return f"{value.day} {value.strftime('%b %Y')}"


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def fresh_caches():
    """Each test starts and ends with empty Streamlit caches (and so closed connections)."""
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def use_warehouse(monkeypatch):
    """Point the dashboard at a warehouse file."""

    def use(path: Path) -> Path:
        monkeypatch.setenv("OPVALUE_WAREHOUSE", str(path))
        return path

    return use


@pytest.fixture
def sample(use_warehouse, sample_warehouse) -> Path:
    return use_warehouse(sample_warehouse)


@pytest.fixture(scope="session")
def two_runs_warehouse(sample_warehouse, tmp_path_factory) -> Path:
    """The sample warehouse with an earlier pipeline run recorded too, so per-run charts have a trend."""
    path = tmp_path_factory.mktemp("two_runs") / "opvalue.duckdb"
    shutil.copy(sample_warehouse, path)
    con = duckdb.connect(str(path))
    try:
        con.execute(
            """
            insert into ops.pipeline_runs (run_id, started_at, ended_at, status, message)
            select 'earlier-run', started_at - interval 1 day, ended_at - interval 1 day, 'success', null
            from ops.pipeline_runs order by started_at limit 1
            """
        )
        con.execute(
            """
            insert into ops.run_source_counts
            select 'earlier-run', source, files, rows_read, rows_staged, 0, rows_deduplicated, rows_superseded
            from ops.run_source_counts
            where run_id = (select run_id from ops.pipeline_runs where run_id <> 'earlier-run' limit 1)
            """
        )
    finally:
        con.close()
    return path


def deployed_primary(warehouse: Path) -> pl.DataFrame:
    """Deployed workflows with their primary metric's value_metrics row and adoption."""
    return query(
        warehouse,
        """
        select scorecard.workflow_id, scorecard.name, scorecard.adoption_rate, value_metrics.*
        exclude (workflow_id)
        from marts.workflow_scorecard as scorecard
        inner join marts.value_metrics as value_metrics
            on value_metrics.workflow_id = scorecard.workflow_id and value_metrics.metric = scorecard.primary_metric
        order by scorecard.items_measured desc, scorecard.workflow_id
        """,
    )


# -- portfolio --------------------------------------------------------------------------------


def test_portfolio_tiles_count_value_and_adoption_apart(sample, sample_warehouse):
    at = run_page("portfolio")
    tiles = {metric.label: metric.value for metric in at.metric}
    card = query(sample_warehouse, "select * from marts.workflow_scorecard")
    deployed = card.filter(pl.col("deployed_on").is_not_null())
    valued = deployed.filter(pl.col("decision").is_in(["scale", "close_gaps", "drive_adoption"])).height
    assert tiles["Workflows in production"] == str(card.filter(pl.col("stage") == "production").height)
    assert tiles["Adopted without value"] == str(card.filter(pl.col("quadrant") == "adoption_without_value").height)
    assert tiles["Share showing value"] == f"{valued / deployed.height * 100:.0f}%"
    assert f"{valued} of {deployed.height} deployed workflows have a value decision" in texts(at)


def test_portfolio_matrix_has_quadrants_and_a_bubble_per_measured_workflow(sample, sample_warehouse):
    at = run_page("portfolio", interactive=True)
    matrix = vega_titled(at, "Adoption × value")
    units = layers(matrix)
    quadrants = {
        words.replace("\n", " ")
        for layer in units
        if layer["mark"]["type"] == "text" and layer["encoding"]["text"]["field"] == "words"
        for words in layer_rows(matrix, layer)["words"]
    }
    assert quadrants == set(QUADRANT_LABELS)
    bubbles = next(layer for layer in units if layer["mark"]["type"] == "point")
    plotted = sorted(layer_rows(matrix, bubbles)["name"])
    measured = query(
        sample_warehouse,
        "select name from marts.workflow_scorecard where adoption_rate is not null and primary_change_pct is not null",
    )
    assert plotted == sorted(measured["name"])
    # Hover carries owner, stage and the change with its CI.
    tooltip = {field["field"] for field in bubbles["encoding"]["tooltip"]}
    assert {"owner", "stage", "primary"} <= tooltip
    assert all("95% CI" in change for change in layer_rows(matrix, bubbles)["primary"])
    # The adoption threshold line sits at 0.5 and the no-change line at 0.
    rules = [layer for layer in units if layer["mark"]["type"] == "rule" and "y2" not in layer["encoding"]]
    lines = {(next(iter(layer["encoding"])), layer_rows(matrix, layer).row(0)[0]) for layer in rules}
    assert lines == {("x", 0.5), ("y", 0.0)}


def test_portfolio_scorecard_prints_each_change_with_its_ci(sample, sample_warehouse):
    at = run_page("portfolio")
    table = scorecard_frame(at).set_index("Workflow")
    card = query(sample_warehouse, "select * from marts.workflow_scorecard where primary_change_pct is not null")
    assert card.height > 0
    for row in card.to_dicts():
        shown = table.loc[row["name"]]
        assert shown["Change % (95% CI)"] == expected_change(
            row["primary_change_pct"], row["primary_ci_low_pct"], row["primary_ci_high_pct"]
        )
        if row["adoption_rate"] is not None:
            assert shown["Adoption %"] == round(row["adoption_rate"] * 100)
    quadrants = set(table["Quadrant"])
    assert quadrants <= set(QUADRANT_LABELS) | {"Not deployed", "Not enough data"}


def test_portfolio_csv_download_holds_the_whole_scorecard(sample, sample_warehouse, monkeypatch):
    downloads = []
    original = st.download_button

    def recording_download_button(label, data, *args, **kwargs):
        downloads.append((label, data, kwargs.get("file_name")))
        return original(label, data, *args, **kwargs)

    monkeypatch.setattr(st, "download_button", recording_download_button)
    run_page("portfolio")
    [(label, data, file_name)] = downloads
    assert file_name.endswith(".csv") and "CSV" in label
    csv = pl.read_csv(io.StringIO(data))
    card = query(sample_warehouse, "select * from marts.workflow_scorecard")
    assert sorted(csv["workflow_id"]) == sorted(card["workflow_id"])
    assert set(card.columns) <= set(csv.columns)


def test_portfolio_team_filter_narrows_every_part(sample, sample_warehouse):
    at = run_page("portfolio")
    teams = query(
        sample_warehouse,
        "select team, count(*) as n from marts.workflow_scorecard where team is not null group by 1 order by 2, 1",
    )
    team, n = teams.row(0)
    at.multiselect(key="team").set_value([team]).run()
    assert not at.exception
    table = scorecard_frame(at)
    assert set(table["Team"]) == {team} and len(table) == n


def test_filters_live_in_the_address_so_a_link_reproduces_the_view(sample, sample_warehouse):
    # The browser writes a bound widget's value to the address (tests/test_browser.py checks that);
    # here: the address opened by someone else shows the filtered view.
    stage = "production"
    shared = run_page("portfolio", {"stage": "Production"})  # a new session opened on the shared address
    assert shared.multiselect(key="stage").value == [stage]
    expected = query(sample_warehouse, "select count(*) from staging.workflows where stage = ?", [stage]).item()
    assert len(scorecard_frame(shared)) == expected
    assert set(scorecard_frame(shared)["Stage"]) == {"Production"}


def test_a_page_drops_the_address_parameters_of_other_pages(sample, sample_warehouse):
    workflow_id = deployed_primary(sample_warehouse).row(0, named=True)["workflow_id"]
    at = run_page("portfolio", {"workflow": workflow_id, "metric": "Error rate"})
    assert not at.exception
    assert "workflow" not in at.query_params and "metric" not in at.query_params


def test_workflow_detail_opens_the_metric_tab_named_in_the_address(sample, sample_warehouse):
    row = deployed_primary(sample_warehouse).row(0, named=True)
    from dashboards import data

    other = next(metric for metric in data.METRICS if metric != row["metric"])
    at = run_page("workflow_detail", {"workflow": row["workflow_id"], "metric": data.metric_label(other)})
    assert not at.exception
    trends = [title for title in chart_titles(at) if title.endswith(" per week")]
    assert trends == [f"{data.metric_label(other)} per week"]


def test_arrival_charts_are_pictures_until_the_reader_switches_interactive_charts_on(sample, sample_warehouse):
    """A first visit loads no chart code: the arrival charts are SVG pictures drawn on the server. The
    switch draws the same charts in the browser, and stays on for the rest of the session."""
    from dashboards import ui

    at = run_page("portfolio")
    (document,) = pictures(at)
    assert picture_title(document) == "Adoption × value" and not at.get("vega_lite_chart")
    assert svg_tree(document).get("width") == "1200"  # the wide layout's main column (scaled to it in a browser)
    at.toggle(key=ui.INTERACTIVE_KEY).set_value(True).run()
    assert not pictures(at) and [spec["usermeta"]["title"] for spec in vega_specs(at)] == ["Adoption × value"]
    at.switch_page(PAGES["workflow_detail"])
    at.query_params["workflow"] = deployed_primary(sample_warehouse)["workflow_id"][0]
    at.run()
    assert not at.exception and at.toggle(key=ui.INTERACTIVE_KEY).value
    assert not pictures(at) and len(vega_specs(at)) == 4
    at.toggle(key=ui.INTERACTIVE_KEY).set_value(False).run()
    assert len(pictures(at)) == 4 and not vega_specs(at)
    # A metric tab's two charts are drawn for their columns, not stretched from the full width.
    assert sorted(svg_tree(document).get("width") for document in pictures(at)) == ["1200", "1200", "480", "730"]


def test_workflow_detail_builds_each_chart_once_per_warehouse_version(sample, sample_warehouse, monkeypatch):
    """The workflow page's arrival charts come from `st.cache_data` after the first visit: building and
    validating them was most of the page's server time. A new warehouse version builds them again."""
    from dashboards import vega_charts

    built: list[str] = []
    for name in ("metric_changes", "period_comparison", "weekly_trend", "effect_views", "svg"):
        original = getattr(vega_charts, name)

        def counted(*args, _name=name, _original=original, **kwargs):
            built.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(vega_charts, name, counted)
    workflow_id = deployed_primary(sample_warehouse)["workflow_id"][0]
    first = run_page("workflow_detail", {"workflow": workflow_id})
    # Four pictures, and the portfolio's (the app opens on the portfolio before switching).
    assert sorted(built) == ["effect_views", "metric_changes", "period_comparison", *["svg"] * 5, "weekly_trend"]
    again = run_page("workflow_detail", {"workflow": workflow_id})
    assert len(built) == 9  # every chart, and its picture, from the cache
    assert chart_titles(again) == chart_titles(first) and len(pictures(again)) == 4
    os.utime(sample_warehouse)  # a new published version (the cache key is the file's identity)
    run_page("workflow_detail", {"workflow": workflow_id})
    assert len(built) == 13  # the charts built again; their pictures, the same specs, from the cache


def test_portfolio_counts_workflows_per_stage(sample, sample_warehouse):
    at = run_page("portfolio")
    counts = dict(query(sample_warehouse, "select stage, count(*) from staging.workflows group by 1").iter_rows())
    tiles = {m.label: m.value for m in at.metric}
    for stage, label in (("investigation", "Investigation"), ("pilot", "Pilot"), ("retired", "Retired")):
        assert tiles[label] == str(counts.get(stage, 0)), stage
    assert "Pipeline of workflows by stage" not in chart_titles(at)


# -- decision first ----------------------------------------------------------------------------

VALUE_DECISIONS = ("scale", "close_gaps", "drive_adoption")


def decision_tiles(at: AppTest) -> dict[str, str]:
    """The headline: the tiles before "Workflows in production", label -> value."""
    labels = [m.label for m in at.metric]
    end = labels.index("Workflows in production")
    return {m.label: m.value for m in list(at.metric)[:end]}


def test_portfolio_headline_counts_each_decision_as_the_mart_does(sample, sample_warehouse):
    from dashboards import text

    at = run_page("portfolio")
    counts = query(sample_warehouse, "select decision, count(*) as n from marts.workflow_scorecard group by 1")
    expected = {text.DECISION_LABELS[d]: str(n) for d, n in counts.iter_rows()}
    assert decision_tiles(at) == expected
    assert "What to do next" in [s.value for s in at.subheader]
    # In words, never a code; the headline comes before the value section, which comes before the chart.
    assert not any("_" in label for label in decision_tiles(at))
    subheads = [s.value for s in at.subheader]
    assert subheads.index("What to do next") < subheads.index("What it is worth") < subheads.index("Scorecard")


def test_a_contested_or_guardrail_flagged_workflow_is_never_counted_as_value(sample, sample_warehouse):
    from dashboards import charts, text, vega_charts

    at = run_page("portfolio", interactive=True)
    card = query(sample_warehouse, "select * from marts.workflow_scorecard where deployed_on is not null")
    flagged = card.filter(
        pl.col("decision").is_in(["contested", "fix_guardrail"]) & (pl.col("primary_verdict") == "improved")
    )
    assert flagged.height > 0, "the sample should hold an improved workflow that is contested or guardrail-flagged"
    valued = card.filter(pl.col("shows_value")).height
    assert not flagged["shows_value"].any()
    tiles = {metric.label: metric.value for metric in at.metric}
    assert tiles["Share showing value"] == f"{valued / card.height * 100:.0f}%"
    improved = card.filter(pl.col("primary_verdict") == "improved").height
    assert valued < improved  # the before/after alone would have counted them
    # On the chart each sits in its decision's trace, with the decision's own shape and colour.
    matrix = vega_titled(at, "Adoption × value")
    bubbles = next(layer for layer in layers(matrix) if layer["mark"]["type"] == "point")
    decided = dict(layer_rows(matrix, bubbles).select("name", "decision").iter_rows())

    def drawn(channel: str, label: str):
        scale = bubbles["encoding"][channel]["scale"]
        return scale["range"][scale["domain"].index(label)]

    for row in flagged.to_dicts():
        label = decided[row["name"]]
        assert label == text.DECISION_LABELS[row["decision"]]
        assert drawn("shape", label) == vega_charts.DECISION_SHAPES[row["decision"]]
        assert drawn("color", label) == charts.DECISION_COLORS[row["decision"]]
    # The decision's shape differs from the one to scale, though both improved.
    assert vega_charts.DECISION_SHAPES["contested"] != vega_charts.DECISION_SHAPES["scale"]
    assert bubbles["encoding"]["shape"]["legend"]["title"] == "Decision"


def test_scorecard_decision_column_comes_right_after_the_workflow(sample, sample_warehouse):
    from dashboards import text

    at = run_page("portfolio")
    table = scorecard_frame(at)
    assert list(table.columns[:3]) == ["Workflow", "Decision", "Change % (95% CI)"]
    card = query(sample_warehouse, "select name, decision from marts.workflow_scorecard")
    shown = dict(zip(table["Workflow"], table["Decision"]))
    assert shown == {name: text.DECISION_LABELS[decision] for name, decision in card.iter_rows()}
    # The phone list carries the decision second, after the name.
    # One markdown element holds the whole list, an entry per workflow.
    phone = [entry for m in at.markdown if m.value.startswith("**[") for entry in m.value.split("\n\n")]
    assert len(phone) == card.height
    for name, decision in card.iter_rows():
        line = next(item for item in phone if item.startswith(f"**[{text.md(name)}]("))
        assert line.split("  \n")[1].startswith(text.md(text.DECISION_LABELS[decision]) + " · ")


def test_workflow_page_leads_with_the_decision_and_its_reasons(sample, sample_warehouse):
    from dashboards import text

    card = query(sample_warehouse, "select * from marts.workflow_scorecard order by workflow_id").unique(
        "decision", keep="first", maintain_order=True
    )
    assert card.height >= 4
    for row in card.to_dicts():
        st.cache_data.clear()
        at = run_page("workflow_detail", {"workflow": row["workflow_id"]})
        markdown = [m.value for m in at.markdown]
        first = next(value for value in markdown if value.startswith("### "))
        assert first.startswith(f"### **{text.DECISION_LABELS[row['decision']]}** — ")
        # The reasons in words: the verdict codes the mart quotes are spelled out.
        reasons = re.sub(
            r"\(([a-z]+(?:_[a-z]+)+)\)",
            lambda m: "(" + text.VERDICT_LABELS[m.group(1)].lower() + ")",
            row["decision_reasons"],
        )
        assert first == f"### **{text.DECISION_LABELS[row['decision']]}** — {text.md(reasons)}"
        assert "no_clear_change" not in first and "insufficient_data" not in first
        summary = next(i for i, value in enumerate(markdown) if value.startswith("#### "))
        assert markdown.index(first) < summary  # the decision comes before the one-sentence change


def test_workflow_sections_are_drawn_only_when_opened_and_open_from_the_address(sample, sample_warehouse):
    from dashboards import text

    row = query(
        sample_warehouse,
        "select * from marts.workflow_scorecard where deployed_on is not null order by items_measured desc",
    ).row(0, named=True)
    closed = run_page("workflow_detail", {"workflow": row["workflow_id"]})
    labels = [e.label for e in closed.expander]
    assert "What it is worth" in labels and "Exceptions and feedback" in labels
    assert "Exceptions and feedback" not in [s.value for s in closed.subheader]
    assert "Decision" not in [m.label for m in closed.metric]

    opened = run_page("workflow_detail", {"workflow": row["workflow_id"], "value": "true", "exceptions": "true"})
    subheads = [s.value for s in opened.subheader]
    assert "What it is worth" in subheads and "Exceptions and feedback" in subheads
    tiles = {m.label: m.value for m in opened.metric}
    assert tiles["Decision"] == text.DECISION_LABELS[row["decision"]]
    loop = query(sample_warehouse, "select * from marts.feedback_loops where workflow_id = ?", [row["workflow_id"]])
    if loop.height:
        assert tiles["Open backlog"] == str(loop["open_backlog"].item())
    figure_titled(opened, "Exceptions: escalated, overridden and corrected assisted items, by month")
    history = query(
        sample_warehouse, "select count(*) from marts.scorecard_history where workflow_id = ?", [row["workflow_id"]]
    ).item()
    assert "How the decision changed across builds" in texts(opened)
    assert any(len(frame.value) == history and "Data up to" in frame.value.columns for frame in opened.dataframe)
    assert opened.query_params["value"] == "true" and opened.query_params["exceptions"] == "true"


def test_portfolio_value_section_shows_the_marts_totals(sample, sample_warehouse):
    at = run_page("portfolio")
    # The page opens on the currency with the most value workflows (dashboards/sql/value_portfolio.sql).
    value = query(sample_warehouse, "select * from marts.portfolio_value order by value_workflows desc, currency").row(
        0, named=True
    )
    tiles = {m.label: m.value for m in at.metric}
    currency = value["currency"]
    net = value["net_value_per_month"]
    # Without a priced value workflow there is no amount to show (never "0": that would read as "worth nothing").
    expected = "—" if net is None or not value["value_workflows"] else f"{currency} {float(net):,.0f}"
    assert tiles[f"Net value per month ({currency})"] == expected
    # The month-by-month chart is under "Trends by month": not drawn until opened.
    assert not [f for f in figures(at) if f["layout"]["title"]["text"].startswith("Net value and tool cost")]
    opened = run_page("portfolio", {"trends": "true"})
    figure_titled(opened, f"Net value and tool cost per month ({currency})")


# -- trends by month --------------------------------------------------------------------------

TREND_TITLES = (
    "Adoption by month",
    "Decisions by month",
)

# Adoption per month computed from staging and the windows, not from marts.monthly_adoption:
# users with actions that month inside the post window over eligible users, summed over the
# deployed workflows with usage rows, leaving out each workflow's month cut short by its cutoff.
ADOPTION_BY_MONTH_SQL = """
with windows as (
    select workflow_id, post_start_on, cast(cutoff_at as date) as cutoff_on
    from intermediate.workflow_windows where post_start_on is not null
),
months as (
    select workflow_id, cutoff_on,
        cast(unnest(generate_series(date_trunc('month', post_start_on), date_trunc('month', cutoff_on),
            interval 1 month)) as date) as month_on
    from windows
),
active as (
    select usage.workflow_id, cast(date_trunc('month', usage.usage_date) as date) as month_on,
        count(distinct usage.user_id) as users
    from staging.usage as usage inner join windows using (workflow_id)
    where usage.actions > 0 and usage.usage_date between windows.post_start_on and windows.cutoff_on
    group by all
)
select months.month_on, sum(coalesce(active.users, 0)) / sum(workflows.eligible_users) as rate
from months
inner join staging.workflows as workflows using (workflow_id)
left join active using (workflow_id, month_on)
where workflows.eligible_users > 0
    and workflow_id in (select workflow_id from staging.usage)
    and months.cutoff_on >= last_day(months.month_on)
group by months.month_on order by months.month_on
"""


def test_trends_are_neither_queried_nor_drawn_until_opened(sample, sample_warehouse):
    closed = run_page("portfolio")
    assert "Trends by month" in [e.label for e in closed.expander]
    titles = [f["layout"]["title"]["text"] for f in figures(closed)]
    assert not set(TREND_TITLES) & set(titles)
    assert not closed.select_slider and "trends" not in closed.query_params


def test_trends_show_adoption_decisions_and_net_value_by_month(sample, sample_warehouse):
    at = run_page("portfolio", {"trends": "true"})
    adoption = figure_titled(at, TREND_TITLES[0])["data"][0]
    expected = query(sample_warehouse, ADOPTION_BY_MONTH_SQL)
    assert expected.height >= 3
    assert [x[:10] for x in adoption["x"]] == [str(m) for m in expected["month_on"]]
    assert adoption["y"] == [round(rate * 100) for rate in expected["rate"]]  # whole percentages

    # Decisions: each workflow's latest recorded decision by the month's end, counted per decision.
    latest = query(
        sample_warehouse,
        "select decision, count(*) as n from (select workflow_id, arg_max(decision, (data_cutoff_at, recorded_at)) "
        "as decision from marts.scorecard_history group by 1) group by 1",
    )
    bars = figure_titled(at, TREND_TITLES[1])["data"]
    from dashboards import text

    last_month = {trace["name"]: trace["y"][-1] for trace in bars}
    assert last_month == {text.DECISION_LABELS[d]: n for d, n in latest.iter_rows()}
    assert all(trace["marker"]["pattern"] for trace in bars)  # colour and a pattern per decision

    currency = query(
        sample_warehouse, "select currency from marts.portfolio_value order by value_workflows desc, currency"
    ).item(0, 0)
    monthly = query(
        sample_warehouse,
        "select month_on, net_value from marts.portfolio_monthly_value where currency = ? order by month_on",
        [currency],
    )
    net = figure_titled(at, f"Net value and tool cost per month ({currency})")
    net_trace = [t for t in net["data"] if t.get("name", "").startswith("realised net value")][0]
    assert [x[:10] for x in net_trace["x"]] == [str(m) for m in monthly["month_on"]]
    assert net_trace["y"] == [float(v) for v in monthly["net_value"]]
    assert "Data as of" in texts(at)


def test_the_month_range_from_the_address_narrows_every_trend(sample, sample_warehouse):
    months = query(sample_warehouse, ADOPTION_BY_MONTH_SQL)["month_on"].to_list()
    first, last = months[1], months[-2]
    label = lambda m: m.strftime("%b %Y")  # noqa: E731
    at = run_page("portfolio", {"trends": "true", "months": [label(first), label(last)]})
    assert at.select_slider(key="months").value == (f"{first:%Y-%m}", f"{last:%Y-%m}")
    drawn = [f for f in figures(at) if f["layout"]["title"]["text"] != "Adoption × value"]
    assert drawn
    for fig in drawn:
        for trace in fig["data"]:
            xs = [date.fromisoformat(x[:10]) for x in trace.get("x") or []]
            assert all(first <= x <= last for x in xs), (fig["layout"]["title"]["text"], xs)
    adoption = figure_titled(at, TREND_TITLES[0])["data"][0]
    assert [x[:10] for x in adoption["x"]] == [str(m) for m in months[1:-1]]
    assert f"{label(first)} to {label(last)}" in texts(at)


def test_trends_follow_the_team_filter(sample, sample_warehouse):
    team, n = query(
        sample_warehouse,
        "select team, count(*) from marts.workflow_scorecard where team is not null group by 1 order by 2 desc, 1",
    ).row(0)
    at = run_page("portfolio", {"trends": "true", "team": team})
    bars = figure_titled(at, TREND_TITLES[1])["data"]
    assert sum(trace["y"][-1] for trace in bars) == n


# -- workflow detail --------------------------------------------------------------------------


def test_workflow_detail_opens_the_workflow_named_in_the_url(sample, sample_warehouse):
    target = deployed_primary(sample_warehouse).row(-1, named=True)  # not the picker's default
    at = run_page("workflow_detail", {"workflow": target["workflow_id"]})
    assert at.selectbox[0].value == target["workflow_id"]
    assert at.header[0].value == target["name"]
    assert at.query_params["workflow"] == target["workflow_id"]


def test_workflow_detail_picker_puts_the_choice_in_the_url(sample, sample_warehouse):
    at = run_page("workflow_detail")
    others = [
        option
        for option in query(sample_warehouse, "select workflow_id from staging.workflows")["workflow_id"]
        if option != at.selectbox[0].value
    ]
    at.selectbox[0].set_value(others[0]).run()
    assert not at.exception
    assert at.query_params["workflow"] == others[0]
    name = query(sample_warehouse, "select name from staging.workflows where workflow_id = ?", [others[0]]).item()
    assert at.header[0].value == name


def test_workflow_detail_unknown_workflow_falls_back_with_a_warning(sample):
    at = run_page("workflow_detail", {"workflow": "no_such_workflow"})
    from dashboards import text

    assert any(text.md("no_such_workflow") in w.value for w in at.warning)
    # The unknown id leaves the address, which now names the workflow shown: none, the default.
    assert "workflow" not in at.query_params


def test_workflow_detail_summary_says_what_changed_honestly(sample, sample_warehouse):
    words = {
        "improved": "fell",
        "worsened": "rose",
        "no_clear_change": "No clear change",
        "insufficient_data": "Not enough data",
    }
    rows = deployed_primary(sample_warehouse).unique("verdict", keep="first", maintain_order=True)
    for row in rows.to_dicts():
        st.cache_data.clear()
        at = run_page("workflow_detail", {"workflow": row["workflow_id"]})
        summary = next(m.value for m in at.markdown if m.value.startswith("#### "))
        assert words[row["verdict"]] in summary, summary
        assert day(row["deployed_on"]) in summary
        if row["adoption_rate"] is not None:
            assert f"{row['adoption_rate'] * 100:.0f}% of eligible users are active" in summary
        if row["verdict"] == "improved":
            assert f"{abs(row['change_pct']):.0f}%" in summary or f"{abs(row['change_pct']):.1f}%" in summary


def test_workflow_detail_not_deployed_says_there_is_no_before_after(sample, sample_warehouse):
    comparison = query(
        sample_warehouse, "select workflow_id from staging.workflows where deployed_on is null order by 1"
    )
    if comparison.is_empty():
        pytest.skip("the sample has no workflow without a deployment date")
    at = run_page("workflow_detail", {"workflow": comparison["workflow_id"][0]})
    assert "Not deployed: there is no before/after" in texts(at)


def test_workflow_detail_trend_marks_the_deployment_and_reads_the_weekly_mart(sample, sample_warehouse):
    row = deployed_primary(sample_warehouse).row(0, named=True)
    at = run_page("workflow_detail", {"workflow": row["workflow_id"]}, interactive=True)
    weekly = query(
        sample_warehouse,
        """
        select value from marts.weekly_metrics
        where workflow_id = ? and metric = ? and value is not null
            and week_start_on + 6 <= ?  -- the last, incomplete week is left out
        order by week_start_on
        """,
        [row["workflow_id"], row["metric"], row["post_end_on"]],
    )
    trends = [spec for spec in vega_specs(at) if spec["usermeta"]["title"].endswith(" per week")]
    primary_trend = trends[0]
    units = layers(primary_trend)
    scale = 100.0 if row["unit"] == "share" else 1.0
    line = next(layer for layer in units if layer["mark"]["type"] == "line")
    assert layer_rows(primary_trend, line)["value"].to_list() == pytest.approx([v * scale for v in weekly["value"]])
    # The go-live: a rule at the deployment date, labelled with it.
    deployed = row["deployed_on"].isoformat()
    marks = [(layer["mark"]["type"], layer_rows(primary_trend, layer).row(0, named=True)) for layer in units]
    assert ("rule", {"on": deployed, "words": f"deployed {day(row['deployed_on'])}"}) in marks


def test_workflow_detail_shows_three_views_and_method_checks(sample, sample_warehouse):
    from dashboards.text import md  # pipeline sentences are shown as text, like every value from the data

    row = deployed_primary(sample_warehouse).row(0, named=True)
    at = run_page("workflow_detail", {"workflow": row["workflow_id"]})
    page = texts(at)
    views = query(
        sample_warehouse,
        "select * from marts.effect_views where workflow_id = ? and metric = ?",
        [row["workflow_id"], row["metric"]],
    )
    for view in views.to_dicts():
        assert md(view["label"]) in page
    for title in ("Before / after", "Assisted vs unassisted", "Difference-in-differences"):
        assert f"**{title}**" in page
    checks = query(
        sample_warehouse,
        "select * from marts.method_checks where workflow_id = ? and metric = ?",
        [row["workflow_id"], row["metric"]],
    )
    assert checks.height > 0
    for check in checks.to_dicts():
        assert md(check["detail"]) in page
    assert ":orange-badge[" in page or ":green-badge[" in page


# -- readiness ---------------------------------------------------------------------------------


def test_readiness_address_opens_ready_to_scale_with_the_gate_per_workflow(sample, sample_warehouse):
    at = run_page("readiness")
    assert at.title[0].value == "Ready to scale"
    gate = query(sample_warehouse, "select * from marts.readiness")
    tiles = {metric.label: metric.value for metric in at.metric}
    assert tiles["Ready to scale"] == f"{gate.filter(pl.col('ready')).height} of {gate.height}"
    table = next(frame.value for frame in at.dataframe if "Gate" in frame.value.columns).set_index("Workflow")
    for row in gate.to_dicts():
        assert table.loc[row["name"], "Gate"] == ("Ready to scale" if row["ready"] else "Not ready")
        assert table.loc[row["name"], "Missing"] == (row["missing"] or "—")
    # The phone list says what is missing, workflow by workflow, from the mart's own column.
    from dashboards import text

    entries = [entry for m in at.markdown if m.value.startswith("**") for entry in m.value.split("\n\n")]
    listed = [entry for entry in entries if "missing: " in entry]
    assert len(listed) == gate.filter(~pl.col("ready")).height
    for row in gate.filter(~pl.col("ready")).to_dicts():
        assert any(text.md(row["name"]) in item and f"missing: {text.md(row['missing'])}" in item for item in listed)


# -- data quality ------------------------------------------------------------------------------


def test_data_quality_counts_rows_and_ranks_rejection_reasons(sample, sample_warehouse):
    at = run_page("data_quality", interactive=True)
    counts = query(
        sample_warehouse,
        "select source, sum(rows_staged)::bigint as staged, sum(rows_quarantined)::bigint as quarantined from ops.ingested_files group by 1",
    )
    frames = [frame.value for frame in at.dataframe]
    outcome = next(frame for frame in frames if "Quarantined" in frame.columns and "Staged" in frame.columns).set_index(
        "Source"
    )
    for source, staged, quarantined in counts.iter_rows():
        assert outcome.loc[source, "Staged"] == staged and outcome.loc[source, "Quarantined"] == quarantined
    rules = query(
        sample_warehouse, "select rule, count(*) as n from quarantine.rejected_rows group by 1 order by 2 desc, 1"
    )
    if rules.is_empty():
        assert "No row was quarantined" in texts(at)
    else:
        chart = vega_titled(at, "Quarantined rows by rule")
        bars = layer_rows(chart, chart)
        assert chart["encoding"]["y"]["sort"] == {"field": "order", "op": "min", "order": "ascending"}
        # Most frequent on top: the bars are ordered by `order`, and order 0 is the most frequent rule.
        assert set(bars.filter(pl.col("order") == 0)["rule"]) == {rules["rule"][0]}
        assert at.selectbox[0].options == list(rules["rule"])
        sample_rows = next(frame for frame in frames if "reason" in frame.columns and "record" in frame.columns)
        assert set(sample_rows["rule"]) == {rules["rule"][0]}
    rejected = query(sample_warehouse, "select source_file from quarantine.rejected_files")
    if rejected.is_empty():
        assert "No file was rejected." in texts(at)
    else:
        files = next(frame for frame in frames if "source_file" in frame.columns and "ingested_at" in frame.columns)
        assert sorted(files["source_file"]) == sorted(rejected["source_file"])


def test_data_quality_shows_runs_and_freshness_from_ops_tables(use_warehouse, two_runs_warehouse):
    use_warehouse(two_runs_warehouse)
    at = run_page("data_quality", interactive=True)
    last = query(two_runs_warehouse, "select status from ops.pipeline_runs order by started_at desc limit 1").item()
    reports = [element.value for element in (at.success if last == "success" else at.error)]
    assert any(value.startswith(f"**{last}**") for value in reports)
    freshness = next(frame.value for frame in at.dataframe if "Limit" in frame.value.columns)
    expected = query(two_runs_warehouse, "select source, is_stale from ops.source_freshness order by source")
    assert list(freshness["Source"]) == list(expected["source"])
    assert list(freshness["Status"]) == ["stale" if s else "fresh" for s in expected["is_stale"]]
    vega_titled(at, "Quarantined rows per run")


# -- every page ----------------------------------------------------------------------------------


@pytest.mark.parametrize("page", list(PAGES))
def test_without_a_warehouse_every_page_names_make_pipeline(page, use_warehouse, tmp_path):
    use_warehouse(tmp_path / "missing" / "opvalue.duckdb")
    at = run_page(page)
    assert len(at.warning) == 1 and "make pipeline" in at.warning[0].value
    assert str(tmp_path / "missing" / "opvalue.duckdb") in at.warning[0].value
    assert not at.get("plotly_chart") and not at.get("vega_lite_chart") and not pictures(at)
    assert not at.dataframe and not at.metric


@pytest.mark.parametrize("page", list(PAGES))
@pytest.mark.parametrize("variant", ["sample", "two_runs"])
def test_every_page_renders_every_chart_with_a_caption(
    page, variant, use_warehouse, sample_warehouse, two_runs_warehouse
):
    use_warehouse({"sample": sample_warehouse, "two_runs": two_runs_warehouse}[variant])
    # Lazy sections opened from the address, so that every chart a page can draw is drawn.
    params = {
        "workflow_detail": {"workflow": deployed_primary(sample_warehouse)["workflow_id"][0]},
        "portfolio": {"trends": "true"},
        "readiness": {"quarters": "true"},
    }
    at = run_page(page, params.get(page), interactive=True)
    charts, specs = figures(at), vega_specs(at)
    assert charts or specs
    captions = [c.value for c in at.caption]
    for fig in charts:
        assert fig["layout"]["title"]["text"]
        assert fig["layout"]["meta"]["caption"] in captions
        assert fig["layout"]["template"]["layout"]["plot_bgcolor"] == "white"
    for spec in specs:
        assert spec["title"]["text"] and spec["usermeta"]["title"]
        assert spec["usermeta"]["caption"] in captions
        # The house look: white, the page's font.
        assert spec["config"]["background"] == "white" and spec["config"]["font"].startswith('"Source Sans"')
    # As pictures (the default), the same charts with the same captions, in the same order.
    drawn = run_page(page, params.get(page))
    assert not drawn.get("vega_lite_chart")
    assert [picture_title(document) for document in pictures(drawn)] == [s["usermeta"]["title"] for s in specs]
    assert [c.value for c in drawn.caption] == captions


def test_a_newly_published_build_is_read_without_a_restart(use_warehouse, sample_warehouse, tmp_path):
    """The pipeline publishes by renaming a new file over the old one; the next rerun must see it."""
    published = use_warehouse(tmp_path / "opvalue.duckdb")
    shutil.copy(sample_warehouse, published)
    at = run_page("portfolio")
    first = query(published, "select workflow_id, name from marts.workflow_scorecard order by workflow_id limit 1").row(
        0
    )
    assert first[1] in set(scorecard_frame(at)["Workflow"])

    build = tmp_path / "opvalue.duckdb.building"
    shutil.copy(sample_warehouse, build)
    con = duckdb.connect(str(build))
    con.execute(
        "update marts.workflow_scorecard set name = 'Renamed in the new build' where workflow_id = ?", [first[0]]
    )
    con.close()
    os.replace(build, published)

    at.run()  # caches are not cleared: the new file's identity must be enough
    assert not at.exception
    names = set(scorecard_frame(at)["Workflow"])
    assert "Renamed in the new build" in names and first[1] not in names


# -- hostile input: values from the data and the URL are text ----------------------------------

EVIL = "evil.example"
HOSTILE_NAME = (
    '=HYPERLINK("https://evil.example/csv","open") [click me](https://evil.example/md-link) '
    '![pixel](https://evil.example/md-image.png) <a href="https://evil.example/html-link">html link</a> '
    '<img src="https://evil.example/html-image.png"> https://evil.example/bare :red[red] $x^2$'
)
"""A workflow name carrying a spreadsheet formula, markdown and HTML links and images, a bare URL,
a Streamlit colour directive and LaTeX: each must reach the reader as the literal characters."""
HOSTILE_ID = "invoice_match"


def build_with_cli(input_dir: Path, warehouse: Path) -> Path:
    """Build a warehouse the way an operator does: `python -m pipelines.cli build` in a subprocess."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    env = {
        **os.environ,
        "PYTHONPATH": str(root),
        "OPVALUE_INPUT_DIR": str(input_dir),
        "OPVALUE_WAREHOUSE": str(warehouse),
        "DAGSTER_HOME": str(warehouse.parent / "dagster_home"),
    }
    (warehouse.parent / "dagster_home").mkdir(exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "build"], cwd=root, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return warehouse


@pytest.fixture(scope="session")
def hostile_warehouse(tmp_path_factory) -> Path:
    """The sample with one deployed workflow (adopted without value, so listed in text too) renamed to `HOSTILE_NAME`."""
    import csv

    root = tmp_path_factory.mktemp("hostile")
    inputs = root / "inputs"
    shutil.copytree(Path(__file__).resolve().parents[1] / "data" / "sample", inputs)
    with open(inputs / "workflows.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        if row["workflow_id"] == HOSTILE_ID:
            row["name"] = HOSTILE_NAME
    with open(inputs / "workflows.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return build_with_cli(inputs, root / "opvalue.duckdb")


def assert_no_live_markup(strings: list[str]) -> None:
    """Rendered as markdown (CommonMark, as Streamlit's renderer), no string yields a link or an image."""
    from markdown_it import MarkdownIt

    renderer = MarkdownIt("commonmark").enable(["table", "strikethrough"])
    for s in strings:
        rendered = renderer.render(s)
        # The only links allowed are the ones the page builds itself, to a workflow's page.
        links = re.findall(r'<a href="([^"]*)"', rendered)
        assert all(link.startswith("workflow?workflow=") for link in links), rendered
        assert rendered.count("<a ") == len(links) and "<img" not in rendered, rendered


def assert_literal_markdown(strings: list[str], value: str) -> None:
    """`value` appears in the markdown strings only escaped, and nothing in them renders as a link or image."""
    from dashboards import text

    assert any(text.md(value) in s for s in strings), f"the escaped value is in none of {len(strings)} strings"
    assert not any(value in s for s in strings), "the value appears unescaped"
    assert_no_live_markup(strings)


def test_hostile_workflow_name_is_text_on_every_page(use_warehouse, hostile_warehouse, monkeypatch):

    use_warehouse(hostile_warehouse)
    downloads = []
    original = st.download_button

    def recording_download_button(label, data, *args, **kwargs):
        downloads.append(data)
        return original(label, data, *args, **kwargs)

    monkeypatch.setattr(st, "download_button", recording_download_button)
    portfolio = run_page("portfolio", interactive=True)
    markdown = [str(e.value) for kind in ("markdown", "caption") for e in getattr(portfolio, kind)]
    assert_literal_markdown(markdown, HOSTILE_NAME)
    for figure in figures(portfolio):
        for trace in figure["data"]:
            for value in trace.get("text") or []:
                assert "<a" not in str(value) and "<img" not in str(value)
    # Vega-Lite draws text as text (no markup), so the name is passed as it is: in the data, never in the spec,
    # where an expression could read it as code.
    matrix = vega_titled(portfolio, "Adoption × value")
    bubbles = next(layer for layer in layers(matrix) if layer["mark"]["type"] == "point")
    assert HOSTILE_NAME in layer_rows(matrix, bubbles)["name"].to_list()
    assert HOSTILE_NAME not in json.dumps({key: value for key, value in matrix.items() if key != "datasets"})
    # As a picture (the default): the name is the text of an SVG text element, and the document holds no
    # markup that could run or fetch anything; the page shows it as an <img>, where nothing would anyway.
    (document,) = pictures(run_page("portfolio"))
    tree = svg_tree(document)
    assert HOSTILE_NAME in ["".join(node.itertext()) for node in tree.xpath("//*[local-name()='text']")]
    tags = {etree_name(node) for node in tree.iter() if isinstance(node.tag, str)}
    assert not tags & {"script", "foreignObject", "a", "image", "iframe", "use", "style"}, tags
    attributes = {name for node in tree.iter() for name in node.attrib}
    assert not [name for name in attributes if name.lower().startswith("on") or name.endswith("href")], attributes
    # The CSV download: the formula is neutralised, numbers stay numbers.
    csv = pl.read_csv(io.StringIO(downloads[0]))
    assert csv.filter(pl.col("workflow_id") == HOSTILE_ID)["name"].item() == "'" + HOSTILE_NAME
    assert csv.schema["eligible_users"].is_numeric()
    # The scorecard's link is URL-encoded; the name is a plain cell.
    table = scorecard_frame(portfolio)
    assert HOSTILE_NAME in table["Workflow"].to_list()

    detail = run_page("workflow_detail", {"workflow": HOSTILE_ID})
    assert_literal_markdown([str(e.value) for e in detail.header], HOSTILE_NAME)

    readiness = run_page("readiness")
    gate = next(frame.value for frame in readiness.dataframe if "Gate" in frame.value.columns)
    assert HOSTILE_NAME in gate["Workflow"].to_list()  # a table cell: drawn as text
    assert_literal_markdown([str(e.value) for e in readiness.markdown], HOSTILE_NAME)


def test_hostile_workflow_parameter_in_the_url_is_not_rendered(sample):
    hostile = "[click](https://evil.example/url-link) ![p](https://evil.example/url-image.png)"
    at = run_page("workflow_detail", {"workflow": hostile})
    strings = [str(e.value) for kind in ("markdown", "caption", "warning", "header") for e in getattr(at, kind)]
    assert not any(hostile in s for s in strings)
    assert_no_live_markup(strings)


def test_every_page_asks_for_a_login_when_auth_is_configured(sample):
    for page in PAGES.values():
        at = AppTest.from_file(str(APP), default_timeout=120)
        at.secrets["auth"] = {
            "redirect_uri": "http://localhost:8501/oauth2callback",
            "cookie_secret": "x" * 32,
            "client_id": "id",
            "client_secret": "secret",
            "server_metadata_url": "https://login.example/.well-known/openid-configuration",
        }
        at.run()
        if page != PAGES["portfolio"]:
            at.switch_page(page)
            at.run()
        assert not at.exception, [e.message for e in at.exception]
        assert [b.label for b in at.button] == ["Log in"]
        assert not at.metric and not at.dataframe and not figures(at) and not vega_specs(at) and not pictures(at), page


def test_without_auth_settings_there_is_no_login(sample):
    at = run_page("portfolio")
    assert "Log in" not in [b.label for b in at.button]
    assert at.metric
