-- One row per registry workflow in the selected teams and stages: every column of
-- marts.workflow_scorecard (the decision, its reasons, `shows_value`, ...) with the adoption counts.
with

scorecard as (
    select * from marts.workflow_scorecard
),

adoption as (
    select workflow_id, eligible_users, active_users, post_items, assisted_share
    from marts.adoption
),

workflows as (
    select workflow_id, eligible_users as registry_eligible_users from staging.workflows
)

select
    scorecard.*,
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
