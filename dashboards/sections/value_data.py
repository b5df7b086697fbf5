"""Read-only queries of the value marts (issue 14), cached like `dashboards.data`'s: each returns a polars frame."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import streamlit as st

from dashboards import data

SQL_DIR = Path(__file__).resolve().parents[1] / "sql"


def _query(db: data.Warehouse, name: str, params: dict[str, str] | None = None) -> pl.DataFrame:
    with data.connection(db).cursor() as cur:
        cur.execute("use warehouse")
        return cur.sql((SQL_DIR / f"{name}.sql").read_text(), params=params or None).pl()


@st.cache_data(ttl=data.TTL_SECONDS, show_spinner=False)
def portfolio(db: data.Warehouse) -> pl.DataFrame:
    """marts.portfolio_value: one row per currency."""
    return _query(db, "value_portfolio")


@st.cache_data(ttl=data.TTL_SECONDS, show_spinner=False)
def portfolio_monthly(db: data.Warehouse) -> pl.DataFrame:
    """marts.portfolio_monthly_value: one row per currency and month."""
    return _query(db, "value_portfolio_monthly")


@st.cache_data(ttl=data.TTL_SECONDS, show_spinner=False)
def workflows(db: data.Warehouse) -> pl.DataFrame:
    """marts.workflow_value: one row per workflow."""
    return _query(db, "value_workflows")


@st.cache_data(ttl=data.TTL_SECONDS, show_spinner=False)
def savings(db: data.Warehouse, workflow_id: str) -> pl.DataFrame:
    """marts.monthly_savings for one workflow: one row per metric."""
    return _query(db, "value_savings", {"workflow_id": workflow_id})


@st.cache_data(ttl=data.TTL_SECONDS, show_spinner=False)
def monthly(db: data.Warehouse, workflow_id: str) -> pl.DataFrame:
    """marts.monthly_value for one workflow: one row per metric and month."""
    return _query(db, "value_monthly", {"workflow_id": workflow_id})


@st.cache_data(ttl=data.TTL_SECONDS, show_spinner=False)
def history(db: data.Warehouse, workflow_id: str) -> pl.DataFrame:
    """marts.scorecard_history for one workflow: one row per data cutoff."""
    return _query(db, "value_history", {"workflow_id": workflow_id})
