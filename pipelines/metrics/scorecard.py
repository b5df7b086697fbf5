"""marts.workflow_scorecard: the evidence of sql/workflow_scorecard.sql with the business rules applied.

One row per registry workflow. Every rule column comes from ``pipelines.metrics.rules``:
``target_status``, ``is_adopted``, ``guardrail_metrics``, ``contested_reasons``, ``decision``
with ``decision_reasons``, ``shows_value`` and ``quadrant``.
"""

from __future__ import annotations

from typing import Any

import duckdb
import polars as pl

from pipelines.metrics import rules
from pipelines.metrics.config import MetricsConfig
from pipelines.sqlfiles import sql_text

SCORECARD_SCHEMA: dict[str, pl.DataType] = {
    "workflow_id": pl.String,
    "name": pl.String,
    "team": pl.String,
    "stage": pl.String,
    "business_owner": pl.String,
    "deployed_on": pl.Date,
    "primary_metric": pl.String,
    "primary_change_pct": pl.Float64,
    "primary_ci_low_pct": pl.Float64,
    "primary_ci_high_pct": pl.Float64,
    "primary_verdict": pl.String,
    "baseline_coverage": pl.Float64,
    "target_change_pct": pl.Float64,
    "target_status": pl.String,
    "target_met": pl.Boolean,
    "adoption_rate": pl.Float64,
    "reach_rate": pl.Float64,
    "habitual_users": pl.Int64,
    "is_adoption_unknown": pl.Boolean,
    "is_adopted": pl.Boolean,
    "did_change_pct": pl.Float64,
    "did_ci_low_pct": pl.Float64,
    "did_ci_high_pct": pl.Float64,
    "guardrail_metrics": pl.String,
    "contested_reasons": pl.String,
    "readiness_gaps": pl.String,
    "decision": pl.String,
    "decision_reasons": pl.String,
    "shows_value": pl.Boolean,
    "quadrant": pl.String,
    "items_measured": pl.Int64,
}


EXCEPTION_GUARDRAILS_SQL = """
select workflow_id, 'override_rate' from marts.exception_guardrails where override_status = 'rising'
union all
select workflow_id, 'correction_rate' from marts.exception_guardrails where correction_status = 'rising'
"""
GATE_NOT_BUILT = "ready-to-scale gate not built (marts.readiness)"
"""The readiness gap of every workflow when the scorecard is built without the gate: never `scale` unjudged."""


def scorecard_row(evidence: dict[str, Any], config: MetricsConfig) -> dict[str, Any]:
    """One workflow's scorecard row from its evidence row (the columns of sql/workflow_scorecard.sql)."""
    e = evidence
    verdicts = dict(e["verdicts"] or {})
    is_deployed = e["deployed_on"] is not None
    unknown = bool(e["is_adoption_unknown"]) or e["adoption_rate"] is None
    is_adopted = None if unknown else e["adoption_rate"] >= float(config.settings["adoption_threshold"])
    guardrails = rules.guardrail_breaches(e["primary_metric"], verdicts, config)
    contested = rules.contested_reasons(
        e["primary_verdict"],
        e["primary_change_pct"],
        rules.ClaimEvidence(
            did_identifiable=bool(e["did_identifiable"]),
            did_comparison_workflows=e["did_comparison_workflows"],
            did_change_pct=e["did_change_pct"],
            did_ci_low_pct=e["did_ci_low_pct"],
            did_ci_high_pct=e["did_ci_high_pct"],
            placebo_change_pct=e["placebo_change_pct"],
            placebo_ci_low_pct=e["placebo_ci_low_pct"],
            placebo_ci_high_pct=e["placebo_ci_high_pct"],
            pre_trend_warns=bool(e["pre_trend_warns"]),
            trend_warns=bool(e.get("trend_warns")),
            trend_step_pct=e.get("trend_step_pct"),
            trend_step_ci_low_pct=e.get("trend_step_ci_low_pct"),
            trend_step_ci_high_pct=e.get("trend_step_ci_high_pct"),
        ),
        config,
    )
    gaps = [gap for gap in (e["readiness_missing"] or "").split(", ") if gap]
    facts = rules.WorkflowFacts(
        is_deployed=is_deployed,
        primary_verdict=e["primary_verdict"],
        is_adopted=is_adopted,
        contested=contested,
        guardrails=guardrails,
        readiness_gaps=gaps,
    )
    decision, reasons = rules.decide(facts, e["primary_metric"], config)
    value = rules.shows_value(decision, config)
    target = rules.target_status(
        e["primary_verdict"], e["primary_change_pct"], e["primary_ci_high_pct"], e["target_change_pct"]
    )
    return {
        **{k: e.get(k) for k in SCORECARD_SCHEMA if k in e},
        "is_adoption_unknown": unknown if is_deployed else None,
        "is_adopted": is_adopted if is_deployed else None,
        "target_status": target,
        "target_met": None if target is None else target == "met",
        "guardrail_metrics": ", ".join(guardrails) or None,
        "contested_reasons": "; ".join(contested) or None,
        "readiness_gaps": ", ".join(gaps) or None,
        "decision": decision,
        "decision_reasons": "; ".join(reasons),
        "shows_value": value,
        "quadrant": rules.quadrant(is_deployed, e["primary_verdict"], e["adoption_rate"], unknown, value, config),
    }


def compute_scorecard(con: duckdb.DuckDBPyConnection, config: MetricsConfig) -> pl.DataFrame:
    """Every registry workflow's scorecard row."""
    evidence = con.sql(sql_text(__file__, "workflow_scorecard")).pl()
    verdicts: dict[str, dict[str, str]] = {}
    for workflow_id, metric, verdict in con.execute(
        "select workflow_id, metric, verdict from marts.value_metrics"
    ).fetchall():
        verdicts.setdefault(workflow_id, {})[metric] = verdict
    # Governance (pipelines/governance): a rising override or correction rate after go-live is a
    # guardrail like a worsened error rate, and the gate's failing requirements are the readiness gaps.
    present = _marts(con)
    if "exception_guardrails" in present:
        for workflow_id, metric in con.execute(EXCEPTION_GUARDRAILS_SQL).fetchall():
            verdicts.setdefault(workflow_id, {})[metric] = "worsened"
    gate = (
        dict(con.execute("select workflow_id, missing from marts.readiness").fetchall())
        if "readiness" in present
        else None
    )
    rows = [
        scorecard_row(
            {
                **e,
                "verdicts": verdicts.get(e["workflow_id"]),
                "readiness_missing": GATE_NOT_BUILT if gate is None else gate.get(e["workflow_id"], GATE_NOT_BUILT),
            },
            config,
        )
        for e in evidence.iter_rows(named=True)
    ]
    frame = pl.DataFrame(rows, schema=SCORECARD_SCHEMA) if rows else pl.DataFrame(schema=SCORECARD_SCHEMA)
    return frame.with_columns(pl.col(pl.Float64).fill_nan(None)).sort("workflow_id")


def _marts(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Tables in the marts schema (a scorecard built by hand in a test may lack the governance marts)."""
    return {
        row[0]
        for row in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'"
        ).fetchall()
    }
