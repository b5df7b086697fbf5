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

-- One pass over the items for every per-workflow fact that needs them all: the governance
-- marts (feedback loops, readiness) read their item counts here instead of scanning
-- staging.work_items again, and an incremental run recomputes only the changed workflows' rows.
item_bounds as (
    select
        work_items.workflow_id,
        min(work_items.opened_at) as first_opened_at,
        max(greatest(work_items.opened_at, coalesce(work_items.closed_at, work_items.opened_at))) as latest_seen_at,
        count(*) filter (
            where registry.deployed_on is null or work_items.opened_at >= cast(registry.deployed_on as timestamp)
        ) as items_since_go_live,
        count(*) filter (
            where work_items.escalated
                and (registry.deployed_on is null or work_items.opened_at >= cast(registry.deployed_on as timestamp))
        ) as escalations_since_go_live
    from staging.work_items as work_items
    inner join registry using (workflow_id)
    group by work_items.workflow_id
)

select
    registry.workflow_id,
    registry.deployed_on,
    cast(registry.data_through as date) as data_through,
    item_bounds.first_opened_at,
    coalesce(
        cast(cast(registry.data_through as date) + 1 as timestamp), item_bounds.latest_seen_at
    ) as cutoff_at,
    item_bounds.latest_seen_at,
    item_bounds.items_since_go_live,
    item_bounds.escalations_since_go_live
from registry
inner join item_bounds using (workflow_id);
