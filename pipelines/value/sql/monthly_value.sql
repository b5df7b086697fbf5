-- marts.monthly_value: one row per deployed workflow, metric and calendar month of the post
-- period: that month's estimate against the baseline, its interval, the month's items, and
-- what the month saved (units, and money where a rate prices it).
create or replace table marts.monthly_value as
with

workflows as (
    select * from intermediate.value_workflows
    where deployed_on is not null and post_end_on >= post_start_on
),

savings as (
    select workflow_id, metric, unit_saved, rate, currency, counts_in_money_total,
        metric = 'external_spend_per_item' as is_money_already
    from marts.monthly_savings
),

months as (
    select
        workflows.workflow_id,
        cast(month_start as date) as month_on,
        -- Days of the month inside the post window: the first and last months are partial.
        least(workflows.post_end_on, cast(month_start + interval 1 month as date) - 1)
            - greatest(workflows.post_start_on, cast(month_start as date)) + 1 as days_in_window,
        cast(month_start + interval 1 month as date) - cast(month_start as date) as days_in_month
    from workflows,
        unnest(generate_series(
            cast(date_trunc('month', workflows.post_start_on) as timestamp),
            cast(date_trunc('month', workflows.post_end_on) as timestamp),
            interval 1 month
        )) as series (month_start)
),

-- Counted from intermediate.item_periods by pipelines/value/sql/post_items.sql just before.
month_items as (
    select workflow_id, month_on, items, items_open from temp.main.post_item_months
),

changes as (
    select * from intermediate.value_changes where month_on is not null
),

estimated as (
    select
        months.workflow_id,
        savings.metric,
        months.month_on,
        months.days_in_window,
        months.days_in_month,
        coalesce(month_items.items, 0) as items,
        coalesce(month_items.items_open, 0) as items_open,
        changes.n_post as items_measured,
        changes.weeks_post as weeks_measured,
        changes.baseline_per_item,
        changes.post_per_item as month_per_item,
        changes.change_pct,
        changes.ci_low_pct,
        changes.ci_high_pct,
        savings.unit_saved,
        savings.currency,
        savings.rate,
        savings.is_money_already,
        savings.counts_in_money_total,
        changes.note
    from months
    inner join savings using (workflow_id)
    left join month_items using (workflow_id, month_on)
    left join changes
        on changes.workflow_id = months.workflow_id
        and changes.metric = savings.metric
        and changes.month_on = months.month_on
),

units as (
    select
        *,
        -change_pct / 100.0 * baseline_per_item * items as units_saved,
        -ci_high_pct / 100.0 * baseline_per_item * items as units_saved_low,
        -ci_low_pct / 100.0 * baseline_per_item * items as units_saved_high
    from estimated
)

select
    workflow_id,
    metric,
    month_on,
    days_in_window,
    days_in_month,
    items,
    items_open,
    items_measured,
    weeks_measured,
    baseline_per_item,
    month_per_item,
    change_pct,
    ci_low_pct,
    ci_high_pct,
    unit_saved,
    units_saved,
    units_saved_low,
    units_saved_high,
    currency,
    rate,
    case
        when is_money_already then cast(round(units_saved, 2) as decimal(38, 2))
        when rate is not null then cast(round(units_saved * rate, 2) as decimal(38, 2))
    end as money_saved,
    case
        when is_money_already then cast(round(units_saved_low, 2) as decimal(38, 2))
        when rate is not null then cast(round(units_saved_low * rate, 2) as decimal(38, 2))
    end as money_saved_low,
    case
        when is_money_already then cast(round(units_saved_high, 2) as decimal(38, 2))
        when rate is not null then cast(round(units_saved_high * rate, 2) as decimal(38, 2))
    end as money_saved_high,
    counts_in_money_total,
    case
        when items_measured is null then 'no closed items measured this month'
        -- Closed items of a recent month are the quick ones: its saving is overstated.
        when items_open > 0.05 * items
            then printf('%d of %d items still open: the closed ones are the quicker ones, so this month is flattered', items_open, items)
        else note
    end as note
from units
order by workflow_id, metric, month_on;
