"""Small building blocks every page uses: the warehouse guard, the filters, charts with captions."""

from __future__ import annotations

from typing import NamedTuple

import plotly.graph_objects as go
import streamlit as st

from dashboards import charts, data, text

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


def require_warehouse() -> data.Warehouse:
    """The current warehouse, or a message naming `make pipeline` and the end of the page."""
    db = data.current_warehouse()
    if db is None:
        st.warning(NO_WAREHOUSE.format(path=data.warehouse_target()), icon=":material/database_off:")
        st.stop()
    return db


def filters(db: data.Warehouse) -> Filters:
    """Team and stage filters in a row under the page title; the choice is kept across pages."""
    options = data.filter_options(db)
    teams = sorted({t for t in options["team"].to_list() if t is not None})
    stages = [s for s in data.STAGES if s in set(options["stage"].to_list())]
    # Streamlit forgets a widget's value on a page that does not draw it; writing the value back
    # into session state before drawing keeps the choice when the reader moves between pages.
    for key, allowed in (("filter_team", teams), ("filter_stage", stages)):
        if key in st.session_state:
            st.session_state[key] = [value for value in st.session_state[key] if value in allowed]
    with st.container(horizontal=True, gap="medium"):
        chosen_teams = st.multiselect("Team", teams, key="filter_team", placeholder="All teams")
        chosen_stages = st.multiselect(
            "Stage", stages, key="filter_stage", placeholder="All stages",
            format_func=lambda s: text.label(text.STAGE_LABELS, s),
        )
    return Filters(tuple(chosen_teams), tuple(chosen_stages))


def table_height(rows: int) -> int:
    """Pixels for a dataframe to show `rows` rows without an inner scrollbar (capped at 30 rows)."""
    return 38 + 35 * min(max(rows, 1), 30)


def chart(fig: go.Figure) -> None:
    """A figure at full width with its "how to read it" caption underneath; a note when there is nothing to draw."""
    if charts.is_empty(fig):
        st.info(f"**{fig.layout.title.text}**: {charts.caption(fig)}", icon=":material/info:")
        return
    st.plotly_chart(fig, width="stretch", theme=None, config={"displaylogo": False})
    how_to_read = charts.caption(fig)
    if how_to_read:
        st.caption(how_to_read)


def not_yet(table: str, what: str) -> None:
    """A short note for a part of the page whose table the pipeline does not write yet."""
    st.info(f"{what} will appear here once the pipeline writes `{table}`.", icon=":material/hourglass_empty:")
