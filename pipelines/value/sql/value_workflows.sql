-- intermediate.value_workflows: one row per registry workflow, everything the value marts
-- need about it in one place (the adapter between the scorecard and the value marts):
-- its decision (the scorecard's), primary result, adoption, post window and volume, its
-- data cutoff (intermediate.workflow_cutoffs: its own latest timestamp or data_through),
-- currency and rates.
create schema if not exists intermediate;

create or replace table intermediate.value_workflows as
with

workflows as (
    select * from staging.workflows
),

scorecard as (
    select * from marts.workflow_scorecard
),

windows as (
    select * from intermediate.workflow_windows
),

item_cutoffs as (
    select workflow_id, cutoff_at as data_cutoff_at from intermediate.workflow_cutoffs
),

-- A registry workflow without items has no cutoff of its own: it is seen as of the latest one.
global_cutoff as (
    select max(data_cutoff_at) as data_cutoff_at from item_cutoffs
),

-- Counted from intermediate.item_periods by pipelines/value/sql/post_items.sql just before.
post_items as (
    select workflow_id, post_items from temp.main.post_items
),

joined as (
    select
        workflows.workflow_id,
        workflows.name,
        workflows.deployed_on,
        workflows.eligible_users,
        workflows.currency,
        workflows.cost_per_hour,
        workflows.cost_per_rework,
        workflows.cost_per_error,
        workflows.cost_per_touchpoint,
        workflows.tool_cost_per_user_month,
        scorecard.primary_metric,
        scorecard.primary_change_pct,
        scorecard.primary_ci_low_pct,
        scorecard.primary_ci_high_pct,
        scorecard.primary_verdict,
        scorecard.adoption_rate,
        scorecard.decision,
        windows.post_start_on,
        windows.post_end_on,
        coalesce(item_cutoffs.data_cutoff_at, global_cutoff.data_cutoff_at) as data_cutoff_at,
        coalesce(post_items.post_items, 0) as post_items
    from workflows
    inner join scorecard using (workflow_id)
    left join windows using (workflow_id)
    left join item_cutoffs using (workflow_id)
    left join post_items using (workflow_id)
    cross join global_cutoff
)

select
    workflow_id,
    name,
    deployed_on,
    decision,
    primary_metric,
    primary_change_pct,
    primary_ci_low_pct,
    primary_ci_high_pct,
    primary_verdict,
    adoption_rate,
    eligible_users,
    currency,
    cast(round(cost_per_hour, 4) as decimal(18, 4)) as cost_per_hour,
    cast(round(cost_per_rework, 4) as decimal(18, 4)) as cost_per_rework,
    cast(round(cost_per_error, 4) as decimal(18, 4)) as cost_per_error,
    cast(round(cost_per_touchpoint, 4) as decimal(18, 4)) as cost_per_touchpoint,
    cast(round(tool_cost_per_user_month, 4) as decimal(18, 4)) as tool_cost_per_user_month,
    -- The tool's monthly cost: every eligible user holds a licence whether or not they use it.
    case
        when deployed_on is not null and eligible_users is not null
            then cast(round(tool_cost_per_user_month, 4) as decimal(18, 4)) * eligible_users
    end as tool_cost_per_month,
    post_start_on,
    post_end_on,
    data_cutoff_at,
    post_items,
    case
        when post_end_on >= post_start_on then (post_end_on - post_start_on + 1) / (365.25 / 12)
    end as post_months,
    case
        when post_end_on >= post_start_on then post_items / ((post_end_on - post_start_on + 1) / (365.25 / 12))
    end as items_per_month
from joined
order by workflow_id;
