-- A re-stage by key: only the rows whose key is in the temp table `scope_keys` (the keys
-- found in added, changed or removed files) are decided again. Each section below fills the
-- placeholder of sql/stage_source.sql named on its first line; sql/restage_full.sql has the
-- same sections for a full re-stage. Identifiers in braces come from the source's contract.

-- {scope_rows}
select * from ingest.{source}_rows semi join scope_keys using ({key_columns});

-- {replace_staged}
delete from staging.{source} using scope_keys where {staged_key_match};
insert into staging.{source}
select {business_columns}, source_file from row_outcomes where outcome = 'staged';

-- {replace_outcomes}
delete from ingest.{source}_outcomes using row_outcomes
where {source}_outcomes.source_file = row_outcomes.source_file
    and {source}_outcomes.row_number = row_outcomes.row_number;
insert into ingest.{source}_outcomes
select source_file, row_number, outcome from row_outcomes;

-- {clear_quarantine}
delete from quarantine.rejected_rows using row_outcomes
where rejected_rows.source = '{source}' and rejected_rows.rule in ('unknown_workflow', 'conflicting_duplicate')
    and rejected_rows.source_file = row_outcomes.source_file
    and rejected_rows.row_number = row_outcomes.row_number;
