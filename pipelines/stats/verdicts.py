"""Turn the interval of a change into a verdict on one metric (METHODS.md v2, "Verdicts").

Lower is better for every metric, and the interval passed in is the interval of the change
in percent (relative change, ratio of medians - 1, or the absolute difference when the
baseline is 0), so "below 0" means "improved". The thresholds come from metrics.yaml through
``pipelines.metrics.rules``; this module only applies them.
"""

from __future__ import annotations

from typing import Final, Literal

import numpy as np
import numpy.typing as npt

Verdict = Literal["improved", "worsened", "negligible", "no_clear_change", "insufficient_data", "insufficient_baseline"]
VERDICTS: Final[tuple[str, ...]] = (
    "improved",
    "worsened",
    "negligible",
    "no_clear_change",
    "insufficient_data",
    "insufficient_baseline",
)
NO_CLAIM: Final[tuple[str, ...]] = ("insufficient_data", "insufficient_baseline")
"""Verdicts that claim nothing about a change."""


def verdicts(
    ci_low: npt.ArrayLike,
    ci_high: npt.ArrayLike,
    n_closed_base: npt.ArrayLike,
    n_closed_post: npt.ArrayLike,
    events_total: npt.ArrayLike | None = None,
    min_closed: int = 30,
    min_events: int = 10,
    *,
    estimate: npt.ArrayLike | None = None,
    min_meaningful_pct: npt.ArrayLike = 0.0,
    baseline_coverage: npt.ArrayLike | None = None,
    min_baseline_coverage: float = 0.8,
) -> npt.NDArray[np.str_]:
    """Vectorised :func:`verdict` over arrays (one element per workflow x metric).

    A NaN in ``events_total`` means "not a share" and skips the event rule for that
    element; a NaN ``baseline_coverage`` skips the coverage rule.
    """
    lo = np.asarray(ci_low, dtype=float)
    hi = np.asarray(ci_high, dtype=float)
    est = (lo + hi) / 2 if estimate is None else np.asarray(estimate, dtype=float)
    threshold = np.abs(np.asarray(min_meaningful_pct, dtype=float))
    short_baseline = (
        np.zeros(np.broadcast(lo, hi).shape, dtype=bool)
        if baseline_coverage is None
        else np.asarray(baseline_coverage, dtype=float) < min_baseline_coverage
    )
    insufficient = (
        (np.asarray(n_closed_base) < min_closed)
        | (np.asarray(n_closed_post) < min_closed)
        # A NaN interval is not estimable, so nothing can be claimed.
        | np.isnan(lo)
        | np.isnan(hi)
    )
    if events_total is not None:
        insufficient = insufficient | (np.asarray(events_total, dtype=float) < min_events)
    excludes_zero = (hi < 0) | (lo > 0)
    with np.errstate(invalid="ignore"):
        meaningful = np.abs(est) >= threshold
    return np.select(
        [
            short_baseline,
            insufficient,
            (hi < 0) & meaningful,
            (lo > 0) & meaningful,
            excludes_zero,
        ],
        ["insufficient_baseline", "insufficient_data", "improved", "worsened", "negligible"],
        default="no_clear_change",
    )


def verdict(
    ci_low: float,
    ci_high: float,
    n_closed_base: int,
    n_closed_post: int,
    events_total: int | None = None,
    min_closed: int = 30,
    min_events: int = 10,
    *,
    estimate: float | None = None,
    min_meaningful_pct: float = 0.0,
    baseline_coverage: float | None = None,
    min_baseline_coverage: float = 0.8,
) -> Verdict:
    """Verdict on one metric's change, per METHODS.md v2.

    In order: ``insufficient_baseline`` when the data covers less than
    ``min_baseline_coverage`` of the baseline window; ``insufficient_data`` when either
    period has fewer than ``min_closed`` closed items, when ``events_total`` (shares:
    events in both periods together) is below ``min_events``, or when the interval is
    not estimable (NaN). Otherwise ``improved`` when the whole interval is below 0 and the
    point ``estimate`` is at least ``min_meaningful_pct`` in size, ``worsened`` for the
    mirror image, ``negligible`` when the interval excludes 0 but the change is smaller
    than that, else ``no_clear_change``. An interval touching 0 is not a change.
    """
    result = verdicts(
        ci_low,
        ci_high,
        n_closed_base,
        n_closed_post,
        events_total,
        min_closed,
        min_events,
        estimate=estimate,
        min_meaningful_pct=min_meaningful_pct,
        baseline_coverage=float("nan") if baseline_coverage is None else baseline_coverage,
        min_baseline_coverage=min_baseline_coverage,
    )
    return str(result)  # type: ignore[return-value]
