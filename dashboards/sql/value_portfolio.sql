-- Portfolio value per currency (marts.portfolio_value): the headline tiles.
select *
from marts.portfolio_value
order by value_workflows desc, currency
