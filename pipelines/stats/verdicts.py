"""Turn an interval of a change into a verdict, and a verdict plus adoption into a quadrant.

Lower is better for every metric (METHODS.md), and the interval passed in is
the interval of the change (relative change, ratio of medians - 1, or the
absolute difference when the baseline is 0), so "below 0" means "improved".
"""

from __future__ import annotations

import math
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

Verdict = Literal["improved", "worsened", "no_clear_change", "insufficient_data"]
Quadrant = Literal[
    "value_with_adoption",
    "adoption_without_value",
    "value_without_adoption",
    "no_value_no_adoption",
    "not_deployed",
    "insufficient_data",
]

VERDICTS: Final[tuple[str, ...]] = ("improved", "worsened", "no_clear_change", "insufficient_data")


def verdicts(
    ci_low: npt.ArrayLike,
    ci_high: npt.ArrayLike,
    n_closed_base: npt.ArrayLike,
    n_closed_post: npt.ArrayLike,
    events_total: npt.ArrayLike | None = None,
    min_closed: int = 30,
    min_events: int = 10,
) -> npt.NDArray[np.str_]:
    """Vectorised :func:`verdict` over arrays (one element per workflow x metric).

    A NaN in ``events_total`` means "not a share" and skips the event rule for
    that element, so one call can cover shares and means together.
    """
    lo = np.asarray(ci_low, dtype=float)
    hi = np.asarray(ci_high, dtype=float)
    insufficient = (
        (np.asarray(n_closed_base) < min_closed)
        | (np.asarray(n_closed_post) < min_closed)
        # A NaN interval is not estimable, so nothing can be claimed.
        | np.isnan(lo)
        | np.isnan(hi)
    )
    if events_total is not None:
        insufficient = insufficient | (np.asarray(events_total, dtype=float) < min_events)
    return np.select(
        [insufficient, hi < 0, lo > 0],
        ["insufficient_data", "improved", "worsened"],
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
) -> Verdict:
    """Verdict on one metric's change, per METHODS.md.

    ``insufficient_data`` when either period has fewer than ``min_closed``
    closed items, when ``events_total`` (for shares: events in both periods
    together) is below ``min_events``, or when the interval is not estimable
    (NaN); no change is claimed then. Otherwise ``improved`` when the whole
    interval is below 0, ``worsened`` when it is wholly above 0, else
    ``no_clear_change``. An interval touching 0 is not a change.
    """
    result = verdicts(
        ci_low, ci_high, n_closed_base, n_closed_post, events_total, min_closed, min_events
    )
    return str(result)  # type: ignore[return-value]


def quadrant(
    is_deployed: bool,
    primary_verdict: str,
    adoption_rate: float | None,
    adoption_threshold: float = 0.5,
) -> Quadrant:
    """Place a workflow in the adoption x value quadrant (METHODS.md, "Adoption is not value").

    A workflow is adopted when ``adoption_rate >= adoption_threshold`` and shows
    value when its primary metric's verdict is ``improved``. A workflow without
    a deployment is ``not_deployed``; one whose primary verdict is
    ``insufficient_data`` or whose adoption rate is unknown (None/NaN) is
    ``insufficient_data``, because either axis would be a guess.
    """
    if primary_verdict not in VERDICTS:
        raise ValueError(f"unknown verdict {primary_verdict!r}; expected one of {VERDICTS}")
    if not is_deployed:
        return "not_deployed"
    if primary_verdict == "insufficient_data" or adoption_rate is None or math.isnan(adoption_rate):
        return "insufficient_data"
    adopted = adoption_rate >= adoption_threshold
    if primary_verdict == "improved":
        return "value_with_adoption" if adopted else "value_without_adoption"
    return "adoption_without_value" if adopted else "no_value_no_adoption"
