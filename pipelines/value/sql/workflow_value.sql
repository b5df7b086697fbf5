-- marts.workflow_value: one row per registry workflow: its decision, money saved and tool
-- cost per month, net value with its interval, and the value at stake.
create or replace table marts.workflow_value as
with

workflows as (
    select * from intermediate.value_workflows
),

money as (
    select
        workflow_id,
        count(*) filter (where counts_in_money_total) as metrics_in_money,
        string_agg(metric, ', ' order by metric) filter (where not counts_in_money_total) as metrics_not_in_money,
        sum(money_saved_per_month) filter (where counts_in_money_total) as money_saved_per_month,
        -- The sum of the ends bounds the sum's interval whatever the metrics' correlation,
        -- one metric without an interval leaves the total without one.
        case
            when count(money_saved_low) filter (where counts_in_money_total)
                = count(*) filter (where counts_in_money_total)
                then sum(money_saved_low) filter (where counts_in_money_total)
        end as money_saved_low,
        case
            when count(money_saved_high) filter (where counts_in_money_total)
                = count(*) filter (where counts_in_money_total)
                then sum(money_saved_high) filter (where counts_in_money_total)
        end as money_saved_high
    from marts.monthly_savings
    group by workflow_id
),

netted as (
    select
        workflows.*,
        money.metrics_in_money,
        money.metrics_not_in_money,
        money.money_saved_per_month,
        money.money_saved_low,
        money.money_saved_high,
        cast(round(workflows.tool_cost_per_month, 2) as decimal(38, 2)) as tool_cost_month,
        list_contains($value_decisions, workflows.decision) as is_value_decision
    from workflows
    left join money using (workflow_id)
)

select
    workflow_id,
    name,
    deployed_on,
    decision,
    is_value_decision,
    primary_metric,
    primary_verdict,
    adoption_rate,
    eligible_users,
    data_cutoff_at,
    items_per_month,
    currency,
    coalesce(metrics_in_money, 0) as metrics_in_money,
    metrics_not_in_money,
    money_saved_per_month,
    money_saved_low,
    money_saved_high,
    tool_cost_month as tool_cost_per_month,
    money_saved_per_month - tool_cost_month as net_value_per_month,
    money_saved_low - tool_cost_month as net_value_low,
    money_saved_high - tool_cost_month as net_value_high,
    case
        when decision = 'redesign' then tool_cost_month
        when decision = 'drive_adoption' and adoption_rate > 0
            then cast(round(money_saved_per_month * ($adoption_threshold / adoption_rate - 1), 2) as decimal(38, 2))
    end as value_at_stake_per_month,
    case
        when decision = 'drive_adoption' and adoption_rate > 0
            then cast(round(money_saved_low * ($adoption_threshold / adoption_rate - 1), 2) as decimal(38, 2))
    end as value_at_stake_low,
    case
        when decision = 'drive_adoption' and adoption_rate > 0
            then cast(round(money_saved_high * ($adoption_threshold / adoption_rate - 1), 2) as decimal(38, 2))
    end as value_at_stake_high,
    case
        when decision = 'redesign' and tool_cost_month is not null
            then 'the tool''s monthly cost, spent on a workflow that is used but shows no measured improvement'
        when decision = 'redesign'
            then 'used without a measured improvement; no tool cost in the registry, so the amount is unknown'
        when decision = 'drive_adoption' and adoption_rate > 0 and money_saved_per_month is not null
            then printf(
                'estimate: the further saving per month if adoption rose from %.0f%% to the %.0f%% target, assuming savings grow in proportion to the share of eligible users who use the tool',
                adoption_rate * 100, $adoption_threshold * 100
            )
        when decision = 'drive_adoption'
            then 'improved but not adopted; no money estimate (no priced saving, or no adoption to scale from)'
    end as value_at_stake_basis
from netted
order by workflow_id;
