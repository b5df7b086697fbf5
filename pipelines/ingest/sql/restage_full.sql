-- A full re-stage: every row held is decided again (the registry, the staging rules or the
-- reader changed, or there is no earlier staging). Each section below fills the placeholder
-- of sql/stage_source.sql named on its first line; sql/restage_by_key.sql has the same
-- sections for a re-stage by key. Identifiers in braces come from the source's contract.
--
-- `row_outcomes` is a view here: a copy of every row with all its columns held in memory
-- was the peak of a build (3 GiB at 10M items); the rows of a key's only row are read again
-- each time it is used.

-- {outcomes_relation}
view

-- {scope_rows}
select * from ingest.{source}_rows;

-- {replace_staged}
create or replace table staging.{source} as
select {business_columns}, source_file from row_outcomes where outcome = 'staged';

-- {replace_outcomes}
create or replace table ingest.{source}_outcomes as
select source_file, row_number, outcome from row_outcomes;

-- {clear_quarantine}
delete from quarantine.rejected_rows
where source = '{source}' and rule in ('unknown_workflow', 'conflicting_duplicate');

-- {recount_files}
select source_file from ops.ingested_files where source = '{source}';
