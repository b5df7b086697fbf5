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
)

select
    {groups},
    metric,
    count(value) as n,
    coalesce(sum(value), 0) as total,
    coalesce(sum(value * value), 0) as total_sq,
    count(uncapped_value) as uncapped_n,
    coalesce(sum(uncapped_value), 0) as uncapped_total,
    avg(uncapped_value) as uncapped_mean
from long_form
group by {groups}, metric
order by {groups}, metric
