-- The lifecycle funnel today, one row per stage (marts.stage_funnel).
select * from marts.stage_funnel order by stage_rank
