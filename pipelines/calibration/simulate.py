"""Simulated workflows with a known true effect, written as staging tables.

A batch is one small warehouse: ``n_treated`` deployed workflows (independent replicates,
all going live on the same Monday) and ``n_comparison`` never-deployed workflows that the
difference-in-differences compares them with. Every item is drawn independently:

* easy or complex (30% complex; complex items are slower, costlier and fail more);
* team ``A`` or ``B`` (B is slower and fails more), half and half unless the scenario moves
  the mix;
* post-period items of a deployed workflow get the true effect: every metric's population
  value moves by exactly ``1 + effect`` (cycle times and amounts are scaled, event
  probabilities and mean touchpoints multiplied), so the true ``change_pct`` is
  ``100 x effect`` for all five metrics;
* a common shock multiplies the same way, from the go-live date, in every workflow;
* AI assistance is chosen, not assigned: easy items are assisted far more often, so the
  assisted-vs-unassisted view finds an "effect" even when there is none.

Items still open at the cutoff (the latest ``opened_at``) have no ``closed_at``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pyarrow as pa

START = dt.date(2025, 1, 6)
"""A Monday; go-live is ``baseline_weeks`` whole weeks later (also a Monday)."""
COMPLEX_SHARE = 0.3
COMPLEX = {"cycle": 2.2, "rework": 2.0, "error": 2.0, "touch": 1.5, "spend": 1.8}
TEAM_B = {"cycle": 1.8, "rework": 1.6, "error": 1.6, "touch": 1.4, "spend": 1.5}
ASSIST_EASY, ASSIST_COMPLEX = 0.65, 0.25


@dataclass(frozen=True)
class Scenario:
    """One simulated world: what is true and what goes wrong."""

    name: str
    description: str
    effect: float = 0.0
    """True relative change of every metric in deployed workflows' post periods (-0.2 = -20%)."""
    common_shock: float = 0.0
    """Relative change hitting every workflow from the go-live date on."""
    post_team_b_share: float = 0.5
    """Team B's share of a deployed workflow's post items (0.5 everywhere else)."""
    cycle_median_hours: tuple[float, float] = (8.0, 48.0)
    cycle_sigma: float = 0.8
    post_weeks: int = 18
    valid: tuple[str, ...] = ("before_after", "diff_in_diff")
    """Methods whose estimand is the true effect in this world (targets apply to them)."""
    metric_effects: tuple[tuple[str, float], ...] = ()
    """Per-metric overrides of ``effect``, e.g. (("error_rate", 0.5),)."""
    trend_per_week: float = 0.0
    """Deployed workflows drift by this share of their go-live level per week, before and after
    go-live alike: trends are not parallel."""
    fade_weeks: int = 0
    """When set, the effect shrinks linearly to nothing over this many weeks after go-live."""
    items_per_day: tuple[float, float] = (6.0, 10.0)
    has_team: bool = True

    def effect_at_go_live(self, metric: str) -> float:
        """The relative change of ``metric`` right after go-live (before any fading)."""
        return dict(self.metric_effects).get(metric, self.effect)

    def true_effect(self, metric: str) -> float:
        """The true relative change of ``metric`` (a fraction) in deployed workflows' post periods.

        A fading effect is averaged over the post period (exact for means and shares, close for
        the median).
        """
        effect = self.effect_at_go_live(metric)
        if self.fade_weeks:
            weeks = min(self.fade_weeks, self.post_weeks)
            effect *= weeks * (1 - weeks / (2 * self.fade_weeks)) / self.post_weeks
        return effect


KINDS = {
    "cycle": "cycle_time_hours",
    "rework": "rework_rate",
    "error": "error_rate",
    "touch": "touchpoints_per_item",
    "spend": "external_spend_per_item",
}


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("null", "no effect anywhere"),
    Scenario("effect", "a real -20% effect on every metric", effect=-0.2),
    Scenario(
        "common_shock",
        "-20% effect and a +15% shock to every workflow at go-live",
        effect=-0.2,
        common_shock=0.15,
        valid=("diff_in_diff",),
    ),
    Scenario(
        "null_common_shock",
        "no effect, and a +15% shock to every workflow at go-live",
        common_shock=0.15,
        valid=("diff_in_diff",),
    ),
    Scenario(
        "open_items",
        "-20% effect, slow items (median 4-10 days) and a short post period, many still open",
        effect=-0.2,
        cycle_median_hours=(96.0, 240.0),
        cycle_sigma=1.0,
        post_weeks=8,
    ),
    Scenario(
        "team_mix",
        "-20% effect within each team, and the slower team B falls from 50% to 20% of items",
        effect=-0.2,
        post_team_b_share=0.2,
        valid=("team_weighted",),
    ),
    Scenario(
        "trend",
        "no effect, but deployed workflows drift up 2% a week throughout (parallel trends fail)",
        trend_per_week=0.02,
        valid=(),
    ),
    Scenario(
        "fading",
        "-40% at go-live fading to nothing over 12 weeks (a novelty effect)",
        effect=-0.4,
        fade_weeks=12,
        valid=(),
    ),
    Scenario(
        "speed_for_quality",
        "cycle time -30% while the error rate rises 60% (the guardrail's case)",
        metric_effects=(("cycle_time_hours", -0.3), ("error_rate", 0.6)),
        valid=("before_after", "diff_in_diff"),
    ),
)


@dataclass
class Batch:
    """The workflows of one simulated warehouse and the truth about them."""

    scenario: Scenario
    treated: list[str] = field(default_factory=list)
    comparison: list[str] = field(default_factory=list)
    deployed_on: dt.date = START


def _items_for(
    rng: np.random.Generator,
    workflow_id: str,
    scenario: Scenario,
    deployed_day: int,
    end_day: int,
    is_treated: bool,
) -> dict[str, np.ndarray]:
    """Every item of one workflow, as column arrays."""
    rate = rng.uniform(*scenario.items_per_day)
    n = rng.poisson(rate * end_day)
    opened_s = np.sort(rng.uniform(0, end_day * 86_400, n))
    post = opened_s >= deployed_day * 86_400
    weeks_since = (opened_s - deployed_day * 86_400) / (7 * 86_400)
    complex_ = rng.random(n) < COMPLEX_SHARE
    b_share = np.where(post & is_treated, scenario.post_team_b_share, 0.5)
    team_b = rng.random(n) < b_share
    fade = np.clip(1 - weeks_since / scenario.fade_weeks, 0, 1) if scenario.fade_weeks else 1.0

    def mult(kind: str) -> np.ndarray:
        m = np.where(complex_, COMPLEX[kind], 1.0) * np.where(team_b, TEAM_B[kind], 1.0)
        m = m * np.where(post, 1.0 + scenario.common_shock, 1.0)
        if is_treated:
            m = m * np.where(post, 1.0 + scenario.effect_at_go_live(KINDS[kind]) * fade, 1.0)
            m = m * (1.0 + scenario.trend_per_week * weeks_since)
        return m

    median = rng.uniform(*scenario.cycle_median_hours)
    cycle_h = median * np.exp(scenario.cycle_sigma * rng.standard_normal(n)) * mult("cycle")
    rework_p = np.minimum(rng.uniform(0.08, 0.16) * mult("rework"), 1.0)
    error_p = np.minimum(rng.uniform(0.04, 0.08) * mult("error"), 1.0)
    touch_mean = rng.uniform(3.0, 5.0) * mult("touch")  # touchpoints = 1 + Poisson(mean - 1)
    reworked = rng.random(n) < rework_p
    spend = np.where(
        rng.random(n) < 0.3,
        np.round(rng.uniform(40, 200) * np.exp(0.6 * rng.standard_normal(n)) * mult("spend"), 2),
        0.0,
    )
    assisted = post & is_treated & (rng.random(n) < np.where(complex_, ASSIST_COMPLEX, ASSIST_EASY))
    return {
        "item_id": np.char.add(f"{workflow_id}-", np.arange(n).astype(str)).astype(object),
        "workflow_id": np.full(n, workflow_id, dtype=object),
        "opened_s": opened_s,
        "closed_s": opened_s + cycle_h * 3600.0,
        "rework_count": np.where(reworked, 1 + rng.poisson(0.35, n), 0),
        "touchpoints": 1 + rng.poisson(touch_mean - 1.0),
        "had_error": rng.random(n) < error_p,
        "external_spend": spend,
        "ai_assisted": assisted,
        "team": np.where(team_b, "B", "A").astype(object) if scenario.has_team else np.full(n, None, dtype=object),
    }


def write_batch(
    con: duckdb.DuckDBPyConnection,
    scenario: Scenario,
    seed: int,
    n_treated: int,
    n_comparison: int,
    baseline_weeks: int = 18,
) -> Batch:
    """Draw one batch and write ``staging.workflows`` and ``staging.work_items`` into ``con``."""
    rng = np.random.default_rng(seed)
    deployed_day = 7 * baseline_weeks
    end_day = deployed_day + 7 * scenario.post_weeks
    batch = Batch(scenario, deployed_on=START + dt.timedelta(days=deployed_day))
    columns: list[dict[str, np.ndarray]] = []
    for i in range(n_treated):
        workflow_id = f"t{i:03d}"
        batch.treated.append(workflow_id)
        columns.append(_items_for(rng, workflow_id, scenario, deployed_day, end_day, True))
    for i in range(n_comparison):
        workflow_id = f"c{i:03d}"
        batch.comparison.append(workflow_id)
        columns.append(_items_for(rng, workflow_id, scenario, deployed_day, end_day, False))
    # One data cutoff for the whole warehouse, as in the pipeline: items open at it stay open.
    cutoff_s = max(float(c["opened_s"].max()) for c in columns if c["opened_s"].size)
    for c in columns:
        c["closed_s"] = np.where(c["closed_s"] > cutoff_s, np.nan, c["closed_s"])
    merged = {k: np.concatenate([c[k] for c in columns]) for k in columns[0]}
    epoch = np.datetime64(START, "us")
    opened = epoch + (merged.pop("opened_s") * 1e6).astype("timedelta64[us]")
    closed_s = merged.pop("closed_s")
    closed = epoch + (np.nan_to_num(closed_s) * 1e6).astype("timedelta64[us]")
    items = pa.table(
        {
            "item_id": pa.array(merged["item_id"], pa.string()),
            "workflow_id": pa.array(merged["workflow_id"], pa.string()),
            "opened_at": pa.array(opened, pa.timestamp("us")),
            "closed_at": pa.array(closed, pa.timestamp("us"), mask=np.isnan(closed_s)),
            "rework_count": pa.array(merged["rework_count"], pa.int64()),
            "touchpoints": pa.array(merged["touchpoints"], pa.int64()),
            "had_error": pa.array(merged["had_error"], pa.bool_()),
            "external_spend": pa.array(merged["external_spend"], pa.float64()),
            "ai_assisted": pa.array(merged["ai_assisted"], pa.bool_()),
            "team": pa.array(merged["team"], pa.string()),
            # Staging always has the optional `escalated` column (absent means false).
            "escalated": pa.array(np.zeros(len(merged["item_id"]), dtype=bool), pa.bool_()),
        }
    )
    workflows = pa.table(
        {
            "workflow_id": pa.array(batch.treated + batch.comparison, pa.string()),
            "deployed_on": pa.array([batch.deployed_on] * n_treated + [None] * n_comparison, pa.date32()),
        }
    )
    con.execute("create schema if not exists staging")
    con.register("_items", items)
    con.register("_workflows", workflows)
    con.execute("create or replace table staging.work_items as select * from _items")
    con.execute("create or replace table staging.workflows as select * from _workflows")
    con.unregister("_items")
    con.unregister("_workflows")
    return batch
