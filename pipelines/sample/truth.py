"""What the pipeline should find: true effects, intended verdicts, and the realised sample values.

`true_effects` is the design: each metric's true change on the population, the verdict it
should earn and the workflow's quadrant. `realised_effects` measures the clean rows the
generator wrote (exactly the rows the pipeline should stage) with the METHODS.md definitions
and a normal-approximation 95% interval, so a test can compare the pipeline's point estimates
with numbers computed independently, and so the generator can warn when a seed draws a sample
that contradicts its story.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from pipelines.metrics.config import load_config
from pipelines.metrics.rules import WorkflowFacts, decide, guardrail_breaches, quadrant
from pipelines.sample.catalogue import METRICS, Workflow

SURVIVAL_TOLERANCE = 1e-10
"""A survival of exactly one half on paper can come out as 0.5000000000000001."""
MIN_CLOSED = int(load_config().settings["min_closed_items"])
MIN_EVENTS = int(load_config().settings["min_events"])
Z95 = 1.959964
SHARES = ("rework_rate", "error_rate")
CAPPED = ("touchpoints_per_item", "external_spend_per_item")


def km_median(time: np.ndarray, event: np.ndarray) -> float:
    """Kaplan-Meier median: the first event time at which survival falls to 0.5 or below
    (R's survival and lifelines convention; `SURVIVAL_TOLERANCE` absorbs rounding)."""
    order = np.lexsort((~event, time))
    t, e = time[order], event[order]
    at_risk = t.size - np.arange(t.size)
    survival = np.cumprod(np.where(e, 1.0 - 1.0 / at_risk, 1.0))
    below = np.flatnonzero(e & (survival <= 0.5 + SURVIVAL_TOLERANCE))
    return float(t[below[0]]) if below.size else math.nan


def median_hours(time_s: np.ndarray, is_open: np.ndarray) -> float:
    """Median cycle time in hours: plain median when all items closed, else the KM median."""
    if time_s.size == 0:
        return math.nan
    if not is_open.any():
        return float(np.median(time_s)) / 3600
    return km_median(time_s.astype(float), ~is_open) / 3600


def log_median_se(time_s: np.ndarray) -> float:
    """Standard error of the log median from the order-statistic 95% interval."""
    n = time_s.size
    if n < 3:
        return math.nan
    ordered = np.sort(time_s.astype(float))
    low = int(max(0, math.floor(n / 2 - 0.98 * math.sqrt(n)) - 1))
    high = int(min(n - 1, math.ceil(n / 2 + 0.98 * math.sqrt(n))))
    return (math.log(ordered[high]) - math.log(max(ordered[low], 1.0))) / (2 * Z95)


def _mean_var(values: np.ndarray) -> tuple[float, float, int]:
    n = values.size
    return (float(values.mean()) if n else math.nan, float(values.var(ddof=1)) if n > 1 else math.nan, n)


def _relative(base: tuple[float, float, int], post: tuple[float, float, int]) -> tuple[float, float]:
    """Relative change and its delta-method standard error (METHODS.md)."""
    m0, v0, n0 = base
    m1, v1, n1 = post
    if not (n0 and n1) or m0 == 0 or math.isnan(m0):
        return math.nan, math.nan
    var = v1 / (m0**2 * n1) + v0 * m1**2 / (m0**4 * n0)
    return m1 / m0 - 1, math.sqrt(var)


def _verdict(low: float, high: float) -> str:
    if high < 0:
        return "improved"
    if low > 0:
        return "worsened"
    return "no_clear_change"


def realised(periods: pl.DataFrame, catalogue: list[Workflow]) -> pl.DataFrame:
    """Per deployed workflow and metric: sample sizes, both periods' values, change and interval."""
    rows = []
    groups = {key: frame for key, frame in periods.partition_by("w", "period", as_dict=True).items()}
    for index, wf in enumerate(catalogue):
        if not wf.deployed:
            continue
        data = []
        for period in (0, 1):
            frame = groups.get((index, period))
            data.append(frame if frame is not None else periods.clear())
        arrays = [{name: frame[name].to_numpy() for name in frame.columns} for frame in data]
        closed = [int((~a["is_open"]).sum()) for a in arrays]
        n = [a["time_s"].size for a in arrays]
        touch_all = np.concatenate([a["touchpoints"] for a in arrays]).astype(float)
        spend_all = np.concatenate([a["spend_cents"] for a in arrays]).astype(float) / 100
        caps = {
            "touchpoints_per_item": float(np.percentile(touch_all, 99)) if touch_all.size else math.nan,
            "external_spend_per_item": float(np.percentile(spend_all[spend_all > 0], 99))
            if (spend_all > 0).any()
            else math.nan,
        }
        for metric in METRICS:
            row = {
                "workflow_id": wf.workflow_id,
                "metric": metric,
                "baseline_items": n[0],
                "post_items": n[1],
                "baseline_closed": closed[0],
                "post_closed": closed[1],
            }
            uncapped = math.nan
            if metric == "cycle_time_hours":
                values = [median_hours(a["time_s"], a["is_open"]) for a in arrays]
                se = [log_median_se(a["time_s"]) for a in arrays]
                if all(v > 0 for v in values) and not any(math.isnan(s) for s in se):
                    log_ratio = math.log(values[1] / values[0])
                    spread = Z95 * math.hypot(*se)
                    change, low, high = (
                        math.expm1(log_ratio),
                        math.expm1(log_ratio - spread),
                        math.expm1(log_ratio + spread),
                    )
                    row["se"] = math.hypot(*se)
                else:
                    change = low = high = math.nan
            else:
                if metric in SHARES:
                    column = "reworked" if metric == "rework_rate" else "had_error"
                    samples = [a[column].astype(float) for a in arrays]
                    row["events"] = int(sum(s.sum() for s in samples))
                elif metric == "touchpoints_per_item":
                    samples = [a["touchpoints"].astype(float) for a in arrays]
                else:
                    samples = [a["spend_cents"].astype(float) / 100 for a in arrays]
                if metric in CAPPED:
                    uncapped = _relative(*[_mean_var(s) for s in samples])[0]
                    samples = [np.minimum(s, caps[metric]) for s in samples]
                stats = [_mean_var(s) for s in samples]
                values = [stats[0][0], stats[1][0]]
                change, se = _relative(*stats)
                low, high = change - Z95 * se, change + Z95 * se
                row["se"] = se
            row.update(
                baseline_value=values[0],
                post_value=values[1],
                change_pct=100 * change,
                ci_low_pct=100 * low,
                ci_high_pct=100 * high,
                uncapped_change_pct=100 * uncapped,
                approx_verdict=_sample_verdict(row, metric, low, high),
            )
            rows.append(row)
    schema = {
        "workflow_id": pl.String,
        "metric": pl.String,
        "baseline_items": pl.Int64,
        "post_items": pl.Int64,
        "baseline_closed": pl.Int64,
        "post_closed": pl.Int64,
        "events": pl.Int64,
        "se": pl.Float64,
        "baseline_value": pl.Float64,
        "post_value": pl.Float64,
        "change_pct": pl.Float64,
        "ci_low_pct": pl.Float64,
        "ci_high_pct": pl.Float64,
        "uncapped_change_pct": pl.Float64,
        "approx_verdict": pl.String,
    }
    return pl.DataFrame(rows, schema=schema).with_columns(pl.col(pl.Float64).fill_nan(None))


def _sample_verdict(row: dict, metric: str, low: float, high: float) -> str:
    if _insufficient(row, metric):
        return "insufficient_data"
    if math.isnan(low) or math.isnan(high):
        return "no_clear_change"
    return _verdict(low, high)


def _insufficient(row: dict, metric: str) -> bool:
    if min(row["baseline_closed"], row["post_closed"]) < MIN_CLOSED:
        return True
    return metric in SHARES and row.get("events", 0) < MIN_EVENTS


def true_effects(catalogue: list[Workflow], measured: pl.DataFrame) -> pl.DataFrame:
    """The design per workflow and metric, with the verdict and quadrant it should produce.

    `expected_z` is the true change over its standard error in this sample: how clearly the
    sample can show the effect (0 where there is no effect).
    """
    lookup = {(r["workflow_id"], r["metric"]): r for r in measured.iter_rows(named=True)}
    rows = []
    for wf in catalogue:
        verdicts = {}
        for metric in METRICS:
            effect = wf.effect(metric)
            m = lookup.get((wf.workflow_id, metric))
            if m is None:
                verdicts[metric] = ("not_deployed", None)
                continue
            if _insufficient(m, metric):
                verdicts[metric] = ("insufficient_data", None)
                continue
            verdict = "improved" if effect < 0 else "worsened" if effect > 0 else "no_clear_change"
            se = m["se"]
            if se is None or math.isnan(se) or se == 0:
                z = None
            elif metric == "cycle_time_hours":
                z = math.log1p(effect) / se
            else:
                z = effect / se
            verdicts[metric] = (verdict, z)
        quadrant = expected_quadrant(wf, verdicts[wf.primary][0])
        for metric in METRICS:
            verdict, z = verdicts[metric]
            rows.append(
                {
                    "workflow_id": wf.workflow_id,
                    "metric": metric,
                    "true_change_pct": wf.effects.get(metric, 0.0) if wf.deployed else None,
                    "expected_quadrant": quadrant,
                    "adoption_rate_target": wf.adoption if wf.deployed else None,
                    "is_primary": metric == wf.primary,
                    "expected_verdict": verdict,
                    "expected_z": None if z is None else round(z, 2),
                    "effect_on": wf.effect_on if wf.effects else None,
                }
            )
    return pl.DataFrame(
        rows,
        schema={
            "workflow_id": pl.String,
            "metric": pl.String,
            "true_change_pct": pl.Float64,
            "expected_quadrant": pl.String,
            "adoption_rate_target": pl.Float64,
            "is_primary": pl.Boolean,
            "expected_verdict": pl.String,
            "expected_z": pl.Float64,
            "effect_on": pl.String,
        },
    )


def expected_quadrant(wf: Workflow, primary_verdict: str) -> str:
    """Quadrant from the primary metric's intended verdict and the adoption target: the
    pipeline's one quadrant rule (`pipelines.metrics.rules.quadrant`), fed the design."""
    return quadrant(
        is_deployed=wf.deployed,
        primary_verdict=primary_verdict,
        adoption_rate=wf.adoption if wf.deployed else None,
        is_adoption_unknown=False,
        shows_value=primary_verdict == "improved",
    )


def expected_decision(wf: Workflow, effects: pl.DataFrame) -> str:
    """The decision on the story as designed: the pipeline's one decision rule
    (`pipelines.metrics.rules.decide`) fed the intended verdicts, the adoption target (a retired
    tool has no current adoption) and the registry's readiness fields (the full ready-to-scale
    gate, `marts.readiness`, also reads governance data; `scale` and `close_gaps` differ only
    there, and the calibration counts either as the value story). The sample has four
    comparison workflows with data and no shift common to all work, so by design the
    difference-in-differences backs every true effect and nothing contests a claim."""
    config = load_config()
    mine = {
        r["metric"]: r["expected_verdict"]
        for r in effects.filter(pl.col("workflow_id") == wf.workflow_id).iter_rows(named=True)
    }
    primary = mine.get(wf.primary) if wf.deployed else None
    adoption_now = 0.0 if wf.tool_retired_on is not None else wf.adoption
    registry = {
        "business_owner": wf.business_owner, "eligible_users": wf.eligible_users or None, "review_point": wf.review_point,
        "support_path": wf.support_path, "data_scope": wf.data_scope, "risk_tier": wf.risk_tier,
        "target_change_pct": wf.target_change_pct,
    }  # fmt: skip
    facts = WorkflowFacts(
        is_deployed=wf.deployed,
        primary_verdict=primary,
        is_adopted=adoption_now >= float(config.settings["adoption_threshold"]) if wf.deployed else None,
        contested=[],
        guardrails=guardrail_breaches(wf.primary, mine, config),
        readiness_gaps=[item for item, value in registry.items() if value in (None, "")],
    )
    return decide(facts, wf.primary, config)[0]


def disagreements(effects: pl.DataFrame, measured: pl.DataFrame) -> pl.DataFrame:
    """Metrics whose sample verdict (approximate interval) differs from the intended verdict."""
    return (
        effects.join(measured, on=["workflow_id", "metric"], how="inner")
        .filter(pl.col("expected_verdict") != pl.col("approx_verdict"))
        .select(
            "workflow_id",
            "metric",
            "true_change_pct",
            "change_pct",
            "ci_low_pct",
            "ci_high_pct",
            "expected_verdict",
            "approx_verdict",
        )
    )
