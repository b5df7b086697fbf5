-- Month by month per currency (marts.portfolio_monthly_value): realised net value and tool cost.
select *
from marts.portfolio_monthly_value
order by currency, month_on
