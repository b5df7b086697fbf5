-- A re-stage by key: only the rows whose key is in the temp table `scope_keys` (the keys
-- found in added, changed or removed files) are decided again. Each section below fills the
-- placeholder of sql/stage_source.sql named on its first line; sql/restage_full.sql has the
-- same sections for a full re-stage. Identifiers in braces come from the source's contract.
--
-- `row_outcomes` is a table here: the rows of the keys in scope are few (a day's file:
-- 10,000 of 10M items), and each of a view's five reads joined the whole rows table to the
-- keys again. The files counted again (`recount_files`) are those some of whose rows were
-- decided again, and those read in this load (their counts are not set yet, and a file
-- without a valid row is in no row's outcome): no other file's outcomes changed. Counting
-- every file grouped the 10M outcomes to recount one file (0.33 s).

-- {outcomes_relation}
table

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

-- {recount_files}
select source_file from ops.ingested_files
where source = '{source}'
    and (rows_staged is null or source_file in (select row_outcomes.source_file from row_outcomes));
