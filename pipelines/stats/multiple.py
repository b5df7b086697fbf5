"""Multiple-comparison adjustment across many workflows x metrics."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import stats


def benjamini_hochberg(p_values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Benjamini–Hochberg adjusted p-values (``scipy.stats.false_discovery_control``).

    NaN p-values (metrics that could not be estimated) are passed through as
    NaN and do not count towards the number of tests: counting them would
    penalise the real tests for comparisons that never happened. Keeps the
    input's shape.
    """
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    finite = ~np.isnan(p)
    if finite.any():
        adjusted[finite] = stats.false_discovery_control(p[finite], method="bh")
    return adjusted
