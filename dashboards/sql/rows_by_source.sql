-- What became of every row read, per source, over the files now in the input folder.
select
    source,
    count(*) as files,
    count(*) filter (where status = 'rejected') as rejected_files,
    coalesce(sum(rows_read), 0)::bigint as rows_read,
    coalesce(sum(rows_staged), 0)::bigint as rows_staged,
    coalesce(sum(rows_quarantined), 0)::bigint as rows_quarantined,
    coalesce(sum(rows_deduplicated), 0)::bigint as rows_deduplicated,
    coalesce(sum(rows_superseded), 0)::bigint as rows_superseded,
    max(ingested_at) as last_ingested_at
from ops.ingested_files
group by source
order by source
