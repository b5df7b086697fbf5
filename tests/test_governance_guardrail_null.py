"""How often does the exception guardrail flag a workflow whose rates never moved?

Simulated windows of 13 weeks, 40 weeks apart, whose weekly override and correction rates
carry AR(1) shocks on the log scale (sd 0.15 as in the calibration's worlds); the rates do not
change between the windows. The first version (item-level share difference, normal critical
value, each rate at 95%) is recomputed here as the reference; the guardrail of
`pipelines.governance.rates` is run as the build runs it. `python -m
tests.test_governance_guardrail_null` prints the table quoted in docs/methods.md ("Exception
paths").
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import polars as pl
import pytest
from scipy import stats

from pipelines.governance.rates import guardrails

WEEKS, GAP = 13, 40
BASE_RATES = {"override": 0.06, "correction": 0.10}
SHOCK_SD = 0.15


def _ar1(rng: np.random.Generator, size: tuple[int, int], rho: float, sd: float) -> np.ndarray:
    out = np.empty(size)
    out[:, 0] = rng.normal(0, sd, size[0])
    for t in range(1, size[1]):
        out[:, t] = rho * out[:, t - 1] + rng.normal(0, sd * math.sqrt(1 - rho * rho), size[0])
    return out


def simulate(workflows: int, rho: float | None, per_week: float, seed: int, rise: float = 1.0) -> pl.DataFrame:
    """One row per workflow, window and week: items with each flag known and flagged.

    ``rho`` None: no week shocks. ``rise`` multiplies the override rate of the recent window.
    """
    rng = np.random.default_rng(seed)
    span = GAP + WEEKS
    frames = []
    n = rng.poisson(per_week, (workflows, span))
    counts = {}
    for measure, base in BASE_RATES.items():
        shock = np.zeros((workflows, span)) if rho is None else _ar1(rng, (workflows, span), rho, SHOCK_SD)
        rate = base * np.exp(shock)
        if measure == "override":
            rate[:, GAP:] *= rise
        counts[measure] = rng.binomial(n, np.clip(rate, 0, 1))
    for name, weeks in (("early", range(WEEKS)), ("recent", range(GAP, span))):
        for w in weeks:
            frames.append(
                pl.DataFrame(
                    {
                        "workflow_id": [f"wf{i:04d}" for i in range(workflows)],
                        "window_name": name,
                        "week": w,
                        "override_known": n[:, w],
                        "overridden": counts["override"][:, w],
                        "correction_known": n[:, w],
                        "corrected": counts["correction"][:, w],
                    }
                )
            )
    return pl.concat(frames)


def windows_of(weeks: pl.DataFrame) -> pl.DataFrame:
    """The per-workflow window totals `intermediate.exception_window_counts` would hold."""
    totals = weeks.group_by("workflow_id", "window_name").agg(
        pl.col("override_known", "overridden", "correction_known", "corrected").sum()
    )
    wide = totals.pivot(
        on="window_name", index="workflow_id", values=["override_known", "overridden", "correction_known", "corrected"]
    )
    rename = {
        f"{column}_{window}": f"{window}_{column}"
        for column in ("override_known", "overridden", "correction_known", "corrected")
        for window in ("early", "recent")
    }
    return (
        wide.rename(rename)
        .with_columns(
            pl.lit(date(2025, 1, 6)).alias("deployed_on"),
            pl.lit(date(2025, 4, 7)).alias("early_end_on"),
            pl.lit(date(2025, 10, 6)).alias("recent_start_on"),
            pl.lit(date(2026, 1, 5)).alias("as_of_on"),
            pl.lit(False).alias("windows_overlap"),
        )
        .sort("workflow_id")
    )  # fmt: skip


def first_version(windows: pl.DataFrame) -> np.ndarray:
    """Flagged by the first version: either rate's item-level 95% interval of the difference above 0."""
    flagged = np.zeros(windows.height, dtype=bool)
    z = stats.norm.isf(0.025)
    for events, known in (("overridden", "override_known"), ("corrected", "correction_known")):
        k0, n0 = windows[f"early_{events}"].to_numpy(), windows[f"early_{known}"].to_numpy()
        k1, n1 = windows[f"recent_{events}"].to_numpy(), windows[f"recent_{known}"].to_numpy()
        p0, p1 = k0 / n0, k1 / n1
        flagged |= (p1 - p0) - z * np.sqrt(p0 * (1 - p0) / n0 + p1 * (1 - p1) / n1) > 0
    return flagged


def flagged_now(weeks: pl.DataFrame, rho: float, *, confidence_level: float = 0.95, floor: float = 5.0) -> np.ndarray:
    """Flagged by the guardrail as the build runs it (``rho``: the build's week persistence)."""
    out = guardrails(windows_of(weeks), weeks, confidence_level, 30, rho=rho, min_meaningful_pct=floor, min_events=10)
    return out["has_exception_guardrail"].to_numpy()


def rates(workflows: int, rho: float | None, per_week: float, seed: int) -> tuple[float, float, float]:
    """% of stable workflows flagged: first version, week-robust at 95% a rate, and now."""
    weeks = simulate(workflows, rho, per_week, seed)
    build_rho = rho or 0.0
    return (
        100 * first_version(windows_of(weeks)).mean(),
        # confidence_level 0.90 puts each of the two rates at 95%, with no floor: the week
        # model alone, without the allowance for two rates.
        100 * flagged_now(weeks, build_rho, confidence_level=0.90, floor=0.0).mean(),
        100 * flagged_now(weeks, build_rho).mean(),
    )


@pytest.mark.parametrize(
    ("rho", "per_week", "first_at_least", "now_at_most"),
    [
        (None, 60, 0.0, 3.5),  # no shocks: now about 1%
        (0.5, 500, 15.0, 5.0),  # persistent shocks, busy workflow: the first version alarms often
        (0.8, 500, 25.0, 10.0),
    ],
)
def test_stable_rates_rarely_raise_the_guardrail(rho, per_week, first_at_least, now_at_most):
    first, _, now = rates(400, rho, per_week, seed=11)
    assert first >= first_at_least
    assert now <= now_at_most
    assert now < first


def test_a_real_climb_is_still_found_through_week_shocks():
    # The sample's customer_replies story: overrides from about 5% to about 4 times that.
    weeks = simulate(200, 0.5, 60, seed=12, rise=4.0)
    assert flagged_now(weeks, 0.5).mean() >= 0.97


if __name__ == "__main__":
    print("| week shocks | assisted items a week | first version | week-robust, 95% | now |")
    print("| --- | --- | --- | --- | --- |")
    for rho in (None, 0.5, 0.8):
        for per_week in (60, 500):
            first, robust, now = rates(1000, rho, per_week, seed=1)
            label = "none" if rho is None else f"ρ {rho}"
            print(f"| {label} | {per_week} | {first:.1f}% | {robust:.1f}% | {now:.1f}% |")
    print()
    print("| override rate rises by | assisted items a week | first version | now |")
    print("| --- | --- | --- | --- |")
    for rise in (1.5, 2.0):
        for per_week in (60, 500):
            weeks = simulate(1000, 0.5, per_week, seed=2, rise=rise)
            first = 100 * first_version(windows_of(weeks)).mean()
            now = 100 * flagged_now(weeks, 0.5).mean()
            print(f"| x{rise} (ρ 0.5) | {per_week} | {first:.1f}% | {now:.1f}% |")
