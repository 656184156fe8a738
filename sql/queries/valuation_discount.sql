-- How wide is the small-cap valuation discount against its own history?
-- Latest point of every (pair, metric, basis, method, source) series with enough history.
select pair, metric, basis, method, source, as_of_date,
       round(100 * discount, 1) as discount_pct,
       round(100 * discount_avg_prior, 1) as average_before_pct,
       round(discount_z, 2) as z_score, n_prior
from marts.valuation_gap
qualify row_number() over (partition by pair, metric, basis, method, source order by as_of_date desc) = 1
order by n_prior desc, pair, metric;
