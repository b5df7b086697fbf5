-- marts.frozen_baselines: one row per workflow, metric and freeze date. Kept from build to
-- build (never re-created): the first build whose cutoff is on or after a registry
-- `baseline_frozen_on` records that workflow's baseline from marts.value_metrics as it is
-- then, and no later build changes the record, so new or corrected old items cannot move
-- the yardstick. A new freeze date gives a new record; the latest one is the one in force.
create schema if not exists marts;

create table if not exists marts.frozen_baselines (
    workflow_id          varchar not null,
    metric               varchar not null,
    baseline_frozen_on   date    not null,
    recorded_on          date    not null,
    deployed_on          date,
    baseline_start_on    date,
    n_baseline           bigint,
    n_baseline_closed    bigint,
    baseline_value       double,
    baseline_ci_low      double,
    baseline_ci_high     double,
    definition_hash      varchar,
    primary key (workflow_id, metric, baseline_frozen_on)
);

insert into marts.frozen_baselines
select
    value_metrics.workflow_id,
    value_metrics.metric,
    workflows.baseline_frozen_on,
    as_of.as_of_on as recorded_on,
    value_metrics.deployed_on,
    value_metrics.baseline_start_on,
    value_metrics.n_baseline,
    value_metrics.n_baseline_closed,
    value_metrics.baseline_value,
    value_metrics.baseline_ci_low,
    value_metrics.baseline_ci_high,
    value_metrics.definition_hash
from marts.value_metrics as value_metrics
inner join staging.workflows as workflows using (workflow_id)
cross join intermediate.governance_as_of as as_of
where workflows.baseline_frozen_on is not null
    and workflows.baseline_frozen_on <= as_of.as_of_on
    and not exists (
        select 1 from marts.frozen_baselines as frozen
        where frozen.workflow_id = value_metrics.workflow_id
            and frozen.metric = value_metrics.metric
            and frozen.baseline_frozen_on = workflows.baseline_frozen_on
    );
