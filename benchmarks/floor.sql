-- The raw DuckDB floor: the same input folder and the same aggregates as opvalue's build,
-- written as one plain DuckDB script with no Python, no Dagster, no pandera, no quarantine
-- tables, no statistics. What opvalue adds is measured against this.
--
-- It does what the numbers need and nothing else:
--   * reads every CSV of workflows.csv, work_items/ and usage/ as text with DuckDB's reader,
--     told the contract's dialect (comma, double quote, a header) so it does not sniff it
--     per file (sniffing costs about 50 ms a file),
--   * types each value with DuckDB's casts (ISO timestamps with an offset to UTC, booleans
--     true/false/1/0/yes/no, whole numbers only when written as digits: DuckDB's own cast
--     would round '1.5'), and drops a row that breaks a rule of the data contract
--     (required, unparseable, out of range, closed before opened, unknown workflow),
--   * keeps an exact duplicate within a file once, drops a key whose rows conflict within a
--     file, and lets the last file in name order have the latest word on a key,
--   * persists the typed rows (`work_items`, `usage`) and the aggregates in the database
--     file it runs in, as a warehouse would.
-- Aggregates, one row per deployed workflow and period (baseline = the 90 days before
-- deployed_on, post = on/after deployed_on up to the workflow's own cutoff, its latest
-- opened_at or closed_at): item and closed-item counts, the median cycle time of closed items,
-- and over closed items only, rework and error shares and touchpoints and external spend means
-- capped at the pooled p99 (spend: non-zero values; a blank stays blank), as
-- pipelines/metrics/metrics.yaml defines them (method v2); and current active users per
-- workflow (adoption).
--
-- Run:  duckdb -cmd "set variable input_dir = '/path/to/inputs'" floor.duckdb < benchmarks/floor.sql
-- (the bench runs it through DuckDB's Python API: `python -m benchmarks.floor`).
set TimeZone = 'UTC';

create or replace table workflows as
with

raw_workflows as (
    select *
    from read_csv(
        getvariable('input_dir') || '/workflows.csv',
        all_varchar = true, header = true, delim = ',', quote = '"', escape = '"'
    )
),

typed as (
    select
        nullif(trim(workflow_id), '') as workflow_id,
        nullif(trim(name), '') as name,
        lower(nullif(trim(stage), '')) as stage,
        nullif(trim(deployed_on), '') as deployed_on_text,
        try_cast(nullif(trim(deployed_on), '') as date) as deployed_on,
        nullif(trim(eligible_users), '') as eligible_users_text,
        case when regexp_full_match(trim(eligible_users), '[+-]?[0-9]+') then try_cast(trim(eligible_users) as bigint) end as eligible_users
    from raw_workflows
)

select workflow_id, deployed_on, eligible_users
from typed
where
    workflow_id is not null
    and name is not null
    and stage in ('investigation', 'pilot', 'production', 'retired')
    and (deployed_on_text is null or deployed_on is not null)
    and (eligible_users_text is null or eligible_users >= 0)
    and (deployed_on is null or eligible_users is not null)
qualify count(*) over (partition by workflow_id) = 1;

-- Typed once into a temporary table: filtering straight off the casts makes DuckDB compute
-- them again inside the filter (about 40% more CPU on this step).
create or replace temp table typed_items as
with

raw_items as (
    select *
    from read_csv(
        getvariable('input_dir') || '/work_items/*.csv',
        all_varchar = true, header = true, delim = ',', quote = '"', escape = '"',
        union_by_name = true, filename = true
    )
    -- The optional columns exist even when no file has them.
    union all by name
    select cast(null as varchar) as escalated, cast(null as varchar) as team
    where false
),

text_values as (
    select
        filename as source_file,
        nullif(trim(item_id), '') as item_id,
        nullif(trim(workflow_id), '') as workflow_id,
        nullif(trim(opened_at), '') as opened_text,
        nullif(trim(closed_at), '') as closed_text,
        nullif(trim(rework_count), '') as rework_text,
        nullif(trim(touchpoints), '') as touchpoints_text,
        lower(nullif(trim(had_error), '')) as had_error_text,
        nullif(trim(external_spend), '') as spend_text,
        lower(nullif(trim(ai_assisted), '')) as ai_assisted_text,
        lower(nullif(trim(escalated), '')) as escalated_text,
        nullif(trim(team), '') as team
    from raw_items
),

typed as (
    select
        *,
        cast(try_cast(opened_text as timestamptz) at time zone 'UTC' as timestamp) as opened_at,
        cast(try_cast(closed_text as timestamptz) at time zone 'UTC' as timestamp) as closed_at,
        case when regexp_full_match(rework_text, '[+-]?[0-9]+') then try_cast(rework_text as bigint) end as rework_count,
        case when regexp_full_match(touchpoints_text, '[+-]?[0-9]+') then try_cast(touchpoints_text as bigint) end as touchpoints,
        case when had_error_text in ('true', '1', 'yes') then true when had_error_text in ('false', '0', 'no') then false end as had_error,
        try_cast(spend_text as double) as external_spend,
        case when ai_assisted_text in ('true', '1', 'yes') then true when ai_assisted_text in ('false', '0', 'no') then false end as ai_assisted,
        case when escalated_text in ('true', '1', 'yes') then true when escalated_text in ('false', '0', 'no') then false end as escalated
    from text_values
)

select
    source_file, item_id, workflow_id, opened_at, closed_at, rework_count, touchpoints,
    had_error, external_spend, ai_assisted, coalesce(escalated, false) as escalated, team,
    item_id is not null
        and workflow_id is not null
        and opened_at is not null
        and (closed_text is null or closed_at is not null)
        and (rework_text is null or rework_count >= 0)
        and (touchpoints_text is null or touchpoints >= 1)
        and (had_error_text is null or had_error is not null)
        and (spend_text is null or (isfinite(external_spend) and external_spend >= 0))
        and (ai_assisted_text is null or ai_assisted is not null)
        and (escalated_text is null or escalated is not null)
        and (closed_at is null or closed_at >= opened_at) as is_valid
from typed;

create or replace table work_items as
with

valid as (
    select * exclude (is_valid)
    from typed_items
    where is_valid and workflow_id in (select workflow_id from workflows)
),

-- An exact copy within a file counts once; a key with two different rows in one file is dropped.
distinct_rows as (
    select distinct * from valid
),

unconflicted as (
    select *
    from distinct_rows
    qualify count(*) over (partition by source_file, workflow_id, item_id) = 1
)

-- The last file in name order has the latest word on a key.
select * exclude (source_file)
from unconflicted
qualify row_number() over (partition by workflow_id, item_id order by source_file desc) = 1;

drop table typed_items;

create or replace table usage as
with

raw_usage as (
    select *
    from read_csv(
        getvariable('input_dir') || '/usage/*.csv',
        all_varchar = true, header = true, delim = ',', quote = '"', escape = '"',
        union_by_name = true, filename = true
    )
),

typed as (
    select
        filename as source_file,
        nullif(trim(usage_date), '') as usage_date_text,
        try_cast(nullif(trim(usage_date), '') as date) as usage_date,
        nullif(trim(user_id), '') as user_id,
        nullif(trim(workflow_id), '') as workflow_id,
        case when regexp_full_match(trim(actions), '[+-]?[0-9]+') then try_cast(trim(actions) as bigint) end as actions
    from raw_usage
),

distinct_rows as (
    select distinct source_file, usage_date, user_id, workflow_id, actions
    from typed
    where
        usage_date is not null
        and user_id is not null
        and workflow_id is not null
        and actions >= 0
        and workflow_id in (select workflow_id from workflows)
),

unconflicted as (
    select *
    from distinct_rows
    qualify count(*) over (partition by source_file, workflow_id, user_id, usage_date) = 1
)

select * exclude (source_file)
from unconflicted
qualify row_number() over (partition by workflow_id, user_id, usage_date order by source_file desc) = 1;

create or replace table workflow_windows as
select
    workflows.workflow_id,
    workflows.deployed_on - 90 as baseline_start_on,
    workflows.deployed_on,
    cutoffs.cutoff_at,
    cast(cutoffs.cutoff_at as date) as post_end_on
from workflows
-- Method v2: each workflow's own cutoff, its latest opened_at or closed_at.
inner join (
    select workflow_id, max(greatest(opened_at, coalesce(closed_at, opened_at))) as cutoff_at
    from work_items
    group by workflow_id
) as cutoffs using (workflow_id)
where workflows.deployed_on is not null;

create or replace table period_metrics as
with

windows as (
    select * from workflow_windows
),

in_window as (
    select
        work_items.workflow_id,
        case when work_items.opened_at < cast(windows.deployed_on as timestamp) then 'baseline' else 'post' end as period,
        work_items.closed_at is not null as is_closed,
        epoch(coalesce(work_items.closed_at, windows.cutoff_at) - work_items.opened_at) / 3600.0 as cycle_time_hours,
        -- Method v2: the four non-time metrics read closed items only.
        case when work_items.closed_at is not null then work_items.rework_count > 0 end as has_rework,
        case when work_items.closed_at is not null then work_items.had_error end as had_error,
        case when work_items.closed_at is not null then work_items.touchpoints end as touchpoints,
        case when work_items.closed_at is not null then work_items.external_spend end as external_spend
    from work_items
    inner join windows using (workflow_id)
    where work_items.opened_at >= cast(windows.baseline_start_on as timestamp)
),

-- Caps pool both periods, as the pipeline's do.
caps as (
    select
        workflow_id,
        quantile_cont(touchpoints, 0.99) as touchpoints_cap,
        quantile_cont(external_spend, 0.99) filter (where external_spend > 0) as external_spend_cap
    from in_window
    group by workflow_id
)

select
    in_window.workflow_id,
    in_window.period,
    count(*) as n_items,
    count(*) filter (where in_window.is_closed) as n_closed,
    median(in_window.cycle_time_hours) filter (where in_window.is_closed) as median_cycle_time_hours,
    count(in_window.has_rework) as n_rework_known,
    avg(cast(in_window.has_rework as double)) as rework_rate,
    count(in_window.had_error) as n_error_known,
    avg(cast(in_window.had_error as double)) as error_rate,
    count(in_window.touchpoints) as n_touchpoints_known,
    -- least(NULL, cap) is cap in DuckDB: a blank must stay out of the mean.
    avg(case when in_window.touchpoints is not null then least(in_window.touchpoints, coalesce(caps.touchpoints_cap, in_window.touchpoints)) end)
        as touchpoints_per_item,
    count(in_window.external_spend) as n_spend_known,
    avg(case when in_window.external_spend is not null then least(in_window.external_spend, coalesce(caps.external_spend_cap, in_window.external_spend)) end)
        as external_spend_per_item
from in_window
inner join caps using (workflow_id)
group by in_window.workflow_id, in_window.period
order by in_window.workflow_id, in_window.period;

create or replace table adoption as
-- Method v2: current adoption (users active in the last 28 days up to the workflow's cutoff);
-- unknown without usage rows or eligible users; counts of 1 to 4 users are suppressed.
with

active as (
    select
        windows.workflow_id,
        count(distinct usage.user_id) filter (
            where usage.actions > 0
                and usage.usage_date >= windows.deployed_on
                and usage.usage_date <= windows.post_end_on
                and usage.usage_date > windows.post_end_on - 28
        ) as active_users,
        count(usage.user_id) as usage_rows
    from workflow_windows as windows
    left join usage on usage.workflow_id = windows.workflow_id
    group by windows.workflow_id
)

select
    active.workflow_id,
    case
        when active.usage_rows = 0 or coalesce(workflows.eligible_users, 0) <= 0 then null
        when active.active_users between 1 and 4 then null
        else active.active_users
    end as active_users
from active
inner join workflows using (workflow_id)
order by active.workflow_id;
