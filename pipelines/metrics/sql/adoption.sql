-- marts.adoption: one row per deployed workflow. Adoption is usage, not value.
create or replace table marts.adoption as
with

windows as (
    select * from intermediate.workflow_windows
),

workflows as (
    select workflow_id, eligible_users from staging.workflows
),

active as (
    select
        usage.workflow_id,
        count(distinct usage.user_id) as active_users
    from staging.usage as usage
    inner join windows using (workflow_id)
    where usage.actions > 0
        and usage.usage_date >= windows.post_start_on
        and usage.usage_date <= windows.post_end_on
    group by usage.workflow_id
),

post_items as (
    select
        workflow_id,
        count(*) as post_items,
        count(*) filter (where ai_assisted) as assisted_items,
        count(ai_assisted) as items_with_known_assist
    from intermediate.item_periods
    where period = 'post'
    group by workflow_id
)

select
    windows.workflow_id,
    workflows.eligible_users,
    coalesce(active.active_users, 0) as active_users,
    case
        when workflows.eligible_users > 0
            then coalesce(active.active_users, 0) / workflows.eligible_users
    end as adoption_rate,
    coalesce(post_items.post_items, 0) as post_items,
    coalesce(post_items.assisted_items, 0) as assisted_items,
    case
        when post_items.items_with_known_assist > 0
            then post_items.assisted_items / post_items.items_with_known_assist
    end as assisted_share
from windows
inner join workflows using (workflow_id)
left join active using (workflow_id)
left join post_items using (workflow_id)
order by windows.workflow_id;
