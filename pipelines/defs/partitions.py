"""Monthly partitions of price history, in New York time.

A month is the unit of backfill: materialising a range of months fetches just those months (plus
the sessions re-fetched before them). Daily partitions were tried first: with history from 1990
they mean ~13,000 partitions, and a full-history run spent minutes recording one materialisation
event per day. The daily schedule re-materialises the current month, which costs one small
request per ticker.
"""

import dagster as dg

from warehouse.calendar import NEW_YORK
from warehouse.universe import load_universe

# end_offset=1 makes the current month's partition exist, so the daily schedule can load today.
monthly_partitions = dg.MonthlyPartitionsDefinition(
    start_date=load_universe().history_start.replace(day=1).isoformat(),
    timezone=NEW_YORK,
    end_offset=1,
)
