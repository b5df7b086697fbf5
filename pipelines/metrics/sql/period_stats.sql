-- Sufficient statistics per deployed workflow, period and mean-or-share metric:
-- n, sum and sum of squares (capped where the metric caps), plus the uncapped mean.
with

item_periods as (
    select * from intermediate.item_periods
),

long_form as (
    select workflow_id, period, 'rework_rate' as metric,
        cast(has_rework as double) as value, cast(has_rework as double) as uncapped_value
    from item_periods
    union all
    select workflow_id, period, 'error_rate',
        cast(had_error as double), cast(had_error as double)
    from item_periods
    union all
    select workflow_id, period, 'touchpoints_per_item',
        cast(touchpoints_capped as double), cast(touchpoints as double)
    from item_periods
    union all
    select workflow_id, period, 'external_spend_per_item',
        external_spend_capped, external_spend
    from item_periods
)

select
    workflow_id,
    period,
    metric,
    count(value) as n,
    coalesce(sum(value), 0) as total,
    coalesce(sum(value * value), 0) as total_sq,
    avg(uncapped_value) as uncapped_mean
from long_form
group by workflow_id, period, metric
order by workflow_id, metric, period
