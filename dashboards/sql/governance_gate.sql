-- The ready-to-scale gate, one row per registry workflow in the selected teams and stages
-- (marts.readiness), production first.
select *
from marts.readiness
where (len($teams::varchar[]) = 0 or list_contains($teams::varchar[], team))
    and (len($stages::varchar[]) = 0 or list_contains($stages::varchar[], stage))
order by
    case stage when 'production' then 0 when 'pilot' then 1 when 'investigation' then 2 else 3 end,
    ready desc,
    requirements_passed desc,
    workflow_id
