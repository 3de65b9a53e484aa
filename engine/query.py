"""Cube's query normalization: request JSON -> a validated `Query`, with Cube's exact error messages.

This stage knows nothing of the model: it checks the query's *format* (what Cube's API gateway checks
with its Joi schema), fills defaults, resolves date ranges against the clock, and records the
normalized query Cube echoes back. Member names are checked against the model later, in `plan`.

>>> from datetime import datetime, timezone
>>> q = normalize_query({"measures": ["Orders.count"]}, now=datetime(2024, 1, 1, tzinfo=timezone.utc))
>>> (q.limit, q.timezone, q.order)
(10000, 'UTC', None)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Union

from engine import dates
from engine.errors import QueryError
from engine.javascript import js_number

DEFAULT_LIMIT = 10000
MAX_LIMIT = 50000
# Reliability bounds (README "Reliability"): `and`/`or` filters nest at most this deep; deeper
# is 400 before anything recurses over it. Cube has no limit; real queries nest 2-4 deep.
MAX_FILTER_DEPTH = 32

_ID = re.compile(r"^[a-zA-Z0-9_]+\.[a-zA-Z0-9_]+$")
_DIMENSION_WITH_TIME = re.compile(r"^[a-zA-Z0-9_]+\.[a-zA-Z0-9_]+(\.[a-zA-Z0-9_]+)?$")
_ORDER_ID = re.compile(
    r"^[a-zA-Z0-9_]+\.[a-zA-Z0-9_]+$|^[a-zA-Z0-9_]+$|^[a-zA-Z0-9_]+\.[a-zA-Z0-9_]+\.[a-zA-Z0-9_]+$")
_ID_SOURCE = "/^[a-zA-Z0-9_]+\\.[a-zA-Z0-9_]+$/"
_DIMENSION_SOURCE = "/^[a-zA-Z0-9_]+\\.[a-zA-Z0-9_]+(\\.[a-zA-Z0-9_]+)?$/"
_ORDER_SOURCE = ("/^[a-zA-Z0-9_]+\\.[a-zA-Z0-9_]+$|^[a-zA-Z0-9_]+$|"
                 "^[a-zA-Z0-9_]+\\.[a-zA-Z0-9_]+\\.[a-zA-Z0-9_]+$/")

OPERATORS = (
    "equals", "notEquals", "contains", "notContains", "startsWith", "notStartsWith", "endsWith",
    "notEndsWith", "in", "notIn", "gt", "gte", "lt", "lte", "set", "notSet", "inDateRange",
    "notInDateRange", "onTheDate", "beforeDate", "beforeOrOnDate", "afterDate", "afterOrOnDate",
    "measureFilter",
)
_NO_VALUE_OPERATORS = ("set", "notSet", "measureFilter")
_RANGE_OPERATORS = ("inDateRange", "notInDateRange", "onTheDate")
_START_OPERATORS = ("beforeDate", "afterOrOnDate")
_END_OPERATORS = ("beforeOrOnDate", "afterDate")
DATE_OPERATORS = _RANGE_OPERATORS + _START_OPERATORS + _END_OPERATORS  # values are dates
COMPARISONS = ("gt", "gte", "lt", "lte")  # dates too, when the member is a time
_ABSOLUTE_DATE = re.compile(
    r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$")
_CACHE_MODES = ("stale-if-slow", "stale-while-revalidate", "must-revalidate", "no-cache")

# The keys Cube's query schema knows, in the order it checks them.
_KNOWN_KEYS = (
    "measures", "dimensions", "filters", "timeDimensions", "order", "segments", "timezone",
    "limit", "offset", "total", "cacheMode", "cache", "ungrouped", "responseFormat",
    "subqueryJoins", "joinHints", "maskedMembers",
    # Dropped from Cube's newest schema but still sent by older clients; accepted and ignored.
    "renewQuery",
)


@dataclass(frozen=True)
class Filter:
    """One filter leaf, values already stringified as Cube does (`3` -> `"3"`, null kept).

    `bounds`: the local wall-clock instants (`YYYY-MM-DDTHH:mm:ss.SSS`, query time zone) the
    values stand for when read as dates: the start of the first value, and for range operators
    the end of the last (else None). Resolved here, against the query's clock, so no later
    stage reads the clock; None when the operator does not take dates, or when a comparison's
    value does not read as one (the plan refuses that for a time member)."""

    member: str
    operator: str
    values: tuple[str | None, ...] | None
    bounds: tuple[str, str | None] | None = None

    def to_json(self) -> dict:
        out: dict[str, Any] = {"member": self.member, "operator": self.operator}
        if self.values is not None:
            out["values"] = list(self.values)
        return out


@dataclass(frozen=True)
class FilterGroup:
    """`{"or": [...]}` or `{"and": [...]}`, nested arbitrarily."""

    kind: str  # "and" | "or"
    items: tuple["FilterNode", ...]

    def to_json(self) -> dict:
        return {self.kind: [item.to_json() for item in self.items]}


FilterNode = Union[Filter, FilterGroup]


@dataclass(frozen=True)
class TimeDimension:
    dimension: str
    granularity: str | None
    date_range: tuple[str, str] | None  # local wall-clock bounds in the query time zone
    compare_date_range: tuple[tuple[str, str], ...] | None = None

    def to_json(self) -> dict:
        out: dict[str, Any] = {"dimension": self.dimension}
        if self.date_range is not None:
            out["dateRange"] = list(self.date_range)
        if self.granularity is not None:
            out["granularity"] = self.granularity
        return out


@dataclass(frozen=True)
class OrderItem:
    id: str
    desc: bool


@dataclass
class Query:
    """A normalized Cube query: defaults filled, dates resolved, format checked."""

    measures: list[str] | None
    dimensions: list[str]
    segments: list[str] | None
    time_dimensions: list[TimeDimension]
    filters: list[FilterNode]
    order: list[OrderItem] | None  # None: not given, so Cube's default order applies
    limit: int
    offset: int | None
    total: bool | None
    timezone: str
    ungrouped: bool | None
    response_format: str | None
    renew_query: bool | None
    cache_mode: str
    join_hints: list[list[str]] | None = None
    now: datetime | None = None  # the clock relative date values were resolved against
    # What the request itself said, for the echo (Cube echoes only keys the request had).
    given: dict = field(default_factory=dict)

    def echo(self) -> dict:
        """The normalized query as `/load` echoes it back (Cube's fixed field set and order)."""
        out: dict[str, Any] = {}
        if self.measures is not None:
            out["measures"] = list(self.measures)
        out["dimensions"] = list(self.dimensions)
        out["timeDimensions"] = [td.to_json() for td in self.time_dimensions]
        if self.segments is not None:
            out["segments"] = list(self.segments)
        out["limit"] = self.limit
        if self.offset is not None:
            out["offset"] = self.offset
        if self.total is not None:
            out["total"] = self.total
        out["timezone"] = self.timezone
        if self.renew_query is not None:
            out["renewQuery"] = self.renew_query
        if self.ungrouped is not None:
            out["ungrouped"] = self.ungrouped
        if self.response_format is not None:
            out["responseFormat"] = self.response_format
        out["filters"] = [f.to_json() for f in self.filters]
        out["rowLimit"] = self.limit
        if self.order is not None:
            out["order"] = [{"id": o.id, "desc": o.desc} for o in self.order]
        return out

    def normalized(self) -> dict:
        """The normalized query as `/dry-run` shows it: the request's own keys plus defaults."""
        out: dict[str, Any] = {k: v for k, v in self.given.items()
                               if k not in ("cache", "timezone", "order", "filters")}
        out.update(self.echo())
        out["cacheMode"] = self.cache_mode
        if self.measures is None:
            out.pop("measures", None)
        return out


# ---------------------------------------------------------------------------------------------


def parse_query_param(raw: Any) -> Any:
    """The `query` request parameter: a JSON string (GET) or an already-parsed value (POST)."""
    if raw is None or raw == "":
        raise QueryError("Query param is required")
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise QueryError(f"Unable to decode query param as JSON, error: {exc.msg}") from None
        except RecursionError:  # the stdlib decoder recurses once per nesting level
            raise QueryError("Unable to decode query param as JSON, error: "
                             "Maximum nesting depth exceeded") from None
    return raw


def normalize_query(query: Any, now: datetime, default_timezone: str = "UTC") -> Query:
    """Check one query's format and fill Cube's defaults; raises `QueryError` as Cube would."""
    if not isinstance(query, dict):
        raise QueryError('Invalid query format: "value" must be of type object')
    _check_format(query)
    timezone = default_timezone
    if "timezone" in query:
        timezone = dates.is_valid_timezone(query["timezone"]) or timezone

    has_granular_td = any(isinstance(td, dict) and td.get("granularity")
                          for td in query.get("timeDimensions") or [])
    if not (query.get("measures") or query.get("dimensions") or has_granular_td):
        raise QueryError("Query should contain either measures, dimensions or timeDimensions "
                         "with granularities in order to be valid")
    limit = query.get("limit")
    if isinstance(limit, int) and limit > MAX_LIMIT:
        # Cube answers 500 here; a limit the caller chose is the caller's mistake: 400 (deviation).
        raise QueryError("Error: The query limit has been exceeded.")

    dimensions = [d for d in query.get("dimensions") or [] if d.count(".") != 2]
    moved = [TimeDimension(".".join(d.split(".")[:2]), d.split(".")[2], None)
             for d in query.get("dimensions") or [] if d.count(".") == 2]
    time_dimensions = [_time_dimension(td, timezone, now) for td in query.get("timeDimensions") or []]

    return Query(
        measures=list(query["measures"]) if "measures" in query else None,
        dimensions=dimensions,
        segments=list(query["segments"]) if "segments" in query else None,
        time_dimensions=time_dimensions + moved,
        filters=[_filter(f, timezone, now) for f in query.get("filters") or []],
        order=_order(query["order"]) if query.get("order") is not None else None,
        limit=limit if isinstance(limit, int) else DEFAULT_LIMIT,
        offset=query.get("offset"),
        total=query.get("total"),
        timezone=timezone,
        ungrouped=query.get("ungrouped"),
        response_format=query.get("responseFormat"),
        renew_query=query.get("renewQuery"),
        cache_mode=query.get("cacheMode") or query.get("cache") or "stale-if-slow",
        join_hints=query.get("joinHints"),
        now=now,
        given=dict(query),
    )


# --- format checks (messages as Joi writes them) ------------------------------------------------


def _fail(message: str) -> QueryError:
    return QueryError(f"Invalid query format: {message}")


def _js(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _check_ids(query: dict, key: str, pattern: re.Pattern, source: str) -> None:
    if key not in query:
        return
    items = query[key]
    if not isinstance(items, list):
        raise _fail(f'"{key}" must be an array')
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise _fail(f'"{key}[{i}]" does not match any of the allowed types')
        if not pattern.match(item):
            raise _fail(f'"{key}[{i}]" with value "{item}" fails to match the required pattern: '
                        f"{source}")


def _check_format(query: dict) -> None:
    _check_ids(query, "measures", _ID, _ID_SOURCE)
    _check_ids(query, "dimensions", _DIMENSION_WITH_TIME, _DIMENSION_SOURCE)
    if "filters" in query:
        if not isinstance(query["filters"], list):
            raise _fail('"filters" must be an array')
        for i, item in enumerate(query["filters"]):
            if _filter_depth(item) > MAX_FILTER_DEPTH:
                raise _fail(f'"filters[{i}]" nests and/or deeper than {MAX_FILTER_DEPTH} levels')
            if not _valid_filter_node(item):
                raise _fail(f'"filters[{i}]" does not match any of the allowed types')
    if "timeDimensions" in query:
        _check_time_dimensions(query["timeDimensions"])
    if "order" in query:
        _check_order(query["order"])
    _check_ids(query, "segments", _ID, _ID_SOURCE)
    if "timezone" in query:
        tz = query["timezone"]
        if not isinstance(tz, str):
            raise _fail('"timezone" must be a string')
        if dates.is_valid_timezone(tz) is None:
            raise _fail(f'"timezone" must be a valid IANA time zone, got "{tz}"')
    for key in ("limit", "offset"):
        if key in query:
            value = query[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise _fail(f'"{key}" must be a number')
            if isinstance(value, float) and not value.is_integer():
                raise _fail(f'"{key}" must be an integer')
            if value < 0:
                raise _fail(f'"{key}" must be greater than or equal to 0')
            query[key] = int(value)
    for key in ("total", "ungrouped", "renewQuery"):
        if key in query and not isinstance(query[key], bool):
            raise _fail(f'"{key}" must be a boolean')
    for key in ("cacheMode", "cache"):
        if key in query and query[key] not in _CACHE_MODES:
            raise _fail(f'"{key}" must be one of [{", ".join(_CACHE_MODES)}]')
    if "responseFormat" in query and query["responseFormat"] not in ("default", "compact",
                                                                      "columnar"):
        raise _fail('"responseFormat" must be one of [default, compact, columnar]')
    if "joinHints" in query:
        hints = query["joinHints"]
        if not isinstance(hints, list) or not all(
                isinstance(h, list) and all(isinstance(c, str) for c in h) for h in hints):
            raise _fail('"joinHints" must be an array of arrays of cube names')
    for key in query:
        if key not in _KNOWN_KEYS:
            raise _fail(f'"{key}" is not allowed')


def _filter_depth(node: Any) -> int:
    """How deep `and`/`or` nest in `node`, without recursion (stops counting past the limit)."""
    deepest, stack = 0, [(node, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_FILTER_DEPTH:
            return deepest
        if isinstance(item, dict):
            for kind in ("and", "or"):
                if isinstance(item.get(kind), list):
                    stack.extend((child, depth + 1) for child in item[kind])
    return deepest


def _valid_filter_node(node: Any) -> bool:
    if not isinstance(node, dict):
        return False
    if ("or" in node) != ("and" in node):
        kind = "or" if "or" in node else "and"
        return (set(node) == {kind} and isinstance(node[kind], list)
                and all(_valid_filter_node(item) for item in node[kind]))
    if set(node) - {"member", "dimension", "operator", "values"}:
        return False
    if ("member" in node) == ("dimension" in node):
        return False
    member = node.get("member", node.get("dimension"))
    if not isinstance(member, str) or not _ID.match(member):
        return False
    if node.get("operator") not in OPERATORS:
        return False
    values = node.get("values")
    if values is not None:
        if not isinstance(values, list):
            return False
        if not all(v is None or isinstance(v, (str, int, float, bool)) for v in values):
            return False
    return True


def _check_time_dimensions(items: Any) -> None:
    if not isinstance(items, list):
        raise _fail('"timeDimensions" must be an array')
    for i, td in enumerate(items):
        label = f"timeDimensions[{i}]"
        if not isinstance(td, dict):
            raise _fail(f'"{label}" must be of type object')
        if "dimension" not in td:
            raise _fail(f'"{label}.dimension" is required')
        dimension = td["dimension"]
        if not isinstance(dimension, str):
            raise _fail(f'"{label}.dimension" must be a string')
        if not _ID.match(dimension):
            raise _fail(f'"{label}.dimension" with value "{dimension}" fails to match the '
                        f"required pattern: {_ID_SOURCE}")
        granularity = td.get("granularity")
        # Older clients send `granularity: null` for "no granularity"; accepted as absent.
        if granularity is not None and not isinstance(granularity, str):
            raise _fail(f'"{label}.granularity" must be a string')
        if "dateRange" in td and td["dateRange"] is not None:
            date_range = td["dateRange"]
            if isinstance(date_range, list):
                if not 1 <= len(date_range) <= 2:
                    raise _fail(f'"{label}.dateRange" does not match any of the allowed types')
                if not all(isinstance(d, str) for d in date_range):
                    raise _fail(f'"{label}.dateRange" does not match any of the allowed types')
            elif not isinstance(date_range, str):
                raise _fail(f'"{label}.dateRange" does not match any of the allowed types')
        if "compareDateRange" in td:
            if not isinstance(td["compareDateRange"], list):
                raise _fail(f'"{label}.compareDateRange" must be an array')
            if not td["compareDateRange"]:
                raise _fail(f'"{label}.compareDateRange" must contain at least 1 items')
            for j, item in enumerate(td["compareDateRange"]):
                if not (isinstance(item, str) or (
                        isinstance(item, list) and 1 <= len(item) <= 2
                        and all(isinstance(d, str) for d in item))):
                    raise _fail(f'"{label}.compareDateRange[{j}]" does not match any of the '
                                "allowed types")
            if td.get("dateRange") is not None:
                raise _fail(f'"{label}" contains a conflict between optional exclusive peers '
                            "[dateRange, compareDateRange]")
        for key in td:
            if key not in ("dimension", "granularity", "dateRange", "compareDateRange"):
                raise _fail(f'"{label}.{key}" is not allowed')


def _check_order(order: Any) -> None:
    if isinstance(order, dict):
        for member, direction in order.items():
            if not _ORDER_ID.match(member):
                raise _fail(f'"order.{member}" is not allowed')
            if direction not in ("asc", "desc"):
                raise _fail(f'"order.{member}" must be one of [asc, desc]')
    elif isinstance(order, list):
        for i, pair in enumerate(order):
            if not isinstance(pair, list) or len(pair) < 2:
                raise _fail(f'"order[{i}]" must be an array' if not isinstance(pair, list)
                            else f'"order[{i}]" must contain at least 2 items')
            member, direction = pair[0], pair[1]
            if not isinstance(member, str) or not _ORDER_ID.match(member):
                raise _fail(f'"order[{i}][0]" with value "{member}" fails to match the required '
                            f"pattern: {_ORDER_SOURCE}")
            if direction not in ("asc", "desc"):
                raise _fail(f'"order[{i}][1]" must be one of [asc, desc]')
    elif order is not None:
        raise _fail('"order" does not match any of the allowed types')


# --- normalization -----------------------------------------------------------------------------


def _order(order: dict | list) -> list[OrderItem]:
    pairs = order.items() if isinstance(order, dict) else [(p[0], p[1]) for p in order]
    return [OrderItem(member, direction == "desc") for member, direction in pairs]


def _time_dimension(td: dict, timezone: str, now: datetime) -> TimeDimension:
    date_range = None
    if td.get("dateRange") is not None:
        date_range = dates.resolve_date_range(td["dateRange"], timezone, now)
    compare = None
    if td.get("compareDateRange") is not None:
        compare = tuple(
            dates.resolve_date_range(item, timezone, now) for item in td["compareDateRange"])
    return TimeDimension(td["dimension"], td.get("granularity"), date_range, compare)


def _stringify(value: Any) -> str | None:
    """A filter value as JavaScript's `toString` writes it (`true`, `3`, `2.5`)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return js_number(value)
    return value


def _filter(node: dict, timezone: str, now: datetime) -> FilterNode:
    for kind in ("or", "and"):
        if kind in node:
            return FilterGroup(kind, tuple(_filter(item, timezone, now) for item in node[kind]))
    operator = node["operator"]
    values = node.get("values")
    if not values and operator not in _NO_VALUE_OPERATORS:
        raise QueryError(f"Values required for filter: {_js(node)}")
    strings = tuple(_stringify(v) for v in values) if values is not None else None
    member = node.get("member", node.get("dimension"))
    if strings:
        strings = _resolve_relative_dates(operator, strings, timezone, now)
    return Filter(member, operator, strings, _date_bounds(operator, strings, timezone, now))


def _date_bounds(operator: str, values: tuple | None, timezone: str,
                 now: datetime) -> tuple[str, str | None] | None:
    """`Filter.bounds`: what the SQL compares with, as Cube 1.7's legacy planner formats it
    (`dates.date_filter_bound`): ranges from values[0]'s start to values[-1]'s end, single-value
    date operators and comparisons from values[0]'s start."""
    if not values or operator not in DATE_OPERATORS + COMPARISONS:
        return None
    first, last = values[0], values[-1]
    try:
        if not isinstance(first, str):
            raise dates.DateParseError(str(first))
        low = dates.date_filter_bound(first, "from", timezone, now)
        if operator not in _RANGE_OPERATORS:
            return (low, None)
        if not isinstance(last, str):
            raise dates.DateParseError(str(last))
        return (low, dates.date_filter_bound(last, "to", timezone, now))
    except dates.DateParseError as exc:
        if operator in COMPARISONS:
            return None  # a number or a text compared, unless the member is a time
        raise QueryError(str(exc)) from None


def _resolve_relative_dates(operator: str, values: tuple, timezone: str,
                            now: datetime) -> tuple:
    """Relative values of date operators (`["last week"]`) become absolute local bounds."""
    is_relative = [isinstance(v, str) and not _ABSOLUTE_DATE.match(v) for v in values]
    if operator in _RANGE_OPERATORS and len(values) > 1 and any(is_relative):
        raise QueryError(
            "Relative-date strings are only supported when `values` has a single element for "
            f"operator `{operator}`. Pass an absolute two-element [start, end] pair, or a single "
            f'relative string like ["last 2 weeks"]. Got: {_js(list(values))}')
    if len(values) != 1 or not isinstance(values[0], str):
        return values
    if operator in _RANGE_OPERATORS:
        return dates.resolve_date_range(values[0], timezone, now)
    if not is_relative[0]:
        return values
    if operator in _START_OPERATORS:
        return (dates.resolve_date_range(values[0], timezone, now)[0],)
    if operator in _END_OPERATORS:
        return (dates.resolve_date_range(values[0], timezone, now)[1],)
    return values
