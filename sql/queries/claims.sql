-- Which published claims hold?
select verdict, claim_id, publisher, metric, subject, as_of_date, claimed_value, computed_value,
       round(difference, 4) as difference, notes
from marts.claims
order by verdict, claim_id;
