-- One workflow's savings per month by metric (marts.monthly_savings).
select *
from marts.monthly_savings
where workflow_id = $workflow_id
order by metric
