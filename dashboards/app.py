"""opvalue dashboard: `streamlit run dashboards/app.py` (or `make dashboard`)."""

import streamlit as st

from dashboards import ui

st.set_page_config(page_title="opvalue", page_icon=ui.PAGE_ICON, layout="wide")
ui.require_login()  # when `[auth]` is configured in .streamlit/secrets.toml, every page needs a login
portfolio = st.Page(
    "app_pages/portfolio.py", title="Portfolio", icon=":material/grid_view:", url_path="home", default=True
)


def portfolio_redirect() -> None:
    """`/portfolio`, the address readers type and old links use, opens the portfolio (served at `/`)."""
    st.switch_page(portfolio, query_params=st.query_params.to_dict())


st.navigation(
    [
        portfolio,
        st.Page(
            "app_pages/workflow_detail.py", title="Workflow detail", icon=":material/timeline:", url_path="workflow"
        ),
        # The ready-to-scale gate; `/readiness`, the address of the page it replaced, keeps working.
        st.Page(
            "app_pages/ready_to_scale.py", title="Ready to scale", icon=":material/verified_user:", url_path="readiness"
        ),
        st.Page(
            "app_pages/data_quality.py", title="Data quality", icon=":material/fact_check:", url_path="data-quality"
        ),
        st.Page(portfolio_redirect, title="Portfolio", url_path="portfolio", visibility="hidden"),
    ],
    position="top",
).run()
