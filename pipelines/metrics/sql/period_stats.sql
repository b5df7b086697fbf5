-- Sufficient statistics per group of items and mean-or-share metric: n, sum and sum of
-- squares (capped where the metric caps), plus the uncapped count, sum and mean. Add
-- `week_start_on` to the groups for the per-week aggregates of the week-robust variance. One definition of which
-- column each metric reads, for every caller: {items} is the item relation and {groups}
-- the grouping columns, both filled in by pipelines/metrics/value_metrics.period_stats_sql:
--   the before/after:        intermediate.item_periods by workflow_id, period, week_start_on
--   the two-group views:     comparison_items by comparison, workflow_id, side, week_start_on
--   the mix-shift check:     items with a team by workflow_id, team, period
-- One pass over the items with every metric's sums side by side, then one row per metric:
-- a long form (four rows per item) made the aggregate hash four times as many rows.
with

items as (
    select * from {items}
),

-- Each metric's value (capped where the metric caps) and uncapped value, as doubles.
measures as (
    select
        {groups},
        cast(has_rework as double) as rework_value,
        cast(had_error as double) as error_value,
        cast(touchpoints_capped as double) as touchpoints_value,
        cast(touchpoints as double) as touchpoints_uncapped,
        cast(external_spend_capped as double) as spend_value,
        cast(external_spend as double) as spend_uncapped
    from items
),

-- Exact sums, so two builds agree to the last bit: exact_sum(x) and exact_sum_sq(x) are written
-- out by pipelines/sqlfiles.py (expand_exact_sums), which says how. A share's values are 0 and
-- 1: its sum and sum of squares are the count of ones, exactly what an exact sum gives, and its
-- value is its uncapped value, so its sums serve both.
sums as (
    select
        {groups},
        count(rework_value) as rework_n,
        cast(count(*) filter (where rework_value = 1) as double) as rework_total,
        cast(count(*) filter (where rework_value = 1) as double) as rework_total_sq,
        count(error_value) as error_n,
        cast(count(*) filter (where error_value = 1) as double) as error_total,
        cast(count(*) filter (where error_value = 1) as double) as error_total_sq,
        count(touchpoints_value) as touchpoints_n,
        exact_sum(touchpoints_value) as touchpoints_total,
        exact_sum_sq(touchpoints_value) as touchpoints_total_sq,
        count(touchpoints_uncapped) as touchpoints_uncapped_n,
        exact_sum(touchpoints_uncapped) as touchpoints_uncapped_total,
        count(spend_value) as spend_n,
        exact_sum(spend_value) as spend_total,
        exact_sum_sq(spend_value) as spend_total_sq,
        count(spend_uncapped) as spend_uncapped_n,
        exact_sum(spend_uncapped) as spend_uncapped_total
    from measures
    group by {groups}
),

long_form as (
    select
        {groups}, 'rework_rate' as metric, rework_n as n, rework_total as total, rework_total_sq as total_sq,
        rework_n as uncapped_n, rework_total as uncapped_total
    from sums
    union all
    select
        {groups}, 'error_rate', error_n, error_total, error_total_sq,
        error_n, error_total
    from sums
    union all
    select
        {groups}, 'touchpoints_per_item', touchpoints_n, touchpoints_total, touchpoints_total_sq,
        touchpoints_uncapped_n, touchpoints_uncapped_total
    from sums
    union all
    select
        {groups}, 'external_spend_per_item', spend_n, spend_total, spend_total_sq,
        spend_uncapped_n, spend_uncapped_total
    from sums
)

select
    *,
    uncapped_total / nullif(uncapped_n, 0) as uncapped_mean
from long_form
order by {groups}, metric
