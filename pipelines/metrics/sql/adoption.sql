-- marts.adoption: one row per deployed workflow. Adoption is usage, not value.
-- The one definition of adoption and of "adoption unknown": every other table and the
-- Python rules read these columns.
create or replace table marts.adoption as
with

windows as (
    select workflow_id, post_start_on, cutoff_at from intermediate.workflow_windows
),

workflows as (
    select workflow_id, eligible_users from staging.workflows
),

usage as (
    select usage.workflow_id, usage.user_id, usage.usage_date, windows.cutoff_at
    from staging.usage as usage
    inner join windows using (workflow_id)
    where usage.actions > 0
        and usage.usage_date >= windows.post_start_on
        and usage.usage_date <= cast(windows.cutoff_at as date)
),

usage_rows as (
    select workflow_id, count(*) as usage_rows
    from staging.usage
    group by workflow_id
),

-- Current adoption: active in the last adoption_window_days up to the workflow's cutoff.
-- Habitual: active in at least habitual_min_weeks of the last 4 weeks (28 days) to the cutoff.
per_user as (
    select
        workflow_id,
        user_id,
        bool_or(usage_date > cast(cutoff_at as date) - cast($adoption_window_days as integer)) as is_current,
        count(distinct (cast(cutoff_at as date) - usage_date) // 7) filter (
            where usage_date > cast(cutoff_at as date) - 28
        ) as recent_weeks
    from usage
    group by workflow_id, user_id
),

active as (
    select
        workflow_id,
        count(*) as reached_users,
        count(*) filter (where is_current) as active_users,
        count(*) filter (where recent_weeks >= $habitual_min_weeks) as habitual_users
    from per_user
    group by workflow_id
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
),

joined as (
    select
        windows.workflow_id,
        workflows.eligible_users,
        -- Unknown, never 0: no usage rows at all for the workflow, or no eligible users.
        coalesce(usage_rows.usage_rows, 0) = 0 or coalesce(workflows.eligible_users, 0) <= 0 as is_adoption_unknown,
        coalesce(active.active_users, 0) as active_users,
        coalesce(active.reached_users, 0) as reached_users,
        coalesce(active.habitual_users, 0) as habitual_users,
        coalesce(post_items.post_items, 0) as post_items,
        coalesce(post_items.assisted_items, 0) as assisted_items,
        post_items.items_with_known_assist
    from windows
    inner join workflows using (workflow_id)
    left join usage_rows using (workflow_id)
    left join active using (workflow_id)
    left join post_items using (workflow_id)
)

select
    workflow_id,
    eligible_users,
    is_adoption_unknown,
    -- A group of users smaller than min_group_size is not counted out: its count could name people.
    case when not is_adoption_unknown and not (active_users between 1 and $min_group_size - 1) then active_users end
        as active_users,
    case when not is_adoption_unknown then active_users / eligible_users end as adoption_rate,
    case when not is_adoption_unknown then reached_users / eligible_users end as reach_rate,
    case when not is_adoption_unknown and not (habitual_users between 1 and $min_group_size - 1) then habitual_users end
        as habitual_users,
    case
        when is_adoption_unknown then null
        when active_users between 1 and $min_group_size - 1 or habitual_users between 1 and $min_group_size - 1
            then 'fewer than ' || cast($min_group_size as integer) || ' users in a group: its count is suppressed'
    end as suppressed_reason,
    post_items,
    assisted_items,
    case when items_with_known_assist > 0 then assisted_items / items_with_known_assist end as assisted_share
from joined
order by workflow_id;
