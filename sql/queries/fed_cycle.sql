-- Where is the Fed in its easing cycle, on the latest day? A cycle starts with a cut that follows
-- a hike or comes more than easing_cycle_gap_days (180) after the previous cut, so the 2025 cuts
-- are a cycle of their own; fed_target_and_cuts.sql lists every cut since the last hike.
select day, target_lower, target_upper, effective, stance, cycle_first_cut_date, cuts_in_cycle,
       bp_cut_in_cycle, days_since_first_cut, easing_active
from marts.fed_policy
where day = (select max(day) from marts.fed_policy);
