-- intermediate.item_periods: one row per work item of a deployed workflow that falls in its
-- baseline or post window, with the measures every metric needs. Open items are censored at
-- the workflow's cutoff; the four non-time metrics read closed items only (an open item's
-- rework, errors, touchpoints and spend are not final), and a blank measure stays blank.
create or replace table intermediate.item_periods as
with

windows as (
    select * from intermediate.workflow_windows
),

work_items as (
    select * from staging.work_items
),

in_window as (
    select
        work_items.workflow_id,
        work_items.item_id,
        case
            when work_items.opened_at < cast(windows.deployed_on as timestamp) then 'baseline'
            else 'post'
        end as period,
        work_items.closed_at is not null and work_items.closed_at <= windows.cutoff_at as is_closed,
        epoch(least(coalesce(work_items.closed_at, windows.cutoff_at), windows.cutoff_at) - work_items.opened_at)
            / 3600.0 as cycle_time_hours,
        work_items.rework_count,
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
        work_items.opened_at <= windows.cutoff_at
        and (
            (
                work_items.opened_at >= cast(windows.nominal_baseline_start_on as timestamp)
                and work_items.opened_at < cast(windows.deployed_on as timestamp)
            )
            or work_items.opened_at >= cast(windows.post_start_on as timestamp)
        )
),

closed_measures as (
    select
        workflow_id,
        item_id,
        period,
        is_closed,
        cycle_time_hours,
        case when is_closed then rework_count > 0 end as has_rework,
        case when is_closed then had_error end as had_error,
        case when is_closed then touchpoints end as touchpoints,
        case when is_closed then external_spend end as external_spend,
        ai_assisted,
        opened_at,
        week_start_on,
        team
    from in_window
),

-- Caps come from both periods pooled, so capping cannot itself create a change.
caps as (
    select
        workflow_id,
        quantile_cont(cycle_time_hours, $cap_quantile) filter (where is_closed) as cycle_time_cap,
        quantile_cont(touchpoints, $cap_quantile) as touchpoints_cap,
        quantile_cont(external_spend, $cap_quantile) filter (where external_spend > 0) as external_spend_cap
    from closed_measures
    group by workflow_id
)

select
    closed_measures.workflow_id,
    closed_measures.item_id,
    closed_measures.period,
    closed_measures.is_closed,
    closed_measures.cycle_time_hours,
    -- For value in business terms (pipelines/value/sql/value_weeks.sql): medians do not add up,
    -- so the value of a faster cycle uses the capped mean of closed items' hours.
    case when closed_measures.is_closed then least(closed_measures.cycle_time_hours, caps.cycle_time_cap) end
        as cycle_time_hours_capped,
    closed_measures.has_rework,
    closed_measures.had_error,
    -- least(NULL, cap) is cap in DuckDB: a blank measure must stay blank, never become the cap.
    case
        when closed_measures.touchpoints is null then null
        when caps.touchpoints_cap is null then closed_measures.touchpoints
        else least(closed_measures.touchpoints, caps.touchpoints_cap)
    end as touchpoints_capped,
    closed_measures.touchpoints,
    case
        when closed_measures.external_spend is null then null
        when caps.external_spend_cap is null then closed_measures.external_spend
        else least(closed_measures.external_spend, caps.external_spend_cap)
    end as external_spend_capped,
    closed_measures.external_spend,
    closed_measures.ai_assisted,
    -- For marts.weekly_metrics, the week-robust intervals and the method checks: when the item
    -- was opened, the Monday of its ISO week, and its team (null when the input has none).
    closed_measures.opened_at,
    closed_measures.week_start_on,
    closed_measures.team
from closed_measures
inner join caps using (workflow_id)
-- Stored workflow by workflow: an incremental run deletes and writes again one workflow's rows,
-- which then sit in a few row groups of their own instead of a few rows in every one, and a scan
-- for one workflow skips the others' row groups (1.7 against 27 ms at 10M items).
order by closed_measures.workflow_id;
