-- Freshness per source while ops.source_freshness is not in the warehouse: when its files were
-- last read (ops.ingested_files) and the newest record staged from it.
with

files as (
    select source, max(ingested_at) as last_ingested_at
    from ops.ingested_files
    group by source
),

newest as (
    select 'work_items' as source, max(greatest(opened_at, coalesce(closed_at, opened_at))) as newest_record_at
    from staging.work_items
    union all
    select 'usage', max(usage_date)::timestamp
    from staging.usage
)

select files.source, newest.newest_record_at, files.last_ingested_at
from files
left join newest using (source)
order by files.source
