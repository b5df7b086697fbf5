-- intermediate.workflow_windows: one row per deployed workflow with items, its windows and
-- how much of the nominal baseline window its data covers.
create or replace table intermediate.workflow_windows as
with

cutoffs as (
    select * from intermediate.workflow_cutoffs where deployed_on is not null
),

nominal as (
    select
        workflow_id,
        deployed_on - cast($baseline_days as integer) as nominal_baseline_start_on,
        deployed_on,
        deployed_on + cast($ramp_days as integer) as post_start_on,
        cast(cutoff_at as date) as post_end_on,
        cutoff_at,
        first_opened_at,
        data_through
    from cutoffs
)

select
    workflow_id,
    -- The window shown is the one the data covers, never the nominal one.
    least(greatest(nominal_baseline_start_on, cast(first_opened_at as date)), deployed_on) as baseline_start_on,
    nominal_baseline_start_on,
    deployed_on,
    post_start_on,
    post_end_on,
    cutoff_at,
    data_through,
    greatest(
        0.0,
        least(1.0, (deployed_on - greatest(nominal_baseline_start_on, cast(first_opened_at as date))) / cast($baseline_days as double))
    ) as baseline_coverage
from nominal;
