-- Every workflow's value per month (marts.workflow_value), value decisions first.
select *
from marts.workflow_value
order by is_value_decision desc, net_value_per_month desc nulls last, workflow_id
