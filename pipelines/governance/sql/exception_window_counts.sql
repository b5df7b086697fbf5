-- intermediate.exception_window_counts: one row per deployed workflow. Override and
-- correction counts of assisted items in the first `window_days` after go-live ("early")
-- and in the last `window_days` up to the cutoff ("recent"), the two windows a rising rate
-- is judged on; they must not overlap.
create or replace table intermediate.exception_window_counts as
with

as_of as (
    select as_of_on from intermediate.governance_as_of
),

deployed as (
    select
        workflows.workflow_id,
        workflows.deployed_on,
        workflows.deployed_on + cast($window_days as integer) as early_end_on,
        as_of.as_of_on - cast($window_days as integer) as recent_start_on,
        as_of.as_of_on
    from staging.workflows as workflows
    cross join as_of
    where workflows.deployed_on is not null
),

assisted as (
    select
        deployed.workflow_id,
        case
            when work_items.opened_at < cast(deployed.early_end_on as timestamp) then 'early'
            when work_items.opened_at >= cast(deployed.recent_start_on as timestamp) then 'recent'
        end as window_name,
        work_items.overridden,
        work_items.corrected
    from staging.work_items as work_items
    inner join deployed using (workflow_id)
    where work_items.ai_assisted
        and work_items.opened_at >= cast(deployed.deployed_on as timestamp)
        and cast(work_items.opened_at as date) <= deployed.as_of_on
)

select
    deployed.workflow_id,
    deployed.deployed_on,
    deployed.early_end_on,
    deployed.recent_start_on,
    deployed.as_of_on,
    deployed.recent_start_on < deployed.early_end_on as windows_overlap,
    count(assisted.overridden) filter (where assisted.window_name = 'early') as early_override_known,
    count(*) filter (where assisted.window_name = 'early' and assisted.overridden) as early_overridden,
    count(assisted.overridden) filter (where assisted.window_name = 'recent') as recent_override_known,
    count(*) filter (where assisted.window_name = 'recent' and assisted.overridden) as recent_overridden,
    count(assisted.corrected) filter (where assisted.window_name = 'early') as early_correction_known,
    count(*) filter (where assisted.window_name = 'early' and assisted.corrected) as early_corrected,
    count(assisted.corrected) filter (where assisted.window_name = 'recent') as recent_correction_known,
    count(*) filter (where assisted.window_name = 'recent' and assisted.corrected) as recent_corrected
from deployed
left join assisted using (workflow_id)
group by all
order by deployed.workflow_id;

-- intermediate.exception_window_weeks: the same counts per ISO week of opening (the Monday),
-- for the week-robust interval of each window's rate: items of one week share shocks.
create or replace table intermediate.exception_window_weeks as
with

windows as (
    select
        workflow_id,
        deployed_on,
        early_end_on,
        recent_start_on,
        as_of_on
    from intermediate.exception_window_counts
),

assisted as (
    select
        windows.workflow_id,
        cast(date_trunc('week', work_items.opened_at) as date) as week_start_on,
        case
            when work_items.opened_at < cast(windows.early_end_on as timestamp) then 'early'
            when work_items.opened_at >= cast(windows.recent_start_on as timestamp) then 'recent'
        end as window_name,
        work_items.overridden,
        work_items.corrected
    from staging.work_items as work_items
    inner join windows using (workflow_id)
    where work_items.ai_assisted
        and work_items.opened_at >= cast(windows.deployed_on as timestamp)
        and cast(work_items.opened_at as date) <= windows.as_of_on
)

select
    workflow_id,
    window_name,
    week_start_on,
    count(overridden) as override_known,
    count(*) filter (where overridden) as overridden,
    count(corrected) as correction_known,
    count(*) filter (where corrected) as corrected
from assisted
where window_name is not null
group by all
order by workflow_id, window_name, week_start_on;
