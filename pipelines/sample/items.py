"""Work items, one calendar month at a time, fully vectorised.

Each month has its own random streams (arrivals, attributes), so the month that sets the
data cutoff can be drawn first and every month stays reproducible on its own.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from pipelines.sample.catalogue import METRICS
from pipelines.sample.population import (
    DAY_S,
    EASY_LOG_OFFSET,
    HARD_LOG_OFFSET,
    REWORK_EXTRA_MEAN,
    SPEND_HARD_LOG_OFFSET,
    SPEND_SIGMA,
    Calendar,
    Population,
)

REEXPORT_SHARE = 0.3
"""Of the items still open when their month was exported and closed later, the share that
appears twice: open in the month's file and closed in the file of the month it closed."""

ARRIVALS, ATTRIBUTES = 1, 2
CT, RW, ER, TP, SP = (METRICS.index(m) for m in METRICS)


def arrivals(month: int, calendar: Calendar, population: Population, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(workflow index, opened_at epoch seconds) of the month's items, sorted by opening time."""
    _, first, last = calendar.months[month]
    rng = np.random.default_rng([seed, ARRIVALS, month])
    weight = calendar.weight[first:last]
    counts = rng.poisson(population.rate * weight.sum())
    workflow = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
    n = workflow.size
    day = first + rng.choice(weight.size, size=n, p=weight / weight.sum())
    # Work is opened in office hours, around 12:30 UTC.
    seconds = np.clip(rng.normal(12.5 * 3600, 2.6 * 3600, n), 5 * 3600, 21 * 3600).astype(np.int64)
    opened = calendar.day_s[day] + seconds
    order = np.lexsort((workflow, opened))
    return workflow[order], opened[order]


def find_cutoff(calendar: Calendar, population: Population, seed: int) -> int:
    """The data cutoff: the latest opened_at of any item, from the last month that has items."""
    for month in range(len(calendar.months) - 1, -1, -1):
        _, opened = arrivals(month, calendar, population, seed)
        if opened.size:
            return int(opened.max())
    raise ValueError("the sample would hold no items at all; raise --items or --months")


def month_items(
    month: int, calendar: Calendar, population: Population, seed: int, cutoff: int, next_seq: np.ndarray
) -> pl.DataFrame:
    """The month's items as numbers: one row per item, in opening order.

    Columns: `w` (workflow index), `seq` (item number within the workflow), `opened_s`,
    `closed_s` (null while open at the cutoff), `duration_s`, `is_open`, `reexport` (exported
    open in this month's file, closed in `close_month`'s), `close_month`, the item fields, and
    `fmt` (timestamp style). `next_seq` is advanced in place.
    """
    w, opened = arrivals(month, calendar, population, seed)
    n = w.size
    p = population
    rng = np.random.default_rng([seed, ATTRIBUTES, month])
    hard = rng.random(n) < p.hard[w]
    cls = hard.astype(np.int8)
    post = opened >= p.deploy_s[w]
    live = post & (opened < p.live_end_s[w])
    assisted = live & (rng.random(n) < p.assisted[cls, w])

    # Week shocks (population.WEEK_SHOCK_RHO): every metric of the item's workflow and week.
    week = (opened - calendar.day_s[0]) // (7 * DAY_S)
    shock = np.exp(p.week_shock[w, week])

    def mult(metric: int) -> np.ndarray:
        return shock * np.where(post, np.where(assisted, p.mult_assisted[metric, w], p.mult_unassisted[metric, w]), 1.0)

    log_hours = p.mu[w] + np.where(hard, HARD_LOG_OFFSET, EASY_LOG_OFFSET) + p.sigma[w] * rng.standard_normal(n)
    duration = np.maximum(60, np.rint(np.exp(log_hours) * mult(CT) * 3600)).astype(np.int64)
    closed = opened + duration
    reworked = rng.random(n) < np.minimum(p.rework[cls, w] * mult(RW), 1.0)
    rework_count = np.where(reworked, 1 + rng.poisson(REWORK_EXTRA_MEAN, n), 0)
    had_error = rng.random(n) < np.minimum(p.error[cls, w] * mult(ER), 1.0)
    touchpoints = 1 + rng.poisson(np.maximum(p.touch[cls, w] * mult(TP) - 1.0, 0.0))
    has_spend = rng.random(n) < p.spend_share[cls, w]
    amount = np.exp(
        p.spend_log[w] + np.where(hard, SPEND_HARD_LOG_OFFSET, 0.0) + SPEND_SIGMA * rng.standard_normal(n)
    ) * mult(SP)
    spend_cents = np.where(has_spend, np.rint(amount * 100), 0).astype(np.int64)
    escalated = rng.random(n) < np.where(hard, 0.09, 0.02)
    u = rng.random(n)
    fmt = (u >= p.ts_cum[0, w]).astype(np.int8) + (u >= p.ts_cum[1, w]).astype(np.int8)
    reexport_draw = rng.random(n)

    is_open = closed > cutoff
    close_month = np.searchsorted(calendar.month_start_s, closed, side="right") - 1
    reexport = ~is_open & (close_month > month) & (reexport_draw < REEXPORT_SHARE)

    # Item numbers run per workflow in opening order across the months.
    counts = np.bincount(w, minlength=next_seq.size)
    by_workflow = np.argsort(w, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[by_workflow] = np.arange(n) - np.repeat(np.cumsum(counts) - counts, counts)
    seq = next_seq[w] + rank + 1
    next_seq += counts

    return pl.DataFrame(
        {
            "w": w,
            "seq": seq,
            "opened_s": opened,
            "closed_s": np.where(is_open, 0, closed),
            "duration_s": duration,
            "is_open": is_open,
            "reexport": reexport,
            "close_month": close_month.astype(np.int32),
            "rework_count": rework_count.astype(np.int32),
            "touchpoints": touchpoints.astype(np.int32),
            "had_error": had_error,
            "spend_cents": spend_cents,
            "ai_assisted": assisted,
            "escalated": escalated,
            "fmt": fmt,
        }
    ).with_columns(pl.when(pl.col("is_open")).then(None).otherwise(pl.col("closed_s")).alias("closed_s"))


def period_rows(items: pl.DataFrame, population: Population, cutoff: int) -> pl.DataFrame:
    """The month's items that fall in a baseline or post window, in the shape truth.py reads.

    `period` is 0 for baseline ([deployed_on - 90 days, deployed_on)) and 1 for post
    (deployed_on up to the cutoff). `time_s` is the cycle time, or the time open at the cutoff
    for items still open (censored).
    """
    deploy = pl.Series(population.deploy_s).gather(items["w"])
    frame = items.with_columns(deploy.alias("deploy_s"))
    frame = frame.with_columns(
        pl.when(pl.col("opened_s") >= pl.col("deploy_s"))
        .then(pl.lit(1, dtype=pl.Int8))
        .when(pl.col("opened_s") >= pl.col("deploy_s") - 90 * DAY_S)
        .then(pl.lit(0, dtype=pl.Int8))
        .alias("period")
    )
    return frame.filter(pl.col("period").is_not_null()).select(
        "w",
        "period",
        pl.when(pl.col("is_open")).then(cutoff - pl.col("opened_s")).otherwise(pl.col("duration_s")).alias("time_s"),
        "is_open",
        (pl.col("rework_count") > 0).alias("reworked"),
        "had_error",
        "touchpoints",
        "spend_cents",
        "ai_assisted",
    )
