-- Sufficient statistics per group of items and mean-or-share metric: n, sum and sum of
-- squares (capped where the metric caps), plus the uncapped count, sum and mean. Add
-- `week_start_on` to the groups for the per-week aggregates of the week-robust variance. One definition of which
-- column each metric reads, for every caller: {items} is the item relation and {groups}
-- the grouping columns, both filled in by pipelines/metrics/value_metrics.period_stats_sql:
--   the before/after:        intermediate.item_periods by workflow_id, period, week_start_on
--   the two-group views:     comparison_items by comparison, workflow_id, side, week_start_on
--   the mix-shift check:     items with a team by workflow_id, team, period
with

items as (
    select * from {items}
),

long_form as (
    select {groups}, 'rework_rate' as metric,
        cast(has_rework as double) as value, cast(has_rework as double) as uncapped_value
    from items
    union all
    select {groups}, 'error_rate',
        cast(had_error as double), cast(had_error as double)
    from items
    union all
    select {groups}, 'touchpoints_per_item',
        cast(touchpoints_capped as double), cast(touchpoints as double)
    from items
    union all
    select {groups}, 'external_spend_per_item',
        external_spend_capped, external_spend
    from items
),

-- Exact sums, so two builds agree to the last bit: a parallel sum of doubles adds in whatever
-- order the threads finish. A value below 1e9 in size (every real count, share, hour or amount)
-- is added as DECIMAL(38, 10), integer arithmetic that gives the same result in any order; a
-- larger one is added as a double, so no input can overflow the decimal.
exact_form as (
    select
        *,
        cast(case when abs(value) < 1e9 then value end as decimal(38, 10)) as exact_value,
        cast(case when abs(value) < 1e9 then value * value end as decimal(38, 10)) as exact_sq,
        cast(case when abs(uncapped_value) < 1e9 then uncapped_value end as decimal(38, 10)) as exact_uncapped
    from long_form
),

sums as (
    select
        {groups},
        metric,
        count(value) as n,
        coalesce(cast(sum(exact_value) as double), 0)
        + coalesce(sum(value) filter (where abs(value) >= 1e9), 0) as total,
        coalesce(cast(sum(exact_sq) as double), 0)
        + coalesce(sum(value * value) filter (where abs(value) >= 1e9), 0) as total_sq,
        count(uncapped_value) as uncapped_n,
        coalesce(cast(sum(exact_uncapped) as double), 0)
        + coalesce(sum(uncapped_value) filter (where abs(uncapped_value) >= 1e9), 0) as uncapped_total
    from exact_form
    group by {groups}, metric
)

select
    *,
    uncapped_total / nullif(uncapped_n, 0) as uncapped_mean
from sums
order by {groups}, metric
