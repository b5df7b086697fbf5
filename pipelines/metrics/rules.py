"""The business rules, each defined once, with their numbers and lists from metrics.yaml.

* the verdict of one metric (:func:`metric_verdict`, applying ``pipelines.stats.verdicts``),
* the target (:func:`target_status`: met / likely / not_met),
* the guardrails (:func:`guardrail_breaches`),
* a contested claim of value (:func:`contested_reasons`),
* the adoption x value quadrant (:func:`quadrant`),
* the one decision per workflow (:func:`decide`, the table of docs/methods.md),
* which decisions count as value (:func:`value_decisions`, :func:`shows_value`).

Everything else calls these: the marts (``marts.workflow_scorecard`` stores the quadrant and
the decision with its reasons, ``marts.method_checks`` the guardrail), the sample's truth
module, and, through the mart columns, the dashboard. ``adoption_unknown`` is defined once in
``sql/adoption.sql`` (``marts.adoption.is_adoption_unknown``) and read from there.
``tests/test_rules.py`` pins each rule to the tables in docs/methods.md.
"""

from __future__ import annotations

import math
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, Literal

from pipelines.metrics.config import MetricsConfig, load_config
from pipelines.stats.verdicts import NO_CLAIM, Verdict, verdict

Quadrant = Literal[
    "value_with_adoption",
    "adoption_without_value",
    "value_without_adoption",
    "no_value_no_adoption",
    "adoption_unknown",
    "not_deployed",
    "insufficient_data",
]
QUADRANTS: Final[tuple[str, ...]] = typing.get_args(Quadrant)
TargetStatus = Literal["met", "likely", "not_met"]


def _finite(x: float | None) -> bool:
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x)


def metric_verdict(
    metric: str,
    change_pct: float | None,
    ci_low_pct: float | None,
    ci_high_pct: float | None,
    n_closed_base: int,
    n_closed_post: int,
    events_total: int | None = None,
    baseline_coverage: float | None = None,
    config: MetricsConfig | None = None,
) -> Verdict:
    """The verdict of one metric's change with metrics.yaml's thresholds (docs/methods.md, "Verdicts")."""
    config = config or load_config()
    settings = config.settings
    nan = float("nan")
    return verdict(
        ci_low_pct if _finite(ci_low_pct) else nan,
        ci_high_pct if _finite(ci_high_pct) else nan,
        n_closed_base,
        n_closed_post,
        events_total=events_total,
        min_closed=int(settings["min_closed_items"]),
        min_events=int(settings["min_events"]),
        estimate=change_pct if _finite(change_pct) else nan,
        min_meaningful_pct=config.min_meaningful_pct(metric),
        baseline_coverage=baseline_coverage,
        min_baseline_coverage=float(settings["min_baseline_coverage"]),
    )


def target_status(
    verdict_: str | None,
    change_pct: float | None,
    ci_high_pct: float | None,
    target_change_pct: float | None,
) -> TargetStatus | None:
    """``met`` when the whole interval is beyond the target, ``likely`` when only the point
    estimate is, else ``not_met``; None when there is no target or no claim to judge.

    Lower is better, so "beyond" a target of -20% means at or below -20%.
    """
    if not _finite(target_change_pct) or verdict_ is None or verdict_ in NO_CLAIM or not _finite(change_pct):
        return None
    if _finite(ci_high_pct) and ci_high_pct <= target_change_pct:  # type: ignore[operator]
        return "met"
    if change_pct <= target_change_pct:  # type: ignore[operator]
        return "likely"
    return "not_met"


def guardrail_breaches(
    primary_metric: str | None, verdicts: Mapping[str, str | None], config: MetricsConfig | None = None
) -> list[str]:
    """Guardrail metrics that worsened while the primary metric improved (else an empty list).

    The guardrails are metrics.yaml's ``guardrail_metrics`` other than the primary metric.
    """
    config = config or load_config()
    if primary_metric is None or verdicts.get(primary_metric) != "improved":
        return []
    return [m for m in config.guardrail_metrics if m != primary_metric and verdicts.get(m) == "worsened"]


@dataclass(frozen=True)
class ClaimEvidence:
    """What the other views say about a workflow's primary metric (None: not available)."""

    did_identifiable: bool = False
    did_comparison_workflows: int | None = None
    """Comparison workflows with items in both of the workflow's windows (None: no DiD row)."""
    did_change_pct: float | None = None
    did_ci_low_pct: float | None = None
    did_ci_high_pct: float | None = None
    placebo_change_pct: float | None = None
    placebo_ci_low_pct: float | None = None
    placebo_ci_high_pct: float | None = None
    pre_trend_warns: bool = False
    trend_warns: bool = False
    """The ``step_vs_trend`` check warns: a steady trend through the baseline and post weeks
    explains the change (:func:`trend_explains_change`)."""
    trend_step_pct: float | None = None
    trend_step_ci_low_pct: float | None = None
    trend_step_ci_high_pct: float | None = None


def placebo_is_precise(
    change_pct: float | None,
    placebo_ci_low_pct: float | None,
    placebo_ci_high_pct: float | None,
    config: MetricsConfig | None = None,
) -> bool:
    """Whether the placebo's estimate says anything about the claim: its interval's half-width on
    the log scale is at most ``placebo_max_halfwidth_of_claim`` times the claimed change's size
    (``|log(1 + change)|``). A placebo of -26.9% (-64% to +50%) cannot contest a -44.7% claim:
    its own interval is wider than the claim (half-width 0.71 against 0.59 on the log scale)."""
    config = config or load_config()
    if not (_finite(change_pct) and _finite(placebo_ci_low_pct) and _finite(placebo_ci_high_pct)):
        return False
    if not (change_pct > -100 and placebo_ci_low_pct > -100 and placebo_ci_high_pct > -100):  # type: ignore[operator]
        return False
    claim = abs(math.log1p(change_pct / 100))  # type: ignore[operator]
    half_width = (math.log1p(placebo_ci_high_pct / 100) - math.log1p(placebo_ci_low_pct / 100)) / 2  # type: ignore[operator]
    return half_width <= float(config.method_checks["placebo_max_halfwidth_of_claim"]) * claim


def unchecked_reason(n_comparison_workflows: int | None, config: MetricsConfig | None = None) -> str:
    """Why a claim no difference-in-differences can check is contested (docs/methods.md,
    "Evidence behind a claim"): a before/after alone cannot tell the tool from a shift common
    to all work (the ServiceNow pattern), so without comparison workflows it is not value."""
    config = config or load_config()
    needed = int(config.settings["min_comparison_workflows"])
    if n_comparison_workflows is not None and n_comparison_workflows < needed:
        return (
            f"no comparison workflows to rule out a shift common to all work: {n_comparison_workflows} "
            f"with items before and after go-live, {needed} needed"
        )
    return (
        "no comparison workflows to rule out a shift common to all work: the difference-in-differences has no estimate"
    )


def half_of_claim(config: MetricsConfig) -> float:
    """The share of a claimed change that other evidence must reproduce to count as 'as much'
    (metrics.yaml `placebo_half_of_claim`): a placebo that finds this much contests the claim,
    and a difference-in-differences that keeps this much of it is imprecise, not contradicting."""
    return float(config.method_checks["placebo_half_of_claim"])


def trend_explains_change(
    step: float | None,
    change: float | None,
    step_ci_high: float | None = None,
    config: MetricsConfig | None = None,
) -> bool:
    """Whether a trend already under way explains an improvement as well as a step at go-live.

    ``change`` is the weekly gap's fall from the baseline to the post weeks; ``step`` what a step
    at go-live keeps of it once a linear trend through both periods is allowed
    (``pipelines.stats.diagnostics.segmented_trend``), ``step_ci_high`` the upper end of the
    step's interval at ``step_confirmation_level`` (all in the same units); the rest,
    ``change - step``, is what the trend alone carries between the periods. True when the change
    is a fall, the trend points the same way, and either the step keeps less than
    ``min_step_share_of_change`` (metrics.yaml ``method_checks``) of the change or its interval
    reaches 0 (the step is not confirmed once the trend is allowed): the workflow was already
    improving before go-live."""
    config = config or load_config()
    if not (_finite(step) and _finite(change)) or not change < 0:  # type: ignore[operator]
        return False
    if not change - step < 0:  # type: ignore[operator]
        return False  # no trend in the improving direction: nothing to explain the change instead
    share = float(config.method_checks["min_step_share_of_change"])
    return step > share * change or (_finite(step_ci_high) and step_ci_high >= 0)  # type: ignore[operator]


def trend_reason(e: ClaimEvidence, config: MetricsConfig | None = None) -> str:
    """The plain-words reason of a claim the ``step_vs_trend`` check contests."""
    config = config or load_config()
    numbers = (e.trend_step_pct, e.trend_step_ci_low_pct, e.trend_step_ci_high_pct)
    if not all(_finite(x) for x in numbers):
        return "the workflow was already improving before go-live at about the same pace"
    step = (
        f"once that trend is allowed for, the step at go-live is {e.trend_step_pct:+.1f}% "
        f"({e.trend_step_ci_low_pct:+.1f}% to {e.trend_step_ci_high_pct:+.1f}%)"
    )
    if e.trend_step_ci_high_pct >= 0:  # type: ignore[operator]
        # The trend need not be significant here: the step is what is unconfirmed, so the reason
        # says the two cannot be told apart rather than that the workflow was already improving.
        return (
            "a step at go-live cannot be told from a steady trend through the baseline and post weeks: "
            f"{step}, which includes no step at all"
        )
    share = float(config.method_checks["min_step_share_of_change"])
    return (
        f"the workflow was already improving before go-live at about the same pace: {step}, "
        f"less than {share:.0%} of the change"
    )


def contested_reasons(
    primary_verdict: str | None,
    change_pct: float | None,
    evidence: ClaimEvidence,
    config: MetricsConfig | None = None,
) -> list[str]:
    """Why a before/after ``improved`` is contested (empty: not contested, or no claim).

    Contested when the difference-in-differences is not identifiable (fewer than
    ``min_comparison_workflows`` comparison workflows with items in both windows, or no
    estimate: nothing can rule out a shift common to all work, :func:`unchecked_reason`); when
    it is identifiable and its interval reaches 0 or beyond; when the placebo's interval
    excludes 0 in the same direction, or its estimate is at least half the claimed change and
    the placebo is precise (:func:`placebo_is_precise`); when the pre-trend check warns; or when
    a trend through the baseline and post weeks explains the change (the ``step_vs_trend``
    check, :func:`trend_explains_change`).
    """
    config = config or load_config()
    if primary_verdict != "improved":
        return []
    reasons = []
    e = evidence
    if not e.did_identifiable:
        reasons.append(unchecked_reason(e.did_comparison_workflows, config))
    elif _finite(e.did_ci_high_pct) and e.did_ci_high_pct >= 0:  # type: ignore[operator]
        did = f"{e.did_change_pct:+.1f}% ({e.did_ci_low_pct:+.1f}% to {e.did_ci_high_pct:+.1f}%), which includes no change"
        kept = _finite(e.did_change_pct) and _finite(change_pct) and change_pct < 0  # type: ignore[operator]
        if kept and e.did_change_pct <= half_of_claim(config) * change_pct:  # type: ignore[operator]
            # The comparison keeps most of the fall: it is imprecise, not contradicting.
            reasons.append(
                f"the comparison workflows are too noisy to confirm it: the difference-in-differences is {did}"
            )
        else:
            reasons.append(
                f"the comparison workflows moved as much over the same weeks: the difference-in-differences is {did}"
            )
    half = half_of_claim(config)
    if _finite(e.placebo_ci_high_pct) and e.placebo_ci_high_pct < 0:  # type: ignore[operator]
        reasons.append(f"a fake go-live inside the baseline also 'finds' a fall ({e.placebo_change_pct:+.1f}%)")
    elif (
        _finite(e.placebo_change_pct)
        and _finite(change_pct)
        and change_pct < 0  # type: ignore[operator]
        and e.placebo_change_pct <= half * change_pct  # type: ignore[operator]
        and placebo_is_precise(change_pct, e.placebo_ci_low_pct, e.placebo_ci_high_pct, config)
    ):
        reasons.append(
            f"a fake go-live inside the baseline shows {e.placebo_change_pct:+.1f}%, at least half the claimed {change_pct:+.1f}%"
        )
    if e.pre_trend_warns:
        reasons.append("before go-live this workflow already drifted away from the comparison workflows")
    if e.trend_warns:
        reasons.append(trend_reason(e, config))
    return reasons


def quadrant(
    is_deployed: bool,
    primary_verdict: str | None,
    adoption_rate: float | None,
    is_adoption_unknown: bool,
    shows_value: bool,
    config: MetricsConfig | None = None,
) -> Quadrant:
    """The adoption x value quadrant (docs/methods.md, "Adoption is not value").

    ``shows_value`` is the decision's view of value (:func:`shows_value`), so a contested or
    guardrail-flagged win is never in a value quadrant. Unknown adoption is its own quadrant.
    """
    config = config or load_config()
    if not is_deployed:
        return "not_deployed"
    if primary_verdict is None or primary_verdict in NO_CLAIM:
        return "insufficient_data"
    if is_adoption_unknown or not _finite(adoption_rate):
        return "adoption_unknown"
    adopted = adoption_rate >= float(config.settings["adoption_threshold"])  # type: ignore[operator]
    if shows_value:
        return "value_with_adoption" if adopted else "value_without_adoption"
    return "adoption_without_value" if adopted else "no_value_no_adoption"


@dataclass(frozen=True)
class WorkflowFacts:
    """Everything the decision reads about one workflow."""

    is_deployed: bool
    primary_verdict: str | None
    is_adopted: bool | None
    """None when adoption is unknown."""
    contested: list[str]
    guardrails: list[str]
    readiness_gaps: list[str]


DECISION_RULES: Final[dict[str, Callable[[WorkflowFacts], bool]]] = {
    "not_deployed": lambda f: not f.is_deployed,
    "wait_for_data": lambda f: f.primary_verdict is None or f.primary_verdict in NO_CLAIM,
    "contested": lambda f: bool(f.contested),
    "fix_guardrail": lambda f: f.primary_verdict == "improved" and bool(f.guardrails),
    "scale": lambda f: f.primary_verdict == "improved" and f.is_adopted is True and not f.readiness_gaps,
    "close_gaps": lambda f: f.primary_verdict == "improved" and f.is_adopted is True and bool(f.readiness_gaps),
    "drive_adoption": lambda f: f.primary_verdict == "improved" and f.is_adopted is False,
    "redesign": lambda f: f.is_adopted is True and f.primary_verdict != "improved",
    "reconsider": lambda f: f.is_adopted is not True and f.primary_verdict != "improved",
    "unknown_adoption": lambda f: f.primary_verdict == "improved" and f.is_adopted is None,
}
"""The condition of each decision of metrics.yaml's table, by name; the table's order decides."""


def metric_label(metric: str | None, config: MetricsConfig) -> str:
    """A metric's label for a sentence, e.g. "cycle time"."""
    if metric in config.metrics:
        return config.metrics[metric].label.lower()
    return (metric or "the primary metric").replace("_", " ")


def _reasons(name: str, f: WorkflowFacts, primary_metric: str | None, config: MetricsConfig) -> list[str]:
    metric = metric_label(primary_metric, config)
    adoption = {True: "the tool is adopted", False: "the tool is not adopted", None: "adoption is unknown"}[
        f.is_adopted
    ]
    improved = (
        f"{metric} improved" if f.primary_verdict == "improved" else f"{metric} did not improve ({f.primary_verdict})"
    )
    if name == "not_deployed":
        return ["no go-live date: a comparison workflow"]
    if name == "wait_for_data":
        if f.primary_verdict == "insufficient_baseline":
            return [f"the data covers too little of the baseline window to compare {metric}"]
        return [f"too little data to judge {metric}"]
    if name == "contested":
        return [f"{metric} improved before/after, but " + reason for reason in f.contested]
    if name == "fix_guardrail":
        worse = " and ".join(metric_label(m, config) for m in f.guardrails)
        # Speed is only one kind of gain: name the trade in words that fit any primary metric.
        bought = "speed bought with quality" if primary_metric == "cycle_time_hours" else "a gain bought with quality"
        return [f"{metric} improved while {worse} worsened: {bought}"]
    if name == "scale":
        return [improved, adoption, "every readiness item is in place"]
    if name == "close_gaps":
        return [improved, adoption, "readiness gaps: " + ", ".join(g.replace("_", " ") for g in f.readiness_gaps)]
    return [improved, adoption]


def decide(
    facts: WorkflowFacts, primary_metric: str | None = None, config: MetricsConfig | None = None
) -> tuple[str, list[str]]:
    """The one decision for a workflow and the plain-words reasons that led to it."""
    config = config or load_config()
    for row in config.decisions:
        if DECISION_RULES[row.name](facts):
            return row.name, _reasons(row.name, facts, primary_metric, config)
    raise AssertionError(f"no decision applies to {facts}")  # the table's conditions cover every case


def value_decisions(config: MetricsConfig | None = None) -> tuple[str, ...]:
    """The decisions that count as value (metrics.yaml ``value_decisions``: ``scale``,
    ``close_gaps``, ``drive_adoption``): never contested, guardrail-flagged, waiting for data
    or of unknown adoption. The scorecard's ``shows_value``, the quadrant's value side and the
    portfolio totals of ``pipelines/value/`` all read this one list."""
    return (config or load_config()).value_decisions


def shows_value(decision_: str, config: MetricsConfig | None = None) -> bool:
    """Whether a decision counts the workflow as showing value (scorecard, quadrant, portfolio)."""
    return decision_ in value_decisions(config)
