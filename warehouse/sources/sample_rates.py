"""Synthetic FRED series for demos and tests. Not real data; every row is labelled 'sample'.

The policy rate is not invented: DFEDTAR, DFEDTARL and DFEDTARU follow the real FOMC decisions of
the shipped reference (config/fomc_decisions.csv), so the decisions derived from the sample are
the real ones. Everything else is drawn around it from fixed seeds: the effective rate sits near
the target (inside the range from 2008-12-16), Treasury yields and the high-yield spread wander
on weekdays (FRED's '.' on a few bond-market holidays included), CPI and unemployment are monthly.

Values are drawn in date order from fixed seeds, so the value of a given day never depends on
how far the generator was asked to run.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from warehouse.calendar import NEW_YORK
from warehouse.fomc_reference import ReferenceDecision, read_reference
from warehouse.sources.rates import RATE_COLUMNS, RateBatch, Starts, empty_observations, start_of

SAMPLE_START = dt.date(1990, 1, 1)
SEED = 20260109
# Weekdays on which FRED's Treasury and spread series publish '.' (bond markets closed).
HOLIDAYS = {(1, 1), (7, 4), (11, 11), (12, 25)}
MARKET_SERIES = frozenset({"DGS3MO", "DGS2", "DGS10", "T10Y2Y", "BAMLH0A0HYM2"})


def today(now: pd.Timestamp | None = None) -> dt.date:
    """The last day the sample publishes by default: the New York date at `now` (default: now),
    the day the rates' freshness check counts from; the machine's own date can be a day ahead of
    it in the evening. The tests pin it (tests/conftest.py), so what they see does not depend on
    the day or the hour they run."""
    return (now or pd.Timestamp.now(tz="UTC")).tz_convert(NEW_YORK).date()


def _rng(series_id: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(series_id.encode()) ^ SEED)


def _ar1(rng: np.random.Generator, n: int, phi: float, sd: float, start: float = 0.0) -> np.ndarray:
    """A mean-zero AR(1) path: x[t] = phi * x[t-1] + e[t]."""
    shocks = rng.normal(0.0, sd, n)
    out = np.empty(n)
    level = start
    for i in range(n):
        level = phi * level + shocks[i]
        out[i] = level
    return out


def _bump(days: pd.DatetimeIndex, peak: str, height: float, width_days: float) -> np.ndarray:
    """A smooth rise and fall of `height` centred on `peak`: the shape of a stress episode."""
    distance = (days - pd.Timestamp(peak)).days.to_numpy(dtype=float)
    return height * np.exp(-0.5 * (distance / width_days) ** 2)


class SampleRatesSource:
    """The bundled synthetic rates, answering like any other rates source."""

    name = "sample"

    def __init__(self, reference_path: Path | None = None, end: dt.date | None = None):
        self._reference_path = reference_path
        self.end = end or today()
        self.builders: dict[str, Callable[[], pd.DataFrame]] = {
            "DFEDTAR": lambda: self._target("single")[["obs_date", "upper"]],
            "DFEDTARL": lambda: self._target("range")[["obs_date", "lower"]],
            "DFEDTARU": lambda: self._target("range")[["obs_date", "upper"]],
            "DFF": self._effective,
            "DGS3MO": lambda: self.curve[["obs_date", "DGS3MO"]],
            "DGS2": lambda: self.curve[["obs_date", "DGS2"]],
            "DGS10": lambda: self.curve[["obs_date", "DGS10"]],
            "T10Y2Y": lambda: self.curve[["obs_date", "T10Y2Y"]],
            "BAMLH0A0HYM2": self._high_yield_spread,
            "CPIAUCSL": self._cpi,
            "UNRATE": self._unemployment,
        }

    # -- the policy rate, from the reference decisions ------------------------------------------

    @cached_property
    def decisions(self) -> list[ReferenceDecision]:
        return read_reference(self._reference_path)

    @cached_property
    def days(self) -> pd.DatetimeIndex:
        return pd.date_range(SAMPLE_START, self.end, freq="D")

    @cached_property
    def policy(self) -> pd.DataFrame:
        """lower and upper bound on every calendar day, and whether the target was a range."""
        first = self.decisions[0]
        # The level in force before the first decision: undo that decision's change.
        opening = first.target_upper - first.change_bp / 100
        lowers = np.array([opening] + [d.target_lower for d in self.decisions])
        uppers = np.array([opening] + [d.target_upper for d in self.decisions])
        effective = np.array([np.datetime64(d.effective_date) for d in self.decisions])
        index = np.searchsorted(effective, self.days.values.astype("datetime64[D]"), side="right")
        range_start = next(
            (d.effective_date for d in self.decisions if d.target_lower < d.target_upper), None
        )
        is_range = (
            (self.days >= pd.Timestamp(range_start))
            if range_start
            else np.zeros(len(self.days), bool)
        )
        return pd.DataFrame(
            {
                "obs_date": self.days.date,
                "lower": lowers[index],
                "upper": uppers[index],
                "is_range": is_range,
            }
        )

    def _target(self, kind: str) -> pd.DataFrame:
        policy = self.policy
        return policy[policy["is_range"] == (kind == "range")]

    def _effective(self) -> pd.DataFrame:
        """DFF: near the single target, a few basis points above the range's floor after 2008.

        Like FRED's DFF, a weekend repeats Friday's rate.
        """
        policy = self.policy
        rng = _rng("DFF")
        noise = rng.normal(0.0, 1.0, len(policy))
        single = policy["upper"] + 0.06 * noise
        floor = policy["lower"] + 0.08 + 0.01 * noise
        in_range = floor.clip(policy["lower"] + 0.01, policy["upper"] - 0.01)
        value = pd.Series(np.where(policy["is_range"], in_range, single), index=self.days).round(2)
        weekend = self.days.dayofweek >= 5
        value[weekend] = np.nan
        value = value.ffill().bfill()
        return pd.DataFrame({"obs_date": self.days.date, "DFF": value.to_numpy()})

    # -- market series on weekdays ----------------------------------------------------------------

    @cached_property
    def weekdays(self) -> pd.DatetimeIndex:
        return self.days[self.days.dayofweek < 5]

    @cached_property
    def curve(self) -> pd.DataFrame:
        """Treasury yields stacked on the policy rate, and the 10y-2y spread FRED computes."""
        policy = self.policy.set_index(pd.DatetimeIndex(self.days))
        mid = ((policy["lower"] + policy["upper"]) / 2).reindex(self.weekdays).to_numpy()
        n = len(self.weekdays)
        bill = np.maximum(0.01, mid - 0.05 + _ar1(_rng("DGS3MO"), n, 0.98, 0.03))
        two = np.maximum(0.05, bill + 0.3 + _ar1(_rng("DGS2"), n, 0.995, 0.04))
        ten = np.maximum(0.3, two + 1.0 + _ar1(_rng("DGS10"), n, 0.998, 0.03))
        frame = pd.DataFrame(
            {
                "obs_date": self.weekdays.date,
                "DGS3MO": bill.round(2),
                "DGS2": two.round(2),
                "DGS10": ten.round(2),
            }
        )
        frame["T10Y2Y"] = (frame["DGS10"] - frame["DGS2"]).round(2)
        return frame

    def _high_yield_spread(self) -> pd.DataFrame:
        days = self.weekdays[self.weekdays >= pd.Timestamp("1996-12-31")]
        stress = (
            _bump(days, "2002-10-01", 5.0, 120)
            + _bump(days, "2008-12-15", 14.0, 70)
            + _bump(days, "2020-03-23", 6.0, 20)
        )
        base = 4.5 * np.exp(_ar1(_rng("BAMLH0A0HYM2"), len(days), 0.995, 0.02))
        return pd.DataFrame({"obs_date": days.date, "BAMLH0A0HYM2": (base + stress).round(2)})

    # -- monthly series ---------------------------------------------------------------------------

    @cached_property
    def months(self) -> pd.DatetimeIndex:
        return pd.date_range(SAMPLE_START, self.end, freq="MS")

    def _cpi(self) -> pd.DataFrame:
        growth = 1 + 0.0022 + _rng("CPIAUCSL").normal(0.0, 0.002, len(self.months))
        return pd.DataFrame(
            {"obs_date": self.months.date, "CPIAUCSL": (127.5 * np.cumprod(growth)).round(3)}
        )

    def _unemployment(self) -> pd.DataFrame:
        months = self.months
        recessions = (
            _bump(months, "1992-06-01", 2.2, 300)
            + _bump(months, "2003-06-01", 1.5, 300)
            + _bump(months, "2009-10-01", 4.8, 420)
            + _bump(months, "2020-04-01", 9.5, 60)
        )
        level = 4.8 + recessions + _ar1(_rng("UNRATE"), len(months), 0.9, 0.12)
        return pd.DataFrame({"obs_date": months.date, "UNRATE": np.maximum(2.5, level).round(1)})

    # -- the source interface ---------------------------------------------------------------------

    def observations(self, series: Sequence[str], starts: Starts | None = None) -> RateBatch:
        frames, failed, missing = [], {}, 0
        for series_id in dict.fromkeys(series):
            build = self.builders.get(series_id)
            if build is None:
                failed[series_id] = (
                    f"the sample has no series {series_id!r}; "
                    f"it knows {', '.join(sorted(self.builders))}"
                )
                continue
            frame = build().set_axis(["obs_date", "value"], axis=1)
            start = start_of(starts, series_id)
            if start is not None:
                frame = frame[frame["obs_date"] >= start]
            if series_id in MARKET_SERIES:
                holiday = np.array(
                    [(d.month, d.day) in HOLIDAYS for d in frame["obs_date"]], dtype=bool
                )
                missing += int(holiday.sum())
                frame = frame[~holiday]
            if len(frame):
                frames.append(frame.assign(series_id=series_id)[RATE_COLUMNS])
        observations = pd.concat(frames, ignore_index=True) if frames else empty_observations()
        batch = RateBatch(observations, failed, missing)
        if missing:
            batch.notes.append(f"skipped {missing} holiday values published as '.'")
        return batch
