-- The two windows a rising override or correction rate is judged on, per deployed workflow:
-- the first `window_days` after go-live ("early") and the last `window_days` up to the cutoff
-- ("recent"); they must not overlap. A temporary table: the two tables below read it, and the
-- rule that puts an item in a window is written once, in intermediate.exception_window_weeks.
create or replace temp table exception_windows as
with

as_of as (
    select as_of_on from intermediate.governance_as_of
)

select
    workflows.workflow_id,
    workflows.deployed_on,
    workflows.deployed_on + cast($window_days as integer) as early_end_on,
    as_of.as_of_on - cast($window_days as integer) as recent_start_on,
    as_of.as_of_on
from staging.workflows as workflows
cross join as_of
where workflows.deployed_on is not null;

-- intermediate.exception_window_weeks: one row per deployed workflow, window and ISO week of
-- opening (the Monday). Override and correction counts of assisted items, for the
-- week-robust interval of each window's rate: items of one week share shocks.
create or replace table intermediate.exception_window_weeks as
with

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
    inner join exception_windows as windows using (workflow_id)
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

-- intermediate.exception_window_counts: one row per deployed workflow. The same counts per
-- window: the sum of its weeks (0 for a window without an assisted item).
create or replace table intermediate.exception_window_counts as
with

totals as (
    select
        workflow_id,
        sum(override_known) filter (where window_name = 'early') as early_override_known,
        sum(overridden) filter (where window_name = 'early') as early_overridden,
        sum(override_known) filter (where window_name = 'recent') as recent_override_known,
        sum(overridden) filter (where window_name = 'recent') as recent_overridden,
        sum(correction_known) filter (where window_name = 'early') as early_correction_known,
        sum(corrected) filter (where window_name = 'early') as early_corrected,
        sum(correction_known) filter (where window_name = 'recent') as recent_correction_known,
        sum(corrected) filter (where window_name = 'recent') as recent_corrected
    from intermediate.exception_window_weeks
    group by workflow_id
)

select
    windows.workflow_id,
    windows.deployed_on,
    windows.early_end_on,
    windows.recent_start_on,
    windows.as_of_on,
    windows.recent_start_on < windows.early_end_on as windows_overlap,
    cast(coalesce(totals.early_override_known, 0) as bigint) as early_override_known,
    cast(coalesce(totals.early_overridden, 0) as bigint) as early_overridden,
    cast(coalesce(totals.recent_override_known, 0) as bigint) as recent_override_known,
    cast(coalesce(totals.recent_overridden, 0) as bigint) as recent_overridden,
    cast(coalesce(totals.early_correction_known, 0) as bigint) as early_correction_known,
    cast(coalesce(totals.early_corrected, 0) as bigint) as early_corrected,
    cast(coalesce(totals.recent_correction_known, 0) as bigint) as recent_correction_known,
    cast(coalesce(totals.recent_corrected, 0) as bigint) as recent_corrected
from exception_windows as windows
left join totals using (workflow_id)
order by windows.workflow_id;
