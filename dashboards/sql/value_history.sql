-- How one workflow's decision moved across builds (marts.scorecard_history), oldest first.
select *
from marts.scorecard_history
where workflow_id = $workflow_id
order by data_cutoff_at nulls first, recorded_at
