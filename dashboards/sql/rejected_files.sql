-- Input files that could not be read as their source's table.
select source, source_file, reason, ingested_at
from quarantine.rejected_files
order by source, source_file
