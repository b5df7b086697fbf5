-- Decide the outcome of every row of one source that survived reading, then publish the
-- staged ones. Identifiers in braces come from the source's contract, never from input.
create or replace temp table row_outcomes as
with

source_rows as (
    select * from ingest.{source}_rows
),

registry_checked as (
    select
        source_rows.*,
        {known_workflow} as is_known_workflow
    from source_rows
),

-- The same row twice in one file is kept once.
within_file as (
    select
        *,
        row_number() over (
            partition by source_file, {business_columns} order by row_number
        ) as copy_rank
    from registry_checked
    where is_known_workflow
),

-- Two different rows with one key in one file: neither can be trusted.
versions_in_file as (
    select
        *,
        count(*) over (partition by source_file, {key_columns}) as versions_of_key
    from within_file
    where copy_rank = 1
),

-- Across files, the last file in name order has the latest word on a key.
latest_file as (
    select
        *,
        row_number() over (
            partition by {key_columns} order by source_file desc
        ) as file_rank
    from versions_in_file
    where versions_of_key = 1
)

select source_file, row_number, 'unknown_workflow' as outcome
from registry_checked where not is_known_workflow
union all
select source_file, row_number, 'deduplicated' from within_file where copy_rank > 1
union all
select source_file, row_number, 'conflicting_duplicate' from versions_in_file where versions_of_key > 1
union all
select source_file, row_number, case when file_rank = 1 then 'staged' else 'superseded' end
from latest_file;

create or replace table staging.{source} as
select {business_columns}, source_rows.source_file
from ingest.{source}_rows as source_rows
inner join row_outcomes using (source_file, row_number)
where row_outcomes.outcome = 'staged'
order by {key_columns};

delete from quarantine.rejected_rows
where source = '{source}' and rule in ('unknown_workflow', 'conflicting_duplicate');

insert into quarantine.rejected_rows
with

conflicting as (
    select source_rows.*
    from ingest.{source}_rows as source_rows
    inner join row_outcomes using (source_file, row_number)
    where row_outcomes.outcome = 'conflicting_duplicate'
),

-- Which columns the conflicting versions of a key disagree on, for the reason.
conflict_columns as (
    select
        source_file,
        {key_columns},
        concat_ws(', ', {differing_columns}) as differing
    from conflicting
    group by source_file, {key_columns}
)

select
    '{source}' as source,
    source_rows.source_file,
    source_rows.row_number,
    row_outcomes.outcome as rule,
    case row_outcomes.outcome
        when 'unknown_workflow'
            then 'workflow_id: ''' || source_rows.workflow_id || ''' is not in the registry'
        else '{key_label}: another row in the same file has this key with different '
            || coalesce(nullif(conflict_columns.differing, ''), 'values')
    end as reason,
    to_json(struct_pack({record_fields})) as record,
    $ingested_at as ingested_at
from ingest.{source}_rows as source_rows
inner join row_outcomes using (source_file, row_number)
left join conflict_columns using (source_file, {key_columns})
where row_outcomes.outcome in ('unknown_workflow', 'conflicting_duplicate');

-- Per-file reconciliation: read = staged + quarantined + de-duplicated + superseded.
update ops.ingested_files as manifest
set
    rows_staged = coalesce(per_file.staged, 0),
    rows_quarantined = manifest.rows_invalid + coalesce(per_file.quarantined, 0),
    rows_deduplicated = coalesce(per_file.deduplicated, 0),
    rows_superseded = coalesce(per_file.superseded, 0)
from (
    select
        manifest_files.source_file,
        count(*) filter (where outcome = 'staged') as staged,
        count(*) filter (where outcome in ('unknown_workflow', 'conflicting_duplicate')) as quarantined,
        count(*) filter (where outcome = 'deduplicated') as deduplicated,
        count(*) filter (where outcome = 'superseded') as superseded
    from (select source_file from ops.ingested_files where source = '{source}') as manifest_files
    left join row_outcomes using (source_file)
    group by manifest_files.source_file
) as per_file
where manifest.source = '{source}' and manifest.source_file = per_file.source_file;
