-- The funnel over time, one row per quarter and stage (marts.stage_funnel_quarterly).
select * from marts.stage_funnel_quarterly order by quarter_start_on, stage_rank
