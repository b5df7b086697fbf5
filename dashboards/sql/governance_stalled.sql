-- Stalled pilots in the selected teams (marts.stalled_workflows), longest first.
select *
from marts.stalled_workflows
where len($teams::varchar[]) = 0 or list_contains($teams::varchar[], team)
order by days_in_pilot desc, workflow_id
