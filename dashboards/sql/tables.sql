-- Every table in the warehouse, as schema.table: pages show optional tables only when present.
select table_schema || '.' || table_name as table_name
from information_schema.tables
where table_catalog = current_database()
order by 1
