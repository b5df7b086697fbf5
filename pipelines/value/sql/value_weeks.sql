-- The sufficient statistics of the value estimator: per deployed workflow, metric, period,
-- calendar month of opening and ISO week, the closed items measured, their sum and sum of
-- squares. Closed items only (an open item's rework, errors, touchpoints and spend are not
-- final); a blank measure leaves that metric. Cycle time uses closed items' hours capped at
-- the workflow's pooled p99 (intermediate.item_periods.cycle_time_hours_capped: a mean adds up
-- over items; a median does not). One pass over the items with every metric's sums side by
-- side, then one row per metric with items measured: a long form (five rows per item) made
-- the aggregate hash five times as many rows.
with

items as (
    select * from intermediate.item_periods where is_closed
),

measures as (
    select
        workflow_id,
        period,
        cast(date_trunc('month', opened_at) as date) as month_on,
        week_start_on,
        -- item_periods' one cap of cycle time: closed items' hours at the workflow's pooled p99.
        cycle_time_hours_capped as cycle_value,
        cast(has_rework as double) as rework_value,
        cast(had_error as double) as error_value,
        -- least(NULL, cap) is cap in DuckDB: a blank measure must stay blank.
        case when touchpoints is not null then cast(touchpoints_capped as double) end as touchpoints_value,
        case when external_spend is not null then external_spend_capped end as spend_value
    from items
),

-- Exact sums, so two builds agree to the last bit: exact_sum(x) and exact_sum_sq(x) are written
-- out by pipelines/sqlfiles.py (expand_exact_sums). A share's values are 0 and 1: its sum and
-- sum of squares are the count of ones, exactly what an exact sum gives.
sums as (
    select
        workflow_id,
        period,
        month_on,
        week_start_on,
        count(cycle_value) as cycle_n,
        exact_sum(cycle_value) as cycle_total,
        exact_sum_sq(cycle_value) as cycle_total_sq,
        count(rework_value) as rework_n,
        cast(count(*) filter (where rework_value = 1) as double) as rework_total,
        count(error_value) as error_n,
        cast(count(*) filter (where error_value = 1) as double) as error_total,
        count(touchpoints_value) as touchpoints_n,
        exact_sum(touchpoints_value) as touchpoints_total,
        exact_sum_sq(touchpoints_value) as touchpoints_total_sq,
        count(spend_value) as spend_n,
        exact_sum(spend_value) as spend_total,
        exact_sum_sq(spend_value) as spend_total_sq
    from measures
    group by workflow_id, period, month_on, week_start_on
),

long_form as (
    select workflow_id, 'cycle_time_hours' as metric, period, month_on, week_start_on, cycle_n as n, cycle_total as total, cycle_total_sq as total_sq
    from sums
    where cycle_n > 0
    union all
    select workflow_id, 'rework_rate', period, month_on, week_start_on, rework_n, rework_total, rework_total
    from sums
    where rework_n > 0
    union all
    select workflow_id, 'error_rate', period, month_on, week_start_on, error_n, error_total, error_total
    from sums
    where error_n > 0
    union all
    select workflow_id, 'touchpoints_per_item', period, month_on, week_start_on, touchpoints_n, touchpoints_total, touchpoints_total_sq
    from sums
    where touchpoints_n > 0
    union all
    select workflow_id, 'external_spend_per_item', period, month_on, week_start_on, spend_n, spend_total, spend_total_sq
    from sums
    where spend_n > 0
)

select workflow_id, metric, period, month_on, week_start_on, n, total, total_sq
from long_form
order by workflow_id, metric, period, month_on, week_start_on
