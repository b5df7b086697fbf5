-- Freshness per source as the pipeline judged it (ops.source_freshness).
select source, newest_record_at, checked_at, age_hours, limit_hours, is_stale
from ops.source_freshness
order by source
