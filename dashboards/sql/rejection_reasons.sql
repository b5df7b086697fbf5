-- Quarantined rows per source and rule, most frequent first.
select
    source,
    rule,
    count(*) as rows,
    count(distinct source_file) as files,
    mode(reason) as typical_reason
from quarantine.rejected_rows
group by source, rule
order by rows desc, source, rule
