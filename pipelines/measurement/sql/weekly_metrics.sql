-- marts.weekly_metrics: one row per workflow, ISO week and metric.
-- Deployed workflows: the weeks of their baseline and post windows (intermediate.item_periods,
-- with the same p99 caps as the before/after). Comparison workflows (no deployed_on): every
-- week with items, capped at their own 99th percentile over all their items.
create or replace table marts.weekly_metrics as
with

windows as (
    select workflow_id, deployed_on from intermediate.workflow_windows
),

item_periods as (
    select
        workflow_id,
        week_start_on,
        period,
        is_closed,
        cycle_time_hours,
        has_rework,
        had_error,
        touchpoints_capped,
        external_spend_capped
    from intermediate.item_periods
),

comparison_workflows as (
    select workflow_id from staging.workflows where deployed_on is null
),

-- Each workflow's own cutoff (intermediate.workflow_cutoffs): another workflow's late data
-- never moves it.
cutoffs as (
    select workflow_id, cutoff_at from intermediate.workflow_cutoffs
),

comparison_opened as (
    select
        work_items.workflow_id,
        cast(date_trunc('week', work_items.opened_at) as date) as week_start_on,
        work_items.closed_at is not null and work_items.closed_at <= cutoffs.cutoff_at as is_closed,
        epoch(least(coalesce(work_items.closed_at, cutoffs.cutoff_at), cutoffs.cutoff_at) - work_items.opened_at)
            / 3600.0 as cycle_time_hours,
        work_items.rework_count,
        work_items.had_error,
        work_items.touchpoints,
        work_items.external_spend
    from staging.work_items as work_items
    inner join comparison_workflows using (workflow_id)
    inner join cutoffs using (workflow_id)
    where work_items.opened_at <= cutoffs.cutoff_at
),

-- As in the before/after: the four non-time metrics read closed items only.
comparison_raw as (
    select
        workflow_id,
        week_start_on,
        is_closed,
        cycle_time_hours,
        case when is_closed then rework_count > 0 end as has_rework,
        case when is_closed then had_error end as had_error,
        case when is_closed then touchpoints end as touchpoints,
        case when is_closed then external_spend end as external_spend
    from comparison_opened
),

comparison_caps as (
    select
        workflow_id,
        quantile_cont(touchpoints, $cap_quantile) as touchpoints_cap,
        quantile_cont(external_spend, $cap_quantile) filter (where external_spend > 0) as external_spend_cap
    from comparison_raw
    group by workflow_id
),

comparison_items as (
    select
        comparison_raw.workflow_id,
        comparison_raw.week_start_on,
        'comparison' as period,
        comparison_raw.is_closed,
        comparison_raw.cycle_time_hours,
        comparison_raw.has_rework,
        comparison_raw.had_error,
        -- least(NULL, cap) is cap in DuckDB: a blank stays blank.
        case
            when comparison_raw.touchpoints is null then null
            when comparison_caps.touchpoints_cap is null then comparison_raw.touchpoints
            else least(comparison_raw.touchpoints, comparison_caps.touchpoints_cap)
        end as touchpoints_capped,
        case
            when comparison_raw.external_spend is null then null
            when comparison_caps.external_spend_cap is null then comparison_raw.external_spend
            else least(comparison_raw.external_spend, comparison_caps.external_spend_cap)
        end as external_spend_capped
    from comparison_raw
    inner join comparison_caps using (workflow_id)
),

all_items as (
    select * from item_periods
    union all
    select * from comparison_items
),

-- How long it takes most items to close: the 90th percentile of closed cycle times (deployed
-- workflows: in the baseline, so the post period cannot move it). A week that ended less than
-- this before the cutoff has no cycle-time value whatever its items did, so which weeks are
-- left out does not depend on their outcome.
settle as (
    select workflow_id, quantile_cont(cycle_time_hours, 0.9) filter (where is_closed and period = 'baseline') as settle_hours
    from intermediate.item_periods
    group by workflow_id
    union all
    select workflow_id, quantile_cont(cycle_time_hours, 0.9) filter (where is_closed) as settle_hours
    from comparison_raw
    group by workflow_id
),

-- The youngest open item of the week: the week's median counts open items at their age at
-- the cutoff, which is the true median only while every open item is older than it. One row
-- per week joined back to its items (a window over every item sorted them all by week).
youngest_open as (
    select
        workflow_id,
        week_start_on,
        min(case when not is_closed then cycle_time_hours end) as youngest_open_hours
    from all_items
    group by workflow_id, week_start_on
),

with_youngest_open as (
    select
        all_items.*,
        youngest_open.youngest_open_hours
    from all_items
    inner join youngest_open
        on
            all_items.workflow_id = youngest_open.workflow_id
            and all_items.week_start_on is not distinct from youngest_open.week_start_on
),

weekly as (
    select
        workflow_id,
        week_start_on,
        count(distinct period) as n_periods,
        bool_or(period = 'post') as is_post,
        count(*) as n_items,
        median(cycle_time_hours) as cycle_time_median,
        count(*) filter (
            where youngest_open_hours is null or cycle_time_hours < youngest_open_hours
        ) as items_below_youngest_open,
        epoch(any_value(cutoffs.cutoff_at) - cast(week_start_on + 7 as timestamp)) / 3600.0 as hours_after_week,
        -- Shares as whole counts, means as exact sums (values below 1e9 as DECIMAL(38, 10)), so
        -- two builds agree to the last bit whatever order parallel threads add in.
        count(*) filter (where has_rework) / nullif(count(has_rework), 0) as rework_rate,
        count(has_rework) as n_rework,
        count(*) filter (where had_error) / nullif(count(had_error), 0) as error_rate,
        count(had_error) as n_error,
        (
            coalesce(cast(sum(cast(case when touchpoints_capped < 1e9 then touchpoints_capped end as decimal(38, 10))) as double), 0)
            + coalesce(sum(cast(touchpoints_capped as double)) filter (where touchpoints_capped >= 1e9), 0)
        ) / nullif(count(touchpoints_capped), 0) as touchpoints_per_item,
        count(touchpoints_capped) as n_touchpoints,
        (
            coalesce(cast(sum(cast(case when external_spend_capped < 1e9 then external_spend_capped end as decimal(38, 10))) as double), 0)
            + coalesce(sum(external_spend_capped) filter (where external_spend_capped >= 1e9), 0)
        ) / nullif(count(external_spend_capped), 0) as external_spend_per_item,
        count(external_spend_capped) as n_spend
    from with_youngest_open
    inner join cutoffs using (workflow_id)
    group by workflow_id, week_start_on
),

-- A week holding both baseline and post items (go-live not on a Monday) belongs to neither.
single_period_weeks as (
    select weekly.*, settle.settle_hours
    from weekly
    left join settle using (workflow_id)
    where weekly.n_periods = 1
),

long_form as (
    select
        workflow_id, week_start_on, is_post, 'cycle_time_hours' as metric,
        case
            when items_below_youngest_open >= n_items // 2 + 1
                and (settle_hours is null or hours_after_week >= settle_hours)
                then cycle_time_median
        end as value,
        n_items as n
    from single_period_weeks
    union all
    select workflow_id, week_start_on, is_post, 'rework_rate', rework_rate, n_rework
    from single_period_weeks
    union all
    select workflow_id, week_start_on, is_post, 'error_rate', error_rate, n_error
    from single_period_weeks
    union all
    select workflow_id, week_start_on, is_post, 'touchpoints_per_item', touchpoints_per_item, n_touchpoints
    from single_period_weeks
    union all
    select workflow_id, week_start_on, is_post, 'external_spend_per_item', external_spend_per_item, n_spend
    from single_period_weeks
)

select
    long_form.workflow_id,
    long_form.metric,
    long_form.week_start_on,
    cast(long_form.value as double) as value,
    cast(long_form.n as bigint) as n,
    long_form.is_post,
    cast(
        (long_form.week_start_on - cast(date_trunc('week', windows.deployed_on) as date)) // 7 as integer
    ) as weeks_since_deployment
from long_form
left join windows using (workflow_id)
order by long_form.workflow_id, long_form.metric, long_form.week_start_on;
