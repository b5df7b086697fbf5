"""The governance views run with `streamlit.testing.v1.AppTest` on a warehouse built by the
real pipeline from a freshly generated sample (with stage history, feedback and the override
flags). Expected numbers are queried from the warehouse, never hard-coded."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from pipelines.sample.generate import generate
from tests.conftest import build_warehouse

PAGE = Path(__file__).resolve().parents[1] / "dashboards" / "app_pages" / "ready_to_scale.py"


def query(warehouse: Path, sql: str, params: list | None = None) -> pl.DataFrame:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.sql(sql, params=params or None).pl()
    finally:
        con.close()


@pytest.fixture(scope="module")
def governed_warehouse(tmp_path_factory) -> Path:
    inputs = tmp_path_factory.mktemp("governed_sample")
    generate(inputs, log=lambda *_: None)
    return build_warehouse(inputs, tmp_path_factory.mktemp("governed_wh") / "opvalue.duckdb")


@pytest.fixture(autouse=True)
def fresh_caches():
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


def run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def titles(at: AppTest) -> list[str]:
    return [json.loads(chart.proto.spec)["layout"]["title"]["text"] for chart in at.get("plotly_chart")]


def test_the_ready_to_scale_page_shows_the_gate_the_gaps_the_funnel_and_the_stalled_pilot(
    governed_warehouse, monkeypatch
):
    monkeypatch.setenv("OPVALUE_WAREHOUSE", str(governed_warehouse))
    at = run(AppTest.from_file(str(PAGE), default_timeout=120))
    gate = query(governed_warehouse, "select * from marts.readiness")
    ready = gate.filter(pl.col("ready")).height
    assert 0 < ready < gate.height
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["Ready to scale"] == f"{ready} of {gate.height}"
    assert tiles["Stalled pilots"] == str(
        query(governed_warehouse, "select count(*) as n from marts.stalled_workflows")["n"].item()
    )

    gate_view, gaps_view, funnel_view, stalled_view = (frame.value for frame in at.dataframe)
    assert len(gate_view) == gate.height
    assert sorted(gate_view.loc[gate_view["Gate"] == "Ready to scale", "Workflow"]) == sorted(
        gate.filter("ready")["name"]
    )
    failing = sum(gate.height - gate[c].sum() for c in gate.columns if c.endswith("_pass"))
    assert len(gaps_view) == failing
    kyc = gate.filter(pl.col("workflow_id") == "kyc_review").row(0, named=True)
    kyc_gaps = gaps_view[gaps_view["Workflow"] == kyc["name"]]
    assert list(kyc_gaps["Requirement"]) == ["Target set before go-live"]
    assert kyc_gaps["Why"].iloc[0].startswith("set after the results")
    assert kyc_gaps["Who owns it"].iloc[0] == kyc["business_owner"]

    funnel = query(governed_warehouse, "select * from marts.stage_funnel order by stage_rank")
    assert list(funnel_view["Entered"]) == funnel["workflows_entered"].to_list()
    assert (
        list(stalled_view["Workflow"])
        == query(governed_warehouse, "select name from marts.stalled_workflows")["name"].to_list()
    )
    # The charts by quarter are drawn only when their section is opened (`?quarters=true`).
    assert not titles(at) and "Stages and conversion by quarter" in [e.label for e in at.expander]
    opened = AppTest.from_file(str(PAGE), default_timeout=120)
    opened.query_params["quarters"] = "true"
    assert titles(run(opened)) == ["Workflows in each stage, by quarter", "Conversion to date, by quarter"]


def test_the_exceptions_and_feedback_section_flags_the_climbing_override_rate(governed_warehouse, monkeypatch):
    monkeypatch.setenv("OPVALUE_WAREHOUSE", str(governed_warehouse))

    def section():
        from dashboards.sections import exceptions_feedback

        exceptions_feedback.render("customer_replies")

    at = run(AppTest.from_function(section, default_timeout=120))
    shown = "\n".join(element.value for element in at.text)
    assert "Guardrail: override rate rising since go-live" in shown
    assert "Exceptions: escalated, overridden and corrected assisted items, by month" in titles(at)
    chart = json.loads(at.get("plotly_chart")[0].proto.spec)
    months = query(
        governed_warehouse, "select count(*) as n from marts.exception_rates where workflow_id = 'customer_replies'"
    )
    assert {trace["name"] for trace in chart["data"]} == {"Escalated", "Overridden", "Corrected"}
    assert all(len(trace["x"]) == months["n"].item() for trace in chart["data"])
    loop = query(governed_warehouse, "select * from marts.feedback_loops where workflow_id = 'customer_replies'").row(
        0, named=True
    )
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["Open backlog"] == str(loop["open_backlog"])
    assert tiles["Feedback loop"] == ("Active" if loop["is_loop_active"] else "Inactive")


def test_the_section_shows_frozen_and_live_baselines_when_they_differ(governed_warehouse, tmp_path, monkeypatch):
    copy = tmp_path / "moved.duckdb"
    shutil.copy(governed_warehouse, copy)
    con = duckdb.connect(str(copy))
    # Pretend later items moved claims_triage's live baseline after the freeze.
    con.execute(
        "update marts.baseline_comparison set live_baseline_value = live_baseline_value * 2, has_baseline_moved = true "
        "where workflow_id = 'claims_triage' and metric = 'cycle_time_hours'"
    )
    con.close()
    monkeypatch.setenv("OPVALUE_WAREHOUSE", str(copy))

    def section():
        from dashboards.sections import exceptions_feedback

        exceptions_feedback.render("claims_triage")

    at = run(AppTest.from_function(section, default_timeout=120))
    assert any("The baseline was frozen and has moved since" in w.value for w in at.warning)
    moved = at.dataframe[0].value
    row = query(
        copy,
        "select * from marts.baseline_comparison where workflow_id = 'claims_triage' and metric = 'cycle_time_hours'",
    )
    assert list(moved["Metric"]) == ["Cycle time"]
    assert moved["Live baseline"].iloc[0] == pytest.approx(row["live_baseline_value"].item(), abs=1e-3)
    assert moved["Frozen baseline"].iloc[0] == pytest.approx(row["frozen_baseline_value"].item(), abs=1e-3)
