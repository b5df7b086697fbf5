-- Workflows in the selected teams and stages whose primary metric improved while a guardrail
-- (error rate or rework rate) worsened: a speed gain to flag, not to celebrate.
with

scorecard as (
    select * from marts.workflow_scorecard
    where (len($teams::varchar[]) = 0 or list_contains($teams::varchar[], team))
        and (len($stages::varchar[]) = 0 or list_contains($stages::varchar[], stage))
),

guardrails as (
    select workflow_id, metric, change_pct, ci_low_pct, ci_high_pct
    from marts.value_metrics
    where metric in ('error_rate', 'rework_rate')
        and verdict = 'worsened'
)

select
    scorecard.workflow_id,
    scorecard.name,
    scorecard.primary_metric,
    scorecard.primary_change_pct,
    guardrails.metric as guardrail_metric,
    guardrails.change_pct as guardrail_change_pct,
    guardrails.ci_low_pct as guardrail_ci_low_pct,
    guardrails.ci_high_pct as guardrail_ci_high_pct
from scorecard
inner join guardrails
    on guardrails.workflow_id = scorecard.workflow_id
    and guardrails.metric <> scorecard.primary_metric
where scorecard.primary_verdict = 'improved'
order by scorecard.name, guardrails.metric
