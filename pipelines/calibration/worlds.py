"""Simulated workflows with a known true effect, written as staging tables.

A batch is one small warehouse: ``n_treated`` deployed workflows and ``scenario.n_comparison``
never-deployed workflows that the difference-in-differences compares them with, each with a
complete registry row (primary metrics rotate over the five metrics, every readiness item in
place) and AI usage that makes every deployed workflow *adopted*, so a value claim on the
primary metric would become a value decision (``scale``) and nothing hides it.

Items are drawn one by one, but weeks are not independent (METHODS.md v2):

* **week shocks**: every workflow's week has a multiplier ``exp(own + common)`` on the
  population value of all five metrics, where ``own`` is the workflow's AR(1) series on the
  log scale (stationary sd ``shock_sd``, autocorrelation ``rho``) and ``common`` one AR(1)
  series shared by every workflow in the batch (sd ``common_sd``, same ``rho``). Shocks are
  noise around the truth: the true effect is the causal ratio, the same in every week;
* easy or complex items (30% complex: slower, costlier, more errors), teams ``A`` and ``B``;
* post-period items of a deployed workflow get the true effect: every metric's population
  value moves by exactly ``1 + effect`` (cycle times and amounts scaled, probabilities and
  mean touchpoints multiplied);
* ``common_step``: a level change in *every* workflow from the first go-live on (the
  ServiceNow pattern: everything fell, deployed or not). No before/after can separate it
  from an effect; the difference-in-differences can, given comparison workflows;
* ``common_trend``: every workflow drifts by this share per week, the whole time (parallel);
  ``deployed_trend``: only deployed workflows drift (parallel trends fail: no method valid);
* ``staggered``: deployed workflows go live on different Mondays, two weeks apart.

Items still open at the end of the data have no ``closed_at``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pyarrow as pa

START = dt.date(2025, 1, 6)
"""A Monday; the first go-live is ``baseline_weeks`` whole weeks later (also a Monday)."""
COMPLEX_SHARE = 0.3
COMPLEX = {"cycle": 2.2, "rework": 2.0, "error": 2.0, "touch": 1.5, "spend": 1.8}
TEAM_B = {"cycle": 1.8, "rework": 1.6, "error": 1.6, "touch": 1.4, "spend": 1.5}
ASSIST_EASY, ASSIST_COMPLEX = 0.65, 0.25
ELIGIBLE_USERS = 20
ACTIVE_USERS = 14
"""Users of every deployed workflow active in each of its last four weeks: adoption 0.7."""
STAGGER_WEEKS = 2

KINDS = {
    "cycle": "cycle_time_hours",
    "rework": "rework_rate",
    "error": "error_rate",
    "touch": "touchpoints_per_item",
    "spend": "external_spend_per_item",
}
METRICS = tuple(KINDS.values())
VALUE_DECISIONS = ("scale", "close_gaps", "drive_adoption")
"""Decisions that claim value (METHODS.md v2): a null workflow must not get one."""


@dataclass(frozen=True)
class World:
    """One simulated world: what is true, what goes wrong, and which methods can be right."""

    name: str
    description: str
    rho: float | None = None
    """Autocorrelation of the weekly log-scale shocks; None: no week shocks (items independent)."""
    shock_sd: float = 0.15
    common_sd: float = 0.15
    effect: float = 0.0
    """True relative change of every metric in deployed workflows' post periods (-0.2 = -20%)."""
    metric_effects: tuple[tuple[str, float], ...] = ()
    """Per-metric overrides of ``effect``, e.g. (("error_rate", 0.5),)."""
    common_step: float = 0.0
    common_trend: float = 0.0
    deployed_trend: float = 0.0
    staggered: bool = False
    n_comparison: int = 6
    cycle_median_hours: tuple[float, float] = (8.0, 48.0)
    cycle_sigma: float = 0.8
    post_weeks: int = 18
    items_per_day: tuple[float, float] = (6.0, 10.0)
    show_association: bool = False
    """Also report how often the assisted-vs-unassisted view "finds" a change (informational)."""
    valid: tuple[str, ...] = ("before_after", "diff_in_diff")
    """Methods whose estimand is the true effect in this world. Where neither is, the
    scenario's target is that it ends safely (``contested``, ``no_clear_change`` or
    ``not_identifiable``); no scenario is left without a target."""

    def true_effect(self, metric: str) -> float:
        """The true relative change of ``metric`` (a fraction) in deployed workflows' post periods."""
        return dict(self.metric_effects).get(metric, self.effect)

    @property
    def fp_tolerance_pct(self) -> float:
        """Confident verdicts allowed on null metrics: 5%, or 10% where shocks persist at rho 0.8."""
        return 10.0 if (self.rho or 0.0) > 0.5 else 5.0


SCENARIOS: tuple[World, ...] = (
    World("iid_null", "no effect; items independent (no week shocks)", show_association=True),
    World("ar0_null", "no effect; week shocks rho 0 (own + common, sd 0.15 each)", rho=0.0),
    World("ar05_null", "no effect; persistent week shocks rho 0.5", rho=0.5),
    World("ar08_null", "no effect; persistent week shocks rho 0.8", rho=0.8),
    World(
        "ar05_effect",
        "cycle time and rework -25%, other metrics null; week shocks rho 0.5",
        rho=0.5,
        metric_effects=(("cycle_time_hours", -0.25), ("rework_rate", -0.25)),
    ),
    World(
        "ar05_staggered", "no effect; go-lives staggered over 14 weeks; week shocks rho 0.5", rho=0.5, staggered=True
    ),
    World(
        "ar05_trend",
        "no effect; every workflow drifts down 0.5% a week (parallel); week shocks rho 0.5",
        rho=0.5,
        common_trend=-0.005,
        valid=("diff_in_diff",),
    ),
    World(
        "ar05_step_6cmp",
        "no effect; every workflow falls 25% from go-live (common step); 6 comparison workflows; rho 0.5",
        rho=0.5,
        common_step=-0.25,
        valid=("diff_in_diff",),
    ),
    World(
        "ar05_step_2cmp",
        "no effect; every workflow falls 25% from go-live (common step); only 2 comparison workflows; rho 0.5",
        rho=0.5,
        common_step=-0.25,
        n_comparison=2,
        valid=(),
    ),
    World(
        "ar08_null_2cmp",
        "no effect; week shocks rho 0.8; only 2 comparison workflows (too few for a difference-in-differences, v2)",
        rho=0.8,
        n_comparison=2,
        valid=("before_after",),
    ),
    World(
        "ar05_deployed_trend",
        "no effect; deployed workflows alone drift down 1% a week (trends not parallel); rho 0.5",
        rho=0.5,
        deployed_trend=-0.01,
        valid=(),
    ),
)


@dataclass
class Batch:
    """The workflows of one simulated warehouse and the truth about them."""

    scenario: World
    treated: list[str] = field(default_factory=list)
    comparison: list[str] = field(default_factory=list)
    deployed_on: dict[str, dt.date] = field(default_factory=dict)
    primary_metric: dict[str, str] = field(default_factory=dict)


def ar1(rng: np.random.Generator, n: int, rho: float, sd: float) -> np.ndarray:
    """A stationary AR(1) series of length ``n`` with marginal sd ``sd``."""
    out = np.empty(n)
    out[0] = rng.normal(0.0, sd)
    innovation_sd = sd * np.sqrt(1.0 - rho * rho)
    for t in range(1, n):
        out[t] = rho * out[t - 1] + rng.normal(0.0, innovation_sd)
    return out


def _items_for(
    rng: np.random.Generator,
    workflow_id: str,
    scenario: World,
    deployed_day: int | None,
    first_go_live_day: int,
    end_day: int,
    week_shock: np.ndarray,
) -> dict[str, np.ndarray]:
    """Every item of one workflow, as column arrays; ``deployed_day`` None for a comparison."""
    is_treated = deployed_day is not None
    rate = rng.uniform(*scenario.items_per_day)
    n = rng.poisson(rate * end_day)
    opened_s = np.sort(rng.uniform(0, end_day * 86_400, n))
    week = np.minimum((opened_s // (7 * 86_400)).astype(int), week_shock.size - 1)
    post = is_treated & (opened_s >= (deployed_day or 0) * 86_400)
    after_step = opened_s >= first_go_live_day * 86_400
    weeks_from_start = opened_s / (7 * 86_400)
    complex_ = rng.random(n) < COMPLEX_SHARE
    team_b = rng.random(n) < 0.5

    def mult(kind: str) -> np.ndarray:
        m = np.where(complex_, COMPLEX[kind], 1.0) * np.where(team_b, TEAM_B[kind], 1.0)
        m = m * np.exp(week_shock[week])
        m = m * np.where(after_step, 1.0 + scenario.common_step, 1.0)
        m = m * np.maximum(1.0 + scenario.common_trend * weeks_from_start, 0.05)
        if is_treated:
            m = m * np.where(post, 1.0 + scenario.true_effect(KINDS[kind]), 1.0)
            m = m * np.maximum(1.0 + scenario.deployed_trend * weeks_from_start, 0.05)
        return m

    median = rng.uniform(*scenario.cycle_median_hours)
    cycle_h = median * np.exp(scenario.cycle_sigma * rng.standard_normal(n)) * mult("cycle")
    rework_p = np.minimum(rng.uniform(0.08, 0.16) * mult("rework"), 1.0)
    error_p = np.minimum(rng.uniform(0.04, 0.08) * mult("error"), 1.0)
    touch_mean = np.maximum(rng.uniform(3.0, 5.0) * mult("touch"), 1.0)  # touchpoints = 1 + Poisson(mean - 1)
    reworked = rng.random(n) < rework_p
    spend = np.where(
        rng.random(n) < 0.3,
        np.round(rng.uniform(40, 200) * np.exp(0.6 * rng.standard_normal(n)) * mult("spend"), 2),
        0.0,
    )
    assisted = post & (rng.random(n) < np.where(complex_, ASSIST_COMPLEX, ASSIST_EASY))
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
        "team": np.where(team_b, "B", "A").astype(object),
    }


def write_batch(
    con: duckdb.DuckDBPyConnection,
    scenario: World,
    seed: int,
    n_treated: int,
    baseline_weeks: int = 18,
) -> Batch:
    """Draw one batch and write ``staging.workflows``, ``staging.work_items`` and ``staging.usage`` into ``con``."""
    rng = np.random.default_rng(seed)
    first_day = 7 * baseline_weeks
    stagger = STAGGER_WEEKS if scenario.staggered else 0
    end_day = first_day + 7 * (scenario.post_weeks + stagger * (n_treated - 1))
    n_weeks = end_day // 7 + 1
    rho = scenario.rho
    common = ar1(rng, n_weeks, rho, scenario.common_sd) if rho is not None else np.zeros(n_weeks)
    batch = Batch(scenario)
    columns: list[dict[str, np.ndarray]] = []
    for i in range(n_treated + scenario.n_comparison):
        treated = i < n_treated
        workflow_id = f"t{i:03d}" if treated else f"c{i - n_treated:03d}"
        own = ar1(rng, n_weeks, rho, scenario.shock_sd) if rho is not None else np.zeros(n_weeks)
        day = first_day + 7 * stagger * i if treated else None
        if treated:
            batch.treated.append(workflow_id)
            batch.deployed_on[workflow_id] = START + dt.timedelta(days=day)
            batch.primary_metric[workflow_id] = METRICS[i % len(METRICS)]
        else:
            batch.comparison.append(workflow_id)
            batch.primary_metric[workflow_id] = METRICS[0]
        columns.append(_items_for(rng, workflow_id, scenario, day, first_day, end_day, own + common))
    # The data ends on the same day for every workflow; items open then stay open.
    end_s = end_day * 86_400.0
    for c in columns:
        c["closed_s"] = np.where(c["closed_s"] > end_s, np.nan, c["closed_s"])
    merged = {k: np.concatenate([c[k] for c in columns]) for k in columns[0]}
    epoch = np.datetime64(START, "us")
    opened = epoch + (merged.pop("opened_s") * 1e6).astype("timedelta64[us]")
    closed_s = merged.pop("closed_s")
    closed = epoch + (np.nan_to_num(closed_s) * 1e6).astype("timedelta64[us]")
    n_items = opened.size
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
            "escalated": pa.array(np.zeros(n_items, dtype=bool), pa.bool_()),
            "team": pa.array(merged["team"], pa.string()),
            "source_file": pa.array([f"calibration/{scenario.name}.parquet"] * n_items, pa.string()),
        }
    )
    ids = batch.treated + batch.comparison
    registry = pa.table(
        {
            "workflow_id": pa.array(ids, pa.string()),
            "name": pa.array([f"Simulated {w}" for w in ids], pa.string()),
            "business_owner": pa.array(["Owner"] * len(ids), pa.string()),
            "team": pa.array(["Ops"] * len(ids), pa.string()),
            "stage": pa.array(["production" if w in batch.deployed_on else "investigation" for w in ids], pa.string()),
            "deployed_on": pa.array([batch.deployed_on.get(w) for w in ids], pa.date32()),
            "eligible_users": pa.array([ELIGIBLE_USERS if w in batch.deployed_on else None for w in ids], pa.int64()),
            "risk_tier": pa.array(["low"] * len(ids), pa.string()),
            "primary_metric": pa.array([batch.primary_metric[w] for w in ids], pa.string()),
            "target_change_pct": pa.array([-10.0 if w in batch.deployed_on else None for w in ids], pa.float64()),
            "review_point": pa.array(["QA lead"] * len(ids), pa.string()),
            "support_path": pa.array(["#help"] * len(ids), pa.string()),
            "data_scope": pa.array(["tickets"] * len(ids), pa.string()),
            "source_file": pa.array(["workflows.csv"] * len(ids), pa.string()),
        }
    )
    # Usage: ACTIVE_USERS of ELIGIBLE_USERS active on every Monday from go-live to the end,
    # so every deployed workflow is adopted now, in reach and habitually.
    dates, users, workflows = [], [], []
    end_date = START + dt.timedelta(days=end_day)
    for workflow_id, go_live in batch.deployed_on.items():
        day = go_live
        while day <= end_date:
            for u in range(ACTIVE_USERS):
                dates.append(day)
                users.append(f"u{u:02d}")
                workflows.append(workflow_id)
            day += dt.timedelta(days=7)
    usage = pa.table(
        {
            "usage_date": pa.array(dates, pa.date32()),
            "user_id": pa.array(users, pa.string()),
            "workflow_id": pa.array(workflows, pa.string()),
            "actions": pa.array([3] * len(dates), pa.int64()),
            "source_file": pa.array(["usage.csv"] * len(dates), pa.string()),
        }
    )
    con.execute("create schema if not exists staging")
    for name, table in (("work_items", items), ("workflows", registry), ("usage", usage)):
        con.register("_t", table)
        con.execute(f"create or replace table staging.{name} as select * from _t")
        con.unregister("_t")
    return batch
