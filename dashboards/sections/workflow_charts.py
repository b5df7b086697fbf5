"""The workflow page's four arrival charts, each built once per warehouse version and workflow.

Building an Altair chart and validating its spec took 0.07 to 0.11 s a chart, about 0.4 s of the
0.55 s the workflow page's script ran on a 10M-item warehouse with its queries already cached.
Each function here reads its inputs from `dashboards.data`'s cached queries and returns the
chart's Vega-Lite spec (`vega_charts.spec`), which `ui.chart` draws; the next visitor to the same
workflow gets the spec from `st.cache_data`. The arguments are the cache key, so a chart never
outlives the warehouse version it was drawn from.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from dashboards import charts, data, vega_charts


def _labels() -> dict[str, str]:
    return {metric: data.metric_label(metric) for metric in data.METRICS}


def _result(db: data.Warehouse, workflow_id: str, metric: str | None) -> dict[str, Any] | None:
    """The workflow's `marts.value_metrics` row for `metric`, if it has one."""
    rows = data.value_metrics(db, workflow_id).filter(pl.col("metric") == metric)
    return rows.row(0, named=True) if not rows.is_empty() else None


def periods(db: data.Warehouse, workflow_id: str, primary: str | None) -> charts.Periods | None:
    """Baseline and post periods of the workflow's primary metric (None when not deployed)."""
    result = _result(db, workflow_id, primary)
    if result is None:
        return None
    return charts.Periods(
        result["baseline_start_on"], result["deployed_on"], result["post_start_on"], result["post_end_on"]
    )


@st.cache_data(ttl=data.TTL_SECONDS, show_spinner=False)
def metric_changes(db: data.Warehouse, workflow_id: str, primary: str | None) -> dict[str, Any] | go.Figure:
    """Every metric's change with its CI (`vega_charts.metric_changes`)."""
    return vega_charts.spec(vega_charts.metric_changes(data.value_metrics(db, workflow_id), _labels(), primary))


@st.cache_data(ttl=data.TTL_SECONDS, show_spinner=False)
def period_comparison(db: data.Warehouse, workflow_id: str, metric: str) -> dict[str, Any] | go.Figure | None:
    """Before against after for one metric (`vega_charts.period_comparison`); None without a result."""
    result = _result(db, workflow_id, metric)
    return None if result is None else vega_charts.spec(vega_charts.period_comparison(result, _labels()[metric]))


@st.cache_data(ttl=data.TTL_SECONDS, show_spinner=False)
def weekly_trend(db: data.Warehouse, workflow_id: str, metric: str, primary: str | None) -> dict[str, Any] | go.Figure:
    """One metric per week, the primary metric's periods shaded (`vega_charts.weekly_trend`)."""
    result = _result(db, workflow_id, metric)
    unit = result["unit"] if result else data.metric_definitions()[metric].unit
    weekly = data.weekly_metrics(db, workflow_id).filter(pl.col("metric") == metric)
    return vega_charts.spec(
        vega_charts.weekly_trend(weekly, _labels()[metric], unit, periods(db, workflow_id, primary), result)
    )


@st.cache_data(ttl=data.TTL_SECONDS, show_spinner=False)
def effect_views(db: data.Warehouse, workflow_id: str, metric: str) -> dict[str, Any] | go.Figure:
    """The three estimates of one metric's effect (`vega_charts.effect_views`)."""
    views = data.effect_views(db, workflow_id).filter(pl.col("metric") == metric)
    return vega_charts.spec(vega_charts.effect_views(views, _labels()[metric]))
