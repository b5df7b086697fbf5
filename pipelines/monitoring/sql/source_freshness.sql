-- ops.source_freshness: one row per source, how old its newest record is at this run.
create or replace table ops.source_freshness as
with

newest as (
    -- The newest of either time: the same value as the newest row's greatest(opened_at,
    -- closed_at), but two plain maxima, which DuckDB answers from each row group's statistics
    -- instead of scanning every item (0.13 s at 10M items, 1 ms this way).
    select 'work_items' as source, greatest(max(opened_at), max(closed_at)) as newest_record_at
    from staging.work_items
    union all
    select 'usage', cast(max(usage_date) as timestamp) from staging.usage
    union all
    -- The registry has no record time: its age is the time since its file last changed.
    select 'workflows', max(ingested_at) from ops.ingested_files where source = 'workflows' and status = 'loaded'
),

limits as (
    select * from (values
        ('work_items', cast($work_items_limit_hours as double)),
        ('usage', cast($usage_limit_hours as double)),
        ('workflows', cast($workflows_limit_hours as double))
    ) as limits (source, limit_hours)
)

select
    limits.source,
    newest.newest_record_at,
    cast($checked_at as timestamp) as checked_at,
    round(epoch(cast($checked_at as timestamp) - newest.newest_record_at) / 3600.0, 1) as age_hours,
    limits.limit_hours,
    coalesce(epoch(cast($checked_at as timestamp) - newest.newest_record_at) / 3600.0 > limits.limit_hours, true) as is_stale
from limits
left join newest using (source)
order by limits.source;
