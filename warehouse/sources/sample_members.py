"""Synthetic, deterministic index members for the sample warehouse. Not real data.

Each sample index has a small pool of synthetic stocks (symbols SAMP001 .. SAMP150, which no
exchange uses, so a sample member is never mistaken for a real one) and a fixed number of members
drawn from it. A snapshot is dated on the sample's first session, then on the last session of
every month: each month a few members leave and as many join from the pool, more at the June
reconstitution, so breadth over the members of the day differs from breadth over today's members.
Weights follow a size per stock with a little monthly drift and sum to 1 in every snapshot.

Membership evolves month by month from the sample's start with seeds fixed per index and month,
so the snapshot of a given month never depends on how far the generator was asked to run.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd

from warehouse import calendar
from warehouse.sources.members import MEMBER_COLUMNS, MembersBatch, Snapshot, Stored
from warehouse.sources.sample import SAMPLE_START, SEED
from warehouse.universe import IndexSpec

GICS_SECTORS = (
    "Communication", "Consumer Discretionary", "Consumer Staples", "Energy", "Financials",
    "Health Care", "Industrials", "Information Technology", "Materials", "Real Estate", "Utilities",
)
PREFIX = "SAMP"


@dataclass(frozen=True)
class SampleIndex:
    pool: range  # numbers of the synthetic stocks it draws from
    size: int  # members in every snapshot
    monthly_changes: int  # at most this many members replaced in an ordinary month
    june_changes: int  # replaced at the June reconstitution


# The two small-cap indexes share part of their pools, as the Russell 2000 and the S&P 600 do;
# the large-cap index draws from stocks of its own. 150 symbols in all.
SAMPLE_INDEXES = {
    "russell_2000": SampleIndex(range(1, 71), 50, 2, 6),
    "sp_600": SampleIndex(range(41, 91), 36, 1, 4),
    "sp_500": SampleIndex(range(91, 151), 50, 1, 3),
}


def symbol(number: int) -> str:
    return f"{PREFIX}{number:03d}"


def _rng(*parts: object) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(":".join(map(str, parts)).encode()) ^ SEED)


@cache
def sector_of(number: int) -> str:
    return GICS_SECTORS[int(_rng("sector", number).integers(len(GICS_SECTORS)))]


@cache
def size_of(number: int) -> float:
    return float(_rng("size", number).lognormal(0.0, 1.0))


def snapshot_dates(start: dt.date, until: dt.date) -> list[dt.date]:
    """The first session on or after `start`, then the last session of each month, to `until`."""
    days = calendar.sessions(start, until)
    if not days:
        return []
    ends = [d for d, nxt in zip(days, days[1:], strict=False) if nxt.month != d.month]
    last = days[-1]
    next_month = (last.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    if not calendar.sessions(last + dt.timedelta(days=1), next_month - dt.timedelta(days=1)):
        ends.append(last)  # `until` is its month's last session
    return sorted({days[0], *ends})


def memberships(index_id: str, dates: Sequence[dt.date]) -> list[list[int]]:
    """The member numbers on each date, evolving from the first date on."""
    shape = SAMPLE_INDEXES[index_id]
    pool = list(shape.pool)
    members = sorted(_rng("initial", index_id).choice(pool, size=shape.size, replace=False).tolist())
    out = []
    for i, day in enumerate(dates):
        if i:
            rng = _rng("changes", index_id, f"{day:%Y-%m}")
            most = shape.june_changes if day.month == 6 else shape.monthly_changes
            count = int(rng.integers(0, most + 1))
            if count:
                leaving = set(rng.choice(members, size=count, replace=False).tolist())
                outside = [n for n in pool if n not in members]
                joining = rng.choice(outside, size=min(count, len(outside)), replace=False).tolist()
                members = sorted((set(members) - leaving) | set(joining))
        out.append(list(members))
    return out


class SampleMembersSource:
    """Synthetic members for the sample indexes, answering like any other membership source."""

    name = "sample"

    def __init__(self, start: dt.date = SAMPLE_START):
        self._start = start

    def snapshots(self, indexes: Sequence[IndexSpec], stored: Stored, until: dt.date,
                  start: dt.date | None = None) -> MembersBatch:
        batch = MembersBatch()
        dates = snapshot_dates(self._start, until)
        for spec in indexes:
            if spec.index_id not in SAMPLE_INDEXES:
                batch.notes.append(
                    f"{spec.index_id}: the sample has members for {', '.join(SAMPLE_INDEXES)} only; none for it"
                )
                continue
            for day, members in zip(dates, memberships(spec.index_id, dates), strict=True):
                if start is not None and day < start:
                    continue
                batch.snapshots.append(self._snapshot(spec, day, members))
        if dates:
            batch.notes.append(
                f"synthetic members (symbols {PREFIX}001 .. {PREFIX}150), monthly from {dates[0]}: not real index data"
            )
        return batch

    @staticmethod
    def _snapshot(spec: IndexSpec, day: dt.date, members: list[int]) -> Snapshot:
        drift = _rng("weights", spec.index_id, f"{day:%Y-%m}").lognormal(0.0, 0.1, len(members))
        sizes = np.array([size_of(n) for n in members]) * drift
        weights = sizes / sizes.sum()
        frame = pd.DataFrame({
            "ticker": [symbol(n) for n in members],
            "holding_ticker": [symbol(n) for n in members],
            "name": [f"SAMPLE STOCK {n:03d} (SYNTHETIC)" for n in members],
            "sector": [sector_of(n) for n in members],
            "weight": weights.astype("float64"),
        })[MEMBER_COLUMNS]
        return Snapshot(spec.index_id, spec.fund, day, frame, origin="sample")
