"""Synthetic valuation history for the sample warehouse. Not real data: every row is labelled
`source = 'sample'` and `method = 'synthetic'`.

One figure per NYSE session from 2015 to the requested day, for the valuation tickers and the
indices ^RUT, ^GSPC and ^SP600. The large-cap trailing P/E follows a path shaped like the S&P 500's
(about 18 in 2015, a dip in 2018, the 2020 spike, about 27 by 2025). Small caps trade at a discount
to it, 1 - P/E(small) / P/E(large), that wanders around a historical mean (7.5% for ^RUT, 12.5% for
^SP600), widens through 2024 to 2025 by 12 points, and half closes with the rotation from October
2025. Between those slow paths a figure moves with its ticker's sample price (price over its
63-session average), so the ratios move with the sample's prices from day to day.

Values are drawn over every session of the calendar from fixed seeds, so the figure of a given
day never depends on how far the generator was asked to run.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Sequence

import numpy as np
import pandas as pd

from warehouse.sources.sample import (
    ETF_INDEX,
    INDEX_PROFILES,
    SAMPLE_START,
    SMALL_ETFS,
    SampleMarket,
)
from warehouse.sources.valuations import VALUATION_COLUMNS, ValuationBatch, empty_valuations
from warehouse.valuation_terms import SAMPLE_METHOD, split_metric

SEED = 20260102
PUBLISHER = "synthetic sample"
# The indices whose valuations the sample always gives, beside the universe's valuation tickers.
SAMPLE_INDICES = ("^RUT", "^GSPC", "^SP600")

# The large-cap trailing P/E at these dates, linear in between and flat after the last.
LARGE_PE_PATH = [
    (dt.date(2015, 1, 2), 18.0), (dt.date(2017, 12, 29), 22.5), (dt.date(2018, 12, 24), 17.5),
    (dt.date(2020, 2, 19), 22.0), (dt.date(2020, 3, 23), 16.5), (dt.date(2020, 12, 31), 30.0),
    (dt.date(2021, 12, 31), 25.0), (dt.date(2022, 9, 30), 17.5), (dt.date(2023, 12, 29), 23.5),
    (dt.date(2024, 12, 31), 26.5), (dt.date(2025, 12, 31), 27.5),
]
# The small-cap discount: its long-run mean, and how much wider it is at these dates.
DISCOUNT_MEAN = {"^RUT": 0.075, "^SP600": 0.125}
DISCOUNT_WIDENING = [
    (dt.date(2023, 12, 29), 0.0), (dt.date(2025, 6, 30), 0.12), (dt.date(2025, 9, 30), 0.12),
    (dt.date(2026, 3, 31), 0.06),
]
DISCOUNT_SD = 0.025  # spread of the discount's wander around its path
DISCOUNT_HALF_LIFE = 60  # sessions
# Other indices relative to the large-cap P/E.
INDEX_RELATIVE = {"^GSPC": 1.0, "^NDX": 1.3, "^IXIC": 1.35, "^DJI": 0.92}
# Forward P/E = trailing P/E * this (expected earnings growth; more of it for small caps).
FORWARD_FACTOR = {
    "^GSPC": 0.86, "^RUT": 0.84, "^SP600": 0.85, "^NDX": 0.8, "^IXIC": 0.8, "^DJI": 0.9,
}
# Small-cap funds without an index of their own, relative to ^RUT.
SMALL_ETF_RELATIVE = {"VB": 1.08, "VBR": 0.82, "IWN": 0.8, "IWO": 1.5, "SMLF": 0.95}
SMALL_INDICES = {"^RUT", "^SP600"}
TREND_SPAN = 63  # sessions of the price average a figure is compared with


def _rng(name: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(name.encode()) ^ SEED)


def _path(sessions: np.ndarray, knots: list[tuple[dt.date, float]]) -> np.ndarray:
    x = np.array([np.datetime64(d) for d, _ in knots]).astype("int64")
    y = np.array([v for _, v in knots])
    return np.interp(sessions.astype("int64"), x, y)


class SampleValuations:
    """The synthetic figures of every session from `start` to the calendar's last session."""

    def __init__(self, start: dt.date = SAMPLE_START):
        self.market = SampleMarket(start)
        self.sessions = self.market.sessions
        self.large_pe = _path(self.sessions, LARGE_PE_PATH)
        self.widening = _path(self.sessions, DISCOUNT_WIDENING)

    def _discount(self, index: str) -> np.ndarray:
        """Mean + widening + an AR(1) wander with the given spread and half-life."""
        phi = 0.5 ** (1 / DISCOUNT_HALF_LIFE)
        spread = DISCOUNT_SD * np.sqrt(1 - phi**2)
        shocks = _rng("discount:" + index).normal(0.0, spread, len(self.sessions))
        wander = np.empty_like(shocks)
        level = 0.0
        for i, shock in enumerate(shocks):
            level = phi * level + shock
            wander[i] = level
        return DISCOUNT_MEAN[index] + self.widening + wander

    def _price_swing(self, price: np.ndarray) -> np.ndarray:
        """Price over its trailing average: how far a ratio sits above or below its slow path."""
        trend = pd.Series(price).ewm(span=TREND_SPAN, adjust=False).mean().to_numpy()
        return price / trend

    def index_pe(self, index: str) -> np.ndarray:
        swing = self._price_swing(self.market.index_path(index))
        if index in DISCOUNT_MEAN:
            return self.large_pe * (1 - self._discount(index)) * swing
        return self.large_pe * INDEX_RELATIVE.get(index, 1.0) * swing

    def figures(self, ticker: str) -> dict[str, np.ndarray] | None:
        """metric -> values over all sessions, or None when the sample cannot make this ticker."""
        rng = _rng("valuation:" + ticker)
        if ticker in INDEX_PROFILES:
            pe = self.index_pe(ticker)
            return {"pe_trailing": pe, "pe_forward": pe * FORWARD_FACTOR.get(ticker, 0.86)}
        if ticker.startswith("^"):
            return None
        fund_base = self._fund_base(ticker)
        if fund_base is not None:
            index, relative = fund_base
            small = index in SMALL_INDICES
            pe = self.index_pe(index) * relative * (1 + rng.uniform(-0.03, 0.03))
            pb = pe * (0.10 if small else 0.19)
            return {
                "pe_trailing": pe,
                "pb_trailing": pb,
                "holdings_pe_trailing": pe * rng.uniform(0.9, 1.0),
                "holdings_pb_trailing": pb * rng.uniform(0.95, 1.05),
                "holdings_ps_trailing": pe * (0.07 if small else 0.12),
                "holdings_pcf_trailing": pe * 0.62,
            }
        first, last = self.sessions[0].astype(object), self.sessions[-1].astype(object)
        bars = self.market.bars(ticker, first, last)
        pe = self.large_pe * rng.uniform(0.9, 2.2) * self._price_swing(bars["adj_close"].to_numpy())
        ps = pe * rng.uniform(0.12, 0.35)
        return {
            "pe_trailing": pe,
            "pe_forward": pe * rng.uniform(0.7, 0.9),
            "pb_trailing": pe * rng.uniform(0.15, 1.6),
            "ps_trailing": ps,
            "ev_revenue_trailing": ps * rng.uniform(1.0, 1.05),
            "ev_ebitda_trailing": pe * rng.uniform(0.6, 0.8),
        }

    @staticmethod
    def _fund_base(ticker: str) -> tuple[str, float] | None:
        """(the index a fund's ratios follow, how much richer or cheaper), or None for a stock."""
        if ticker in ETF_INDEX:
            return ETF_INDEX[ticker][0], 1.0
        if ticker in SMALL_ETFS:
            return "^RUT", SMALL_ETF_RELATIVE.get(ticker, 1.0)
        if ticker == "RSP":
            return "^GSPC", 0.8
        if ticker.startswith("XL") or ticker in {"KRE", "XBI"}:
            return "^GSPC", float(_rng("sector:" + ticker).uniform(0.6, 1.3))
        return None

    def frame(self, ticker: str, first: dt.date, last: dt.date) -> pd.DataFrame | None:
        figures = self.figures(ticker)
        if figures is None:
            return None
        lo = np.searchsorted(self.sessions, np.datetime64(first))
        hi = np.searchsorted(self.sessions, np.datetime64(last), side="right")
        days = self.sessions[lo:hi].astype(object)
        parts = [
            pd.DataFrame({
                "as_of_date": days, "ticker": ticker, "metric": metric,
                "value": np.round(values[lo:hi], 4), "basis": split_metric(metric)[1],
                "method": SAMPLE_METHOD, "publisher": PUBLISHER, "url": None, "notes": None,
            })
            for metric, values in figures.items()
        ]
        return pd.concat(parts, ignore_index=True)[VALUATION_COLUMNS]


class SampleValuationSource:
    """The synthetic valuations, answering like any other valuation source."""

    name = "sample"

    def __init__(self, start: dt.date = SAMPLE_START):
        self._start = start
        self._model: SampleValuations | None = None

    @property
    def model(self) -> SampleValuations:
        if self._model is None:
            self._model = SampleValuations(self._start)
        return self._model

    def _batch(self, tickers: Sequence[str], first: dt.date, last: dt.date) -> ValuationBatch:
        batch = ValuationBatch()
        frames = []
        for ticker in dict.fromkeys([*tickers, *SAMPLE_INDICES]):
            frame = self.model.frame(ticker, max(first, self._start), last)
            if frame is None:
                batch.failed[ticker] = "the sample has no synthetic valuations for this index"
            elif len(frame):
                frames.append(frame)
        batch.rows = pd.concat(frames, ignore_index=True) if frames else empty_valuations()
        if last < self._start:
            batch.notes.append(f"the sample starts on {self._start}; nothing before it")
        return batch

    def snapshot(self, tickers: Sequence[str], as_of: dt.date) -> ValuationBatch:
        return self._batch(tickers, as_of, as_of)

    def valuations(self, tickers: Sequence[str], as_of: dt.date, start: dt.date) -> ValuationBatch:
        return self._batch(tickers, start, as_of)
