-- Closed items' cycle time of one workflow, baseline against post, in $bins log-spaced bins
-- between the pooled 0.5th and 99.5th percentiles (items outside fall in the end bins).
with

windows as (
    select distinct workflow_id, baseline_start_on, deployed_on, post_start_on, post_end_on
    from marts.value_metrics
    where workflow_id = $workflow_id
),

items as (
    select
        case when work_items.opened_at < windows.deployed_on then 'baseline' else 'post' end as period,
        greatest(epoch(work_items.closed_at - work_items.opened_at) / 3600.0, 0.01) as cycle_hours
    from staging.work_items as work_items
    inner join windows using (workflow_id)
    where work_items.closed_at is not null
        and (
            (work_items.opened_at >= windows.baseline_start_on and work_items.opened_at < windows.deployed_on)
            or (work_items.opened_at >= windows.post_start_on and work_items.opened_at::date <= windows.post_end_on)
        )
),

bounds as (
    select
        ln(quantile_cont(cycle_hours, 0.005)) as low_log,
        greatest(ln(quantile_cont(cycle_hours, 0.995)), ln(quantile_cont(cycle_hours, 0.005)) + 0.1) as high_log
    from items
),

binned as (
    select
        items.period,
        least(greatest(floor((ln(items.cycle_hours) - bounds.low_log) / (bounds.high_log - bounds.low_log) * $bins), 0), $bins - 1)::integer
            as bin
    from items
    cross join bounds
),

counted as (
    select period, bin, count(*) as items
    from binned
    group by period, bin
)

select
    counted.period,
    counted.bin,
    exp(bounds.low_log + counted.bin * (bounds.high_log - bounds.low_log) / $bins) as lower_hours,
    exp(bounds.low_log + (counted.bin + 1) * (bounds.high_log - bounds.low_log) / $bins) as upper_hours,
    counted.items,
    counted.items / sum(counted.items) over (partition by counted.period) as share
from counted
cross join bounds
order by counted.period, counted.bin
