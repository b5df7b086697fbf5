"""Pure statistics for opvalue: intervals, medians, verdicts, DiD and method checks.

No Dagster, no DuckDB, no I/O: numpy/scipy/statsmodels/pandas in, numbers out.
Every formula follows METHODS.md; the module docstrings say which
convention reproduces each reference number.
"""

from pipelines.stats.checks import (
    MixShift,
    NoveltyTrend,
    censoring_gap,
    mix_shift_chi2,
    novelty_slope,
)
from pipelines.stats.did import (
    DidRelative,
    DidResult,
    ParallelTrends,
    did_relative,
    did_twfe,
    parallel_trends,
)
from pipelines.stats.intervals import (
    ChangeResult,
    MomentStats,
    absolute_difference,
    newcombe_difference,
    relative_change,
    wilson_interval,
)
from pipelines.stats.medians import (
    CycleTimeSummary,
    KaplanMeierMedian,
    MedianCI,
    MedianRatioChange,
    cycle_time_summary,
    kaplan_meier,
    km_median,
    median_ci,
    median_ratio_change,
    median_ratio_change_bootstrap,
    order_statistic_ranks,
)
from pipelines.stats.multiple import benjamini_hochberg
from pipelines.stats.verdicts import quadrant, verdict, verdicts

__all__ = [
    "ChangeResult",
    "CycleTimeSummary",
    "DidRelative",
    "DidResult",
    "KaplanMeierMedian",
    "MedianCI",
    "MedianRatioChange",
    "MixShift",
    "MomentStats",
    "NoveltyTrend",
    "ParallelTrends",
    "absolute_difference",
    "benjamini_hochberg",
    "censoring_gap",
    "cycle_time_summary",
    "did_relative",
    "did_twfe",
    "kaplan_meier",
    "km_median",
    "median_ci",
    "median_ratio_change",
    "median_ratio_change_bootstrap",
    "mix_shift_chi2",
    "newcombe_difference",
    "novelty_slope",
    "order_statistic_ranks",
    "parallel_trends",
    "quadrant",
    "relative_change",
    "verdict",
    "verdicts",
    "wilson_interval",
]
