-- intermediate.stage_spells: one row per workflow and stage spell (a stay in one stage).
-- From staging.workflow_stages when the workflow has a history there; otherwise one spell
-- from the registry's current stage, whose entry date (and so its time in stage) is unknown.
create or replace table intermediate.stage_spells as
with

registry as (
    select workflow_id, stage as registry_stage from staging.workflows
),

as_of as (
    select as_of_on from intermediate.governance_as_of
),

stage_order as (
    select stage, stage_rank from intermediate.stage_order
),

history as (
    select
        workflow_stages.workflow_id,
        workflow_stages.stage,
        workflow_stages.entered_on,
        workflow_stages.decided_by,
        workflow_stages.note,
        stage_order.stage_rank
    from staging.workflow_stages as workflow_stages
    inner join registry using (workflow_id)
    inner join stage_order using (stage)
    -- A move dated after the cutoff has not happened yet as far as the data goes.
    where workflow_stages.entered_on <= (select as_of_on from as_of)
),

sequenced as (
    select
        *,
        lead(entered_on) over by_workflow as left_on,
        lead(stage) over by_workflow as next_stage,
        row_number() over by_workflow as spell_number
    from history
    window by_workflow as (partition by workflow_id order by entered_on, stage_rank)
),

from_history as (
    select
        workflow_id,
        spell_number,
        stage,
        stage_rank,
        entered_on,
        left_on,
        next_stage,
        decided_by,
        note,
        'stage_history' as basis
    from sequenced
),

from_registry as (
    select
        registry.workflow_id,
        1 as spell_number,
        registry.registry_stage as stage,
        stage_order.stage_rank,
        cast(null as date) as entered_on,
        cast(null as date) as left_on,
        cast(null as varchar) as next_stage,
        cast(null as varchar) as decided_by,
        cast(null as varchar) as note,
        'registry' as basis
    from registry
    inner join stage_order on registry.registry_stage = stage_order.stage
    where registry.workflow_id not in (select workflow_id from history)
),

spells as (
    select * from from_history
    union all
    select * from from_registry
)

select
    spells.workflow_id,
    spells.spell_number,
    spells.stage,
    spells.stage_rank,
    spells.entered_on,
    spells.left_on,
    spells.next_stage,
    spells.left_on is null as is_current,
    -- Days in the stage, up to the cutoff for a workflow still in it (censored).
    case when spells.entered_on is not null
        then datediff('day', spells.entered_on, coalesce(spells.left_on, as_of.as_of_on))
    end as days_in_stage,
    spells.left_on is null and spells.entered_on is not null as is_censored,
    spells.decided_by,
    spells.note,
    spells.basis
from spells
cross join as_of
order by spells.workflow_id, spells.spell_number;
