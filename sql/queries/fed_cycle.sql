-- Where is the Fed in its easing cycle, on the latest day? One definition everywhere: a cut starts
-- a new easing cycle when it follows a hike or comes more than easing_cycle_gap_days (180,
-- config/models.toml) after the previous cut. core.fomc_decisions.cycle_start applies it and
-- marts.fed_policy reads it, so the 2025 cuts are a cycle of their own, from 2025-09-18.
select day, target_lower, target_upper, effective, stance, cycle_first_cut_date, cuts_in_cycle,
       bp_cut_in_cycle, days_since_first_cut, easing_active
from marts.fed_policy
where day = (select max(day) from marts.fed_policy);
