-- One workflow's feedback loop health (marts.feedback_loops).
select * from marts.feedback_loops where workflow_id = $workflow_id
