-- comparison_items (a temp view: read three times within one run, never published): one row
-- per item and two-group comparison that uses it, with the item on the 'baseline' or the 'post'
-- side so the before/after estimators apply unchanged.
--   placebo:  baseline items only; a fake go-live in the middle of the baseline splits them.
--   assisted: post items with a known ai_assisted; unassisted = 'baseline', assisted = 'post'.
-- A view, not a table: each of its three readers (per-week sums, cycle times, counts) scans
-- item_periods again for the columns it needs, cheaper than writing every row to a temp table
-- first, and each reads only sums, counts and sets of values, which no row order changes. The
-- placebo go-live per workflow is a small temp table (a view cannot hold a parameter).
-- Warehouses built before it became a temp table still hold a persisted copy.
drop table if exists intermediate.comparison_items;

create or replace temp table comparison_windows as
select
    workflow_id,
    baseline_start_on + cast($placebo_offset_days as integer) as placebo_on
from intermediate.workflow_windows;

create or replace temp view comparison_items as
with

windows as (
    select workflow_id, placebo_on from temp.main.comparison_windows
),

item_periods as (
    select * from intermediate.item_periods
),

placebo as (
    select
        'placebo' as comparison,
        item_periods.workflow_id,
        case
            when item_periods.opened_at < cast(windows.placebo_on as timestamp) then 'baseline'
            else 'post'
        end as side,
        item_periods.is_closed,
        item_periods.cycle_time_hours,
        item_periods.cycle_time_hours_capped,
        item_periods.has_rework,
        item_periods.had_error,
        item_periods.touchpoints_capped,
        item_periods.touchpoints,
        item_periods.external_spend_capped,
        item_periods.external_spend,
        item_periods.week_start_on
    from item_periods
    inner join windows using (workflow_id)
    where item_periods.period = 'baseline'
),

assisted as (
    select
        'assisted' as comparison,
        workflow_id,
        case when ai_assisted then 'post' else 'baseline' end as side,
        is_closed,
        cycle_time_hours,
        cycle_time_hours_capped,
        has_rework,
        had_error,
        touchpoints_capped,
        touchpoints,
        external_spend_capped,
        external_spend,
        week_start_on
    from item_periods
    where period = 'post' and ai_assisted is not null
)

select * from placebo
union all
select * from assisted;
