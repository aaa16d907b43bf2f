"""Exact numbers for the result formulas: every input read as the decimal it was written
as, scores shown rounded half up, percentages shown without trailing zeros."""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any


def exact(value: float | int) -> Fraction:
    """The value as the decimal it was written as: 0.1 is 1/10, not the double near it."""
    if isinstance(value, int):
        return Fraction(value)
    return Fraction(repr(float(value)))


def half_up(value: Fraction, places: int = 2) -> str:
    scale = 10**places
    sign = "-" if value < 0 else ""
    units = math.floor(abs(value) * scale + Fraction(1, 2))
    whole, part = divmod(units, scale)
    return f"{sign}{whole}.{part:0{places}d}" if places else f"{sign}{whole}"


def format_score(value: float | Fraction | None) -> str:
    """A score for display: two decimals rounded half up ("—" when there is none).

    A float is read as its shortest decimal spelling (repr), which is the exact value for
    every score the formulas produce that could sit on a half (a half needs a short
    decimal), so 80.115 shows as 80.12, not as 80.11 from the double 80.11499….
    """
    if value is None:
        return "—"
    return half_up(value if isinstance(value, Fraction) else exact(value))


def percent_text(value: int | float | Fraction) -> str:
    """A percentage as written: 30, 12.5 (no trailing zeros, no exponent)."""
    value = value if isinstance(value, Fraction) else exact(value)
    return str(value.numerator) if value.denominator == 1 else format(Decimal(value.numerator) / value.denominator, "f")


def json_number(value: Fraction) -> int | float:
    # Integral values are stored as ints so that 30 and 30.0 hash the same.
    return value.numerator if value.denominator == 1 else float(value)


def parse_decimal(raw: Any) -> Fraction | None:
    """A number given as int, float or decimal text, exactly; None for anything else."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return Fraction(raw)
    if isinstance(raw, float):
        return exact(raw) if math.isfinite(raw) else None
    if isinstance(raw, str):
        try:
            parsed = Decimal(raw.strip())
        except InvalidOperation:
            return None
        return Fraction(parsed) if parsed.is_finite() else None
    return None
