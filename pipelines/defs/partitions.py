"""Monthly partitions of price history, in New York time.

A month is the unit of backfill: materialising a range of months fetches just those months (plus
the sessions re-fetched before them). Daily partitions were tried first: with history from 1990
they mean ~13,000 partitions (~25,000 from 1927), and a full-history run spent minutes recording
one materialisation event per day. The daily schedule re-materialises the current month, which
costs one small request per ticker.

The partitions start in the month of `history.start` (1927-12 by default: ~1,190 months). A source
may start later (the sample in 2015, a folder of files at its earliest row): `source_partition_keys`
gives only the months from the source's first one, so `make run` does not mark the months before
it as materialised when they can hold no rows.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from warehouse.calendar import NEW_YORK
from warehouse.sources.base import Source
from warehouse.universe import Universe, load_universe


def month_key(day: dt.date) -> str:
    """The key of the monthly partition holding `day` (the month's first day, ISO)."""
    return day.replace(day=1).isoformat()


def monthly_partitions_from(start: dt.date) -> dg.MonthlyPartitionsDefinition:
    # end_offset=1 makes the current month's partition exist, so the daily schedule can load today.
    return dg.MonthlyPartitionsDefinition(start_date=month_key(start), timezone=NEW_YORK, end_offset=1)


monthly_partitions = monthly_partitions_from(load_universe().history_start)


def source_first_date(source: Source, tickers) -> dt.date | None:
    """The earliest date the source can have for these tickers, None when it cannot tell."""
    first_date = getattr(source, "first_date", None)  # a source written before the method existed
    return first_date(list(tickers)) if first_date is not None else None


def source_partition_keys(source: Source, universe: Universe | None = None) -> list[str]:
    """The monthly partition keys from the month of max(history start, the source's first date) to
    the current month (New York), oldest first: the months this source can fill.

    A source that cannot tell its first date (live: Yahoo answers only when asked) gets every month
    from the history start. Empty when the source's first date lies after the current month.
    """
    universe = universe or load_universe()
    first = source_first_date(source, universe.tickers)
    start = max(universe.history_start, first) if first else universe.history_start
    keys = monthly_partitions_from(universe.history_start).get_partition_keys()
    return [k for k in keys if k >= month_key(start)]
