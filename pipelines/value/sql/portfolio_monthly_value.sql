-- marts.portfolio_monthly_value: one row per currency and calendar month: the realised net
-- value of the workflows with a value decision and a net value (money saved that month
-- less that month's tool cost), and what the tool cost across every deployed workflow.
create or replace table marts.portfolio_monthly_value as
with

workflows as (
    select * from marts.workflow_value where deployed_on is not null
),

months as (
    select distinct monthly_value.workflow_id, monthly_value.month_on, monthly_value.days_in_window,
        monthly_value.days_in_month
    from marts.monthly_value as monthly_value
),

-- The tool is paid for the days of the month the workflow was live (post window).
month_cost as (
    select
        months.workflow_id,
        months.month_on,
        workflows.currency,
        workflows.is_value_decision and workflows.net_value_per_month is not null as is_counted,
        cast(round(workflows.tool_cost_per_month * months.days_in_window / months.days_in_month, 2) as decimal(38, 2))
            as tool_cost
    from months
    inner join workflows using (workflow_id)
),

month_money as (
    select
        workflow_id,
        month_on,
        sum(money_saved) filter (where counts_in_money_total) as money_saved,
        case
            when count(money_saved_low) filter (where counts_in_money_total) = count(*) filter (where counts_in_money_total)
                then sum(money_saved_low) filter (where counts_in_money_total)
        end as money_saved_low,
        case
            when count(money_saved_high) filter (where counts_in_money_total) = count(*) filter (where counts_in_money_total)
                then sum(money_saved_high) filter (where counts_in_money_total)
        end as money_saved_high
    from marts.monthly_value
    group by workflow_id, month_on
),

joined as (
    select month_cost.*, month_money.money_saved, month_money.money_saved_low, month_money.money_saved_high
    from month_cost
    left join month_money using (workflow_id, month_on)
)

select
    currency,
    month_on,
    count(*) filter (where is_counted) as value_workflows,
    coalesce(sum(money_saved) filter (where is_counted), 0) as money_saved,
    coalesce(sum(tool_cost) filter (where is_counted), 0) as tool_cost_value_workflows,
    coalesce(sum(money_saved - tool_cost) filter (where is_counted), 0) as net_value,
    case
        when count(money_saved_low) filter (where is_counted) = count(*) filter (where is_counted)
            then coalesce(sum(money_saved_low - tool_cost) filter (where is_counted), 0)
    end as net_value_low,
    case
        when count(money_saved_high) filter (where is_counted) = count(*) filter (where is_counted)
            then coalesce(sum(money_saved_high - tool_cost) filter (where is_counted), 0)
    end as net_value_high,
    coalesce(sum(tool_cost), 0) as tool_cost_all,
    count(tool_cost) as workflows_with_tool_cost
from joined
group by currency, month_on
order by currency, month_on;
