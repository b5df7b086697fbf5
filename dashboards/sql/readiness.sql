-- One row per registry workflow in the selected teams and stages: is it owned and governed
-- enough to scale, and is a value claim defensible (an owner and a baseline to compare with)?
with

workflows as (
    select * from staging.workflows
),

primary_results as (
    select value_metrics.workflow_id, value_metrics.n_baseline_closed, value_metrics.verdict
    from marts.value_metrics as value_metrics
    inner join workflows
        on value_metrics.workflow_id = workflows.workflow_id
        and value_metrics.metric = workflows.primary_metric
),

checked as (
    select
        workflows.workflow_id,
        workflows.name,
        workflows.team,
        workflows.stage,
        workflows.business_owner,
        workflows.eligible_users,
        workflows.review_point,
        workflows.support_path,
        workflows.data_scope,
        workflows.risk_tier,
        workflows.primary_metric,
        workflows.target_change_pct,
        workflows.deployed_on,
        primary_results.n_baseline_closed,
        primary_results.verdict as primary_verdict,
        nullif(trim(workflows.business_owner), '') is not null as has_owner,
        coalesce(workflows.eligible_users, 0) > 0 as has_eligible_users,
        nullif(trim(workflows.review_point), '') is not null as has_review_point,
        nullif(trim(workflows.support_path), '') is not null as has_support_path,
        nullif(trim(workflows.data_scope), '') is not null as has_data_scope,
        workflows.risk_tier is not null as has_risk_tier,
        workflows.target_change_pct is not null as has_target,
        coalesce(primary_results.n_baseline_closed, 0) >= $min_closed_items as has_baseline
    from workflows
    left join primary_results using (workflow_id)
    where (len($teams::varchar[]) = 0 or list_contains($teams::varchar[], workflows.team))
        and (len($stages::varchar[]) = 0 or list_contains($stages::varchar[], workflows.stage))
)

select
    *,
    has_owner::integer + has_eligible_users::integer + has_review_point::integer + has_support_path::integer
        + has_data_scope::integer + has_risk_tier::integer + has_target::integer as items_in_place,
    case
        when not has_owner and not has_baseline then 'not yet defensible: no owner, no baseline'
        when not has_owner then 'not yet defensible: no owner'
        when not has_baseline then 'not yet defensible: no baseline'
        else 'defensible'
    end as value_claim
from checked
order by
    case stage when 'production' then 0 when 'pilot' then 1 when 'investigation' then 2 else 3 end,
    name
