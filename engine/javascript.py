"""How JavaScript writes a number (`String(n)`), which Cube's answers follow: in result values,
and in filter values a request sent as JSON numbers (`3` reaches SQL as `"3"`).

>>> js_number(3.0), js_number(0.1), js_number(1e21), js_number(1e-7), js_number(213.6128)
('3', '0.1', '1e+21', '1e-7', '213.6128')
"""

from __future__ import annotations

import math
from decimal import Decimal


def js_number(value: int | float | Decimal) -> str:
    """`String(n)` in JavaScript: shortest round-trip digits, exponent only past 1e21 / 1e-7."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and abs(value) < 10**21:
        return str(value)
    number = float(value)
    if 1e-4 <= abs(number) < 1e16:
        # Where repr() writes no exponent it writes JavaScript's digits, but for a trailing
        # ".0": the fast path for nearly every float (a third of the general path's time).
        text = repr(number)
        return text[:-2] if text.endswith(".0") else text
    return js_float(number)


def js_float(number: float) -> str:
    """`String(n)` for any float, from its shortest round-trip digits."""
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if number == 0:
        return "0"
    sign = "-" if number < 0 else ""
    # repr() gives the shortest digits that round-trip, exactly what JavaScript prints.
    _, digit_tuple, exponent = Decimal(repr(abs(number))).as_tuple()
    digits = "".join(map(str, digit_tuple)).lstrip("0")
    stripped = digits.rstrip("0")
    exponent += len(digits) - len(stripped)
    digits = stripped
    point = len(digits) + exponent  # JavaScript's n: where the decimal point falls
    k = len(digits)
    if k <= point <= 21:
        return sign + digits + "0" * (point - k)
    if 0 < point <= 21:
        return sign + digits[:point] + "." + digits[point:]
    if -6 < point <= 0:
        return sign + "0." + "0" * (-point) + digits
    exponent_value = point - 1
    exponent_text = f"e{'+' if exponent_value >= 0 else '-'}{abs(exponent_value)}"
    if k == 1:
        return sign + digits + exponent_text
    return sign + digits[0] + "." + digits[1:] + exponent_text
