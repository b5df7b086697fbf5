-- marts.monthly_adoption: one row per deployed workflow and calendar month from its go-live
-- month to its cutoff month. Adoption month by month, with the same definitions as
-- marts.adoption: active users are distinct users with actions > 0 in that month (within the
-- post window), over the registry's eligible users; unknown (never 0) when the workflow has no
-- usage rows at all or no eligible users; a count between 1 and min_group_size - 1 is suppressed.
-- The cutoff month is usually cut short (is_cut_short): fewer days, fewer active users.
create or replace table marts.monthly_adoption as
with

windows as (
    select workflow_id, post_start_on, cast(cutoff_at as date) as cutoff_on
    from intermediate.workflow_windows
    where post_start_on is not null and cutoff_at is not null and post_start_on <= cast(cutoff_at as date)
),

months as (
    select
        windows.workflow_id,
        cast(month_on as date) as month_on,
        greatest(windows.post_start_on, cast(month_on as date)) as from_on,
        least(windows.cutoff_on, cast(month_on + interval 1 month as date) - 1) as to_on
    from windows,
        unnest(
            generate_series(
                date_trunc('month', windows.post_start_on), date_trunc('month', windows.cutoff_on), interval 1 month
            )
        ) as series (month_on)
),

workflows as (
    select workflow_id, eligible_users from staging.workflows
),

usage_rows as (
    select workflow_id, count(*) as usage_rows
    from staging.usage
    group by workflow_id
),

active as (
    select months.workflow_id, months.month_on, count(distinct usage.user_id) as active_users
    from months
    inner join staging.usage as usage
        on usage.workflow_id = months.workflow_id
        and usage.usage_date between months.from_on and months.to_on
        and usage.actions > 0
    group by months.workflow_id, months.month_on
),

joined as (
    select
        months.workflow_id,
        months.month_on,
        months.to_on - months.from_on + 1 as days_live,
        months.to_on < cast(months.month_on + interval 1 month as date) - 1 as is_cut_short,
        workflows.eligible_users,
        coalesce(usage_rows.usage_rows, 0) = 0 or coalesce(workflows.eligible_users, 0) <= 0 as is_adoption_unknown,
        coalesce(active.active_users, 0) as active_users
    from months
    inner join workflows using (workflow_id)
    left join usage_rows using (workflow_id)
    left join active using (workflow_id, month_on)
)

select
    workflow_id,
    month_on,
    days_live,
    is_cut_short,
    eligible_users,
    is_adoption_unknown,
    -- A group of users smaller than min_group_size is not counted out: its count could name people.
    case when not is_adoption_unknown and not (active_users between 1 and $min_group_size - 1) then active_users end
        as active_users,
    case when not is_adoption_unknown then active_users / eligible_users end as adoption_rate
from joined
order by workflow_id, month_on;
