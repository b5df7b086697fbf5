-- marts.workflow_scorecard: one row per registry workflow, value and adoption side by side.
create or replace table marts.workflow_scorecard as
with

workflows as (
    select * from staging.workflows
),

primary_results as (
    select value_metrics.*
    from marts.value_metrics as value_metrics
    inner join workflows
        on value_metrics.workflow_id = workflows.workflow_id
        and value_metrics.metric = workflows.primary_metric
),

adoption as (
    select workflow_id, adoption_rate from marts.adoption
),

joined as (
    select
        workflows.workflow_id,
        workflows.name,
        workflows.team,
        workflows.stage,
        workflows.business_owner,
        workflows.deployed_on,
        workflows.primary_metric,
        primary_results.change_pct as primary_change_pct,
        primary_results.ci_low_pct as primary_ci_low_pct,
        primary_results.ci_high_pct as primary_ci_high_pct,
        primary_results.verdict as primary_verdict,
        workflows.target_change_pct,
        adoption.adoption_rate,
        coalesce(primary_results.n_baseline, 0) + coalesce(primary_results.n_post, 0) as items_measured
    from workflows
    left join primary_results using (workflow_id)
    left join adoption using (workflow_id)
)

select
    workflow_id,
    name,
    team,
    stage,
    business_owner,
    deployed_on,
    primary_metric,
    primary_change_pct,
    primary_ci_low_pct,
    primary_ci_high_pct,
    primary_verdict,
    target_change_pct,
    case
        when target_change_pct is null or primary_verdict is null then null
        else primary_verdict = 'improved' and primary_change_pct <= target_change_pct
    end as target_met,
    adoption_rate,
    adoption_rate >= $adoption_threshold as is_adopted,
    case
        when deployed_on is null then 'not_deployed'
        when primary_verdict is null or primary_verdict = 'insufficient_data' then 'insufficient_data'
        when primary_verdict = 'improved' and adoption_rate >= $adoption_threshold then 'value_with_adoption'
        when primary_verdict = 'improved' then 'value_without_adoption'
        when adoption_rate >= $adoption_threshold then 'adoption_without_value'
        else 'no_value_no_adoption'
    end as quadrant,
    items_measured
from joined
order by workflow_id;
