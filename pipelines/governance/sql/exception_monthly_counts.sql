-- intermediate.exception_monthly_counts: one row per deployed workflow and calendar month
-- from its go-live to the cutoff: assisted items opened that month and how many of them
-- were escalated, overridden or corrected (each out of the items where it is known), and the
-- cutoff they were counted at (so a run keeps an unchanged workflow's rows only while it stands).
create or replace table intermediate.exception_monthly_counts as
with

as_of as (
    select as_of_on from intermediate.governance_as_of
),

deployed as (
    select workflow_id, deployed_on from staging.workflows where deployed_on is not null
),

months as (
    select
        deployed.workflow_id,
        cast(month_start as date) as month_start_on
    from deployed
    cross join as_of
    cross join lateral (
        select unnest(range(
            date_trunc('month', deployed.deployed_on),
            date_trunc('month', as_of.as_of_on) + interval 1 month,
            interval 1 month
        )) as month_start
    )
    where deployed.deployed_on <= as_of.as_of_on
),

assisted as (
    select
        work_items.workflow_id,
        cast(date_trunc('month', work_items.opened_at) as date) as month_start_on,
        work_items.escalated,
        work_items.overridden,
        work_items.corrected
    from staging.work_items as work_items
    inner join deployed using (workflow_id)
    where work_items.ai_assisted
        and work_items.opened_at >= cast(deployed.deployed_on as timestamp)
        and cast(work_items.opened_at as date) <= (select as_of_on from as_of)
),

counted as (
    select
        workflow_id,
        month_start_on,
        count(*) as assisted_items,
        count(*) filter (where escalated) as escalated_items,
        count(overridden) as override_known_items,
        count(*) filter (where overridden) as overridden_items,
        count(corrected) as correction_known_items,
        count(*) filter (where corrected) as corrected_items
    from assisted
    group by 1, 2
)

select
    months.workflow_id,
    months.month_start_on,
    coalesce(counted.assisted_items, 0) as assisted_items,
    coalesce(counted.escalated_items, 0) as escalated_items,
    coalesce(counted.override_known_items, 0) as override_known_items,
    coalesce(counted.overridden_items, 0) as overridden_items,
    coalesce(counted.correction_known_items, 0) as correction_known_items,
    coalesce(counted.corrected_items, 0) as corrected_items,
    as_of.as_of_on
from months
cross join as_of
left join counted using (workflow_id, month_start_on)
order by months.workflow_id, months.month_start_on;
