-- How many sessions in a row has small beaten large, per pair, and the longest run this year?
with latest as (
    select pair, max(trade_date) as trade_date from marts.outperformance_streaks group by pair
)

select s.pair, s.trade_date, s.streak as current_streak, s.small_ret, s.large_ret,
       (select max(streak) from marts.outperformance_streaks x
        where x.pair = s.pair and year(x.trade_date) = year(s.trade_date)) as longest_this_year
from marts.outperformance_streaks s
join latest using (pair, trade_date)
order by s.pair;
