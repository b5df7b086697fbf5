-- One row per ISO week of one workflow: weekly active users against eligible users, and the
-- share of that week's items worked with AI assistance.
with

workflow as (
    select workflow_id, eligible_users
    from staging.workflows
    where workflow_id = $workflow_id
),

windows as (
    select distinct workflow_id, baseline_start_on, post_end_on
    from marts.value_metrics
    where workflow_id = $workflow_id
),

active as (
    select
        date_trunc('week', usage.usage_date)::date as week_start_on,
        count(distinct usage.user_id) filter (where usage.actions > 0) as active_users
    from staging.usage as usage
    left join windows using (workflow_id)
    where usage.workflow_id = $workflow_id
        and (windows.workflow_id is null or usage.usage_date between windows.baseline_start_on and windows.post_end_on)
    group by 1
),

assisted as (
    select
        date_trunc('week', work_items.opened_at)::date as week_start_on,
        count(*) as items,
        avg(work_items.ai_assisted::double) as assisted_share
    from staging.work_items as work_items
    left join windows using (workflow_id)
    where work_items.workflow_id = $workflow_id
        and (
            windows.workflow_id is null
            or (work_items.opened_at >= windows.baseline_start_on and work_items.opened_at::date <= windows.post_end_on)
        )
    group by 1
)

select
    week_start_on,
    coalesce(active.active_users, 0) as active_users,
    workflow.eligible_users,
    coalesce(active.active_users, 0) / nullif(workflow.eligible_users, 0) as active_rate,
    coalesce(assisted.items, 0) as items,
    assisted.assisted_share
from active
full join assisted using (week_start_on)
cross join workflow
order by week_start_on
