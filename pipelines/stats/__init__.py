"""Pure statistics for opvalue: intervals, medians, week-robust variances, verdicts and method-check diagnostics.

No Dagster, no DuckDB, no I/O: numpy/scipy/statsmodels/pandas in, numbers out.
Every formula follows METHODS.md; the module docstrings say which
convention reproduces each reference number. The two-way fixed effects DiD the calibration
compares the published estimator with lives in ``pipelines.calibration.did_twfe``.
"""

from pipelines.stats.diagnostics import (
    MixShift,
    NoveltyTrend,
    censoring_gap,
    mix_shift_chi2,
    novelty_slope,
)
from pipelines.stats.intervals import (
    ChangeResult,
    MomentStats,
    absolute_difference,
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
    order_statistic_ranks,
)
from pipelines.stats.multiple import benjamini_hochberg
from pipelines.stats.verdicts import verdict, verdicts
from pipelines.stats.weekly import (
    LogRatioChange,
    WeekRobust,
    item_var_log_share,
    log_ratio_change,
    long_run_variance,
    median_design_effect,
    week_robust_mean,
)

__all__ = [
    "ChangeResult",
    "CycleTimeSummary",
    "KaplanMeierMedian",
    "LogRatioChange",
    "MedianCI",
    "MedianRatioChange",
    "MixShift",
    "MomentStats",
    "NoveltyTrend",
    "WeekRobust",
    "absolute_difference",
    "benjamini_hochberg",
    "censoring_gap",
    "cycle_time_summary",
    "item_var_log_share",
    "kaplan_meier",
    "km_median",
    "log_ratio_change",
    "long_run_variance",
    "median_ci",
    "median_design_effect",
    "median_ratio_change",
    "mix_shift_chi2",
    "novelty_slope",
    "order_statistic_ranks",
    "relative_change",
    "verdict",
    "verdicts",
    "week_robust_mean",
    "wilson_interval",
]
