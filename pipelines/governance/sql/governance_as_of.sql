-- intermediate.governance_as_of: one row, the date every governance judgement is made at.
-- It is the data cutoff (the newest work item's opening date, as the measurement uses), so
-- rebuilding the same inputs gives the same gate; with no work items, today (UTC).
create schema if not exists intermediate;

create or replace table intermediate.governance_as_of as
with

newest as (
    select cast(max(opened_at) as date) as newest_item_on from staging.work_items
)

select
    coalesce(newest.newest_item_on, cast($built_at as date)) as as_of_on,
    case when newest.newest_item_on is null then 'build_date' else 'data_cutoff' end as as_of_basis
from newest;
