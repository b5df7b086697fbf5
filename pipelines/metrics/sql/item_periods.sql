-- One row per work item of a deployed workflow that falls in its baseline or post window,
-- with the measures every metric needs. Open items are censored at the data cutoff.
create schema if not exists intermediate;

create or replace table intermediate.item_periods as
with

workflows as (
    select workflow_id, deployed_on
    from staging.workflows
    where deployed_on is not null
),

work_items as (
    select * from staging.work_items
),

cutoff as (
    select max(opened_at) as cutoff_at from work_items
),

windows as (
    select
        workflows.workflow_id,
        workflows.deployed_on - cast($baseline_days as integer) as baseline_start_on,
        workflows.deployed_on,
        workflows.deployed_on + cast($ramp_days as integer) as post_start_on,
        cast(cutoff.cutoff_at as date) as post_end_on,
        cutoff.cutoff_at
    from workflows
    cross join cutoff
),

in_window as (
    select
        work_items.workflow_id,
        work_items.item_id,
        case
            when work_items.opened_at < cast(windows.deployed_on as timestamp) then 'baseline'
            else 'post'
        end as period,
        work_items.closed_at is not null as is_closed,
        epoch(coalesce(work_items.closed_at, windows.cutoff_at) - work_items.opened_at) / 3600.0 as cycle_time_hours,
        work_items.rework_count > 0 as has_rework,
        work_items.had_error,
        work_items.touchpoints,
        work_items.external_spend,
        work_items.ai_assisted,
        work_items.opened_at,
        cast(date_trunc('week', work_items.opened_at) as date) as week_start_on,
        work_items.team
    from work_items
    inner join windows using (workflow_id)
    where
        (
            work_items.opened_at >= cast(windows.baseline_start_on as timestamp)
            and work_items.opened_at < cast(windows.deployed_on as timestamp)
        )
        or work_items.opened_at >= cast(windows.post_start_on as timestamp)
),

-- Caps come from both periods pooled, so capping cannot itself create a change.
caps as (
    select
        workflow_id,
        quantile_cont(touchpoints, $cap_quantile) as touchpoints_cap,
        quantile_cont(external_spend, $cap_quantile) filter (where external_spend > 0) as external_spend_cap
    from in_window
    group by workflow_id
)

select
    in_window.workflow_id,
    in_window.item_id,
    in_window.period,
    in_window.is_closed,
    in_window.cycle_time_hours,
    in_window.has_rework,
    in_window.had_error,
    least(in_window.touchpoints, caps.touchpoints_cap) as touchpoints_capped,
    in_window.touchpoints,
    least(in_window.external_spend, coalesce(caps.external_spend_cap, 0)) as external_spend_capped,
    in_window.external_spend,
    in_window.ai_assisted,
    -- Added for marts.weekly_metrics and the method checks: when the item was opened,
    -- the Monday of its ISO week, and its team (null when the input has no team column).
    in_window.opened_at,
    in_window.week_start_on,
    in_window.team
from in_window
inner join caps using (workflow_id);

create or replace table intermediate.workflow_windows as
select
    workflows.workflow_id,
    workflows.deployed_on - cast($baseline_days as integer) as baseline_start_on,
    workflows.deployed_on,
    workflows.deployed_on + cast($ramp_days as integer) as post_start_on,
    cast(cutoff.cutoff_at as date) as post_end_on
from staging.workflows as workflows
cross join (select max(opened_at) as cutoff_at from staging.work_items) as cutoff
where workflows.deployed_on is not null;
