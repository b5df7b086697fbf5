-- The latest pipeline runs, newest first (ops.pipeline_runs).
select run_id, started_at, ended_at, status, message
from ops.pipeline_runs
order by started_at desc
limit $limit
