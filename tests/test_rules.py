"""The business rules: each pinned to docs/methods.md's table, and each row of each table exercised."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from pipelines.metrics import rules
from pipelines.metrics.config import load_config
from pipelines.metrics.rules import ClaimEvidence, WorkflowFacts
from pipelines.stats.verdicts import VERDICTS

METHODS = Path(__file__).resolve().parents[1] / "docs" / "methods.md"


def doc_table(first_header: str) -> list[list[str]]:
    """The body rows of the markdown table in docs/methods.md whose first header cell is `first_header`."""
    lines = METHODS.read_text().splitlines()
    for i, line in enumerate(lines):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == first_header and lines[i + 1].startswith("| ---"):
            rows = []
            for body in lines[i + 2 :]:
                if not body.startswith("|"):
                    break
                rows.append([c.strip() for c in body.strip().strip("|").split("|")])
            return rows
    raise AssertionError(f"no table headed {first_header!r} in docs/methods.md")


def names(rows: list[list[str]]) -> list[str]:
    return [re.sub(r"`", "", row[0]) for row in rows]


# --- each rule against its table ----------------------------------------------------------------


def test_the_decision_table_of_the_docs_is_metrics_yaml_and_the_code():
    config = load_config()
    table = doc_table("decision")
    assert names(table) == [d.name for d in config.decisions]
    assert [row[1] for row in table] == [d.when for d in config.decisions]
    assert set(rules.DECISION_RULES) == {d.name for d in config.decisions}


def test_the_verdict_table_of_the_docs_is_the_code():
    assert set(names(doc_table("verdict"))) == set(VERDICTS)


def test_the_quadrant_table_of_the_docs_is_the_code():
    assert set(names(doc_table("quadrant"))) == set(rules.QUADRANTS)


def test_the_target_table_of_the_docs_is_the_code():
    assert names(doc_table("target")) == ["met", "likely", "not_met"]


def test_the_metric_list_of_the_docs_is_metrics_yaml():
    assert names(doc_table("metric")) == list(load_config().metrics)


def test_the_method_check_thresholds_of_the_docs_are_metrics_yaml():
    table = {
        name: float(row[1]) for name, row in zip(names(doc_table("threshold")), doc_table("threshold"), strict=True)
    }
    assert table == {k: float(v) for k, v in load_config().method_checks.items()}


def test_the_value_decisions_in_the_docs_are_metrics_yaml():
    text = METHODS.read_text()
    listed = ", ".join(f"`{d}`" for d in load_config().value_decisions)
    assert f"Value decisions: {listed}" in text


def test_the_guardrail_metrics_in_the_docs_are_metrics_yaml():
    text = METHODS.read_text()
    config = load_config()
    assert f"Guardrails: {' and '.join(f'`{m}`' for m in config.guardrail_metrics)}" in text


# --- verdict, target ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "low", "high", "expected"),
    [(-20.0, -30.0, -10.0, "improved"), (-3.0, -5.0, -1.0, "negligible"), (-20.0, -40.0, 2.0, "no_clear_change")],
)
def test_metric_verdict_reads_min_meaningful_pct_from_metrics_yaml(change, low, high, expected):
    assert rules.metric_verdict("rework_rate", change, low, high, 100, 100, events_total=50) == expected


def test_insufficient_baseline_when_the_data_covers_too_little_of_the_window():
    assert rules.metric_verdict("touchpoints_per_item", -20.0, -30.0, -10.0, 100, 100, baseline_coverage=0.5) == (
        "insufficient_baseline"
    )
    assert (
        rules.metric_verdict("touchpoints_per_item", -20.0, -30.0, -10.0, 100, 100, baseline_coverage=0.85)
        == "improved"
    )


@pytest.mark.parametrize(
    ("change", "high", "target", "expected"),
    [
        (-30.0, -22.0, -20.0, "met"),  # the whole interval beyond the target
        (-25.0, -10.0, -20.0, "likely"),  # only the point estimate
        (-15.0, -5.0, -20.0, "not_met"),
        (-20.0, -20.0, -20.0, "met"),  # inclusive
    ],
)
def test_target_met_likely_not_met(change, high, target, expected):
    assert rules.target_status("improved", change, high, target) == expected


def test_no_target_status_without_a_target_or_a_claim():
    assert rules.target_status("improved", -30.0, -22.0, None) is None
    assert rules.target_status("insufficient_data", -30.0, -22.0, -20.0) is None
    assert rules.target_status("insufficient_baseline", -30.0, -22.0, -20.0) is None


# --- guardrails, contested ------------------------------------------------------------------------


def test_guardrails_key_on_the_primary_metric():
    verdicts = {"cycle_time_hours": "improved", "error_rate": "worsened", "rework_rate": "no_clear_change"}
    assert rules.guardrail_breaches("cycle_time_hours", verdicts) == ["error_rate"]
    assert rules.guardrail_breaches("rework_rate", verdicts) == []  # the primary did not improve
    verdicts["rework_rate"] = "improved"
    assert rules.guardrail_breaches("rework_rate", verdicts) == ["error_rate"]
    assert rules.guardrail_breaches("error_rate", {"error_rate": "improved", "rework_rate": "worsened"}) == [
        "rework_rate"
    ]


def test_a_claim_is_contested_when_the_did_disagrees():
    did = ClaimEvidence(did_identifiable=True, did_change_pct=-4.3, did_ci_low_pct=-31.0, did_ci_high_pct=33.0)
    reasons = rules.contested_reasons("improved", -35.0, did)
    assert len(reasons) == 1 and "the comparison workflows moved as much over the same weeks" in reasons[0]
    # A DiD that keeps most of the fall but is too wide still contests, in words that say so.
    noisy = ClaimEvidence(did_identifiable=True, did_change_pct=-40.0, did_ci_low_pct=-67.1, did_ci_high_pct=9.7)
    reasons = rules.contested_reasons("improved", -45.0, noisy)
    assert len(reasons) == 1 and reasons[0].startswith("the comparison workflows are too noisy to confirm it")
    assert "-40.0% (-67.1% to +9.7%)" in reasons[0]
    agreeing = ClaimEvidence(did_identifiable=True, did_change_pct=-30.0, did_ci_low_pct=-45.0, did_ci_high_pct=-12.0)
    assert rules.contested_reasons("improved", -35.0, agreeing) == []
    # Only an improvement can be contested.
    assert rules.contested_reasons("no_clear_change", -35.0, did) == []


AGREEING = ClaimEvidence(
    did_identifiable=True, did_comparison_workflows=4, did_change_pct=-30.0, did_ci_low_pct=-45.0, did_ci_high_pct=-12.0
)
"""A difference-in-differences that backs a -35% claim: the other evidence alone decides."""


@pytest.mark.parametrize(
    ("evidence", "says"),
    [
        (
            ClaimEvidence(did_identifiable=False, did_comparison_workflows=2),
            "2 with items before and after go-live, 3 needed",
        ),
        (ClaimEvidence(did_identifiable=False, did_comparison_workflows=0), "0 with items before and after go-live"),
        (ClaimEvidence(did_identifiable=False, did_comparison_workflows=4), "has no estimate"),  # not estimable
        (ClaimEvidence(), "has no estimate"),  # no DiD row at all
    ],
)
def test_a_claim_nothing_can_check_is_contested(evidence, says):
    # ar05_step_2cmp: a step common to all work, 2 comparison workflows; the before/after alone
    # cannot tell it from the tool, so a value claim without an identifiable DiD is not value.
    reasons = rules.contested_reasons("improved", -35.0, evidence)
    assert len(reasons) == 1 and "no comparison workflows to rule out a shift common to all work" in reasons[0]
    assert says in reasons[0]
    assert rules.contested_reasons("no_clear_change", -35.0, evidence) == []
    decision, why = rules.decide(facts(contested=reasons), "cycle_time_hours")
    assert decision == "contested" and not rules.shows_value(decision)
    assert why[0].startswith("cycle time improved before/after, but no comparison workflows")
    # The same claim with an identifiable DiD that agrees stands.
    assert rules.contested_reasons("improved", -35.0, AGREEING) == []


@pytest.mark.parametrize(
    ("placebo", "contested"),
    [
        ((-20.0, -35.0, -5.0), True),  # the placebo's interval excludes 0 in the same direction
        ((-18.0, -40.0, 8.0), True),  # at least half the claimed -35%, and precise enough to say so
        ((-18.0, -50.0, 25.0), False),  # as much, but its own interval is wider than the claim
        ((-26.9, -64.0, 50.0), False),  # issue 11's sample case, against a claimed -35%
        ((-10.0, -40.0, 30.0), False),
        ((15.0, -5.0, 40.0), False),
    ],
)
def test_a_claim_is_contested_when_the_placebo_finds_as_much(placebo, contested):
    evidence = replace(
        AGREEING, placebo_change_pct=placebo[0], placebo_ci_low_pct=placebo[1], placebo_ci_high_pct=placebo[2]
    )
    assert bool(rules.contested_reasons("improved", -35.0, evidence)) is contested


def test_a_placebo_is_precise_when_its_interval_is_no_wider_than_the_claim():
    # Half-width on the log scale against |log(1 + claim)|: 0.294 <= 0.431; 0.458 > 0.431.
    assert rules.placebo_is_precise(-35.0, -40.0, 8.0)
    assert not rules.placebo_is_precise(-35.0, -50.0, 25.0)
    # issue 11: a placebo of -26.9% (-64% to +50%) against a real -44.7% win (0.71 > 0.59)
    assert not rules.placebo_is_precise(-44.7, -64.0, 50.0)
    assert not rules.placebo_is_precise(-35.0, None, 8.0)


def test_a_claim_is_contested_when_the_pre_trends_warn():
    assert rules.contested_reasons("improved", -35.0, replace(AGREEING, pre_trend_warns=True))


# --- quadrant and decision --------------------------------------------------------------------------


def facts(**overrides) -> WorkflowFacts:
    base = {
        "is_deployed": True,
        "primary_verdict": "improved",
        "is_adopted": True,
        "contested": [],
        "guardrails": [],
        "readiness_gaps": [],
    }
    return WorkflowFacts(**(base | overrides))


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"is_deployed": False, "primary_verdict": None, "is_adopted": None}, "not_deployed"),
        ({"primary_verdict": "insufficient_data"}, "wait_for_data"),
        ({"primary_verdict": "insufficient_baseline"}, "wait_for_data"),
        ({"contested": ["the DiD disagrees"], "guardrails": ["error_rate"]}, "contested"),
        ({"guardrails": ["error_rate"]}, "fix_guardrail"),
        ({}, "scale"),
        ({"readiness_gaps": ["review_point"]}, "close_gaps"),
        ({"is_adopted": False}, "drive_adoption"),
        ({"primary_verdict": "no_clear_change"}, "redesign"),
        ({"primary_verdict": "negligible"}, "redesign"),
        ({"primary_verdict": "worsened", "is_adopted": False}, "reconsider"),
        ({"primary_verdict": "no_clear_change", "is_adopted": None}, "reconsider"),
        ({"is_adopted": None}, "unknown_adoption"),
    ],
)
def test_each_decision_row(overrides, expected):
    decision, reasons = rules.decide(facts(**overrides), "cycle_time_hours")
    assert decision == expected
    assert reasons and all(isinstance(r, str) and r for r in reasons)


def test_decision_reasons_are_plain_words():
    _, reasons = rules.decide(
        facts(contested=["the comparison workflows moved as much over the same weeks: -4.3% (-31.0% to +33.0%)"]),
        "cycle_time_hours",
    )
    assert reasons == [
        "cycle time improved before/after, but the comparison workflows moved as much over the same weeks: -4.3% (-31.0% to +33.0%)"
    ]
    _, reasons = rules.decide(facts(guardrails=["error_rate"]), "cycle_time_hours")
    assert reasons == ["cycle time improved while error rate worsened: speed bought with quality"]
    # Not every win is speed: a guardrail on an error-rate win names the trade in general words.
    _, reasons = rules.decide(facts(guardrails=["override_rate"]), "error_rate")
    assert reasons == ["error rate improved while override rate worsened: a gain bought with quality"]


def test_only_uncontested_unflagged_adopted_or_adoptable_wins_show_value():
    # Contested, guardrail-flagged, waiting-for-data and unknown-adoption workflows are never value.
    assert {d for d in rules.DECISION_RULES if rules.shows_value(d)} == {"scale", "close_gaps", "drive_adoption"}
    assert rules.value_decisions() == load_config().value_decisions == ("scale", "close_gaps", "drive_adoption")


def test_value_decisions_must_be_decisions_of_the_table(tmp_path):
    text = (Path(rules.__file__).parent / "metrics.yaml").read_text()
    bad = tmp_path / "metrics.yaml"
    listed = "value_decisions: [scale, close_gaps, drive_adoption]"
    assert listed in text
    bad.write_text(text.replace(listed, "value_decisions: [scale, ship_it]"))
    with pytest.raises(ValueError, match="ship_it"):
        load_config(bad)


@pytest.mark.parametrize(
    ("deployed", "verdict", "rate", "unknown", "value", "expected"),
    [
        (False, None, None, False, False, "not_deployed"),
        (True, "insufficient_data", 0.9, False, False, "insufficient_data"),
        (True, "insufficient_baseline", 0.9, False, False, "insufficient_data"),
        (True, "improved", None, True, True, "adoption_unknown"),
        (True, "improved", 0.0, True, True, "adoption_unknown"),  # eligible_users 0: unknown, not 0%
        (True, "improved", 0.5, False, True, "value_with_adoption"),  # the threshold is inclusive
        (True, "improved", 0.2, False, True, "value_without_adoption"),
        (True, "improved", 0.8, False, False, "adoption_without_value"),  # contested or flagged: not value
        (True, "no_clear_change", 0.1, False, False, "no_value_no_adoption"),
    ],
)
def test_quadrant(deployed, verdict, rate, unknown, value, expected):
    assert rules.quadrant(deployed, verdict, rate, unknown, value) == expected


def test_one_metric_list_metrics_yaml_is_the_contract_and_every_sql_reads_each_metric():
    import schemas
    from pipelines.measurement import views
    from pipelines.metrics import value_metrics
    from pipelines.sqlfiles import sql_text

    metrics = list(load_config().metrics)
    assert sorted(metrics) == sorted(schemas.METRICS)
    period_stats = sql_text(value_metrics.__file__, "period_stats")
    weekly = sql_text(views.__file__, "weekly_metrics")
    for name in metrics:
        in_stats = f"'{name}'" in period_stats
        # Cycle time is a median: it has no sufficient statistics, only durations.
        assert in_stats or load_config().metrics[name].aggregation == "median", name
        assert f"'{name}'" in weekly, name
