"""AI usage: one row per user, day and workflow, drawn per workflow as a user x day grid.

Adoption is exact by construction: of a workflow's `eligible_users`, exactly
round(adoption x eligible) adopters have at least one day with actions > 0 on or after
go-live, so the realised adoption_rate is the target up to rounding. Around them sit the
rows the pipeline must not count: zero-action days (the tool opened, nothing done), non-adopters
who only ever opened it, and pilot testers active in the two weeks *before* go-live.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from pipelines.sample.catalogue import Workflow
from pipelines.sample.population import DAY_S, Calendar, Population

USAGE = 4
USAGE_PER_ITEM = 0.5
"""Scale runs aim at about this many usage rows per work item."""
WEEKEND_ACTIVITY = 0.06
ZERO_ACTION_SHARE = 0.04
RAMP_DAYS = 12.0
"""Mean delay, in days after go-live, before an adopter starts."""


def usage_scale(
    catalogue: list[Workflow], population: Population, calendar: Calendar, cutoff: int, rescale: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Eligible users and activity per workflow.

    The catalogue's numbers give the bundled sample its usage. When the run asks for its own
    item count (`rescale`), usage is brought to about USAGE_PER_ITEM rows per item: by giving
    every rescalable workflow proportionally more eligible users (adoption targets stay exact),
    or, for small runs, by making adopters proportionally less active.
    """
    eligible = np.array([wf.eligible_users for wf in catalogue], dtype=np.int64)
    activity = np.array([wf.activity for wf in catalogue], dtype=float)
    scalable = np.array([wf.deployed and not wf.fixed_rate for wf in catalogue])
    expected = np.array(
        [
            wf.adoption * wf.eligible_users * wf.activity * _active_day_weight(wf, calendar, cutoff).sum()
            if wf.deployed
            else 0.0
            for wf in catalogue
        ]
    )
    natural = expected[scalable].sum()
    if not rescale or natural <= 0:
        return eligible, activity
    factor = USAGE_PER_ITEM * population.expected_items.sum() / natural
    if factor > 1:
        eligible[scalable] = np.ceil(eligible[scalable] * factor).astype(np.int64)
    else:
        activity[scalable] *= factor
    return eligible, activity


def _active_day_weight(wf: Workflow, calendar: Calendar, cutoff: int) -> np.ndarray:
    """Per-day usage weight from go-live to the tool's last day (or the cutoff day)."""
    first = _day_index(wf.deployed_on, calendar)
    last_s = min(cutoff, (calendar.day_s[0] + (calendar.day_s.size - 1) * DAY_S))
    if wf.tool_retired_on is not None:
        last_s = min(last_s, int((np.datetime64(wf.tool_retired_on) - np.datetime64("1970-01-01")).astype(int)) * DAY_S)
    last = int((last_s - calendar.day_s[0]) // DAY_S)
    days = np.arange(max(first, 0), min(last, calendar.day_s.size - 1) + 1)
    weekend = calendar.weekday[days] >= 5
    return np.where(weekend, WEEKEND_ACTIVITY, 1.0)


def _day_index(day, calendar: Calendar) -> int:
    return int((np.datetime64(day) - np.datetime64(calendar.start)).astype(int))


def workflow_usage(
    index: int, wf: Workflow, eligible: int, activity: float, user_base: int, calendar: Calendar, cutoff: int, seed: int
) -> tuple[pl.DataFrame, int]:
    """Usage rows of one deployed workflow as numbers (day index, user number, workflow index,
    actions) and the number of adopters. A go-live after the data ends has no usage."""
    rng = np.random.default_rng([seed, USAGE, index])
    first = _day_index(wf.deployed_on, calendar)
    day_weight = _active_day_weight(wf, calendar, cutoff)
    n_days = day_weight.size
    n_adopters = int(round(wf.adoption * eligible))
    if n_days <= 0:
        n_adopters = 0
    users = np.arange(eligible)
    adopters = np.sort(rng.choice(eligible, size=n_adopters, replace=False))
    non_adopters = np.setdiff1d(users, adopters)

    # Adopters: staggered starts, personal intensity, at least one working day with actions.
    start = np.minimum(np.floor(rng.exponential(RAMP_DAYS, n_adopters)).astype(np.int64), max(n_days - 1, 0))
    intensity = np.clip(rng.beta(2.0, 2.5, n_adopters) * activity * 2.25, 0.005, 0.95)
    active = rng.random((n_adopters, n_days)) < intensity[:, None] * day_weight[None, :]
    active &= np.arange(n_days)[None, :] >= start[:, None]
    weekday = calendar.weekday[first : first + n_days] < 5
    working = np.flatnonzero(weekday) if weekday.any() else np.arange(n_days)
    forced = (
        working[np.minimum(np.searchsorted(working, start), working.size - 1)]
        if n_adopters
        else np.zeros(0, dtype=np.int64)
    )
    active[np.arange(n_adopters), forced] = True
    row, col = np.nonzero(active)
    user_factor = rng.lognormal(0.0, 0.5, n_adopters)
    actions = 1 + rng.poisson(wf.actions_mean * user_factor[row])
    is_forced = col == forced[row]
    actions = np.where(~is_forced & (rng.random(row.size) < ZERO_ACTION_SHARE), 0, actions)
    parts = [(first + col, adopters[row], actions)]

    # Non-adopters who opened the tool and did nothing.
    lookers = non_adopters[rng.random(non_adopters.size) < 0.15]
    if lookers.size and n_days:
        parts.append((first + rng.integers(0, n_days, lookers.size), lookers, np.zeros(lookers.size, dtype=np.int64)))

    # Pilot testers in the ten working days before go-live: real actions, outside the post period.
    before = np.arange(max(0, first - 14), min(first, calendar.day_s.size))
    before = before[calendar.weekday[before] < 5]
    if before.size:
        testers = rng.choice(eligible, size=min(3, eligible), replace=False)
        grid = rng.random((testers.size, before.size)) < 0.4
        t_row, t_col = np.nonzero(grid)
        parts.append((before[t_col], testers[t_row], 1 + rng.poisson(2.0, t_row.size)))

    day = np.concatenate([p[0] for p in parts]).astype(np.int32)
    user = (user_base + np.concatenate([p[1] for p in parts])).astype(np.int64)
    frame = pl.DataFrame(
        {
            "day": day,
            "user": user,
            "w": np.full(day.size, index, dtype=np.int32),
            "actions": np.concatenate([p[2] for p in parts]).astype(np.int64),
        }
    )
    # A user has one row per day: a looker's or tester's day may coincide with an adopter day.
    frame = frame.group_by("day", "user", "w").agg(pl.col("actions").max()).sort("day", "user")
    return frame, n_adopters
