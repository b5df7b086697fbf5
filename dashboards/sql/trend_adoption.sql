-- Portfolio adoption month by month (marts.monthly_adoption) for the workflows in the selected
-- teams and stages: users active that month over eligible users, summed over the deployed
-- workflows with known adoption that were live that month. A month cut short by a workflow's
-- cutoff is left out for that workflow (fewer days, fewer users for that reason alone).
with

scorecard as (
    select workflow_id, team, stage from marts.workflow_scorecard
),

months as (
    select monthly.*
    from marts.monthly_adoption as monthly
    inner join scorecard using (workflow_id)
    where not monthly.is_cut_short
        and (len($teams::varchar[]) = 0 or list_contains($teams::varchar[], scorecard.team))
        and (len($stages::varchar[]) = 0 or list_contains($stages::varchar[], scorecard.stage))
)

select
    month_on,
    count(*) as workflows_live,
    count(*) filter (where not is_adoption_unknown) as workflows_with_adoption,
    count(*) filter (where adoption_rate >= $threshold) as workflows_adopted,
    sum(eligible_users) filter (where not is_adoption_unknown) as eligible_users,
    sum(adoption_rate * eligible_users) filter (where not is_adoption_unknown)
    / nullif(sum(eligible_users) filter (where not is_adoption_unknown), 0) as adoption_rate
from months
group by month_on
order by month_on
