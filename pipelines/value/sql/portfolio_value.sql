-- marts.portfolio_value: one row per currency of the deployed workflows: the net monthly
-- value of the workflows whose decision is a value decision, with an interval, and beside
-- it what the others cost. Amounts in different currencies are never added together.
create or replace table marts.portfolio_value as
with

workflows as (
    select * from marts.workflow_value where deployed_on is not null
),

counted as (
    select *,
        is_value_decision and net_value_per_month is not null as is_counted
    from workflows
)

select
    currency,
    count(*) filter (where is_counted) as value_workflows,
    count(*) filter (where is_value_decision and not is_counted) as value_workflows_unpriced,
    coalesce(sum(money_saved_per_month) filter (where is_counted), 0) as money_saved_per_month,
    coalesce(sum(tool_cost_per_month) filter (where is_counted), 0) as tool_cost_per_month,
    coalesce(sum(net_value_per_month) filter (where is_counted), 0) as net_value_per_month,
    -- Sum of the ends: a bound that holds whatever the workflows' correlation (a shock
    -- common to every workflow makes them move together).
    case
        when count(net_value_low) filter (where is_counted) = count(*) filter (where is_counted)
            then coalesce(sum(net_value_low) filter (where is_counted), 0)
    end as net_value_low,
    case
        when count(net_value_high) filter (where is_counted) = count(*) filter (where is_counted)
            then coalesce(sum(net_value_high) filter (where is_counted), 0)
    end as net_value_high,
    count(*) filter (where decision in ('redesign', 'reconsider')) as workflows_without_value,
    coalesce(sum(tool_cost_per_month) filter (where decision in ('redesign', 'reconsider')), 0)
        as cost_without_value_per_month,
    count(*) filter (where not is_value_decision and decision not in ('redesign', 'reconsider'))
        as workflows_not_judged,
    coalesce(
        sum(tool_cost_per_month) filter (where not is_value_decision and decision not in ('redesign', 'reconsider')), 0
    ) as cost_not_judged_per_month,
    coalesce(sum(value_at_stake_per_month) filter (where decision = 'redesign'), 0) as at_stake_redesign_per_month,
    coalesce(sum(value_at_stake_per_month) filter (where decision = 'drive_adoption'), 0) as at_stake_adoption_per_month,
    -- Counts of the workflows with an amount: a blank cost stays out of the sums above.
    count(tool_cost_per_month) filter (where decision in ('redesign', 'reconsider')) as workflows_without_value_priced
from counted
group by currency
order by currency;
