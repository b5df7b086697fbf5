-- The value marts' counts of post-period items (intermediate.item_periods), as temp tables of
-- this run, one section per statement (pipelines/value/assets.py runs them):
--   post_items        one row per workflow with post-period items (intermediate.value_workflows)
--   post_item_months  one row per workflow and calendar month of opening (marts.monthly_value)
-- Counting reads every item, most of either mart's time in a run that recomputes one workflow.
-- So the count is limited to $workflows, the workflows this run recomputes (null: every
-- workflow), and every other workflow keeps the counts that the table about to be rebuilt
-- holds: its items did not move (pipelines/changes.py), so they are what a count would give.

-- {count_per_workflow}
create or replace temp table post_items as
select
    workflow_id,
    count(*) as post_items
from intermediate.item_periods
where
    period = 'post'
    and (
        cast($workflows as varchar []) is null
        or workflow_id in (select unnest(cast($workflows as varchar [])))
    )
group by workflow_id;

-- {keep_per_workflow}
insert into temp.main.post_items
select
    workflow_id,
    post_items
from intermediate.value_workflows
where
    post_items > 0
    and workflow_id not in (select unnest(cast($workflows as varchar [])));

-- {count_per_month}
create or replace temp table post_item_months as
select
    workflow_id,
    cast(date_trunc('month', opened_at) as date) as month_on,
    count(*) as items,
    count(*) filter (where not is_closed) as items_open
from intermediate.item_periods
where
    period = 'post'
    and (
        cast($workflows as varchar []) is null
        or workflow_id in (select unnest(cast($workflows as varchar [])))
    )
group by all;

-- {keep_per_month}
-- Every metric's row of a month holds the month's counts: one row per workflow and month.
insert into temp.main.post_item_months
select distinct
    workflow_id,
    month_on,
    items,
    items_open
from marts.monthly_value
where
    items > 0
    and workflow_id not in (select unnest(cast($workflows as varchar [])));
