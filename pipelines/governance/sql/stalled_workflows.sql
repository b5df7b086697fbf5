-- marts.stalled_workflows: one row per workflow that has been in pilot longer than
-- `stall_days` at the cutoff with no decision since (no later stage recorded).
create schema if not exists marts;

create or replace table marts.stalled_workflows as
with

current_pilots as (
    select * from intermediate.stage_spells
    where stage = 'pilot' and is_current and basis = 'stage_history'
),

workflows as (
    select workflow_id, name, business_owner, team from staging.workflows
)

select
    current_pilots.workflow_id,
    workflows.name,
    workflows.business_owner,
    workflows.team,
    current_pilots.entered_on as pilot_entered_on,
    current_pilots.days_in_stage as days_in_pilot,
    cast($stall_days as integer) as stall_days,
    current_pilots.decided_by,
    current_pilots.note
from current_pilots
inner join workflows using (workflow_id)
where current_pilots.days_in_stage > cast($stall_days as integer)
order by current_pilots.days_in_stage desc, current_pilots.workflow_id;
