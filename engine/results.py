"""Database rows -> Cube's response body: member keys, JavaScript-formatted values, annotation.

Cube's DuckDB driver hands every number to the client as the string JavaScript's `String(n)`
prints, keeps booleans and nulls, and writes times as local `YYYY-MM-DDTHH:mm:ss.SSS`.

>>> js_number(3.0), js_number(0.1), js_number(1e21), js_number(1e-7), js_number(213.6128)
('3', '0.1', '1e+21', '1e-7', '213.6128')
>>> format_time(datetime(2024, 1, 5, 13, 4, 5, 120000))
'2024-01-05T13:04:05.120'
"""

from __future__ import annotations

import math
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Iterable

from .model import Member
from .formats import reported_format
from .meta import value_type
from .naming import titleize
from .plan import Column, Plan


def js_number(value: int | float | Decimal) -> str:
    """`String(n)` in JavaScript: shortest round-trip digits, exponent only past 1e21 / 1e-7."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and abs(value) < 10**21:
        return str(value)
    number = float(value)
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


def format_time(value: datetime | date) -> str:
    """A time value as Cube prints it: wall clock, milliseconds, no zone."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}"
    return value.strftime("%Y-%m-%dT00:00:00.000")


def format_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float, Decimal)):
        return js_number(value)
    if isinstance(value, (datetime, date)):
        return format_time(value)
    return value


def shape_rows(plan: Plan, rows: Iterable[tuple]) -> list[dict]:
    """Rows in select order -> dicts keyed by member, with Cube's legacy time-dimension keys."""
    keys = [c.key for c in plan.columns]
    legacy = [(key, plan.columns.index(column)) for key, column in plan.legacy_time_keys]
    shaped = []
    for row in rows:
        values = [format_value(v) for v in row]
        item = dict(zip(keys, values))
        for key, index in legacy:
            item[key] = values[index]
        shaped.append(item)
    return shaped


def compact(plan: Plan, data: list[dict], response_format: str | None) -> Any:
    """`responseFormat: compact` -> {members, dataset}; `columnar` -> {members, columns}."""
    if response_format not in ("compact", "columnar"):
        return data
    members = list(data[0].keys()) if data else [c.key for c in plan.columns] + [
        k for k, _ in plan.legacy_time_keys]
    if response_format == "compact":
        return {"members": members, "dataset": [[row.get(m) for m in members] for row in data]}
    return {"members": members, "columns": [[row.get(m) for row in data] for m in members]}


# --- annotation ----------------------------------------------------------------------------------

def _member_annotation(member: Member, kind: str) -> dict:
    out: dict[str, Any] = {"title": member.title, "shortTitle": member.short_title}
    if member.description:
        out["description"] = member.description
    if member.kind != "segment":
        out["type"] = value_type(member)
    reported = reported_format(member.kind, value_type(member), member.format)
    if reported is not None:
        out["format"] = reported
    if member.meta is not None:
        out["meta"] = member.meta
    if member.kind == "measure":
        out["drillMembers"] = list(member.drill_members)
        out["drillMembersGrouped"] = member.drill_members_grouped()
    return out


def granularity_annotation(member: Member, name: str) -> dict:
    for custom in member.granularities:
        if custom.name == name:
            out = {"name": name, "title": custom.title or titleize(name),
                   "interval": custom.interval}
            if custom.offset:
                out["offset"] = custom.offset
            if custom.origin:
                out["origin"] = custom.origin
            return out
    return {"name": name, "title": name, "interval": f"1 {name}"}


def annotation(plan: Plan) -> dict:
    """Cube's `annotation`: what each key of a row means."""
    measures = {c.key: _member_annotation(c.member, "measure") for c in plan.measures}
    dimensions = {c.key: _member_annotation(c.member, "dimension")
                  for c in plan.dimensions if c.granularity is None}
    segments = {s.path: _member_annotation(s, "segment") for s in plan.segments}
    time_dimensions: dict[str, dict] = {}
    for column in plan.dimensions:
        if column.granularity is not None:
            item = _member_annotation(column.member, "dimension")
            item["granularity"] = granularity_annotation(column.member, column.granularity)
            time_dimensions[column.key] = item
    for key, column in plan.legacy_time_keys:
        time_dimensions[key] = _member_annotation(column.member, "dimension")
    return {"measures": measures, "dimensions": dimensions, "segments": segments,
            "timeDimensions": time_dimensions}
