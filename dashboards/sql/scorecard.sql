-- One row per registry workflow in the selected teams and stages: value and adoption side by side.
with

scorecard as (
    select * from marts.workflow_scorecard
),

adoption as (
    select workflow_id, eligible_users, active_users, post_items, assisted_items, assisted_share
    from marts.adoption
),

workflows as (
    select workflow_id, eligible_users as registry_eligible_users from staging.workflows
)

select
    scorecard.workflow_id,
    scorecard.name,
    scorecard.team,
    scorecard.stage,
    scorecard.business_owner,
    scorecard.deployed_on,
    scorecard.primary_metric,
    scorecard.primary_change_pct,
    scorecard.primary_ci_low_pct,
    scorecard.primary_ci_high_pct,
    scorecard.primary_verdict,
    scorecard.target_change_pct,
    scorecard.target_met,
    scorecard.adoption_rate,
    scorecard.is_adopted,
    scorecard.quadrant,
    scorecard.items_measured,
    coalesce(adoption.eligible_users, workflows.registry_eligible_users) as eligible_users,
    adoption.active_users,
    adoption.post_items,
    adoption.assisted_share
from scorecard
left join adoption using (workflow_id)
left join workflows using (workflow_id)
where (len($teams::varchar[]) = 0 or list_contains($teams::varchar[], scorecard.team))
    and (len($stages::varchar[]) = 0 or list_contains($stages::varchar[], scorecard.stage))
order by scorecard.name, scorecard.workflow_id
