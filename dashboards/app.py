"""opvalue dashboard: `streamlit run dashboards/app.py` (or `make dashboard`)."""

import streamlit as st

from dashboards import ui

st.set_page_config(page_title="opvalue", page_icon=":material/insights:", layout="wide")
ui.require_login()  # when `[auth]` is configured in .streamlit/secrets.toml, every page needs a login
st.navigation(
    [
        st.Page("app_pages/portfolio.py", title="Portfolio", icon=":material/grid_view:", url_path="portfolio", default=True),
        st.Page("app_pages/workflow_detail.py", title="Workflow detail", icon=":material/timeline:", url_path="workflow"),
        st.Page("app_pages/readiness.py", title="Readiness", icon=":material/verified_user:", url_path="readiness"),
        st.Page("app_pages/data_quality.py", title="Data quality", icon=":material/fact_check:", url_path="data-quality"),
    ],
    position="top",
).run()
