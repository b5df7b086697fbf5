-- One workflow's frozen baseline against the live one, per metric (marts.baseline_comparison).
select * from marts.baseline_comparison where workflow_id = $workflow_id order by metric
