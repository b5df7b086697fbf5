"""Read-only queries behind the governance views: the ready-to-scale gate, the stage funnel,
exception rates and feedback loops. Same rules as `dashboards/data.py` (whose connection and
query runner they use): cached per warehouse version, values as `$named` parameters."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboards.data import TTL_SECONDS, Warehouse, _query

REQUIREMENTS = {
    "owner": "Owner named",
    "eligible_users": "Eligible users",
    "scoped_data": "Scoped data",
    "review": "Review (not overdue)",
    "controls": "Controls",
    "support_path": "Support path",
    "exception_path": "Exception path",
    "feedback_loop": "Active feedback loop",
    "target_up_front": "Target set before go-live",
    "fresh_data": "Fresh data",
    "value": "Value measured",
}
"""The gate's requirements in `marts.readiness` column order, with their labels."""


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def gate(db: Warehouse, teams: tuple[str, ...] = (), stages: tuple[str, ...] = ()) -> pl.DataFrame:
    """`marts.readiness` for the selected teams and stages: one row per workflow."""
    return _query(db, "governance_gate", {"teams": list(teams), "stages": list(stages)})


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def funnel(db: Warehouse) -> pl.DataFrame:
    """`marts.stage_funnel`: one row per stage."""
    return _query(db, "governance_funnel")


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def funnel_quarterly(db: Warehouse) -> pl.DataFrame:
    """`marts.stage_funnel_quarterly`: one row per quarter and stage."""
    return _query(db, "governance_funnel_quarterly")


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def stalled(db: Warehouse, teams: tuple[str, ...] = ()) -> pl.DataFrame:
    """`marts.stalled_workflows` for the selected teams."""
    return _query(db, "governance_stalled", {"teams": list(teams)})


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def exception_rates(db: Warehouse, workflow_id: str) -> pl.DataFrame:
    """One workflow's rows of `marts.exception_rates`, by month."""
    return _query(db, "governance_exception_rates", {"workflow_id": workflow_id})


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def exception_guardrail(db: Warehouse, workflow_id: str) -> pl.DataFrame:
    """One workflow's row of `marts.exception_guardrails` (none when not deployed)."""
    return _query(db, "governance_exception_guardrail", {"workflow_id": workflow_id})


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def feedback_loop(db: Warehouse, workflow_id: str) -> pl.DataFrame:
    """One workflow's row of `marts.feedback_loops`."""
    return _query(db, "governance_feedback_loop", {"workflow_id": workflow_id})


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def baseline_comparison(db: Warehouse, workflow_id: str) -> pl.DataFrame:
    """One workflow's frozen-versus-live baselines, per metric."""
    return _query(db, "governance_baseline_comparison", {"workflow_id": workflow_id})
