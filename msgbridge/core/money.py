"""Amounts of money as the store keeps them: integers in millionths of the currency unit (micros).

Prices and costs are summed over campaigns of millions of messages; integers keep those sums exact where
floats would drift. These turn them into text only at the edges (CSV, terminal, JSON for people).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

MICROS = 1_000_000


def amount(micros: int) -> str:
    """``micros`` as an exact decimal, at least two places and no trailing zeros past them: 36000 -> "0.036"."""
    sign = "-" if micros < 0 else ""
    whole, frac = divmod(abs(micros), MICROS)
    digits = f"{frac:06d}".rstrip("0").ljust(2, "0")
    return f"{sign}{whole}.{digits}"


def format_micros(micros: int, currency: str) -> str:
    """``12_345_000, "EUR"`` -> ``"12.345 EUR"`` (no currency: the amount alone)."""
    return f"{amount(micros)} {currency}".rstrip()


def micros_of(value: object) -> int | None:
    """A provider's amount (``"1.40"``, ``0.02``, ``3``) in micros, rounded half-even at the sixth place;
    None for anything that is not a finite number (an absent or garbled field is no cost of 0)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        exact = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not exact.is_finite():
        return None
    return int((exact * MICROS).to_integral_value(ROUND_HALF_EVEN))


def cost_of(value: object, currency: object) -> tuple[int, str] | None:
    """``(micros, currency)`` from a provider's amount and currency code; None unless both are readable."""
    micros = micros_of(value)
    if micros is None or not isinstance(currency, str) or not currency.strip():
        return None
    return micros, currency.strip().upper()
