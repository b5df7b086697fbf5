"""Governance marts (issue 13): the stage funnel, exception guardrail, feedback loops,
frozen baselines and the ready-to-scale gate, on input folders written by hand."""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.governance.rates import guardrails, stage_durations
from pipelines.ingest.load import load_source
from pipelines.ingest.sources import FEEDBACK, WORKFLOW_STAGES, WORKFLOWS
from tests.conftest import build_warehouse, write

REGISTRY_COLUMNS = [
    "workflow_id",
    "name",
    "business_owner",
    "team",
    "stage",
    "deployed_on",
    "eligible_users",
    "risk_tier",
    "primary_metric",
    "target_change_pct",
    "review_point",
    "support_path",
    "data_scope",
    "exception_path",
    "target_set_on",
    "baseline_frozen_on",
    "last_reviewed_on",
    "review_every_days",
]
ITEM_COLUMNS = [
    "item_id",
    "workflow_id",
    "opened_at",
    "closed_at",
    "rework_count",
    "touchpoints",
    "had_error",
    "external_spend",
    "ai_assisted",
    "escalated",
    "overridden",
    "corrected",
]
CUTOFF = date(2025, 10, 28)
GO_LIVE = date(2025, 4, 1)


def write_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: "" if row.get(c) is None else row[c] for c in columns})


def ready_registry_row(workflow_id: str, **changes) -> dict:
    """A registry row that passes every governance requirement, with `changes` applied."""
    row = {
        "workflow_id": workflow_id,
        "name": workflow_id.replace("_", " "),
        "business_owner": "Ann Owner",
        "team": "Ops",
        "stage": "pilot",
        "deployed_on": GO_LIVE.isoformat(),
        "eligible_users": "20",
        "risk_tier": "low",
        "primary_metric": "cycle_time_hours",
        "target_change_pct": "-20",
        "review_point": "team lead checks each reply",
        "support_path": "#ai-help",
        "data_scope": "tickets only",
        "exception_path": "escalate to team lead; logged in the ticket",
        "target_set_on": "2025-03-01",
        "baseline_frozen_on": None,
        "last_reviewed_on": "2025-10-01",
        "review_every_days": "90",
    }
    row.update(changes)
    return row


def item_rows(
    workflow_id: str,
    *,
    start: date = GO_LIVE - timedelta(days=89),
    end: date = CUTOFF,
    improve: bool = True,
    escalate: bool = True,
    override_early: int = 10,
    override_late: int = 10,
    baseline_hours: float = 48.0,
    prefix: str = "i",
) -> list[dict]:
    """One item a day per workflow. Post items are AI-assisted; with `improve` they take half
    as long. `override_*` is one in N assisted items overridden, early (first 90 days after
    go-live) and late (the rest)."""
    rows, day, n = [], start, 0
    while day <= end:
        post = day >= GO_LIVE
        hours = baseline_hours * (1 + (n % 7) / 10) * (0.5 if post and improve else 1.0)
        opened = datetime(day.year, day.month, day.day, 9)
        every = override_early if (day - GO_LIVE).days < 90 else override_late
        rows.append(
            {
                "item_id": f"{prefix}{n:05d}",
                "workflow_id": workflow_id,
                "opened_at": opened.isoformat() + "Z",
                "closed_at": (opened + timedelta(hours=hours)).isoformat() + "Z",
                "rework_count": "0",
                "touchpoints": "2",
                "had_error": "false",
                "external_spend": "0",
                "ai_assisted": str(post).lower(),
                "escalated": str(post and escalate and n % 15 == 0).lower(),
                "overridden": str(post and n % every == 0).lower() if post else None,
                "corrected": "false" if post else None,
            }
        )
        day, n = day + timedelta(days=1), n + 1
    return rows


def feedback_rows(workflow_id: str, *, recent: bool = True) -> list[dict]:
    last = CUTOFF - timedelta(days=10) if recent else CUTOFF - timedelta(days=200)
    return [
        {
            "feedback_id": "f1",
            "workflow_id": workflow_id,
            "raised_on": (last - timedelta(days=30)).isoformat(),
            "kind": "correction",
            "status": "incorporated",
            "resolved_on": last.isoformat(),
        },
        {
            "feedback_id": "f2",
            "workflow_id": workflow_id,
            "raised_on": (last - timedelta(days=5)).isoformat(),
            "kind": "suggestion",
            "status": "open",
            "resolved_on": None,
        },
    ]


def query(warehouse: Path, sql: str, params: list | None = None) -> pl.DataFrame:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.sql(sql, params=params or None).pl()
    finally:
        con.close()


# -- the ready-to-scale gate -------------------------------------------------------------------

# Requirement column -> the workflow that misses only it, and what it changes.
MISSING_ONE = {
    "owner": ("gap_owner", {"business_owner": None}),
    "eligible_users": ("gap_users", {"eligible_users": "0"}),
    "scoped_data": ("gap_scope", {"data_scope": None}),
    "review": ("gap_review", {"last_reviewed_on": "2025-05-01"}),
    "controls": ("gap_controls", {"risk_tier": None}),
    "support_path": ("gap_support", {"support_path": None}),
    "exception_path": ("gap_exception", {"exception_path": None}),
    "feedback_loop": ("gap_feedback", {}),
    "target_up_front": ("gap_target", {"target_set_on": "2025-06-15"}),
    "fresh_data": ("gap_fresh", {}),
    "value": ("gap_value", {}),
}
REQUIREMENTS = list(MISSING_ONE)
COMPARISONS = ("cmp_a", "cmp_b", "cmp_c")


@pytest.fixture(scope="module")
def gate_warehouse(tmp_path_factory) -> Path:
    """Workflow `complete` passes every requirement; each `gap_*` misses exactly one; `late_rise`
    has an override rate that climbs after go-live; `no_escalation` has an exception path but
    never escalates."""
    root = tmp_path_factory.mktemp("gate") / "inputs"
    registry = [ready_registry_row("complete"), ready_registry_row("late_rise"), ready_registry_row("no_escalation")]
    registry += [ready_registry_row(wf, **changes) for wf, changes in MISSING_ONE.values()]
    # Three never-deployed workflows whose work did not change: the difference-in-differences
    # that a value claim needs (docs/methods.md, "Evidence behind a claim").
    comparisons = [ready_registry_row(wf, deployed_on=None, stage="investigation") for wf in COMPARISONS]
    write_csv(root / "workflows.csv", REGISTRY_COLUMNS, registry + comparisons)
    items, feedback = [], []
    for wf in COMPARISONS:
        items += item_rows(wf, improve=False, escalate=False)
    for row in registry:
        wf = row["workflow_id"]
        items += item_rows(
            wf,
            improve=wf != "gap_value",
            end=CUTOFF - timedelta(days=60) if wf == "gap_fresh" else CUTOFF,
            escalate=wf != "no_escalation",
            override_late=2 if wf == "late_rise" else 10,
        )
        if wf != "gap_feedback":
            feedback += feedback_rows(wf)
    write_csv(root / "work_items" / "items.csv", ITEM_COLUMNS, items)
    write_csv(root / "feedback" / "feedback.csv", [c for c in FEEDBACK.columns], feedback)
    # 15 of 20 eligible users active every few days in the four weeks before each workflow's
    # own cutoff (its newest item): adopted.
    usage = [
        {
            "usage_date": (CUTOFF - timedelta(days=d + (60 if row["workflow_id"] == "gap_fresh" else 0))).isoformat(),
            "user_id": f"u{u:02d}",
            "workflow_id": row["workflow_id"],
            "actions": "3",
        }
        for row in registry
        for u in range(15)
        for d in range(0, 28, 3)
    ]
    write_csv(root / "usage" / "usage.csv", ["usage_date", "user_id", "workflow_id", "actions"], usage)
    return build_warehouse(root, tmp_path_factory.mktemp("gate_wh") / "w.duckdb")


def test_the_complete_workflow_passes_every_requirement_and_is_ready(gate_warehouse):
    row = query(gate_warehouse, "select * from marts.readiness where workflow_id = 'complete'").row(0, named=True)
    assert [r for r in REQUIREMENTS if not row[f"{r}_pass"]] == []
    assert row["ready"] is True and row["requirements_passed"] == row["requirements_total"] == len(REQUIREMENTS)
    assert row["missing"] == ""


@pytest.mark.parametrize("requirement", REQUIREMENTS)
def test_the_gate_fails_for_each_missing_requirement_on_its_own(gate_warehouse, requirement):
    workflow_id = MISSING_ONE[requirement][0]
    row = query(gate_warehouse, "select * from marts.readiness where workflow_id = ?", [workflow_id]).row(0, named=True)
    failing = [r for r in REQUIREMENTS if not row[f"{r}_pass"]]
    assert failing == [requirement]
    assert row["ready"] is False
    assert row["requirements_passed"] == len(REQUIREMENTS) - 1
    assert row[f"{requirement}_reason"]


def test_an_exception_path_without_logged_escalations_is_a_gap(gate_warehouse):
    row = query(gate_warehouse, "select * from marts.readiness where workflow_id = 'no_escalation'").row(0, named=True)
    assert row["exception_path_pass"] is False and row["escalations_logged"] == 0
    assert row["exception_path_reason"] == "exception path set but no escalation logged"


def test_a_target_set_after_go_live_is_flagged_set_after_the_results(gate_warehouse):
    flags = dict(
        query(gate_warehouse, "select workflow_id, is_target_set_after_results from marts.readiness").iter_rows()
    )
    assert flags["gap_target"] is True
    assert [wf for wf, flagged in flags.items() if flagged] == ["gap_target"]
    reason = query(
        gate_warehouse, "select target_up_front_reason from marts.readiness where workflow_id = 'gap_target'"
    ).item()
    assert reason.startswith("set after the results")


def test_an_overdue_review_is_a_readiness_gap(gate_warehouse):
    row = query(gate_warehouse, "select * from marts.readiness where workflow_id = 'gap_review'").row(0, named=True)
    assert row["is_review_overdue"] is True and row["review_due_on"] == date(2025, 7, 30)
    assert row["review_reason"] == "review overdue since 2025-07-30"


def test_a_climbing_override_rate_raises_the_exception_guardrail(gate_warehouse):
    table = query(gate_warehouse, "select * from marts.exception_guardrails order by workflow_id")
    flagged = table.filter(pl.col("has_exception_guardrail"))["workflow_id"].to_list()
    assert flagged == ["late_rise"]
    row = table.filter(pl.col("workflow_id") == "late_rise").row(0, named=True)
    # No item was ever corrected: fewer than min_events, nothing to judge.
    assert row["override_status"] == "rising" and row["correction_status"] == "insufficient_data"
    assert row["override_early_rate"] == pytest.approx(0.1, abs=0.02)
    assert row["override_recent_rate"] == pytest.approx(0.5, abs=0.02)
    assert row["override_change_ci_low_pct"] > 0
    # One persistence per build: the guardrail's intervals use the build's.
    assert row["rho"] == query(gate_warehouse, "select rho from intermediate.week_persistence").item()
    assert row["interval_level"] == pytest.approx(0.975)


def test_a_climbing_override_rate_makes_the_decision_fix_guardrail(gate_warehouse):
    card = query(gate_warehouse, "select * from marts.workflow_scorecard where workflow_id = 'late_rise'").row(
        0, named=True
    )
    assert card["primary_verdict"] == "improved" and card["is_adopted"] is True
    assert card["decision"] == "fix_guardrail"
    assert card["guardrail_metrics"] == "override_rate"
    assert "override rate worsened" in card["decision_reasons"]
    # The same evidence without the climb: it scales.
    assert (
        query(gate_warehouse, "select decision from marts.workflow_scorecard where workflow_id = 'complete'").item()
        == "scale"
    )


@pytest.mark.parametrize("requirement", [r for r in REQUIREMENTS if r not in ("eligible_users", "value")])
def test_scale_requires_ready_and_a_missing_requirement_closes_gaps(gate_warehouse, requirement):
    workflow_id = MISSING_ONE[requirement][0]
    card = query(gate_warehouse, "select * from marts.workflow_scorecard where workflow_id = ?", [workflow_id]).row(
        0, named=True
    )
    gate = query(gate_warehouse, "select missing from marts.readiness where workflow_id = ?", [workflow_id]).item()
    assert card["primary_verdict"] == "improved" and card["is_adopted"] is True
    assert card["decision"] == "close_gaps"
    assert card["readiness_gaps"] == gate


def test_monthly_exception_rates_count_assisted_items_with_intervals(gate_warehouse):
    months = query(
        gate_warehouse, "select * from marts.exception_rates where workflow_id = 'complete' order by month_start_on"
    )
    # One item a day from go-live (2025-04-01) to the cutoff (2025-10-28): April to October.
    assert months["month_start_on"].to_list()[0] == date(2025, 4, 1) and months.height == 7
    april = months.row(0, named=True)
    assert april["assisted_items"] == 30
    assert april["escalation_rate"] == pytest.approx(april["escalated_items"] / 30)
    assert april["override_ci_low"] <= april["override_rate"] <= april["override_ci_high"]


def test_feedback_loop_health_is_counted_per_workflow(gate_warehouse):
    row = query(gate_warehouse, "select * from marts.feedback_loops where workflow_id = 'complete'").row(0, named=True)
    assert (row["feedback_raised"], row["feedback_incorporated"], row["open_backlog"]) == (2, 1, 1)
    assert row["incorporated_rate"] == 1.0 and row["median_days_to_incorporate"] == 30
    assert row["oldest_open_raised_on"] == CUTOFF - timedelta(days=15) and row["oldest_open_days"] == 15
    assert row["is_loop_active"] is True
    gap = query(gate_warehouse, "select * from marts.feedback_loops where workflow_id = 'gap_feedback'").row(
        0, named=True
    )
    assert gap["is_loop_active"] is False and gap["loop_status"] == "no feedback recorded"


# -- the guardrail rule on its own ----------------------------------------------------------------


def _window_weeks(windows: pl.DataFrame, weeks: int = 13) -> pl.DataFrame:
    """Each window's counts spread as evenly as whole items allow over `weeks` weeks."""
    rows = []
    for row in windows.iter_rows(named=True):
        for name, first in (("early", 0), ("recent", 40)):
            spread = {}
            for column in ("override_known", "overridden", "correction_known", "corrected"):
                total = row[f"{name}_{column}"]
                spread[column] = [total // weeks + (w < total % weeks) for w in range(weeks)]
            rows += [
                {"workflow_id": row["workflow_id"], "window_name": name, "week": first + w}
                | {c: v[w] for c, v in spread.items()}
                for w in range(weeks)
            ]
    return pl.DataFrame(rows)


def _judge(windows: pl.DataFrame, weeks: pl.DataFrame | None = None, rho: float = 0.0) -> pl.DataFrame:
    return guardrails(
        windows,
        _window_weeks(windows) if weeks is None else weeks,
        0.95,
        30,
        rho=rho,
        min_meaningful_pct=5.0,
        min_events=10,
    )


def _windows(**columns) -> pl.DataFrame:
    n = len(next(iter(columns.values())))
    base = {
        "workflow_id": [f"wf{i}" for i in range(n)],
        "deployed_on": [date(2025, 1, 1)] * n,
        "early_end_on": [date(2025, 4, 1)] * n,
        "recent_start_on": [date(2025, 8, 1)] * n,
        "as_of_on": [date(2025, 10, 30)] * n,
        "windows_overlap": [False] * n,
    }
    return pl.DataFrame(base | columns)


def test_guardrail_needs_enough_items_and_separate_windows():
    windows = _windows(
        windows_overlap=[False, False, True],
        early_overridden=[10, 1, 10],
        early_override_known=[100, 10, 100],
        recent_overridden=[40, 5, 40],
        recent_override_known=[100, 10, 100],
        early_corrected=[10, 1, 10],
        early_correction_known=[100, 10, 100],
        recent_corrected=[10, 1, 10],
        recent_correction_known=[100, 10, 100],
    )
    out = _judge(windows)
    assert out["override_status"].to_list() == ["rising", "insufficient_data", "insufficient_data"]
    assert out["has_exception_guardrail"].to_list() == [True, False, False]
    assert out["guardrail_reason"].to_list()[0] == "override rate rising since go-live"
    # Two rates, one guardrail: each interval is at 1 - 0.05 / 2.
    assert out["interval_level"].to_list() == [pytest.approx(0.975)] * 3
    # 10% -> 40% is +300%, on the log-ratio scale (a fall could never pass -100%).
    assert out["override_change_pct"][0] == pytest.approx(300.0)
    assert out["override_change_ci_low_pct"][0] > 0


def test_a_significant_but_small_rise_is_negligible_not_a_guardrail():
    # 6.0% -> 6.2% on 2 million items a window: the interval excludes 0, the rise is +3.3%,
    # under min_meaningful_pct (5%): negligible, not rising; +10% on the same items is rising.
    windows = _windows(
        early_overridden=[120_000, 120_000],
        early_override_known=[2_000_000, 2_000_000],
        recent_overridden=[124_000, 132_000],
        recent_override_known=[2_000_000, 2_000_000],
        early_corrected=[200_000, 200_000],
        early_correction_known=[2_000_000, 2_000_000],
        recent_corrected=[200_000, 200_000],
        recent_correction_known=[2_000_000, 2_000_000],
    )
    out = _judge(windows)
    assert out["override_change_ci_low_pct"][0] > 0
    assert out["override_status"].to_list() == ["negligible", "rising"]
    assert out["has_exception_guardrail"].to_list() == [False, True]


def test_a_rate_rising_from_zero_is_judged_on_the_difference():
    # No override at all in the first window: no ratio, so the change columns stay empty and
    # the item-level difference decides; 0 -> 20% on 300 items a window is a rise.
    windows = _windows(
        early_overridden=[0],
        early_override_known=[300],
        recent_overridden=[60],
        recent_override_known=[300],
        early_corrected=[30],
        early_correction_known=[300],
        recent_corrected=[30],
        recent_correction_known=[300],
    )
    out = _judge(windows)
    assert out["override_status"].item() == "rising"
    assert out["override_change_pct"].item() is None
    assert out["correction_status"].item() == "no_clear_change"


def test_week_shocks_widen_the_guardrail_interval():
    # The same totals (10% -> 13% of 2,600 items a window), once spread evenly over 13 weeks
    # and once lumped into runs of busy and quiet weeks (shocks that persist): the lumpy weeks
    # widen the interval and the rise is no longer clear.
    def weeks(early: list[int], recent: list[int]) -> pl.DataFrame:
        return pl.DataFrame(
            [
                {
                    "workflow_id": "wf0",
                    "window_name": name,
                    "week": first + w,
                    "override_known": 200,
                    "overridden": counts[w],
                    "correction_known": 200,
                    "corrected": 20,
                }  # fmt: skip
                for name, first, counts in (("early", 0, early), ("recent", 40, recent))
                for w in range(13)
            ]
        )

    busy, quiet = [1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0], [0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0]
    lumpy = weeks(
        [30 * b + 5 * q for b, q in zip(busy, quiet)],
        [38 * b + 8 * q + 2 * (w == 12) for w, (b, q) in enumerate(zip(busy, quiet))],
    )
    even = weeks([20] * 13, [26] * 13)
    windows = _windows(
        early_overridden=[260],
        early_override_known=[2600],
        recent_overridden=[338],
        recent_override_known=[2600],
        early_corrected=[260],
        early_correction_known=[2600],
        recent_corrected=[260],
        recent_correction_known=[2600],
    )
    for frame in (even, lumpy):
        totals = frame.group_by("window_name").agg(pl.col("overridden").sum()).sort("window_name")
        assert totals["overridden"].to_list() == [260, 338]
    calm, shocked = _judge(windows, even, rho=0.5), _judge(windows, lumpy, rho=0.5)
    assert calm["override_status"].item() == "rising" and calm["override_design_effect"].item() == pytest.approx(1.0)
    assert shocked["override_design_effect"].item() > 5
    assert shocked["override_status"].item() == "no_clear_change"
    assert shocked["override_change_pct"].item() == pytest.approx(calm["override_change_pct"].item())


# -- the stage funnel ---------------------------------------------------------------------------

# Hand-built history, cutoff 2025-10-28. wf_f has no history: the registry says pilot.
STAGE_HISTORY = """
workflow_id,stage,entered_on,decided_by,note
wf_a,investigation,2025-01-01,board,
wf_a,pilot,2025-03-02,board,
wf_a,production,2025-06-30,board,scaled
wf_b,investigation,2025-02-01,board,
wf_b,pilot,2025-04-02,board,
wf_b,retired,2025-05-12,board,no value
wf_c,Investigation,2025-03-01,board,
wf_c,pilot,2025-09-01,board,
wf_d,investigation,2025-04-01,board,
wf_d,retired,2025-05-01,board,
wf_e,investigation,2025-05-01,,
wf_g,investigation,2025-01-15,board,
wf_g,PILOT,2025-02-01,board,still waiting
"""


@pytest.fixture(scope="module")
def funnel_warehouse(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("funnel") / "inputs"
    stages = {
        "wf_a": "production",
        "wf_b": "retired",
        "wf_c": "pilot",
        "wf_d": "retired",
        "wf_e": "investigation",
        "wf_f": "pilot",
        "wf_g": "pilot",
    }
    write_csv(
        root / "workflows.csv",
        REGISTRY_COLUMNS,
        [ready_registry_row(wf, stage=stage, deployed_on=None, eligible_users=None) for wf, stage in stages.items()],
    )
    write_csv(root / "work_items" / "items.csv", ITEM_COLUMNS, item_rows("wf_a", start=CUTOFF - timedelta(days=5)))
    write(root / "workflow_stages" / "history.csv", STAGE_HISTORY)
    return build_warehouse(root, tmp_path_factory.mktemp("funnel_wh") / "w.duckdb")


def test_the_funnel_equals_a_hand_count(funnel_warehouse):
    funnel = {
        row["stage"]: row for row in query(funnel_warehouse, "select * from marts.stage_funnel").iter_rows(named=True)
    }
    counted = {
        stage: (r["workflows_entered"], r["workflows_moved_on"], r["workflows_retired"], r["workflows_still_there"])
        for stage, r in funnel.items()
    }
    assert counted == {
        "investigation": (6, 4, 1, 1),  # a, b, c, g moved on; d retired; e still there
        "pilot": (5, 1, 1, 3),  # a to production; b retired; c, g and f (registry only) still there
        "production": (1, 0, 0, 1),
        "retired": (2, 0, 0, 2),
    }
    assert funnel["investigation"]["conversion_rate"] == pytest.approx(4 / 6)
    # Of the four pilots with a history, only wf_a reached production; wf_f has no dates.
    assert (funnel["pilot"]["workflows_converted"], funnel["pilot"]["workflows_with_history"]) == (1, 4)
    assert funnel["pilot"]["workflows_time_unknown"] == 1
    assert funnel["production"]["conversion_rate"] is None


def test_days_in_stage_count_a_workflow_still_there_as_censored(funnel_warehouse):
    funnel = {
        row["stage"]: row for row in query(funnel_warehouse, "select * from marts.stage_funnel").iter_rows(named=True)
    }
    # Pilot stays: b 40 days (left), c 57 (still there), a 120 (left), g 269 (still there).
    # Kaplan-Meier: S(40) = 3/4; c is censored at 57; S(120) = 3/4 * 1/2 = 3/8 <= 1/2, so 120.
    # Treating c's 57 days as finished would give 88.5; dropping c would give 80.
    assert funnel["pilot"]["median_days_in_stage"] == 120
    assert (funnel["pilot"]["stays_timed"], funnel["pilot"]["stays_censored"]) == (4, 2)
    # Investigation: 17, 30, 60, 60, 184 and e censored at 180: S(60) = 5/6 * 4/5 * 2/4 = 1/3.
    assert funnel["investigation"]["median_days_in_stage"] == 60
    spells = query(
        funnel_warehouse, "select * from intermediate.stage_spells where workflow_id = 'wf_c' order by spell_number"
    )
    assert spells["days_in_stage"].to_list() == [184, 57]
    assert spells["is_censored"].to_list() == [False, True]


def test_the_funnel_by_quarter_and_the_stalled_pilot(funnel_warehouse):
    quarters = query(funnel_warehouse, "select * from marts.stage_funnel_quarterly where quarter_label = '2025-Q1'")
    q1 = {row["stage"]: row for row in quarters.iter_rows(named=True)}
    assert q1["investigation"]["workflows_entered"] == 4  # a, b, c, g
    assert q1["pilot"]["workflows_entered"] == 2  # g (Feb), a (Mar)
    assert q1["investigation"]["workflows_in_stage_at_end"] == 2  # b, c
    assert q1["investigation"]["workflows_converted_to_date"] == 2  # g, a
    stalled = query(funnel_warehouse, "select * from marts.stalled_workflows")
    assert stalled["workflow_id"].to_list() == ["wf_g"]
    assert stalled["days_in_pilot"].to_list() == [269]


def test_without_stage_history_the_funnel_says_time_in_stage_is_unknown(tmp_path):
    root = tmp_path / "inputs"
    write_csv(
        root / "workflows.csv",
        REGISTRY_COLUMNS,
        [ready_registry_row("wf_a"), ready_registry_row("wf_b", stage="production")],
    )
    write_csv(root / "work_items" / "items.csv", ITEM_COLUMNS, item_rows("wf_a", start=CUTOFF - timedelta(days=5)))
    warehouse = build_warehouse(root, tmp_path / "w.duckdb")
    funnel = {r["stage"]: r for r in query(warehouse, "select * from marts.stage_funnel").iter_rows(named=True)}
    assert funnel["pilot"]["workflows_still_there"] == 1 and funnel["production"]["workflows_still_there"] == 1
    assert funnel["pilot"]["is_time_in_stage_known"] is False and funnel["pilot"]["median_days_in_stage"] is None
    assert funnel["pilot"]["basis_note"].startswith("time in stage unknown")


def test_stage_durations_match_kaplan_meier_by_hand():
    spells = pl.DataFrame({"stage": ["pilot"] * 3, "days_in_stage": [30, 40, 100], "is_censored": [False, True, False]})
    row = stage_durations(spells, 0.95).row(0, named=True)
    # S(30) = 2/3; 40 censored; S(100) = 0: the median is 100, not the naive 40.
    assert row["median_days_in_stage"] == 100 and row["median_method"] == "kaplan_meier"


# -- frozen baselines ---------------------------------------------------------------------------


def test_a_frozen_baseline_holds_when_older_items_are_added_later(tmp_path):
    root = tmp_path / "inputs"
    write_csv(root / "workflows.csv", REGISTRY_COLUMNS, [ready_registry_row("wf_a", baseline_frozen_on="2025-06-01")])
    write_csv(root / "work_items" / "items_2025.csv", ITEM_COLUMNS, item_rows("wf_a"))
    warehouse = build_warehouse(root, tmp_path / "w.duckdb")
    sql = "select * from marts.frozen_baselines where metric = 'cycle_time_hours'"
    first = query(warehouse, sql)
    assert first.height == 1 and first["baseline_frozen_on"].item() == date(2025, 6, 1)

    # Older baseline-window items turn up later, each taking four times as long.
    late = item_rows("wf_a", end=GO_LIVE - timedelta(days=1), baseline_hours=192.0, prefix="old")
    write_csv(root / "work_items" / "items_backfill.csv", ITEM_COLUMNS, late)
    build_warehouse(root, warehouse)
    assert query(warehouse, sql).equals(first)
    comparison = query(warehouse, "select * from marts.baseline_comparison where metric = 'cycle_time_hours'").row(
        0, named=True
    )
    assert comparison["frozen_baseline_value"] == first["baseline_value"].item()
    assert comparison["live_baseline_value"] > comparison["frozen_baseline_value"]
    assert comparison["live_n_baseline"] == 2 * comparison["frozen_n_baseline"]
    assert comparison["has_baseline_moved"] is True
    assert comparison["change_vs_frozen_pct"] == pytest.approx(
        100 * (comparison["post_value"] / comparison["frozen_baseline_value"] - 1)
    )


# -- bad rows in the new sources --------------------------------------------------------------


def test_bad_rows_in_the_new_sources_are_quarantined_with_reasons_and_counts_reconcile(tmp_path):
    root = tmp_path / "inputs"
    write_csv(root / "workflows.csv", REGISTRY_COLUMNS, [ready_registry_row("wf_a"), ready_registry_row("wf_b")])
    write(
        root / "workflow_stages" / "stages.csv",
        """
        workflow_id,stage,entered_on,decided_by,note
        wf_a,investigation,2025-01-01,board,
        wf_a,someday,2025-02-01,board,
        wf_a,pilot,2025-02-30,board,
        wf_zzz,pilot,2025-02-01,board,
        ,pilot,2025-02-01,board,
        wf_b,pilot,2025-03-01,board,first
        wf_b,pilot,2025-03-01,board,first
        wf_b,production,2025-06-01,board,=HYPERLINK("x")
        """,
    )
    write(
        root / "feedback" / "feedback_1.csv",
        """
        feedback_id,workflow_id,raised_on,kind,status,resolved_on
        f1,wf_a,2025-03-01,correction,open,
        f2,wf_a,2025-03-01,complaint,open,
        f3,wf_a,2025-03-01,Incident,done,
        f4,wf_a,2025-03-10,correction,incorporated,2025-03-01
        f5,wf_nope,2025-03-01,correction,open,
        ,wf_a,2025-03-01,correction,open,
        f6,wf_b,yesterday,correction,open,
        f7,wf_b,2025-03-01,exception,open,2025-03-05
        """,
    )
    write(
        root / "feedback" / "feedback_2.csv",
        """
        feedback_id,workflow_id,raised_on,kind,status,resolved_on
        f1,wf_a,2025-03-01,correction,incorporated,2025-04-01
        """,
    )
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    at = datetime(2025, 11, 1)
    load_source(con, WORKFLOWS, root, at)
    stages, feedback = load_source(con, WORKFLOW_STAGES, root, at), load_source(con, FEEDBACK, root, at)

    assert stages.reconciles and feedback.reconciles
    assert (stages.rows_read, stages.rows_staged, stages.rows_quarantined, stages.rows_deduplicated) == (8, 3, 4, 1)
    assert (feedback.rows_read, feedback.rows_staged, feedback.rows_quarantined, feedback.rows_superseded) == (
        9,
        1,
        7,
        1,
    )

    reasons = dict(
        con.execute(
            "select source_file || ':' || row_number, rule || ' | ' || reason from quarantine.rejected_rows "
            "where source in ('workflow_stages', 'feedback')"
        ).fetchall()
    )
    assert reasons["workflow_stages/stages.csv:2"].startswith("out_of_range | stage: 'someday' is not one of")
    assert reasons["workflow_stages/stages.csv:3"].startswith("unparseable | entered_on: cannot read '2025-02-30'")
    assert reasons["workflow_stages/stages.csv:4"].startswith("unknown_workflow")
    assert reasons["workflow_stages/stages.csv:5"].startswith("missing_value | workflow_id")
    assert reasons["feedback/feedback_1.csv:2"].startswith("out_of_range | kind: 'complaint' is not one of")
    assert reasons["feedback/feedback_1.csv:3"].startswith("out_of_range | status: 'done' is not one of")
    assert reasons["feedback/feedback_1.csv:4"] == "resolved_before_raised | resolved_on: earlier than raised_on"
    assert reasons["feedback/feedback_1.csv:5"].startswith("unknown_workflow")
    assert reasons["feedback/feedback_1.csv:6"].startswith("missing_value | feedback_id")
    assert reasons["feedback/feedback_1.csv:7"].startswith("unparseable | raised_on: cannot read 'yesterday'")
    assert reasons["feedback/feedback_1.csv:8"] == "invalid | resolved_on: set on feedback whose status is open"
    # The later file's status wins; the note is kept as text, never interpreted.
    assert con.execute("select status from staging.feedback where feedback_id = 'f1'").fetchall() == [("incorporated",)]
    assert con.execute("select note from staging.workflow_stages where stage = 'production'").fetchall() == [
        ('=HYPERLINK("x")',)
    ]


# -- the documentation keeps up ---------------------------------------------------------------

GOVERNANCE_MARTS = [
    "marts.stage_funnel",
    "marts.stage_funnel_quarterly",
    "marts.stalled_workflows",
    "marts.exception_rates",
    "marts.exception_guardrails",
    "marts.feedback_loops",
    "marts.frozen_baselines",
    "marts.baseline_comparison",
    "marts.readiness",
]


@pytest.mark.parametrize("table", GOVERNANCE_MARTS)
def test_every_governance_mart_column_is_documented(gate_warehouse, table):
    columns = query(gate_warehouse, f"describe {table}")["column_name"].to_list()
    doc = (Path(__file__).parents[1] / "docs" / "warehouse.md").read_text()
    section = doc.split(f"### `{table}`")[1].split("\n### ")[0].split("\n## ")[0]
    requirements = {
        c.removesuffix("_pass").removesuffix("_reason") for c in columns if c.endswith(("_pass", "_reason"))
    }
    for column in columns:
        name = column.removesuffix("_pass").removesuffix("_reason")
        documented = f"`{column}`" in section or (
            table == "marts.readiness" and name in requirements and f"`{name}`" in section
        )
        assert documented, f"{table}.{column} is not documented in docs/warehouse.md"
