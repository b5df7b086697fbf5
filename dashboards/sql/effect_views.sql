-- The three views of the same effect for one workflow (marts.effect_views).
select metric, view, estimate_pct, ci_low_pct, ci_high_pct, n_treated, n_comparison, label
from marts.effect_views
where workflow_id = $workflow_id
order by
    metric,
    case view when 'before_after' then 0 when 'assisted_vs_unassisted' then 1 when 'diff_in_diff' then 2 else 3 end,
    view
