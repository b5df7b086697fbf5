-- This run's per-source counts, from the manifest of the files it read (replacing any earlier
-- row of the same run).
delete from ops.run_source_counts where run_id = $run_id;

insert into ops.run_source_counts
select
    $run_id,
    source,
    count(*),
    sum(rows_read),
    sum(rows_staged),
    sum(rows_quarantined),
    sum(rows_deduplicated),
    sum(rows_superseded)
from ops.ingested_files
group by source;
