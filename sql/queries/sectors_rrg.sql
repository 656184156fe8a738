-- Which sectors lead? The latest week of the relative rotation graph, by quadrant.
select quadrant, ticker, round(rs_ratio, 2) as rs_ratio, round(rs_momentum, 2) as rs_momentum, week_end
from marts.rrg
where group_name = 'sector_etfs'
  and week_end = (select max(week_end) from marts.rrg where group_name = 'sector_etfs')
order by case quadrant when 'leading' then 1 when 'improving' then 2 when 'weakening' then 3 else 4 end,
         rs_ratio desc;
