-- Decisions month by month (marts.scorecard_history) for the workflows in the selected teams
-- and stages: for each month from the first recorded data cutoff to the last, every workflow's
-- decision as of the month's end (its latest row with a cutoff before the next month), counted
-- per decision. A workflow appears from the month of its first recorded cutoff.
with

scorecard as (
    select workflow_id, team, stage from marts.workflow_scorecard
),

history as (
    select history.workflow_id, history.data_cutoff_at, history.recorded_at, history.decision
    from marts.scorecard_history as history
    inner join scorecard using (workflow_id)
    where history.data_cutoff_at is not null
        and (len($teams::varchar[]) = 0 or list_contains($teams::varchar[], scorecard.team))
        and (len($stages::varchar[]) = 0 or list_contains($stages::varchar[], scorecard.stage))
),

months as (
    select cast(month_on as date) as month_on
    from
        (select min(data_cutoff_at) as first_at, max(data_cutoff_at) as last_at from history) as span,
        unnest(generate_series(date_trunc('month', span.first_at), date_trunc('month', span.last_at), interval 1 month))
            as series (month_on)
),

as_of_month as (
    select
        months.month_on,
        history.workflow_id,
        arg_max(history.decision, (history.data_cutoff_at, history.recorded_at)) as decision
    from months
    inner join history on history.data_cutoff_at < months.month_on + interval 1 month
    group by months.month_on, history.workflow_id
)

select month_on, decision, count(*) as workflows
from as_of_month
group by month_on, decision
order by month_on, decision
