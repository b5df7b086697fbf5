-- A few quarantined rows breaking one rule, with the raw values as read.
select source, source_file, row_number, rule, reason, record::varchar as record
from quarantine.rejected_rows
where rule = $rule
order by source, source_file, row_number
limit $limit
