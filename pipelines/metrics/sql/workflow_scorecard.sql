-- The evidence behind marts.workflow_scorecard, one row per registry workflow: the primary
-- metric's before/after, its difference-in-differences and placebo, the pre-trend and step-vs-trend checks, the
-- verdicts of every metric (read beside it, for the guardrails), adoption. The readiness gate (marts.readiness) is read beside it. The rules
-- (target, quadrant, guardrails, contested, decision) are applied to it in Python, once:
-- pipelines/metrics/rules.py.
with

workflows as (
    select * from staging.workflows
),

primary_results as (
    select value_metrics.*
    from marts.value_metrics as value_metrics
    inner join workflows
        on value_metrics.workflow_id = workflows.workflow_id
        and value_metrics.metric = workflows.primary_metric
),

did as (
    select effect_views.workflow_id, effect_views.estimate_pct, effect_views.ci_low_pct, effect_views.ci_high_pct,
        effect_views.is_identifiable, effect_views.n_comparison_workflows
    from marts.effect_views as effect_views
    inner join workflows
        on effect_views.workflow_id = workflows.workflow_id
        and effect_views.metric = workflows.primary_metric
    where effect_views.view = 'diff_in_diff'
),

checks as (
    select
        method_checks.workflow_id,
        any_value(method_checks.estimate_pct) filter (where method_checks.check_name = 'placebo') as placebo_change_pct,
        any_value(method_checks.ci_low_pct) filter (where method_checks.check_name = 'placebo') as placebo_ci_low_pct,
        any_value(method_checks.ci_high_pct) filter (where method_checks.check_name = 'placebo') as placebo_ci_high_pct,
        coalesce(bool_or(method_checks.check_name = 'parallel_trends' and method_checks.status = 'warn'), false)
            as pre_trend_warns,
        coalesce(bool_or(method_checks.check_name = 'step_vs_trend' and method_checks.status = 'warn'), false)
            as trend_warns,
        any_value(method_checks.estimate_pct) filter (where method_checks.check_name = 'step_vs_trend')
            as trend_step_pct,
        any_value(method_checks.ci_low_pct) filter (where method_checks.check_name = 'step_vs_trend')
            as trend_step_ci_low_pct,
        any_value(method_checks.ci_high_pct) filter (where method_checks.check_name = 'step_vs_trend')
            as trend_step_ci_high_pct
    from marts.method_checks as method_checks
    inner join workflows
        on method_checks.workflow_id = workflows.workflow_id
        and method_checks.metric = workflows.primary_metric
    group by method_checks.workflow_id
),

adoption as (
    select workflow_id, adoption_rate, reach_rate, habitual_users, is_adoption_unknown from marts.adoption
)

select
    workflows.workflow_id,
    workflows.name,
    workflows.team,
    workflows.stage,
    workflows.business_owner,
    workflows.deployed_on,
    workflows.primary_metric,
    primary_results.change_pct as primary_change_pct,
    primary_results.ci_low_pct as primary_ci_low_pct,
    primary_results.ci_high_pct as primary_ci_high_pct,
    primary_results.verdict as primary_verdict,
    primary_results.baseline_coverage,
    workflows.target_change_pct,
    adoption.adoption_rate,
    adoption.reach_rate,
    adoption.habitual_users,
    -- A deployed workflow without a marts.adoption row (no items) has unknown adoption too.
    coalesce(adoption.is_adoption_unknown, workflows.deployed_on is not null) as is_adoption_unknown,
    coalesce(primary_results.n_baseline, 0) + coalesce(primary_results.n_post, 0) as items_measured,
    coalesce(did.is_identifiable, false) as did_identifiable,
    did.n_comparison_workflows as did_comparison_workflows,
    did.estimate_pct as did_change_pct,
    did.ci_low_pct as did_ci_low_pct,
    did.ci_high_pct as did_ci_high_pct,
    checks.placebo_change_pct,
    checks.placebo_ci_low_pct,
    checks.placebo_ci_high_pct,
    coalesce(checks.pre_trend_warns, false) as pre_trend_warns,
    coalesce(checks.trend_warns, false) as trend_warns,
    checks.trend_step_pct,
    checks.trend_step_ci_low_pct,
    checks.trend_step_ci_high_pct
from workflows
left join primary_results using (workflow_id)
left join did using (workflow_id)
left join checks using (workflow_id)
left join adoption using (workflow_id)
order by workflows.workflow_id
