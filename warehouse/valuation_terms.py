"""The words of core.valuations: which metrics, bases and methods a row may name, and the checks
every row passes, whichever source it came from.

How to read a row
-----------------
``metric`` is ``<measure>_<basis>``, e.g. ``pe_trailing`` or ``pe_forward``, and ``basis`` repeats
the suffix. The basis is in the name because the table's key is (as_of_date, ticker, metric,
source): a trailing and a forward P/E of the same day are two figures, not two versions of one.

``ticker`` is a Yahoo symbol as in config/universe.toml (``IWM``, ``^RUT``, ``^GSPC``, ``^SP600``)
or, for the discount measures, a pair ``SMALL/LARGE`` spelt like the universe's pairs
(``^RUT/^GSPC``), so models can join them to the price pairs.

The discount measures are fractions, not percents:
- ``pe_discount`` = 1 - P/E(small) / P/E(large): 0.19 means the small caps trade 19% cheaper than
  the large caps; a negative value is a premium.
- ``pe_discount_norm_low`` / ``pe_discount_norm_high``: the bounds of a long-run average of that
  same discount as a publisher states it ("historically 5-10%" is 0.05 and 0.10; a single figure is
  stored as both bounds). ``as_of_date`` is the day it was stated, not the period it averages.

``method`` says how the figure was made, because the method changes the number: a P/E that leaves
out loss-making companies is far lower than one that keeps them, most of all for small caps.
"""

from __future__ import annotations

import datetime as dt
import math
import re

BASES = ("trailing", "forward")

# measure -> what it is. Every measure may be combined with every basis.
MEASURES = {
    "pe": "price / earnings of the ticker itself (an index, a fund or a stock)",
    "pb": "price / book value",
    "ps": "price / sales",
    "pcf": "price / cash flow",
    "ev_revenue": "enterprise value / revenue",
    "ev_ebitda": "enterprise value / EBITDA",
    "holdings_pe": "a fund's average price / earnings over its holdings, as its data provider "
    "reports it",
    "holdings_pb": "a fund's average price / book over its holdings",
    "holdings_ps": "a fund's average price / sales over its holdings",
    "holdings_pcf": "a fund's average price / cash flow over its holdings",
    "pe_discount": "1 - P/E(small) / P/E(large) for the pair SMALL/LARGE; negative is a premium",
    "pe_discount_norm_low": "lower bound of a stated long-run average pe_discount",
    "pe_discount_norm_high": "upper bound of a stated long-run average pe_discount",
}
PAIR_MEASURES = frozenset(m for m in MEASURES if m.startswith("pe_discount"))

METHODS = {
    "provider_field": "a ratio as the data provider publishes it for the ticker (Yahoo's "
    "trailingPE, say); the provider does not say how it treats losses",
    "holdings_average": "the average of the holdings' ratios that a fund-data provider publishes",
    "aggregate": "total market value / total earnings of all members, loss-makers included",
    "ex_negative_earnings": "as aggregate, but members with negative earnings are left out "
    "(FTSE Russell's and iShares' published P/E)",
    "relative": "a discount or premium computed from two P/E figures (see pe_discount)",
    "historical_average": "a long-run average as the publisher states it",
    "unstated": "the publisher does not say how the figure was made",
    "synthetic": "made up by the sample source; not market data",
}
# Only the sample may label rows synthetic, and it labels every row so.
SAMPLE_METHOD = "synthetic"

METRICS = tuple(f"{measure}_{basis}" for measure in MEASURES for basis in BASES)

_SYMBOL = r"\^?[A-Z0-9][A-Z0-9.\-=]{0,14}"
SYMBOL = re.compile(rf"^{_SYMBOL}$")
PAIR = re.compile(rf"^{_SYMBOL}/{_SYMBOL}$")


def split_metric(metric: str) -> tuple[str, str] | None:
    """('pe', 'trailing') for 'pe_trailing'; None when the name is not in the vocabulary."""
    for basis in BASES:
        suffix = "_" + basis
        if metric.endswith(suffix) and metric[: -len(suffix)] in MEASURES:
            return metric[: -len(suffix)], basis
    return None


def metric_problem(metric: str, basis: str) -> str | None:
    if basis not in BASES:
        return f"basis {basis!r} is not one of {', '.join(BASES)}"
    parts = split_metric(metric)
    if parts is None:
        return (
            f"metric {metric!r} is not <measure>_<basis> with a known measure "
            f"({', '.join(MEASURES)}); e.g. pe_trailing"
        )
    if parts[1] != basis:
        return f"metric {metric!r} ends in '_{parts[1]}' but basis is {basis!r}: make them agree"
    return None


def ticker_problem(ticker: str, metric: str) -> str | None:
    parts = split_metric(metric)
    wants_pair = parts is not None and parts[0] in PAIR_MEASURES
    if wants_pair and not PAIR.match(ticker):
        return (f"{metric} is about a pair: ticker must be SMALL/LARGE, e.g. ^RUT/^GSPC, "
                f"not {ticker!r}")
    if not wants_pair and not SYMBOL.match(ticker):
        return f"ticker {ticker!r} is not a Yahoo symbol (upper case, e.g. IWM or ^RUT)"
    return None


def value_problem(value: float, metric: str) -> str | None:
    if value is None or not math.isfinite(value):
        return f"value {value!r} is not a finite number"
    parts = split_metric(metric)
    if value == 0 and (parts is None or parts[0] not in PAIR_MEASURES):
        # Providers fill absent ratios with 0; a missing field is no row, never a zero.
        return "value is 0: a ratio of 0 is a missing figure; leave the row out instead"
    return None


def method_problem(method: str, *, sample: bool = False) -> str | None:
    if method not in METHODS:
        return f"method {method!r} is not one of {', '.join(METHODS)}"
    if method == SAMPLE_METHOD and not sample:
        return f"method {SAMPLE_METHOD!r} is reserved for the sample source"
    return None


def date_problem(day: dt.date, today: dt.date) -> str | None:
    if day > today:
        return f"as_of_date {day} is in the future"
    return None


def row_problem(
    *, as_of_date: dt.date, ticker: str, metric: str, value: float, basis: str, method: str,
    today: dt.date, sample: bool = False,
) -> str | None:
    """The first reason this row cannot be stored, or None when it can."""
    return (
        date_problem(as_of_date, today)
        or metric_problem(metric, basis)
        or ticker_problem(ticker, metric)
        or value_problem(value, metric)
        or method_problem(method, sample=sample)
    )


def _sql_list(items) -> str:
    return ", ".join("'" + item.replace("'", "''") + "'" for item in items)


def quarantine_rules() -> tuple[tuple[str, str], ...]:
    """The same checks as SQL predicates over a staged row, for the load's quarantine.

    Sources check rows first (the files reader names the line); these catch whatever slips past.
    """
    pair_prefix = "pe_discount"
    return (
        ("value is NULL, NaN or infinite", "value is null or isnan(value) or isinf(value)"),
        (
            "value is 0: a missing figure is no row, never a zero",
            f"value = 0 and not starts_with(metric, '{pair_prefix}')",
        ),
        (
            "basis is not trailing or forward",
            f"basis is null or basis not in ({_sql_list(BASES)})",
        ),
        (
            "metric is not in the vocabulary of warehouse/valuation_terms.py",
            f"metric not in ({_sql_list(METRICS)})",
        ),
        ("metric and basis disagree", "not ends_with(metric, '_' || basis)"),
        (
            "method is not in the vocabulary of warehouse/valuation_terms.py",
            f"method is null or method not in ({_sql_list(METHODS)})",
        ),
        (
            "a discount needs a pair ticker SMALL/LARGE, any other metric a single symbol",
            f"starts_with(metric, '{pair_prefix}') != contains(ticker, '/')",
        ),
        ("as_of_date is in the future", "as_of_date > current_date"),
    )
