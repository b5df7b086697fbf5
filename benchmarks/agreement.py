"""Does the floor compute the same numbers as the build? A check, not a timing.

A floor that did less work than the pipeline would flatter nothing but itself, so the bench
compares the floor's aggregates with `marts.value_metrics` and `marts.adoption` of the
build on the same folder and reports how many agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

# Relative tolerance for values (both sides are doubles computed in a different order).
TOLERANCE = 1e-9

COMPARE_SQL = """
with

floor_long as (
    select workflow_id, period, 'cycle_time_hours' as metric, n_closed as n, median_cycle_time_hours as value
    from floor.period_metrics
    union all
    select workflow_id, period, 'rework_rate', n_rework_known, rework_rate from floor.period_metrics
    union all
    select workflow_id, period, 'error_rate', n_error_known, error_rate from floor.period_metrics
    union all
    select workflow_id, period, 'touchpoints_per_item', n_touchpoints_known, touchpoints_per_item from floor.period_metrics
    union all
    select workflow_id, period, 'external_spend_per_item', n_spend_known, external_spend_per_item from floor.period_metrics
),

built_long as (
    select
        workflow_id, 'baseline' as period, metric,
        -- cycle time: the build counts closed items per period for the median's n
        case when metric = 'cycle_time_hours' then n_baseline_closed else n_baseline end as n,
        baseline_value as value,
        -- a median with open items is Kaplan-Meier in the build, the closed items' median in the floor
        metric <> 'cycle_time_hours' or method like 'median: order-statistic%' as value_comparable
    from warehouse.marts.value_metrics
    union all
    select
        workflow_id, 'post', metric,
        case when metric = 'cycle_time_hours' then n_post_closed else n_post end,
        post_value,
        metric <> 'cycle_time_hours' or method like 'median: order-statistic%'
    from warehouse.marts.value_metrics
),

compared as (
    select
        coalesce(built_long.workflow_id, floor_long.workflow_id) as workflow_id,
        coalesce(built_long.period, floor_long.period) as period,
        coalesce(built_long.metric, floor_long.metric) as metric,
        coalesce(built_long.n, 0) = coalesce(floor_long.n, 0) as n_agrees,
        coalesce(built_long.value_comparable, false) as value_comparable,
        (built_long.value is null and floor_long.value is null)
            or abs(built_long.value - floor_long.value) <= $tolerance * greatest(abs(built_long.value), 1) as value_agrees
    from built_long
    full join floor_long using (workflow_id, period, metric)
)

select
    count(*) as counts_compared,
    count(*) filter (where n_agrees) as counts_agreeing,
    count(*) filter (where value_comparable) as values_compared,
    count(*) filter (where value_comparable and value_agrees) as values_agreeing
from compared
"""

ADOPTION_SQL = """
select count(*), count(*) filter (where coalesce(built.active_users, -1) = coalesce(floor_adoption.active_users, -1))
from warehouse.marts.adoption as built
full join floor.adoption as floor_adoption using (workflow_id)
"""


@dataclass(frozen=True)
class Agreement:
    """How many of the floor's numbers equal the build's."""

    counts_compared: int
    counts_agreeing: int
    values_compared: int
    values_agreeing: int
    adoption_compared: int
    adoption_agreeing: int

    @property
    def agrees(self) -> bool:
        """Every compared count and value is the same."""
        return (
            self.counts_compared == self.counts_agreeing
            and self.values_compared == self.values_agreeing
            and self.adoption_compared == self.adoption_agreeing
        )

    def sentence(self) -> str:
        """One line for the report."""
        return (
            f"the floor's numbers agree with the build's: {self.counts_agreeing:,} of {self.counts_compared:,} "
            f"per-workflow, per-period, per-metric counts, {self.values_agreeing:,} of {self.values_compared:,} values "
            f"(medians only where every item closed), {self.adoption_agreeing:,} of {self.adoption_compared:,} "
            "active-user counts"
        )


def compare(floor_database: Path, warehouse: Path) -> Agreement:
    """Compare the floor's aggregates with the built warehouse's marts."""
    con = duckdb.connect()
    try:
        con.execute("attach ? as floor (read_only)", [str(floor_database)]).fetchall()
        con.execute("attach ? as warehouse (read_only)", [str(warehouse)]).fetchall()
        counts = con.execute(COMPARE_SQL, {"tolerance": TOLERANCE}).fetchall()[0]
        adoption = con.execute(ADOPTION_SQL).fetchall()[0]
    finally:
        con.close()
    return Agreement(*counts, *adoption)
