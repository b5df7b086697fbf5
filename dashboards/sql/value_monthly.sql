-- One workflow's month-by-month savings per metric since go-live (marts.monthly_value).
select *
from marts.monthly_value
where workflow_id = $workflow_id
order by metric, month_on
