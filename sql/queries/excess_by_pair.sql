-- Year-to-date, 1-month and 3-month excess return of small over large, by pair (latest date).
select pair, as_of, round(100 * ytd_excess, 2) as ytd_excess_pct,
       round(100 * excess_21d, 2) as excess_1m_pct, round(100 * excess_63d, 2) as excess_3m_pct,
       streak, rs_above_sma50, rs_above_sma200
from marts.rotation_dashboard
order by ytd_excess desc;
