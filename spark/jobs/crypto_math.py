"""The exact arithmetic of the crypto transforms (``@tributary/coinmarketcap``), in Python integers.

TypeScript computes ratios on 18-digit scaled BigInts and rounds once, to a double, at the end:
``Number(a * 10n ** 12n / b) / 1e10`` with BigInt division truncating toward zero. Spark's
decimal arithmetic caps precision at 38 digits (a market cap times 10^12 needs more), so these
run as Python UDFs on the few rows of a day's summary.
"""

from __future__ import annotations

from decimal import Context, Decimal

SCALE = 18
_CONTEXT = Context(prec=100)


def unscaled(value: Decimal | None) -> int | None:
    """The value times 10^18 as an integer (exact for decimal(38,18))."""
    if value is None:
        return None
    return int(value.scaleb(SCALE, context=_CONTEXT).to_integral_value(context=_CONTEXT))


def _truncated_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def percent_ratio(numerator: int, denominator: int) -> float:
    """``Number(numerator * 10n ** 12n / denominator) / 1e10``: percent with 10 decimals, then a double."""
    return float(_truncated_div(numerator * 10**12, denominator)) / 1e10


def percent_change(open_: Decimal | None, close: Decimal | None) -> float | None:
    """``(close - open) / open`` in percent; None without both prices or when open is 0."""
    o, c = unscaled(open_), unscaled(close)
    if o is None or c is None or o == 0:
        return None
    return percent_ratio(c - o, o)


def share(part: Decimal | None, total: Decimal | None) -> float | None:
    """``part / total`` in percent; None without a part or when the total is 0."""
    p, t = unscaled(part), unscaled(total)
    if p is None or t is None or t == 0:
        return None
    return percent_ratio(p, t)
