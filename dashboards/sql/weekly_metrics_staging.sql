-- One row per ISO week and metric of one workflow, computed from staged items while
-- marts.weekly_metrics is not in the warehouse. Weekly cycle time is the median of the
-- items closed so far (recent weeks look faster: their slow items are still open).
with

windows as (
    select distinct workflow_id, baseline_start_on, deployed_on, post_end_on
    from marts.value_metrics
    where workflow_id = $workflow_id
),

items as (
    select
        date_trunc('week', work_items.opened_at)::date as week_start_on,
        windows.deployed_on,
        epoch(work_items.closed_at - work_items.opened_at) / 3600.0 as cycle_hours,
        (work_items.rework_count > 0)::double as has_rework,
        work_items.had_error::double as has_error,
        work_items.touchpoints::double as touchpoints,
        work_items.external_spend
    from staging.work_items as work_items
    left join windows using (workflow_id)
    where work_items.workflow_id = $workflow_id
        and (
            windows.workflow_id is null
            or (work_items.opened_at >= windows.baseline_start_on and work_items.opened_at::date <= windows.post_end_on)
        )
),

weekly as (
    select
        week_start_on,
        week_start_on >= date_trunc('week', any_value(deployed_on))::date as is_post,
        (date_diff('day', date_trunc('week', any_value(deployed_on))::date, week_start_on) // 7)::integer
            as weeks_since_deployment,
        median(cycle_hours) as cycle_time_hours,
        count(cycle_hours) as n_cycle_time_hours,
        avg(has_rework) as rework_rate,
        count(has_rework) as n_rework_rate,
        avg(has_error) as error_rate,
        count(has_error) as n_error_rate,
        avg(touchpoints) as touchpoints_per_item,
        count(touchpoints) as n_touchpoints_per_item,
        avg(external_spend) as external_spend_per_item,
        count(external_spend) as n_external_spend_per_item
    from items
    group by week_start_on
)

select week_start_on, 'cycle_time_hours' as metric, cycle_time_hours as value, n_cycle_time_hours as n,
    is_post, weeks_since_deployment
from weekly
union all
select week_start_on, 'rework_rate', rework_rate, n_rework_rate, is_post, weeks_since_deployment
from weekly
union all
select week_start_on, 'error_rate', error_rate, n_error_rate, is_post, weeks_since_deployment
from weekly
union all
select week_start_on, 'touchpoints_per_item', touchpoints_per_item, n_touchpoints_per_item, is_post, weeks_since_deployment
from weekly
union all
select week_start_on, 'external_spend_per_item', external_spend_per_item, n_external_spend_per_item, is_post,
    weeks_since_deployment
from weekly
order by metric, week_start_on
