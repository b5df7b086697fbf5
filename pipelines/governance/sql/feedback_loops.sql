-- marts.feedback_loops: one row per registry workflow. How feedback about its AI is handled:
-- raised, incorporated, declined and still open; the share incorporated of what was decided;
-- median days to incorporate; the open backlog and its oldest item; feedback per 100 items
-- since go-live; and whether the loop is active (feedback raised AND resolved in the last
-- `active_days` days up to the cutoff).
create schema if not exists marts;

create or replace table marts.feedback_loops as
with

as_of as (
    select as_of_on from intermediate.governance_as_of
),

workflows as (
    select workflow_id, name, business_owner, deployed_on from staging.workflows
),

feedback as (
    select feedback.*
    from staging.feedback as feedback
    where feedback.raised_on <= (select as_of_on from as_of)
),

-- Workflows with at least one item since go-live, from the one pass over the items
-- (intermediate.workflow_cutoffs); a workflow without any has no row, so its count stays blank.
items as (
    select workflow_id, items_since_go_live
    from intermediate.workflow_cutoffs
    where items_since_go_live > 0
),

per_workflow as (
    select
        feedback.workflow_id,
        count(*) as feedback_raised,
        count(*) filter (where feedback.status = 'incorporated') as feedback_incorporated,
        count(*) filter (where feedback.status = 'declined') as feedback_declined,
        count(*) filter (where feedback.status = 'open') as open_backlog,
        median(datediff('day', feedback.raised_on, feedback.resolved_on))
            filter (where feedback.status = 'incorporated') as median_days_to_incorporate,
        min(feedback.raised_on) filter (where feedback.status = 'open') as oldest_open_raised_on,
        max(feedback.raised_on) as last_raised_on,
        max(feedback.resolved_on) as last_resolved_on,
        count(*) filter (where feedback.kind = 'correction') as corrections_raised,
        count(*) filter (where feedback.kind = 'incident') as incidents_raised
    from feedback
    group by 1
)

select
    workflows.workflow_id,
    workflows.name,
    workflows.business_owner,
    coalesce(per_workflow.feedback_raised, 0) as feedback_raised,
    coalesce(per_workflow.feedback_incorporated, 0) as feedback_incorporated,
    coalesce(per_workflow.feedback_declined, 0) as feedback_declined,
    coalesce(per_workflow.open_backlog, 0) as open_backlog,
    per_workflow.feedback_incorporated
        / nullif(per_workflow.feedback_incorporated + per_workflow.feedback_declined, 0) as incorporated_rate,
    per_workflow.median_days_to_incorporate,
    per_workflow.oldest_open_raised_on,
    datediff('day', per_workflow.oldest_open_raised_on, as_of.as_of_on) as oldest_open_days,
    coalesce(per_workflow.corrections_raised, 0) as corrections_raised,
    coalesce(per_workflow.incidents_raised, 0) as incidents_raised,
    items.items_since_go_live,
    100.0 * coalesce(per_workflow.feedback_raised, 0) / nullif(items.items_since_go_live, 0) as feedback_per_100_items,
    per_workflow.last_raised_on,
    per_workflow.last_resolved_on,
    coalesce(
        per_workflow.last_raised_on > as_of.as_of_on - cast($active_days as integer)
        and per_workflow.last_resolved_on > as_of.as_of_on - cast($active_days as integer),
        false
    ) as is_loop_active,
    case
        when per_workflow.workflow_id is null then 'no feedback recorded'
        when per_workflow.last_raised_on <= as_of.as_of_on - cast($active_days as integer)
            then 'no feedback raised in the last ' || cast($active_days as varchar) || ' days'
        when per_workflow.last_resolved_on is null
            or per_workflow.last_resolved_on <= as_of.as_of_on - cast($active_days as integer)
            then 'nothing resolved in the last ' || cast($active_days as varchar) || ' days'
        else 'active'
    end as loop_status,
    as_of.as_of_on
from workflows
cross join as_of
left join per_workflow using (workflow_id)
left join items using (workflow_id)
order by workflows.workflow_id;
