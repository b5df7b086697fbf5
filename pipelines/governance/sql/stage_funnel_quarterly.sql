-- marts.stage_funnel_quarterly: one row per calendar quarter and stage, from the first
-- recorded stage entry to the cutoff. Entries in the quarter, workflows in the stage at the
-- quarter's end, workflows that had ever reached it by then, and the conversion to the next
-- funnel stage so far. Stage history only: the registry alone has no dates.
create schema if not exists marts;

create or replace table marts.stage_funnel_quarterly as
with

spells as (
    select * from intermediate.stage_spells where basis = 'stage_history'
),

as_of as (
    select as_of_on from intermediate.governance_as_of
),

stages as (
    select * from intermediate.stage_order
),

quarters as (
    select
        cast(quarter_start as date) as quarter_start_on,
        cast(quarter_start + interval 3 month - interval 1 day as date) as quarter_end_on
    from range(
        (select date_trunc('quarter', min(entered_on)) from spells),
        (select date_trunc('quarter', as_of_on) + interval 3 month from as_of),
        interval 3 month
    ) as r (quarter_start)
),

grid as (
    select quarters.*, stages.* from quarters cross join stages
),

first_entry as (
    select workflow_id, stage, min(entered_on) as first_entered_on from spells group by 1, 2
),

reached_next as (
    -- When each workflow first reached a later funnel stage (not retirement) after entering this one.
    select first_entry.workflow_id, first_entry.stage, min(later.entered_on) as converted_on
    from first_entry
    inner join stages using (stage)
    inner join spells as later
        on later.workflow_id = first_entry.workflow_id
        and later.entered_on >= first_entry.first_entered_on
        and later.stage_rank > stages.stage_rank
        and later.stage <> 'retired'
    group by 1, 2
)

select
    grid.quarter_start_on,
    year(grid.quarter_start_on) || '-Q' || quarter(grid.quarter_start_on) as quarter_label,
    grid.stage,
    grid.stage_rank,
    (
        select count(distinct spells.workflow_id) from spells
        where spells.stage = grid.stage and spells.entered_on between grid.quarter_start_on and grid.quarter_end_on
    ) as workflows_entered,
    (
        select count(distinct spells.workflow_id) from spells
        where spells.stage = grid.stage
            and spells.entered_on <= grid.quarter_end_on
            and (spells.left_on is null or spells.left_on > grid.quarter_end_on)
    ) as workflows_in_stage_at_end,
    (
        select count(*) from first_entry
        where first_entry.stage = grid.stage and first_entry.first_entered_on <= grid.quarter_end_on
    ) as workflows_reached_to_date,
    case when grid.next_funnel_stage is not null then (
        select count(*) from reached_next
        where reached_next.stage = grid.stage and reached_next.converted_on <= grid.quarter_end_on
    ) end as workflows_converted_to_date
from grid
order by grid.quarter_start_on, grid.stage_rank;
