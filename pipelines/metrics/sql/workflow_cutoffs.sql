-- intermediate.workflow_cutoffs: one row per registry workflow with items. Each workflow's
-- cutoff is its own latest opened_at or closed_at, unless the registry's optional
-- data_through date says otherwise (then the end of that day): one workflow's late or
-- far-future timestamp never moves another's window.
create schema if not exists intermediate;

create or replace table intermediate.workflow_cutoffs as
with

-- The registry's data_through is optional: `union all by name` adds it as null when the
-- staged registry has no such column.
registry as (
    select * from staging.workflows
    union all by name
    select cast(null as varchar) as workflow_id, cast(null as date) as data_through
    where false
),

item_bounds as (
    select
        workflow_id,
        min(opened_at) as first_opened_at,
        max(greatest(opened_at, coalesce(closed_at, opened_at))) as latest_seen_at
    from staging.work_items
    group by workflow_id
)

select
    registry.workflow_id,
    registry.deployed_on,
    cast(registry.data_through as date) as data_through,
    item_bounds.first_opened_at,
    coalesce(
        cast(cast(registry.data_through as date) + 1 as timestamp), item_bounds.latest_seen_at
    ) as cutoff_at
from registry
inner join item_bounds using (workflow_id);
