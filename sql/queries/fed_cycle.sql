-- Where is the Fed in its easing cycle? (the latest day, and every cut of the current cycle)
select day, target_lower, target_upper, effective, stance, cycle_first_cut_date, cuts_in_cycle,
       bp_cut_in_cycle, days_since_first_cut, easing_active
from marts.fed_policy
where day = (select max(day) from marts.fed_policy);
