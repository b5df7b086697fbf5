-- One workflow's monthly escalation, override and correction rates (marts.exception_rates).
select * from marts.exception_rates where workflow_id = $workflow_id order by month_start_on
