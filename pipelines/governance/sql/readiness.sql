-- marts.readiness: one row per registry workflow, the ready-to-scale gate. Each requirement
-- has a pass/fail column (`<requirement>_pass`) and a reason (`<requirement>_reason`, what
-- is there or what is missing); `ready` is all of them. Judged as of the data cutoff.
create schema if not exists marts;

create or replace table marts.readiness as
with

as_of as (
    select as_of_on from intermediate.governance_as_of
),

workflows as (
    select * from staging.workflows
),

primary_results as (
    select value_metrics.workflow_id, value_metrics.verdict, value_metrics.change_pct
    from marts.value_metrics as value_metrics
    inner join workflows
        on value_metrics.workflow_id = workflows.workflow_id
        and value_metrics.metric = workflows.primary_metric
),

-- Per workflow with staged items, from the one pass over them (intermediate.workflow_cutoffs).
item_facts as (
    select
        workflow_id,
        latest_seen_at as newest_record_at,
        escalations_since_go_live as escalations_logged
    from intermediate.workflow_cutoffs
),

loops as (
    select workflow_id, is_loop_active, loop_status from marts.feedback_loops
),

facts as (
    select
        workflows.*,
        as_of.as_of_on,
        nullif(trim(workflows.business_owner), '') as owner_text,
        nullif(trim(workflows.data_scope), '') as scope_text,
        nullif(trim(workflows.review_point), '') as review_text,
        nullif(trim(workflows.support_path), '') as support_text,
        nullif(trim(workflows.exception_path), '') as exception_text,
        workflows.last_reviewed_on + cast(workflows.review_every_days as integer) as review_due_on,
        coalesce(item_facts.escalations_logged, 0) as escalations_logged,
        cast(item_facts.newest_record_at as date) as newest_item_on,
        loops.is_loop_active,
        loops.loop_status,
        primary_results.verdict as primary_verdict,
        workflows.target_set_on > workflows.deployed_on as is_target_set_after_results
    from workflows
    cross join as_of
    left join item_facts using (workflow_id)
    left join loops using (workflow_id)
    left join primary_results using (workflow_id)
),

judged as (
    select
        *,
        owner_text is not null as owner_pass,
        coalesce(eligible_users, 0) > 0 as eligible_users_pass,
        scope_text is not null as scoped_data_pass,
        coalesce(review_text is not null and review_due_on >= as_of_on, false) as review_pass,
        risk_tier is not null as controls_pass,
        support_text is not null as support_path_pass,
        exception_text is not null and escalations_logged > 0 as exception_path_pass,
        coalesce(is_loop_active, false) as feedback_loop_pass,
        coalesce(
            target_change_pct is not null and target_set_on is not null
            and (deployed_on is null or target_set_on <= deployed_on),
            false
        ) as target_up_front_pass,
        coalesce(newest_item_on >= as_of_on - cast($fresh_data_days as integer), false) as fresh_data_pass,
        coalesce(primary_verdict = 'improved', false) as value_pass
    from facts
)

select
    workflow_id,
    name,
    team,
    stage,
    business_owner,
    deployed_on,
    as_of_on,
    owner_pass,
    case when owner_pass then 'owner: ' || owner_text else 'no business owner' end as owner_reason,
    eligible_users_pass,
    case when eligible_users_pass then eligible_users || ' eligible users' else 'no eligible users registered' end
        as eligible_users_reason,
    scoped_data_pass,
    case when scoped_data_pass then 'data scope: ' || scope_text else 'no data scope' end as scoped_data_reason,
    review_pass,
    case
        when review_text is null then 'no review point'
        when review_every_days is null then 'no review cadence (review_every_days)'
        when last_reviewed_on is null then 'never reviewed (last_reviewed_on blank)'
        when not review_pass then 'review overdue since ' || strftime(review_due_on, '%Y-%m-%d')
        else 'reviewed ' || strftime(last_reviewed_on, '%Y-%m-%d') || ', next due ' || strftime(review_due_on, '%Y-%m-%d')
    end as review_reason,
    coalesce(review_due_on < as_of_on, false) as is_review_overdue,
    review_due_on,
    controls_pass,
    case when controls_pass then 'risk tier ' || risk_tier || ' controls apply' else 'no risk tier, so no controls defined' end
        as controls_reason,
    support_path_pass,
    case when support_path_pass then 'support: ' || support_text else 'no support path' end as support_path_reason,
    exception_path_pass,
    case
        when exception_text is null then 'no exception path'
        when escalations_logged = 0 then 'exception path set but no escalation logged'
        else escalations_logged || ' escalations logged via ' || exception_text
    end as exception_path_reason,
    escalations_logged,
    feedback_loop_pass,
    case when feedback_loop_pass then 'feedback loop active' else coalesce(loop_status, 'no feedback recorded') end
        as feedback_loop_reason,
    target_up_front_pass,
    case
        when target_change_pct is null then 'no success target'
        when target_set_on is null then 'date the target was set is unknown (target_set_on)'
        when is_target_set_after_results then 'set after the results: target set ' || strftime(target_set_on, '%Y-%m-%d')
            || ', after go-live ' || strftime(deployed_on, '%Y-%m-%d')
        else 'target ' || target_change_pct || '% set ' || strftime(target_set_on, '%Y-%m-%d')
    end as target_up_front_reason,
    coalesce(is_target_set_after_results, false) as is_target_set_after_results,
    target_set_on,
    fresh_data_pass,
    case
        when newest_item_on is null then 'no work items'
        when fresh_data_pass then 'newest item ' || strftime(newest_item_on, '%Y-%m-%d')
        else 'stale: newest item ' || strftime(newest_item_on, '%Y-%m-%d') || ', more than '
            || cast($fresh_data_days as varchar) || ' days before the cutoff'
    end as fresh_data_reason,
    newest_item_on,
    value_pass,
    case
        when deployed_on is null then 'not deployed, so no value measured'
        when primary_verdict is null then 'no measurement of the primary metric'
        when value_pass then primary_metric || ' improved'
        else primary_metric || ': ' || primary_verdict
    end as value_reason,
    primary_verdict,
    owner_pass::integer + eligible_users_pass::integer + scoped_data_pass::integer + review_pass::integer
        + controls_pass::integer + support_path_pass::integer + exception_path_pass::integer
        + feedback_loop_pass::integer + target_up_front_pass::integer + fresh_data_pass::integer
        + value_pass::integer as requirements_passed,
    11 as requirements_total,
    concat_ws(', ',
        case when not owner_pass then 'owner' end,
        case when not eligible_users_pass then 'eligible users' end,
        case when not scoped_data_pass then 'scoped data' end,
        case when not review_pass then 'review' end,
        case when not controls_pass then 'controls' end,
        case when not support_path_pass then 'support path' end,
        case when not exception_path_pass then 'exception path' end,
        case when not feedback_loop_pass then 'feedback loop' end,
        case when not target_up_front_pass then 'target up front' end,
        case when not fresh_data_pass then 'fresh data' end,
        case when not value_pass then 'value' end
    ) as missing,
    owner_pass and eligible_users_pass and scoped_data_pass and review_pass and controls_pass
        and support_path_pass and exception_path_pass and feedback_loop_pass and target_up_front_pass
        and fresh_data_pass and value_pass as ready
from judged
order by workflow_id;
