-- One row per ISO week and metric of one workflow, from the pipeline's weekly mart.
select
    week_start_on,
    metric,
    value,
    n,
    is_post,
    weeks_since_deployment
from marts.weekly_metrics
where workflow_id = $workflow_id
order by metric, week_start_on
