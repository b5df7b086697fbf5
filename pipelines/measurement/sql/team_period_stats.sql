-- Per deployed workflow, team and period: item counts, open items and the sufficient
-- statistics of every mean-or-share metric, for the mix-shift check and its team-weighted
-- estimate. Items without a team are left out (the check needs a team to weigh by).
with

item_periods as (
    select * from intermediate.item_periods where team is not null
),

long_form as (
    select workflow_id, team, period, 'rework_rate' as metric, cast(has_rework as double) as value
    from item_periods
    union all
    select workflow_id, team, period, 'error_rate', cast(had_error as double)
    from item_periods
    union all
    select workflow_id, team, period, 'touchpoints_per_item', cast(touchpoints_capped as double)
    from item_periods
    union all
    select workflow_id, team, period, 'external_spend_per_item', external_spend_capped
    from item_periods
)

select
    workflow_id,
    team,
    period,
    metric,
    count(value) as n,
    coalesce(sum(value), 0) as total,
    coalesce(sum(value * value), 0) as total_sq
from long_form
group by workflow_id, team, period, metric
order by workflow_id, metric, team, period
