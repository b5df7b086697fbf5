-- Decide the outcome of every row of one source that survived reading, then publish the
-- staged ones. Identifiers in braces come from the source's contract, never from input.
-- Every row keeps its columns through `row_outcomes`, so nothing is joined back.
--
-- The rows in scope are every row held (a full re-stage) or only the rows whose key appears
-- in a file that was added, changed or removed (a re-stage by key). Every rule below
-- partitions by the key, or by file and key, so a key's outcomes depend on that key's rows
-- alone and both scopes give the same outcome for every row in them. The scope and the
-- statements that replace staging, kept outcomes and quarantine come from
-- restage_full.sql or restage_by_key.sql (filled in by pipelines/ingest/load.py).

-- Most keys have one row: such a row is staged, or quarantined when its workflow is not in
-- the registry; no other rule can touch it. Only the rows of a key held more than once
-- (copies, conflicts, later versions: a few percent) are ranked below. Finding those keys
-- is one aggregate; ranking every row instead took three sorts of all the rows with all
-- their columns (31 s of 38 s of staging SQL at 10M items).
create or replace temp table shared_keys as
select {key_columns}
from ({scope_rows}) as source_rows
group by all
having count(*) > 1;

create or replace temp table contested_outcomes as
with

contested_rows as (
    select *
    from ({scope_rows}) as source_rows
    semi join shared_keys using ({key_columns})
),

-- The same row twice in one file is kept once (row_hash covers every contract column).
copies as (
    select
        *,
        {known_workflow} as is_known_workflow,
        row_number() over (
            partition by source_file, {key_columns}, row_hash order by row_number
        ) as copy_rank
    from contested_rows
),

-- Two different rows with one key in one file: neither can be trusted.
versions as (
    select
        *,
        count(*) filter (where is_known_workflow and copy_rank = 1) over (
            partition by source_file, {key_columns}
        ) as versions_of_key
    from copies
),

-- Across files, the last file in name order has the latest word on a key. Only rows
-- that survived the rules above compete, hence the flag in the partition.
competing as (
    select
        *,
        is_known_workflow and copy_rank = 1 and versions_of_key = 1 as is_candidate
    from versions
),

ranked as (
    select
        *,
        row_number() over (
            partition by {key_columns}, is_candidate order by source_file desc
        ) as file_rank
    from competing
)

-- One pass decides every contested row's outcome; the CTEs above are each evaluated once.
select
    {row_columns},
    case
        when not is_known_workflow then 'unknown_workflow'
        when copy_rank > 1 then 'deduplicated'
        when versions_of_key > 1 then 'conflicting_duplicate'
        when file_rank = 1 then 'staged'
        else 'superseded'
    end as outcome
from ranked;

-- Every row in scope with its outcome, as a view or a table (the restage file says which
-- and why). The statements below read it five times.
create or replace temp {outcomes_relation} row_outcomes as
select * from contested_outcomes

union all

-- A key's only row: the rules above would give it copy_rank 1, one version and file_rank 1.
select
    {row_columns},
    case when {known_workflow} then 'staged' else 'unknown_workflow' end as outcome
from ({scope_rows}) as source_rows
anti join shared_keys using ({key_columns});

{replace_staged};

{replace_outcomes};

{clear_quarantine};

insert into quarantine.rejected_rows
with

conflicting as (
    select * from row_outcomes where outcome = 'conflicting_duplicate'
),

-- Which columns the conflicting versions of a key disagree on, for the reason.
conflict_columns as (
    select
        source_file,
        {key_columns},
        concat_ws(', ', {differing_columns}) as differing
    from conflicting
    group by source_file, {key_columns}
),

-- A workflow missing from staging because its registry row was quarantined: its rows say
-- so, with the registry's reason, rather than "not in the registry".
quarantined_registry as (
    select
        record ->> 'workflow_id' as workflow_id,
        string_agg(distinct reason, '; ' order by reason) as registry_reason
    from quarantine.rejected_rows
    where source = 'workflows' and record ->> 'workflow_id' is not null
    group by all
)

select
    '{source}' as source,
    source_rows.source_file,
    source_rows.row_number,
    source_rows.outcome as rule,
    case source_rows.outcome
        when 'unknown_workflow'
            then case
                when quarantined_registry.registry_reason is not null
                    then 'workflow_id: workflow ''' || source_rows.workflow_id
                        || '''''s registry row was quarantined: ' || quarantined_registry.registry_reason
                else 'workflow_id: ''' || source_rows.workflow_id || ''' is not in the registry'
            end
        else '{key_label}: another row in the same file has this key with different '
            || coalesce(nullif(conflict_columns.differing, ''), 'values')
    end as reason,
    to_json(struct_pack({record_fields})) as record,
    $ingested_at as ingested_at
from row_outcomes as source_rows
left join conflict_columns using (source_file, {key_columns})
left join quarantined_registry on {registry_match}
where source_rows.outcome in ('unknown_workflow', 'conflicting_duplicate');

-- Per-file reconciliation: read = staged + quarantined + de-duplicated + superseded,
-- counted over every row's kept outcome, so both scopes give the same counts. Only the
-- files whose rows' outcomes may have changed are counted again (the restage file says which).
update ops.ingested_files as manifest
set
    rows_staged = coalesce(per_file.staged, 0),
    rows_quarantined = manifest.rows_invalid + coalesce(per_file.quarantined, 0),
    rows_deduplicated = coalesce(per_file.deduplicated, 0),
    rows_superseded = coalesce(per_file.superseded, 0)
from (
    select
        manifest_files.source_file,
        count(outcome) filter (where outcome = 'staged') as staged,
        count(outcome) filter (where outcome in ('unknown_workflow', 'conflicting_duplicate')) as quarantined,
        count(outcome) filter (where outcome = 'deduplicated') as deduplicated,
        count(outcome) filter (where outcome = 'superseded') as superseded
    from ({recount_files}) as manifest_files
    left join ingest.{source}_outcomes as outcomes using (source_file)
    group by manifest_files.source_file
) as per_file
where manifest.source = '{source}' and manifest.source_file = per_file.source_file;
