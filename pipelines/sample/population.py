"""The calendar and the per-workflow population parameters the item generator draws from.

Every item is easy or complex. Complex items are slower and carry more rework, errors,
touchpoints and spend; people pick easy items for the AI first. The class-level parameters
are set so that each workflow's *population* value of every metric equals the catalogue's
number, and the post-period multipliers are set so that the population value moves by exactly
the catalogue's true effect, measured the way METHODS.md measures it:

- cycle time: the median of the lognormal mixture moves by (1 + effect);
- rework and error rates: the share of items with the event moves by (1 + effect);
- touchpoints (1 + Poisson) and spend (Bernoulli x lognormal): the mean moves by (1 + effect).

With `effect_on="all"` every post item is scaled by (1 + effect), which moves the median and
the means by exactly that. With `effect_on="assisted"` only AI-assisted items are scaled, by
a factor k solved here so that the population still moves by exactly the effect.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np

from pipelines.sample.catalogue import METRICS, Workflow

DAY_S = 86_400
BASELINE_DAYS = 90
NEVER = np.iinfo(np.int64).max // 4
"""Epoch seconds standing for "no deployment" / "tool never retired"."""

# Easy vs complex items. Offsets are on the log of cycle time; ratios are complex / easy.
EASY_LOG_OFFSET, HARD_LOG_OFFSET = -0.35, 0.55
REWORK_RATIO, ERROR_RATIO, TOUCH_RATIO, SPEND_SHARE_RATIO = 2.5, 2.0, 1.6, 1.8
SPEND_HARD_LOG_OFFSET, SPEND_SIGMA = 0.3, 0.6
REWORK_EXTRA_MEAN = 0.35
"""rework_count is 1 + Poisson(0.35) when an item is reworked."""

WEEK_SHOCK_RHO = 0.5
WEEK_SHOCK_SD = 0.06
COMMON_SHOCK_SD = 0.04
"""Weeks are not independent (METHODS.md v2): every workflow's week multiplies the population
value of all five metrics by exp(own + common), two AR(1) series on the log scale with
autocorrelation WEEK_SHOCK_RHO: the workflow's own (stationary sd WEEK_SHOCK_SD) and one
shared by every workflow (sd COMMON_SHOCK_SD). Shocks are noise around the truth: the true
effects are the catalogue's, in every week."""
WEEK_SHOCKS_STREAM = 10

WEEKDAY_WEIGHT = (1.0, 1.0, 1.0, 1.0, 1.0, 0.12, 0.08)
SEASON = {12: 0.85, 1: 0.95, 8: 0.85}
HOLIDAYS = {(12, 24), (12, 25), (12, 26), (12, 31), (1, 1)}
HOLIDAY_WEIGHT = 0.15

BOOL_STYLES = (
    ("true", "false"),
    ("TRUE", "FALSE"),
    ("True", "False"),
    ("1", "0"),
    ("yes", "no"),
    ("Yes", "No"),
    ("YES", "NO"),
)
"""How a source system writes booleans; each workflow and column picks one."""


def add_months(day: dt.date, months: int) -> dt.date:
    """`day` moved by whole calendar months (the day clamped to the month's length)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def epoch_s(day: dt.date) -> int:
    """Midnight UTC of `day` as epoch seconds."""
    return int((day - dt.date(1970, 1, 1)).days) * DAY_S


@dataclass
class Calendar:
    """Days of the data window, their arrival weights, and the monthly export files."""

    start: dt.date
    end: dt.date
    """First day after the window."""
    day_s: np.ndarray
    """Midnight of each day, epoch seconds."""
    weight: np.ndarray
    """Relative arrival intensity of each day (weekday 1)."""
    weekday: np.ndarray
    months: list[tuple[str, int, int]]
    """(label `YYYY_MM`, first day index, last day index + 1) per calendar month."""

    @property
    def month_start_s(self) -> np.ndarray:
        """Epoch seconds at which each month's slice of the window begins."""
        return np.array([self.day_s[first] for _, first, _ in self.months], dtype=np.int64)


def make_calendar(start: dt.date, months: int) -> Calendar:
    """The window [start, start + months) with weekday, holiday and seasonal weights."""
    end = add_months(start, months)
    n_days = (end - start).days
    dates = [start + dt.timedelta(days=i) for i in range(n_days)]
    weight = np.array(
        [
            WEEKDAY_WEIGHT[d.weekday()]
            * SEASON.get(d.month, 1.0)
            * (HOLIDAY_WEIGHT if (d.month, d.day) in HOLIDAYS else 1.0)
            for d in dates
        ]
    )
    labels: list[tuple[str, int, int]] = []
    for i, d in enumerate(dates):
        label = f"{d.year}_{d.month:02d}"
        if labels and labels[-1][0] == label:
            labels[-1] = (label, labels[-1][1], i + 1)
        else:
            labels.append((label, i, i + 1))
    return Calendar(
        start=start,
        end=end,
        day_s=np.array([epoch_s(d) for d in dates], dtype=np.int64),
        weight=weight,
        weekday=np.array([d.weekday() for d in dates], dtype=np.int8),
        months=labels,
    )


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _bisect(f, lo: float, hi: float, steps: int = 200) -> float:
    """Root of an increasing function on [lo, hi]."""
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        if f(mid) < 0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def class_split(mean: float, hard: float, ratio: float) -> tuple[float, float]:
    """Easy and complex values with complex = ratio x easy and the mixture mean equal to `mean`."""
    easy = mean / ((1.0 - hard) + hard * ratio)
    return easy, ratio * easy


def assisted_split(share: float, hard: float, selection: float) -> tuple[float, float]:
    """P(assisted) for easy and complex items with the given overall share and selection ratio."""
    complex_ = share / ((1.0 - hard) * selection + hard)
    easy = selection * complex_
    if easy > 1.0:
        easy, complex_ = 1.0, (share - (1.0 - hard)) / hard
    return easy, complex_


@dataclass
class Population:
    """Per-workflow parameter arrays (index = position in the catalogue)."""

    rate: np.ndarray
    expected_items: np.ndarray
    deploy_s: np.ndarray
    live_end_s: np.ndarray
    hard: np.ndarray
    mu: np.ndarray
    sigma: np.ndarray
    rework: np.ndarray
    """(2, W): easy, complex."""
    error: np.ndarray
    touch: np.ndarray
    """(2, W) mean touchpoints (including the first)."""
    spend_share: np.ndarray
    spend_log: np.ndarray
    assisted: np.ndarray
    """(2, W) P(assisted) while the tool is live."""
    mult_unassisted: np.ndarray
    """(5, W) post-period multiplier per metric for items done without AI."""
    mult_assisted: np.ndarray
    ts_cum: np.ndarray
    """(2, W) cumulative timestamp-format weights (Z, +02:00); the rest is zone-less."""
    bool_style: np.ndarray
    """(3, W) BOOL_STYLES index for had_error, ai_assisted, escalated."""
    escalated_blank: np.ndarray
    """Workflows whose system leaves escalated blank instead of writing false."""
    week_shock: np.ndarray
    """(W, weeks) log-scale multiplier of every metric per workflow and week since the start."""


def _cycle_parameters(wf: Workflow, s_easy: float, s_hard: float) -> tuple[float, float]:
    """(mu, k): lognormal location giving the catalogue's median, and the assisted-item factor."""
    h, sigma = wf.hard_share, wf.cycle_sigma
    classes = ((1.0 - h, EASY_LOG_OFFSET, s_easy), (h, HARD_LOG_OFFSET, s_hard))

    def cdf(log_t: float, mu: float, log_k: float) -> float:
        return sum(
            w * (s * _phi((log_t - log_k - mu - off) / sigma) + (1 - s) * _phi((log_t - mu - off) / sigma))
            for w, off, s in classes
        )

    log_median_at_zero = _bisect(lambda x: cdf(x, 0.0, 0.0) - 0.5, -50, 50)
    mu = math.log(wf.cycle_median_hours) - log_median_at_zero
    effect = wf.effect("cycle_time_hours")
    if effect == 0 or wf.effect_on == "all":
        return mu, 1.0 + effect
    target = math.log(wf.cycle_median_hours) + math.log1p(effect)
    # cdf at the target median falls as k grows; solve cdf = 0.5.
    reach = (cdf(target, mu, -30) - 0.5, cdf(target, mu, 30) - 0.5)
    if not (reach[0] >= 0 >= reach[1]):
        raise ValueError(
            f"{wf.workflow_id}: a {effect:+.0%} median change is out of reach with {wf.assisted_share:.0%} assisted"
        )
    log_k = _bisect(lambda x: -(cdf(target, mu, x) - 0.5), -30, 30)
    return mu, math.exp(log_k)


def _factor(effect: float, values: tuple[float, float], hard: float, assisted: tuple[float, float]) -> float:
    """k such that scaling assisted items' class values by k moves the population mean by `effect`."""
    weights = (1.0 - hard, hard)
    total = sum(w * v for w, v in zip(weights, values))
    touched = sum(w * v * s for w, v, s in zip(weights, values, assisted))
    return 1.0 + effect * total / touched


def build_population(
    catalogue: list[Workflow], calendar: Calendar, items: int | None, seed: int, shocks: bool = True
) -> Population:
    """Arrays for every workflow, with rates rescaled so the expected total is `items`;
    `shocks=False` leaves out the week shocks (every item independent)."""
    n = len(catalogue)
    day_total = float(calendar.weight.sum())
    rate = np.array([wf.rate for wf in catalogue], dtype=float)
    fixed = np.array([wf.fixed_rate for wf in catalogue])
    if items is not None:
        scalable = rate[~fixed].sum() * day_total
        if scalable > 0:
            rate[~fixed] *= max(0.0, items - rate[fixed].sum() * day_total) / scalable
    arrays = {name: np.zeros(n) for name in ("hard", "mu", "sigma", "spend_share", "spend_log")}
    pairs = {name: np.zeros((2, n)) for name in ("rework", "error", "touch", "assisted")}
    mult_u, mult_a = np.ones((len(METRICS), n)), np.ones((len(METRICS), n))
    deploy_s = np.full(n, NEVER, dtype=np.int64)
    live_end_s = np.full(n, NEVER, dtype=np.int64)
    for i, wf in enumerate(catalogue):
        h = wf.hard_share
        s = assisted_split(wf.assisted_share, h, wf.selection) if wf.deployed else (0.0, 0.0)
        pairs["assisted"][:, i] = s
        rework = class_split(wf.rework_rate, h, REWORK_RATIO)
        error = class_split(wf.error_rate, h, ERROR_RATIO)
        touch = class_split(wf.touchpoints_mean, h, TOUCH_RATIO)
        spend_q = class_split(wf.spend_share, h, SPEND_SHARE_RATIO)
        spend_amount = (1.0, math.exp(SPEND_HARD_LOG_OFFSET))
        spend_mean = (spend_q[0] * spend_amount[0], spend_q[1] * spend_amount[1])
        pairs["rework"][:, i], pairs["error"][:, i], pairs["touch"][:, i] = rework, error, touch
        arrays["hard"][i], arrays["sigma"][i] = h, wf.cycle_sigma
        arrays["spend_share"][i], arrays["spend_log"][i] = spend_q[0], math.log(max(wf.spend_scale, 0.01))
        mu, cycle_k = _cycle_parameters(wf, *s)
        arrays["mu"][i] = mu
        if wf.deployed:
            deploy_s[i] = epoch_s(wf.deployed_on)
            if wf.tool_retired_on is not None:
                live_end_s[i] = epoch_s(wf.tool_retired_on) + DAY_S
                if any(wf.effects.values()) and wf.effect_on == "assisted":
                    raise ValueError(f"{wf.workflow_id}: a retired tool cannot carry an assisted-only effect")
        for j, metric in enumerate(METRICS):
            effect = wf.effect(metric)
            if effect == 0:
                continue
            if not wf.deployed:
                raise ValueError(f"{wf.workflow_id}: effects need a deployment date")
            if wf.effect_on == "all":
                k_u = k_a = 1.0 + effect
            else:
                k_u = 1.0
                k_a = (
                    cycle_k
                    if metric == "cycle_time_hours"
                    else _factor(
                        effect,
                        {
                            "rework_rate": rework,
                            "error_rate": error,
                            "touchpoints_per_item": touch,
                            "external_spend_per_item": spend_mean,
                        }[metric],
                        h,
                        s,
                    )
                )
            _check_feasible(wf, metric, k_u, k_a, rework, error, touch)
            mult_u[j, i], mult_a[j, i] = k_u, k_a
    spend_share = np.vstack([arrays["spend_share"], arrays["spend_share"] * SPEND_SHARE_RATIO])
    rng = np.random.default_rng([seed, 7])
    ts = np.array([wf.ts_weights for wf in catalogue], dtype=float).reshape(n, 3)
    ts = ts / ts.sum(axis=1, keepdims=True)
    return Population(
        rate=rate,
        expected_items=rate * day_total,
        deploy_s=deploy_s,
        live_end_s=live_end_s,
        hard=arrays["hard"],
        mu=arrays["mu"],
        sigma=arrays["sigma"],
        rework=pairs["rework"],
        error=pairs["error"],
        touch=pairs["touch"],
        spend_share=spend_share,
        spend_log=arrays["spend_log"],
        assisted=pairs["assisted"],
        mult_unassisted=mult_u,
        mult_assisted=mult_a,
        ts_cum=np.vstack([ts[:, 0], ts[:, 0] + ts[:, 1]]),
        bool_style=rng.integers(0, len(BOOL_STYLES), size=(3, n)),
        escalated_blank=rng.random(n) < 0.4,
        week_shock=week_shocks(n, calendar, seed) if shocks else np.zeros((n, len(calendar.day_s) // 7 + 2)),
    )


def _ar1(rng: np.random.Generator, size: tuple[int, int], rho: float, sd: float) -> np.ndarray:
    """Stationary AR(1) series along the last axis, marginal sd ``sd``."""
    out = np.empty(size)
    out[:, 0] = rng.normal(0.0, sd, size[0])
    innovation = sd * math.sqrt(1.0 - rho * rho)
    for t in range(1, size[1]):
        out[:, t] = rho * out[:, t - 1] + rng.normal(0.0, innovation, size[0])
    return out


def week_shocks(n_workflows: int, calendar: Calendar, seed: int) -> np.ndarray:
    """Each workflow's own AR(1) week shocks plus the common one (see WEEK_SHOCK_RHO)."""
    rng = np.random.default_rng([seed, WEEK_SHOCKS_STREAM])
    weeks = len(calendar.day_s) // 7 + 2
    common = _ar1(rng, (1, weeks), WEEK_SHOCK_RHO, COMMON_SHOCK_SD)
    return _ar1(rng, (n_workflows, weeks), WEEK_SHOCK_RHO, WEEK_SHOCK_SD) + common


def _check_feasible(wf: Workflow, metric: str, k_u: float, k_a: float, rework, error, touch) -> None:
    """Refuse effects the item model cannot express exactly (a share above 1, touchpoints below 1)."""
    k_max, k_min = max(k_u, k_a), min(k_u, k_a)
    problem = None
    if k_min <= 0:
        problem = "needs a negative multiplier (too few assisted items for this effect)"
    elif metric == "rework_rate" and rework[1] * k_max > 1:
        problem = "pushes the complex items' rework share above 1"
    elif metric == "error_rate" and error[1] * k_max > 1:
        problem = "pushes the complex items' error share above 1"
    elif metric == "touchpoints_per_item" and touch[0] * k_min < 1:
        problem = "pushes mean touchpoints below 1"
    if problem:
        raise ValueError(f"{wf.workflow_id}: a {wf.effect(metric):+.0%} change of {metric} {problem}")
