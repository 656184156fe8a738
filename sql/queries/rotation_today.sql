-- Is the rotation on today, and since when?
-- The latest regime of each pair, and the first session of the current unbroken run of that label.
with labelled as (
    select pair, trade_date, label, score, components_with_data,
           label is distinct from lag(label) over (partition by pair order by trade_date) as changed
    from marts.rotation_regime
),

numbered as (
    -- a new run starts whenever the label changes
    select *, sum(case when changed then 1 else 0 end) over (partition by pair order by trade_date) as run_id
    from labelled
),

latest as (
    select * from numbered
    qualify row_number() over (partition by pair order by trade_date desc) = 1
)

select l.pair, l.label, min(n.trade_date) as since, l.trade_date as latest, l.score, l.components_with_data
from latest l
join numbered n on n.pair = l.pair and n.run_id = l.run_id
group by all
order by l.pair;
