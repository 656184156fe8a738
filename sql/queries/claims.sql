-- Which published claims hold? The story scorecard: each claim (one row per reading) with the
-- story's words, the reading used, the claimed value, the data's figure and the verdict
-- (holds, holds as rounded, close, contradicted, pending, no data); detail says how the figure
-- came out or which series and dates are missing, evidence which data it used.
select verdict, claim_id, words, as_of_date, comparison, claimed_value, round(computed_value, 6) as computed_value,
       evidence, detail, reading
from marts.claims
order by verdict, claim_id;
