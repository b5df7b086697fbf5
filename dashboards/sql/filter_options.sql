-- The teams and stages a reader can filter on (one row per registry workflow).
select distinct team, stage
from staging.workflows
order by team, stage
