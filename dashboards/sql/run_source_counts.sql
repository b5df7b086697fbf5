-- Rows staged and quarantined per source and run, oldest run first (ops.run_source_counts).
select
    runs.run_id,
    runs.started_at,
    counts.source,
    counts.files,
    counts.rows_read,
    counts.rows_staged,
    counts.rows_quarantined,
    counts.rows_deduplicated,
    counts.rows_superseded
from ops.run_source_counts as counts
inner join ops.pipeline_runs as runs using (run_id)
order by runs.started_at, counts.source
