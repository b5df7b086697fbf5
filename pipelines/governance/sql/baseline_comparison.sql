-- marts.baseline_comparison: one row per workflow and metric with a frozen baseline in
-- force (the registry's current baseline_frozen_on, recorded). The post value against the
-- frozen baseline beside the live one, and whether the live baseline has moved since.
create schema if not exists marts;

create or replace table marts.baseline_comparison as
with

-- Both CTEs are used below; sqlfluff cannot parse `is distinct from`, so it thinks not.
in_force as (  -- noqa: ST03
    select frozen.*
    from marts.frozen_baselines as frozen
    inner join staging.workflows as workflows
        on frozen.workflow_id = workflows.workflow_id
        and frozen.baseline_frozen_on = workflows.baseline_frozen_on
),

live as (  -- noqa: ST03
    select * from marts.value_metrics
)

select
    in_force.workflow_id,
    in_force.metric,
    in_force.baseline_frozen_on,
    in_force.recorded_on,
    in_force.baseline_value as frozen_baseline_value,
    in_force.n_baseline as frozen_n_baseline,
    live.baseline_value as live_baseline_value,
    live.n_baseline as live_n_baseline,
    live.post_value,
    100 * (live.post_value / nullif(in_force.baseline_value, 0) - 1) as change_vs_frozen_pct,
    live.change_pct as change_vs_live_pct,
    -- Moved: a different item count, or a value that differs beyond rounding.
    coalesce(
        live.n_baseline is distinct from in_force.n_baseline
        or abs(live.baseline_value - in_force.baseline_value) > 1e-9 * greatest(abs(in_force.baseline_value), 1),
        true
    ) as has_baseline_moved,
    live.definition_hash is distinct from in_force.definition_hash as has_definition_changed
from in_force
left join live using (workflow_id, metric)
order by in_force.workflow_id, in_force.metric;
