-- Every registry workflow for the picker, by name.
select workflow_id, name, team, stage, deployed_on
from staging.workflows
order by name, workflow_id
