-- marts.stage_funnel: one row per lifecycle stage. Workflows that entered it, and what
-- became of each one's latest stay there (moved on, retired, still there: these add up to
-- entered); conversion to the next funnel stage; median days in the stage, censored for
-- workflows still in it (from intermediate.stage_durations).
create schema if not exists marts;

create or replace table marts.stage_funnel as
with

spells as (
    select * from intermediate.stage_spells
),

durations as (
    select * from intermediate.stage_durations
),

stages as (
    select * from intermediate.stage_order
),

latest_stay as (
    select *
    from spells
    qualify row_number() over (partition by workflow_id, stage order by spell_number desc) = 1
),

first_stay as (
    select *
    from spells
    where basis = 'stage_history'
    qualify row_number() over (partition by workflow_id, stage order by spell_number) = 1
),

converted as (
    -- Reached a later funnel stage (not retirement) after first entering this one.
    select distinct first_stay.workflow_id, first_stay.stage
    from first_stay
    inner join spells as later
        on later.workflow_id = first_stay.workflow_id
        and later.spell_number > first_stay.spell_number
        and later.stage_rank > first_stay.stage_rank
        and later.stage <> 'retired'
),

counts as (
    select
        stage,
        count(*) as workflows_entered,
        count(*) filter (where not is_current and next_stage <> 'retired') as workflows_moved_on,
        count(*) filter (where not is_current and next_stage = 'retired') as workflows_retired,
        count(*) filter (where is_current) as workflows_still_there,
        count(*) filter (where basis = 'registry') as workflows_time_unknown
    from latest_stay
    group by stage
),

conversions as (
    select
        first_stay.stage,
        count(*) as workflows_with_history,
        count(converted.workflow_id) as workflows_converted
    from first_stay
    left join converted using (workflow_id, stage)
    group by first_stay.stage
)

select
    stages.stage,
    stages.stage_rank,
    stages.next_funnel_stage,
    coalesce(counts.workflows_entered, 0) as workflows_entered,
    coalesce(counts.workflows_moved_on, 0) as workflows_moved_on,
    coalesce(counts.workflows_retired, 0) as workflows_retired,
    coalesce(counts.workflows_still_there, 0) as workflows_still_there,
    coalesce(counts.workflows_time_unknown, 0) as workflows_time_unknown,
    coalesce(conversions.workflows_with_history, 0) as workflows_with_history,
    case when stages.next_funnel_stage is not null then coalesce(conversions.workflows_converted, 0) end
        as workflows_converted,
    case when stages.next_funnel_stage is not null and conversions.workflows_with_history > 0
        then conversions.workflows_converted / conversions.workflows_with_history
    end as conversion_rate,
    durations.median_days_in_stage,
    durations.median_days_ci_low,
    durations.median_days_ci_high,
    coalesce(durations.stays_timed, 0) as stays_timed,
    coalesce(durations.stays_censored, 0) as stays_censored,
    coalesce(durations.stays_timed, 0) > 0 as is_time_in_stage_known,
    case
        when coalesce(counts.workflows_entered, 0) = 0 then 'no workflow has been in this stage'
        when coalesce(durations.stays_timed, 0) = 0
            then 'time in stage unknown: no stage history (workflow_stages), only the registry''s current stage'
        when counts.workflows_time_unknown > 0
            then 'time in stage from stage history; ' || counts.workflows_time_unknown
                || ' workflow(s) known only from the registry are counted but not timed'
        else 'from stage history'
    end as basis_note
from stages
left join counts using (stage)
left join conversions using (stage)
left join durations using (stage)
order by stages.stage_rank;
