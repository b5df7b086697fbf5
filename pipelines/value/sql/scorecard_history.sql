-- marts.scorecard_history: one row per workflow per build's data cutoff (the workflow's
-- latest item timestamp). Never replaced as a table: this build's rows replace the rows of
-- the same workflow and cutoff when their content differs (a rebuild of the same inputs
-- changes nothing), and a newer cutoff adds a row. Older cutoffs stay: that is the history.
create table if not exists marts.scorecard_history (
    workflow_id                varchar not null,
    data_cutoff_at             timestamp,
    name                       varchar,
    decision                   varchar,
    primary_metric             varchar,
    primary_change_pct         double,
    primary_ci_low_pct         double,
    primary_ci_high_pct        double,
    primary_verdict            varchar,
    adoption_rate              double,
    currency                   varchar,
    net_value_per_month        decimal(38, 2),
    net_value_low              decimal(38, 2),
    net_value_high             decimal(38, 2),
    content_hash               varchar not null,
    recorded_at                timestamp not null
);

create or replace temp table current_history as
with

current_rows as (
    select
        workflow_value.workflow_id,
        workflow_value.data_cutoff_at,
        workflow_value.name,
        workflow_value.decision,
        workflows.primary_metric,
        workflows.primary_change_pct,
        workflows.primary_ci_low_pct,
        workflows.primary_ci_high_pct,
        workflows.primary_verdict,
        workflow_value.adoption_rate,
        workflow_value.currency,
        workflow_value.net_value_per_month,
        workflow_value.net_value_low,
        workflow_value.net_value_high
    from marts.workflow_value as workflow_value
    inner join intermediate.value_workflows as workflows using (workflow_id)
)

select
    *,
    md5(cast(to_json(current_rows) as varchar)) as content_hash,
    cast($recorded_at as timestamp) as recorded_at
from current_rows;

delete from marts.scorecard_history as history
using current_history
where history.workflow_id = current_history.workflow_id
    and history.data_cutoff_at is not distinct from current_history.data_cutoff_at
    and history.content_hash <> current_history.content_hash;

insert into marts.scorecard_history
select current_history.*
from current_history
where not exists (
    select 1
    from marts.scorecard_history as history
    where history.workflow_id = current_history.workflow_id
        and history.data_cutoff_at is not distinct from current_history.data_cutoff_at
);

drop table current_history;
