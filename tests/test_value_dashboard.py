"""The value sections of the dashboard, rendered in a tiny app with AppTest on a real warehouse."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import build_warehouse
from tests.test_value import value_inputs

TINY_APP = """
import streamlit as st
from dashboards import data
from dashboards.sections import portfolio_value, workflow_value

db = data.current_warehouse()
portfolio_value.render(db)
workflow_value.render(db, st.query_params.get("workflow", "wf_priced"))
"""


@pytest.fixture(scope="module")
def value_warehouse(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("value_dashboard")
    return build_warehouse(value_inputs(root / "inputs"), root / "w.duckdb")


def _run(monkeypatch, warehouse: Path, workflow: str, **params: str) -> AppTest:
    monkeypatch.setenv("OPVALUE_WAREHOUSE", str(warehouse))
    at = AppTest.from_string(TINY_APP, default_timeout=120)
    at.query_params["workflow"] = workflow
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _texts(at: AppTest) -> str:
    parts = []
    for kind in ("subheader", "markdown", "caption", "info", "text"):
        parts += [str(element.value) for element in getattr(at, kind)]
    return "\n".join(parts)


def _scalar(warehouse: Path, sql: str):
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


def test_the_portfolio_and_workflow_sections_show_money_from_the_marts(monkeypatch, value_warehouse):
    at = _run(monkeypatch, value_warehouse, "wf_priced")
    metrics = {m.label: m.value for m in at.metric}
    net = _scalar(value_warehouse, "select net_value_per_month from marts.portfolio_value where currency = 'EUR'")
    assert metrics["Net value per month (EUR)"] == f"EUR {float(net):,.0f}"
    # The decision in words, as the mart decides it (scale needs the ready-to-scale gate too).
    from dashboards import text

    decision = _scalar(value_warehouse, "select decision from marts.workflow_scorecard where workflow_id = 'wf_priced'")
    assert decision in text.VALUE_DECISIONS
    assert metrics["Decision"] == text.DECISION_LABELS[decision]
    assert [s.value for s in at.subheader].count("What it is worth") == 2
    # The portfolio's table per workflow is in a closed expander: not drawn until opened.
    assert "Value per workflow" in [e.label for e in at.expander]
    assert not [frame for frame in at.dataframe if "Net: low" in frame.value.columns]
    # Savings by metric: every metric of the priced workflow in money.
    table = at.dataframe[0].value
    assert len(table) == 5
    assert all(str(v).startswith("EUR ") for v in table["Saved per month"])
    assert "How the decision changed across builds" in _texts(at)
    assert len(at.dataframe[1].value) == 1  # one build so far
    charts = at.get("plotly_chart")
    # The workflow's trend; the portfolio's months are under "Trends by month", drawn when opened.
    assert len(charts) == 1
    assert "Net value and tool cost per month" not in charts[0].proto.spec


def test_a_workflow_without_rates_shows_units_not_money(monkeypatch, value_warehouse):
    at = _run(monkeypatch, value_warehouse, "wf_units")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Net value per month (USD)"] == "no tool cost"
    table = at.dataframe[0].value
    saved = dict(zip(table["Metric"], table["Saved per month"]))
    assert saved["Cycle time"].endswith("item-hours of waiting")
    assert saved["Rework rate"].endswith("rework cases")
    assert saved["External spend per item"].startswith("USD ")


def test_the_portfolio_table_per_workflow_opens_from_the_address(monkeypatch, value_warehouse):
    """Opened (`?value_table=true`), the table has a row per deployed workflow in the currency shown, with the
    mart's money; the portfolio opens on the currency with the most value workflows."""
    at = _run(monkeypatch, value_warehouse, "wf_priced", value_table="true")
    con = duckdb.connect(str(value_warehouse), read_only=True)
    try:
        currency = con.execute(
            "select currency from marts.portfolio_value order by value_workflows desc, currency"
        ).fetchone()[0]
        expected = con.execute(
            "select name, net_value_per_month, money_saved_per_month from marts.workflow_value "
            "where deployed_on is not null and currency = ? order by name",
            [currency],
        ).fetchall()
    finally:
        con.close()
    tables = [frame.value for frame in at.dataframe if "Net: low" in frame.value.columns]
    assert len(tables) == 1
    shown = tables[0].sort_values("Workflow")
    assert expected and list(shown["Workflow"]) == [name for name, _, _ in expected]

    def same(a, b) -> bool:
        return (a is None and b != b) or (a is not None and abs(float(a) - float(b)) < 1e-6)  # NaN for a null

    assert all(same(net, v) for (_, net, _), v in zip(expected, shown["Net value / month"]))
    assert all(same(saved, v) for (_, _, saved), v in zip(expected, shown["Saved / month"]))
