-- The method checks beside one workflow's numbers (marts.method_checks), warnings first.
select metric, check_name, status, detail
from marts.method_checks
where workflow_id = $workflow_id
order by
    metric,
    case status when 'warn' then 0 when 'ok' then 1 else 2 end,
    case check_name
        when 'placebo' then 0 when 'parallel_trends' then 1 when 'step_vs_trend' then 2 when 'mix_shift' then 3
        when 'censoring' then 4 when 'guardrail' then 5 when 'novelty' then 6 when 'sample_size' then 7 else 8
    end,
    check_name
