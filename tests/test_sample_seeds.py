"""The sample-seed check of the calibration: how a build's decisions are judged against the stories."""

from __future__ import annotations

import polars as pl

from pipelines.calibration.sample_seeds import STORY_TARGET, compare, sample_markdown


def _inputs(decisions: dict[str, str]) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    expected = {"a": "scale", "b": "fix_guardrail", "c": "not_deployed"}
    stories = pl.DataFrame(
        {
            "workflow_id": list(expected),
            "expected_quadrant": ["value_with_adoption", "value_with_adoption", "not_deployed"],
            "expected_decision": list(expected.values()),
        }
    )
    effects = pl.DataFrame(
        {
            "workflow_id": list(expected),
            "is_primary": ["true"] * 3,
            "expected_verdict": ["improved", "improved", "not_deployed"],
        }
    )
    scorecard = pl.DataFrame(
        {
            "workflow_id": list(decisions),
            "quadrant": ["value_with_adoption"] * len(decisions),
            "primary_verdict": ["improved"] * len(decisions),
            "decision": list(decisions.values()),
        }
    )
    return scorecard, stories, effects


def test_a_story_is_right_when_its_decision_is_the_designed_one():
    # close_gaps differs from scale only in the governance gate: both are the value story.
    checked = compare(*_inputs({"a": "close_gaps", "b": "contested", "c": "not_deployed"}))
    assert dict(checked.select("workflow_id", "right").iter_rows()) == {"a": True, "b": False, "c": True}
    assert set(checked["judged_on"]) == {"decision"}


def test_a_story_missing_from_the_build_is_wrong():
    checked = compare(*_inputs({"a": "scale", "c": "not_deployed"}))
    assert dict(checked.select("workflow_id", "right").iter_rows()) == {"a": True, "b": False, "c": True}


def test_the_table_marks_stories_below_the_target():
    rates = pl.DataFrame(
        {
            "workflow_id": ["a", "b"],
            "expected_decision": ["scale", "fix_guardrail"],
            "expected_quadrant": ["value_with_adoption"] * 2,
            "expected_verdict": ["improved"] * 2,
            "judged_on": ["decision"] * 2,
            "seeds": [10, 10],
            "right_pct": [STORY_TARGET, STORY_TARGET - 10],
            "wrong": ["seed 3: contested", "seed 4: contested; seed 6: contested"],
        }
    )
    table = sample_markdown(rates)
    assert "| a | scale | 90 | pass | seed 3: contested |" in table
    assert "| b | fix_guardrail | 80 | miss | seed 4: contested; seed 6: contested |" in table
