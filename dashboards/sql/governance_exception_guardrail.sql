-- One workflow's rising-rate guardrail (marts.exception_guardrails); no row when not deployed.
select * from marts.exception_guardrails where workflow_id = $workflow_id
