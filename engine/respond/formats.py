"""Display formats of members, as Cube's /meta and annotations describe them.

A member's `format` in the model becomes the `format` Cube reports (standard names kept,
named numeric formats and raw d3 specifiers turned into `custom-numeric`), and every number-typed
member gets a `formatDescription` with the d3-format specifier a front end can apply.

>>> format_description("measure", "number", None)
{'name': 'number', 'specifier': ',.2~f'}
>>> reported_format("measure", "number", "percent_1")
{'type': 'custom-numeric', 'value': '.1~%', 'alias': 'percent_1'}
"""

from __future__ import annotations

from typing import Any

# Named numeric formats and their d3-format specifiers (Cube's list; `~` trims trailing zeros).
NAMED_NUMERIC_FORMATS = {
    **{f"number_{n}": (",.0f" if n == 0 else f",.{n}~f") for n in range(7)},
    **{f"percent_{n}": (".0%" if n == 0 else f".{n}~%") for n in range(7)},
    **{f"currency_{n}": ("$,.0f" if n == 0 else f"$,.{n}~f") for n in range(7)},
    "decimal": ",.2~f",
    **{f"decimal_{n}": (",.0f" if n == 0 else f",.{n}~f") for n in range(7)},
    "abbr": ".2~s",
    **{f"abbr_{n}": f".{n}~s" for n in range(7)},
    "id": ".0f",
    "accounting": "(,.2~f",
    **{f"accounting_{n}": ("(,.0f" if n == 0 else f"(,.{n}~f") for n in range(7)},
}

STANDARD_SPECIFIERS = {
    "percent": ".2~%",
    "currency": "$,.2~f",
    "number": ",.2~f",
    "abbr": ".2~s",
    "accounting": "(,.2~f",
    "id": ".0f",
}
DEFAULT_DESCRIPTION = {"name": "number", "specifier": ",.2~f"}

_STANDARD_MEASURE_FORMATS = ("percent", "currency", "number")
_STANDARD_DIMENSION_FORMATS = ("imageUrl", "currency", "percent", "number", "id")


def reported_format(kind: str, member_type: str, value: Any) -> Any:
    """The `format` Cube reports for a member whose model says `format: value`."""
    if not value or isinstance(value, dict):
        return value or None
    if value in NAMED_NUMERIC_FORMATS:
        return {"type": "custom-numeric", "value": NAMED_NUMERIC_FORMATS[value], "alias": value}
    if kind == "measure":
        if value in _STANDARD_MEASURE_FORMATS:
            return value
        return {"type": "custom-numeric", "value": value}
    if value in _STANDARD_DIMENSION_FORMATS:
        return value
    if member_type == "time":
        return {"type": "custom-time", "value": value}
    if member_type == "number":
        return {"type": "custom-numeric", "value": value}
    return value


def format_description(kind: str, value_type: str, reported: Any) -> dict | None:
    """`formatDescription`: for measures of every type but string/boolean/time, and for number
    dimensions; None otherwise."""
    if kind == "measure" and value_type in ("string", "boolean", "time"):
        return None
    if kind != "measure" and value_type != "number":
        return None
    if isinstance(reported, dict) and reported.get("type") == "custom-numeric":
        return {"name": reported.get("alias") or "custom", "specifier": reported["value"]}
    if isinstance(reported, str) and reported in STANDARD_SPECIFIERS:
        return {"name": reported, "specifier": STANDARD_SPECIFIERS[reported]}
    return dict(DEFAULT_DESCRIPTION)
