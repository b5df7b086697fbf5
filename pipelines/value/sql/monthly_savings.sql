-- marts.monthly_savings: one row per deployed workflow and metric: what the change since
-- go-live saves in an average month of the post period, in units and, where the registry
-- gives a rate, in money; with the interval carried through from the change.
create schema if not exists marts;

create or replace table marts.monthly_savings as
with

workflows as (
    select * from intermediate.value_workflows where deployed_on is not null
),

-- What one unit of each metric is, and which registry rate prices it. External spend is
-- money already: its unit is the workflow's currency and it needs no rate.
metric_units as (
    select * from (values
        ('cycle_time_hours', 'item-hours of waiting', 'cost_per_hour'),
        ('rework_rate', 'rework cases', 'cost_per_rework'),
        ('error_rate', 'errors', 'cost_per_error'),
        ('touchpoints_per_item', 'touchpoints', 'cost_per_touchpoint'),
        ('external_spend_per_item', 'money', null)
    ) as units (metric, unit_saved, rate_column)
),

-- The metric marts' change for the mean and share metrics; the value estimator's for cycle
-- time, because its verdict is about the median and a median does not add up over items.
metric_results as (
    select workflow_id, metric, baseline_value as baseline_per_item, post_value as post_per_item,
        change_pct, ci_low_pct, ci_high_pct, verdict,
        'the before/after of marts.value_metrics' as change_source
    from marts.value_metrics
    where metric <> 'cycle_time_hours'
    union all
    select changes.workflow_id, changes.metric, changes.baseline_per_item, changes.post_per_item,
        changes.change_pct, changes.ci_low_pct, changes.ci_high_pct, value_metrics.verdict,
        'capped mean of closed items'' hours, week-robust log-ratio interval' as change_source
    from intermediate.value_changes as changes
    inner join marts.value_metrics as value_metrics using (workflow_id, metric)
    where changes.metric = 'cycle_time_hours' and changes.month_on is null
),

priced as (
    select
        workflows.workflow_id,
        metric_units.metric,
        metric_units.unit_saved,
        workflows.post_start_on,
        workflows.post_end_on,
        workflows.post_months,
        workflows.items_per_month,
        metric_results.baseline_per_item,
        metric_results.post_per_item,
        metric_results.change_pct,
        metric_results.ci_low_pct,
        metric_results.ci_high_pct,
        metric_results.verdict,
        metric_results.change_source,
        workflows.currency,
        case metric_units.rate_column
            when 'cost_per_hour' then workflows.cost_per_hour
            when 'cost_per_rework' then workflows.cost_per_rework
            when 'cost_per_error' then workflows.cost_per_error
            when 'cost_per_touchpoint' then workflows.cost_per_touchpoint
        end as rate,
        metric_units.rate_column is null as is_money_already
    from workflows
    cross join metric_units
    left join metric_results
        on metric_results.workflow_id = workflows.workflow_id
        and metric_results.metric = metric_units.metric
),

units as (
    select
        *,
        -change_pct / 100.0 * baseline_per_item * items_per_month as units_saved_per_month,
        -ci_high_pct / 100.0 * baseline_per_item * items_per_month as units_saved_low,
        -ci_low_pct / 100.0 * baseline_per_item * items_per_month as units_saved_high
    from priced
)

select
    workflow_id,
    metric,
    unit_saved,
    post_start_on,
    post_end_on,
    post_months,
    items_per_month,
    baseline_per_item,
    post_per_item,
    change_pct,
    ci_low_pct,
    ci_high_pct,
    verdict,
    change_source,
    units_saved_per_month,
    units_saved_low,
    units_saved_high,
    currency,
    rate,
    case
        when is_money_already then cast(round(units_saved_per_month, 2) as decimal(38, 2))
        when rate is not null then cast(round(units_saved_per_month * rate, 2) as decimal(38, 2))
    end as money_saved_per_month,
    case
        when is_money_already then cast(round(units_saved_low, 2) as decimal(38, 2))
        when rate is not null then cast(round(units_saved_low * rate, 2) as decimal(38, 2))
    end as money_saved_low,
    case
        when is_money_already then cast(round(units_saved_high, 2) as decimal(38, 2))
        when rate is not null then cast(round(units_saved_high * rate, 2) as decimal(38, 2))
    end as money_saved_high,
    -- What a workflow's money total adds up: priced metrics with an estimate, never a metric
    -- with too little data to claim anything.
    coalesce(verdict not in ('insufficient_data', 'insufficient_baseline'), false)
        and units_saved_per_month is not null
        and (is_money_already or rate is not null) as counts_in_money_total,
    case
        when verdict in ('insufficient_data', 'insufficient_baseline') then 'too little data: shown, not added up'
        when change_pct is null then 'no ratio (baseline zero or no items): no saving estimated'
        when ci_low_pct is null then 'no interval for this change'
        when not is_money_already and rate is null then 'no rate in the registry: units only'
    end as note
from units
order by workflow_id, metric;
