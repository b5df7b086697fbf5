-- One row per metric of one workflow: the before/after comparison.
select *
from marts.value_metrics
where workflow_id = $workflow_id
order by metric
