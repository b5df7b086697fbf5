-- The sufficient statistics of the value estimator: per deployed workflow, metric, period,
-- calendar month of opening and ISO week, the closed items measured, their sum and sum of
-- squares. Closed items only (an open item's rework, errors, touchpoints and spend are not
-- final); a blank measure leaves that metric. Cycle time uses closed items' hours capped at
-- the workflow's pooled p99 (intermediate.item_periods.cycle_time_hours_capped: a mean adds up
-- over items; a median does not).
with

items as (
    select * from intermediate.item_periods where is_closed
),

long_form as (
    -- item_periods' one cap of cycle time: closed items' hours at the workflow's pooled p99.
    select workflow_id, period, opened_at, week_start_on, 'cycle_time_hours' as metric, cycle_time_hours_capped as value
    from items
    union all
    select workflow_id, period, opened_at, week_start_on, 'rework_rate', cast(has_rework as double)
    from items
    union all
    select workflow_id, period, opened_at, week_start_on, 'error_rate', cast(had_error as double)
    from items
    union all
    -- least(NULL, cap) is cap in DuckDB: a blank measure must stay blank.
    select workflow_id, period, opened_at, week_start_on, 'touchpoints_per_item',
        case when touchpoints is not null then cast(touchpoints_capped as double) end
    from items
    union all
    select workflow_id, period, opened_at, week_start_on, 'external_spend_per_item',
        case when external_spend is not null then external_spend_capped end
    from items
)

select
    workflow_id,
    metric,
    period,
    cast(date_trunc('month', opened_at) as date) as month_on,
    week_start_on,
    count(value) as n,
    -- Exact sums (as in pipelines/metrics/sql/period_stats.sql): values below 1e9 in size are
    -- added as DECIMAL(38, 10), the same in any order, so two builds agree to the last bit.
    coalesce(cast(sum(cast(case when abs(value) < 1e9 then value end as decimal(38, 10))) as double), 0)
    + coalesce(sum(value) filter (where abs(value) >= 1e9), 0) as total,
    coalesce(cast(sum(cast(case when abs(value) < 1e9 then value * value end as decimal(38, 10))) as double), 0)
    + coalesce(sum(value * value) filter (where abs(value) >= 1e9), 0) as total_sq
from long_form
where value is not null
group by all
order by workflow_id, metric, period, month_on, week_start_on
