-- Sufficient statistics per comparison, workflow, side and mean-or-share metric, as
-- pipelines/metrics/sql/period_stats.sql computes them for the before/after.
with

comparison_items as (
    select * from temp.main.comparison_items
),

long_form as (
    select comparison, workflow_id, side, 'rework_rate' as metric,
        cast(has_rework as double) as value, cast(has_rework as double) as uncapped_value
    from comparison_items
    union all
    select comparison, workflow_id, side, 'error_rate',
        cast(had_error as double), cast(had_error as double)
    from comparison_items
    union all
    select comparison, workflow_id, side, 'touchpoints_per_item',
        cast(touchpoints_capped as double), cast(touchpoints as double)
    from comparison_items
    union all
    select comparison, workflow_id, side, 'external_spend_per_item',
        external_spend_capped, external_spend
    from comparison_items
)

select
    comparison,
    workflow_id,
    side,
    metric,
    count(value) as n,
    coalesce(sum(value), 0) as total,
    coalesce(sum(value * value), 0) as total_sq,
    avg(uncapped_value) as uncapped_mean
from long_form
group by comparison, workflow_id, side, metric
order by comparison, workflow_id, metric, side
