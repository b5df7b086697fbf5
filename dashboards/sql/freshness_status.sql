-- Freshness per source for the "Data as of" line and the stale banner on every page, with the
-- newest successful run. Reads ops.source_freshness (the pipeline's limits) and ops.pipeline_runs.
with

last_success as (
    select max(ended_at) as built_at
    from ops.pipeline_runs
    where status = 'success'
)

select
    freshness.source,
    freshness.newest_record_at,
    freshness.limit_hours,
    freshness.is_stale,
    last_success.built_at
from ops.source_freshness as freshness
cross join last_success
order by freshness.source
