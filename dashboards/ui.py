"""Small building blocks every page uses: the warehouse guard, the filters, charts with captions."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import plotly.graph_objects as go
import streamlit as st

from dashboards import charts, data, text, vega_charts

PAGE_ICON = str(Path(__file__).parent / "assets" / "icon.png")
"""Served by the app itself: an emoji or `:material/…:` page icon is fetched from a CDN, which fails offline."""
NARROW_PX = 640
"""Below this width (phones) the pages show lists instead of wide tables and matrices."""
RESPONSIVE_CSS = f"""<style>
@media (max-width: {NARROW_PX}px) {{
  [class*="st-key-wide_only"] {{ display: none !important; }}
  /* Bubble names do not fit a phone's chart: they are in the hover text and the list below. */
  [class*="st-key-bubbles"] .textpoint, [class*="st-key-bubbles"] [class*="bubble_labels"] {{ display: none; }}
}}
@media (min-width: {NARROW_PX + 1}px) {{
  [class*="st-key-narrow_only"] {{ display: none !important; }}
}}
@media print {{
  [data-testid="stHeader"], [data-testid="stToolbar"] {{ display: none !important; }}
}}
</style>"""
"""Our own CSS (no value from the data in it): containers keyed `wide_only_*` or `narrow_only_*`."""
PAGE_PARAMS = {
    "portfolio": ("team", "stage", "value_table", "trends", "months", "adopted_more", "all_workflows"),
    "workflow": ("workflow", "metric", "value", "exceptions"),
    "readiness": ("team", "stage", "quarters"),
    "data-quality": (),
}
"""The address parameters each page owns; anything else (left by another page) is removed."""

NO_WAREHOUSE = (
    "No warehouse found at `{path}`. Build it with `make pipeline` (it reads the input folder, "
    "`data/sample` by default), or point `OPVALUE_WAREHOUSE` at an existing file, then reload this page."
)


class Filters(NamedTuple):
    """The sidebar's team and stage selection; empty means all."""

    teams: tuple[str, ...]
    stages: tuple[str, ...]


def login_configured() -> bool:
    """Whether `.streamlit/secrets.toml` has an `[auth]` section (Streamlit's built-in OIDC login)."""
    try:
        return "auth" in st.secrets
    except FileNotFoundError:  # no secrets file at all: no login
        return False


def require_login() -> None:
    """When login is configured, stop every page for a visitor who has not logged in.

    Called by `app.py` before `st.navigation(...).run()`, so no page can be reached around it.
    Without an `[auth]` section there is no login (the default: the dashboard binds to
    127.0.0.1 and is reached only from this machine).
    """
    if not login_configured():
        return
    if not st.user.get("is_logged_in"):  # absent until the auth section is read: not logged in
        st.title("opvalue")
        st.markdown("Log in to see the dashboard.")
        st.button("Log in", on_click=st.login, type="primary", icon=":material/login:")
        st.stop()
    with st.container(horizontal=True, horizontal_alignment="right"):
        who = st.user.get("email") or st.user.get("name") or "signed in"
        st.caption(f"Logged in as {text.md(who)}")
        st.button("Log out", on_click=st.logout, type="tertiary", icon=":material/logout:")


def header(title: str, question: str) -> None:
    """The page title and the one question the page answers."""
    st.title(title)
    st.markdown(f"**{question}**")


def page(title: str, question: str, url_path: str) -> data.Warehouse:
    """Start a page: drop other pages' address parameters, title and question, the warehouse
    guard, then "Data as of" and the stale-data banner. Returns the warehouse to read."""
    for key in list(st.query_params):
        if key not in PAGE_PARAMS[url_path]:
            del st.query_params[key]
    st.html(RESPONSIVE_CSS)
    header(title, question)
    with st.container(horizontal=True, gap="medium", vertical_alignment="center"):
        glossary()
        chart_mode()
    db = require_warehouse()
    freshness(db)
    return db


GLOSSARY = {
    "95% CI": "The 95% confidence interval: the range the true change very likely lies in. When the whole "
    "range is below zero the metric improved; when it crosses zero the change could be chance.",
    "Very unlikely to be chance": "The change is larger than the noise in the data would produce by itself "
    "(adjusted p-value below 0.01, corrected for looking at many metrics at once).",
    "Comparison workflows": "Workflows not deployed over the same weeks. Subtracting their change "
    "(difference-in-differences) removes what would have happened anyway: seasons, volume, policy.",
    "Placebo": "The same estimate at a fake go-live date before the real one. A clear 'effect' there means "
    "the method picks up something other than the deployment.",
    "Guardrail": "Error and rework rates: a faster workflow that makes more mistakes is not an improvement "
    "to scale yet.",
    "Capping": "Counts and spend are capped at the 99th percentile before averaging, so a handful of "
    "extreme items cannot move the result.",
    "Adoption": "Active ÷ eligible users after deployment: use, not value.",
}


def glossary() -> None:
    """A "Words used here" popover: the terms a leader meets on the pages, in plain words."""
    with st.popover("Words used here", icon=":material/help:", type="tertiary"):
        for term, meaning in GLOSSARY.items():
            st.markdown(f"**{term}**: {meaning}")


def freshness(db: data.Warehouse, now: datetime | None = None) -> None:
    """ "Data as of <date>" and, when a source is older than its limit, a banner naming it and its age."""
    now = now or datetime.now(UTC).replace(tzinfo=None)  # the warehouse stores naive UTC timestamps
    status = data.freshness_status(db)
    st.caption(text.as_of_line(status, now))
    stale = text.stale_sources(status, now)
    if stale:
        st.warning(
            f"**Stale data**: {stale}. Numbers that depend on these sources may be out of date; the Data quality "
            "page has the details.",
            icon=":material/schedule:",
        )


def require_warehouse() -> data.Warehouse:
    """The current warehouse, or a message naming `make pipeline` and the end of the page."""
    db = data.current_warehouse()
    if db is None:
        st.warning(NO_WAREHOUSE.format(path=data.warehouse_target()), icon=":material/database_off:")
        st.stop()
    return db


def filters(db: data.Warehouse) -> Filters:
    """Team and stage filters in a row under the page title, kept in the address (`?team=…&stage=…`).

    `bind="query-params"` puts every choice in the URL, so a shared link or a reload shows the
    same selection; values that are not options (an old link, a hand-edited address) are dropped.
    """
    options = data.filter_options(db)
    teams = sorted({t for t in options["team"].to_list() if t is not None})
    stages = [s for s in data.STAGES if s in set(options["stage"].to_list())]
    with st.container(horizontal=True, gap="medium"):
        chosen_teams = st.multiselect(
            "Team", teams, key="team", bind="query-params", placeholder="All teams", format_func=str
        )
        chosen_stages = st.multiselect(
            "Stage",
            stages,
            key="stage",
            bind="query-params",
            placeholder="All stages",
            format_func=lambda s: text.label(text.STAGE_LABELS, s),
        )
    return Filters(tuple(chosen_teams), tuple(chosen_stages))


PICK_KEY = "workflow_pick"


def workflow_picker(workflows) -> str:
    """The workflow picker, kept in the address as `?workflow=<workflow_id>`; returns the chosen id.

    The widget has a key, so Streamlit keeps its identity and every pick counts (without one,
    an index read from the address re-created it and every second pick was dropped). The
    address is written with `st.query_params` from the widget's callback rather than
    `bind="query-params"`: a bound widget replaces the history entry, a query-parameter change
    made from Python pushes one, so Back and Forward step through every pick. On each run the
    address wins (a shared link, Back, Forward); an id that is not in the registry is ignored
    with a warning.
    """
    ids = workflows["workflow_id"].to_list()
    names = dict(zip(ids, workflows["name"].to_list()))
    requested = st.query_params.get("workflow")
    if requested in names:
        st.session_state[PICK_KEY] = requested
    elif st.session_state.get(PICK_KEY) not in names:
        st.session_state[PICK_KEY] = ids[0]

    def remember() -> None:
        st.query_params["workflow"] = st.session_state[PICK_KEY]
        if "metric" not in st.query_params:
            # The metric tab was on its default, the primary metric: let the new workflow's primary
            # open, rather than write the old one to the address (an extra, invisible history step).
            st.session_state.pop("metric", None)

    chosen = st.selectbox("Workflow", ids, key=PICK_KEY, format_func=lambda w: f"{names[w]} ({w})", on_change=remember)
    if requested is not None and requested not in names:
        st.warning(
            f"There is no workflow {text.md(requested)} in the registry; showing {text.md(names[chosen])} instead."
        )
        del st.query_params["workflow"]
    return chosen


LIST_SHOWN = 15
"""How many entries of a long list a page shows at once; `long_list` keeps the rest in an expander."""


def long_list(entries: list[str], key: str, rest_label: str, separator: str = "\n", shown: int = LIST_SHOWN) -> None:
    """Markdown `entries` (values already escaped with `text.md`): the first `shown` as one element,
    the rest in an expander whose label is `rest_label` with `{n}` the count. The expander is lazy:
    its entries are sent and drawn only when it is open, which the address keeps (`?<key>=true`).

    A browser parses every markdown element it is sent, hidden or not: a 200-workflow list cost a
    first visit of Portfolio about 0.25 s in Chromium even where CSS hid it.
    """
    if not entries:
        return
    st.markdown(separator.join(entries[:shown]))
    rest = entries[shown:]
    if rest:
        more = st.expander(rest_label.format(n=len(rest)), key=key, bind="query-params", icon=":material/list:")
        if more.open:
            with more:
                st.markdown(separator.join(rest))


def table_height(rows: int) -> int:
    """Pixels for a dataframe to show `rows` rows without an inner scrollbar (capped at 30 rows)."""
    return 38 + 35 * min(max(rows, 1), 30)


INTERACTIVE_KEY = "interactive_charts"
"""Session state: draw the arrival charts in the browser (hover for values) instead of as pictures."""


def on_a_phone() -> bool:
    """Whether the browser says it is a phone: "Mobi" in its User-Agent, as MDN recommends."""
    return "Mobi" in (st.context.headers.get("User-Agent") or "")


def chart_mode() -> None:
    """The "Interactive charts" switch, kept for the whole session (every page draws it).

    Off by default on a computer. On by default on a phone: a picture drawn for a laptop's column
    would be scaled to a third, its labels unreadable, while the browser lays a chart out for the
    phone's width.
    """
    # A widget's value is dropped on a page run that does not draw it; writing it back keeps the
    # reader's choice when the next page starts.
    st.session_state[INTERACTIVE_KEY] = st.session_state.get(INTERACTIVE_KEY, on_a_phone())
    st.toggle(
        "Interactive charts",
        key=INTERACTIVE_KEY,
        help="Hover over a chart for its exact values, zoom a time axis. Off, the charts are pictures drawn "
        "on the server, which open about a second sooner on a first visit.",
    )


@st.cache_data(max_entries=512, show_spinner=False)
def _picture(spec_json: str, width: int) -> str:
    """A chart spec drawn once as SVG (`vega_charts.svg`), whoever asks for it next."""
    return vega_charts.svg(json.loads(spec_json), width)


def chart(fig, width: int = vega_charts.SVG_WIDTH) -> None:
    """A chart at full width with its "how to read it" caption underneath; a note when there is nothing to draw.

    `fig` is a Plotly figure (`dashboards/charts.py`: the detail opened on demand) or an Altair chart
    (`dashboards/vega_charts.py`: what a page draws on arrival), or such a chart's cached spec
    (`vega_charts.spec`). An arrival chart is a picture drawn on the server (`vega_charts.svg`), `width`
    pixels across for a 1,440-pixel screen and scaled to its column, unless the reader has switched
    "Interactive charts" on: loading a chart library's browser code costs a first visit about 1.7 s
    for Plotly and about 1 s for Vega-Lite on 2 cores, a picture almost nothing.
    """
    if isinstance(fig, go.Figure):
        if charts.is_empty(fig):
            st.info(f"**{fig.layout.title.text}**: {charts.caption(fig)}", icon=":material/info:")
            return
        # No Plotly toolbar: on a phone it covers the title, and Streamlit's own toolbar has full screen.
        st.plotly_chart(fig, width="stretch", theme=None, config={"displayModeBar": False, "responsive": True})
    else:
        spec = fig if isinstance(fig, dict) else vega_charts.spec(fig)
        if st.session_state.get(INTERACTIVE_KEY):
            # theme=None: the chart's own config (the page's font, the house colours), not Streamlit's.
            st.vega_lite_chart(spec, width="stretch", theme=None)
        else:
            # An SVG string is shown as an <img> (a data: address): its text is text, and no script runs.
            st.image(_picture(json.dumps(spec, sort_keys=True), width), width="stretch", alt=vega_charts.title(spec))
    how_to_read = vega_charts.caption(fig)
    if how_to_read:
        st.caption(how_to_read)
