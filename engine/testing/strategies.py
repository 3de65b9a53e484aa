"""Property-based testing of Cube models: Hypothesis strategies that draw queries, and invariants.

Strategies draw Cube JSON queries (plain dicts, ready for `Engine.load`) from a loaded model:

    from hypothesis import given
    from engine import Engine
    from engine.testing import queries, compiles_and_runs

    engine = Engine(models="cubes", database="fixtures/data")

    @given(queries(engine))
    def test_every_query_runs(query):
        compiles_and_runs(engine, query)

`queries(source)` only draws queries that are valid for the model: public members, cubes that
the declared joins connect, granularities the dimension has, filter operators that fit the
member's type. Given an `Engine`, filter values and date ranges come from the data itself (one
query per member, remembered per engine); given a `Model` or a directory they come from the type.
Every part shrinks towards less: a failing query shrinks to few members, the first members of
the model, no filters, no order, no limit.

`invalid_queries(source)` draws queries paired with the exact error Cube answers them with.

The invariants are plain functions `(engine, query) -> None` that raise `AssertionError` with a
message naming the invariant, what differed and the queries involved. An invariant that does not
apply to a query (nothing to compare) passes. `INVARIANTS` maps their names to them and
`check_invariants(engine, query)` runs them all.
"""

from __future__ import annotations

import json
import math
import re
import string
import weakref
from collections import deque
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable, Collection, Iterable

from hypothesis import strategies as st

from engine.api import Engine
from engine.errors import CubeError
from engine.model import CubeRef, Member, MemberRef, Model, load_model, member_alias

from . import current

# The public names are listed once, in engine/testing/__init__.py (`__all__`).

# What `queries` may put in a query; pass a subset as `features=` to draw simpler queries.
FEATURES = frozenset({
    "dimensions",      # plain dimensions
    "time",            # timeDimensions (granularity and/or dateRange)
    "relative_dates",  # relative date ranges ("last month") besides absolute ones
    "filters",         # dimension filters of every operator that fits the member's type
    "filter_groups",   # {"or": [...]} / {"and": [...]} groups of filters
    "measure_filters", # filters on measures (HAVING)
    "segments",
    "order",
    "limit",
    "offset",
    "timezone",
    "total",
})

# Parts `queries(require=...)` can insist on.
REQUIRABLE = frozenset({"dimensions", "time", "filters", "segments", "order", "limit"})

GRANULARITIES = ("day", "month", "year", "week", "quarter", "hour", "minute", "second")
RELATIVE_DATE_RANGES = (
    "today", "yesterday", "this week", "this month", "this quarter", "this year", "last week",
    "last month", "last quarter", "last year", "last 7 days", "last 30 days", "last 12 months",
    "from 7 days ago to now",
)
TIMEZONES = ("UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Adelaide")
DEFAULT_LIMIT = 10000
MAX_LIMIT = 50000

_STRING_OPERATORS = ("equals", "notEquals", "contains", "notContains", "startsWith",
                     "notStartsWith", "endsWith", "notEndsWith", "in", "notIn", "set", "notSet")
_NUMBER_OPERATORS = ("equals", "notEquals", "gt", "gte", "lt", "lte", "in", "notIn", "set",
                     "notSet")
_BOOLEAN_OPERATORS = ("equals", "notEquals", "set", "notSet")
_TIME_OPERATORS = ("inDateRange", "notInDateRange", "beforeDate", "afterDate", "beforeOrOnDate",
                   "afterOrOnDate", "set", "notSet")
_MEASURE_OPERATORS = ("gt", "gte", "lt", "lte", "equals", "notEquals", "set", "notSet")

# The filter that keeps exactly the rows `operator` drops. `True`: NULL rows fall in one of the
# two (Cube's rule: negative operators keep NULLs unless null is a value); `False`: NULL rows fall
# in neither, so the partition is completed with `notSet`.
NEGATIONS: dict[str, tuple[str, bool]] = {
    "equals": ("notEquals", True), "notEquals": ("equals", True),
    "in": ("notIn", True), "notIn": ("in", True),
    "contains": ("notContains", True), "notContains": ("contains", True),
    "startsWith": ("notStartsWith", True), "notStartsWith": ("startsWith", True),
    "endsWith": ("notEndsWith", True), "notEndsWith": ("endsWith", True),
    "set": ("notSet", True), "notSet": ("set", True),
    "gt": ("lte", False), "lte": ("gt", False), "gte": ("lt", False), "lt": ("gte", False),
    "inDateRange": ("notInDateRange", False), "notInDateRange": ("inDateRange", False),
    "beforeDate": ("afterOrOnDate", False), "afterOrOnDate": ("beforeDate", False),
    "afterDate": ("beforeOrOnDate", False), "beforeOrOnDate": ("afterDate", False),
}

_TIME_VALUE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}$")


# =============================================================================================
# The model as the strategies see it


def _model_of(source: Engine | Model | str | Path) -> Model:
    if isinstance(source, Engine):
        return source.model
    if isinstance(source, Model):
        return source
    return load_model(source)


def reachable_cubes(model: Model, root: str) -> list[str]:
    """`root` and every cube its declared joins lead to (joins are directed), nearest first."""
    seen = [root]
    queue = deque([root])
    while queue:
        for target in model.cubes[queue.popleft()].joins:
            if target in model.cubes and target not in seen:
                seen.append(target)
                queue.append(target)
    return seen


def parent_cubes(model: Model, cube: str) -> list[str]:
    """`cube` and the cubes it reaches through many_to_one / one_to_one joins only: joining them
    gives each row of `cube` at most one partner, so they never repeat its rows."""
    seen = [cube]
    queue = deque([cube])
    while queue:
        for target, join in model.cubes[queue.popleft()].joins.items():
            if join.relationship != "one_to_many" and target in model.cubes and target not in seen:
                seen.append(target)
                queue.append(target)
    return seen


def _origin(model: Model, member: Member) -> Member:
    """The cube member behind a view member (itself for a cube member)."""
    seen = set()
    while getattr(member, "alias_member", None) and member.path not in seen:
        seen.add(member.path)
        found = _find(model, member.alias_member)  # type: ignore[arg-type]
        if found is None:
            break
        member = found
    return member


def _needed_cubes(model: Model, member: Member, seen: set[str] | None = None) -> set[str]:
    """The member's cube and every cube its SQL mentions, through member references. A view
    member needs only its view: the view brings its join path along."""
    if getattr(member, "alias_member", None):
        return {member.cube}
    seen = set() if seen is None else seen
    if member.path in seen:
        return set()
    seen.add(member.path)
    cubes = {member.cube}
    for template in ([member.sql] if member.sql else []) + list(member.filters):
        for part in template.parts:
            if isinstance(part, CubeRef):
                cubes.add(part.cube)
            elif isinstance(part, MemberRef):
                referenced = model.cubes[part.cube].member(part.name)
                cubes.add(part.cube)
                if referenced is not None:
                    cubes |= _needed_cubes(model, referenced, seen)
    return cubes


def _find(model: Model, path: str) -> Member | None:
    cube_name, _, name = path.partition(".")
    cube = model.cubes.get(cube_name)
    if cube is None:
        return None
    return cube.member(name.split(".")[0])


@dataclass(frozen=True)
class _Pool:
    """The members a query rooted at `root` may use, root cube first, in model order."""

    root: str
    measures: tuple[Member, ...]
    dimensions: tuple[Member, ...]
    times: tuple[Member, ...]
    segments: tuple[Member, ...]


def _pools(model: Model, cubes: Collection[str] | None,
           exclude: Collection[str] = ()) -> list[_Pool]:
    # A cube that is not public is only reachable through views.
    allowed = [c for c in model.cubes if model.cubes[c].public] if cubes is None else \
        [c for c in model.cubes if c in set(cubes)]
    unknown = set(cubes or ()) - set(model.cubes)
    if unknown:
        raise ValueError(f"cubes not in the model: {', '.join(sorted(unknown))}")
    excluded = set(exclude)
    pools = []
    for root in allowed:
        reach = reachable_cubes(model, root)
        members: dict[str, list[Member]] = {"m": [], "d": [], "t": [], "s": []}
        for name in reach:
            if name not in allowed:
                continue
            cube = model.cubes[name]
            for group, kind in ((cube.measures, "m"), (cube.dimensions, "d"), (cube.segments, "s")):
                for member in group.values():
                    if not member.public or member.path in excluded \
                            or not _needed_cubes(model, member) <= set(reach):
                        continue
                    members["t" if member.is_time else kind].append(member)
        pool = _Pool(root, *(tuple(members[k]) for k in "mdts"))
        # The root must have a member of its own: it is what joins the pool's cubes together.
        if any(m.cube == root for m in pool.measures + pool.dimensions + pool.times):
            pools.append(pool)
    if not pools:
        raise ValueError("the model has no public measure or dimension to draw queries from")
    return pools


def _joinable(model: Model, cubes: set[str]) -> bool:
    return len(cubes) <= 1 or any(cubes <= set(reachable_cubes(model, c)) for c in cubes)


# =============================================================================================
# Values from the data


@dataclass(frozen=True)
class _Values:
    """What the data holds for one dimension: a sample of values, and for times their range."""

    values: tuple[Any, ...]
    low: date | None = None
    high: date | None = None


_SAMPLES: "weakref.WeakKeyDictionary[Engine, dict[str, _Values | None]]" = \
    weakref.WeakKeyDictionary()
_SAMPLE_SIZE = 50


def column_values(engine: Engine, path: str) -> tuple[Any, ...]:
    """Up to 50 distinct non-null values of dimension `path`, as `engine.load` returns them;
    for a time dimension its earliest and latest value. Asked once per engine and member, then
    remembered; empty when the member fails to load."""
    found = _sample(engine, path)
    return found.values if found else ()


def _sample(engine: Engine, path: str) -> _Values | None:
    cache = _SAMPLES.setdefault(engine, {})
    if path not in cache:
        cache[path] = _ask(engine, path)
    return cache[path]


def _ask(engine: Engine, path: str) -> _Values | None:
    member = _find(engine.model, path)
    if member is None or member.kind != "dimension":
        return None
    not_null = [{"member": path, "operator": "set"}]
    try:
        if member.type == "time":
            ends = []
            for direction in ("asc", "desc"):
                rows = engine.load({"dimensions": [path], "filters": not_null,
                                    "order": {path: direction}, "limit": 1})["data"]
                ends.append(rows[0][path] if rows else None)
            if ends[0] is None:
                return _Values(())
            low, high = (date.fromisoformat(v[:10]) for v in ends)
            return _Values(tuple(ends), low, high)
        rows = engine.load({"dimensions": [path], "filters": not_null,
                            "limit": _SAMPLE_SIZE})["data"]
    except CubeError:
        return None
    return _Values(tuple(row[path] for row in rows if row[path] is not None))


# =============================================================================================
# Strategies for the parts of a query


def _day(value: date) -> str:
    return value.isoformat()


def date_ranges(low: date | None = None, high: date | None = None,
                relative: bool = True) -> st.SearchStrategy[Any]:
    """A `dateRange`: `[from, to]` dates between `low` and `high` (a margin of 30 days around
    them; default 2020-2030), or, when `relative`, one of Cube's relative phrases."""
    low = (low - timedelta(days=30)) if low else date(2020, 1, 1)
    high = (high + timedelta(days=30)) if high else date(2030, 12, 31)
    absolute = st.tuples(st.dates(low, high), st.integers(0, 400)).map(
        lambda pair: [_day(pair[0]), _day(min(pair[0] + timedelta(days=pair[1]), date.max))])
    if not relative:
        return absolute
    return st.one_of(absolute, st.sampled_from(RELATIVE_DATE_RANGES))


def _single_dates(low: date | None, high: date | None) -> st.SearchStrategy[str]:
    low = (low - timedelta(days=30)) if low else date(2020, 1, 1)
    high = (high + timedelta(days=30)) if high else date(2030, 12, 31)
    return st.dates(low, high).map(_day)


_WORD = st.text(alphabet=string.ascii_lowercase + "_%", min_size=1, max_size=4)


def _substrings(values: tuple[str, ...]) -> st.SearchStrategy[str]:
    def cut(args: tuple[str, int, int]) -> str:
        text, start, length = args
        start = min(start, max(len(text) - 1, 0))
        return text[start:start + max(length, 1)] or text
    return st.tuples(st.sampled_from(values), st.integers(0, 20), st.integers(1, 6)).map(cut)


def _scalar_values(member: Member, sample: _Values | None, operator: str) -> st.SearchStrategy:
    """One filter value of the member's type, preferably one the data holds."""
    real = tuple(v for v in (sample.values if sample else ()) if v is not None)
    if member.type == "boolean":
        return st.sampled_from(("true", "false"))
    if member.type == "number":
        typed = st.integers(-5, 1000).map(str)
        return st.one_of(st.sampled_from(tuple(str(v) for v in real)), typed) if real else typed
    strings = tuple(str(v) for v in real)
    if not strings:
        return _WORD
    if operator in ("equals", "notEquals", "in", "notIn"):
        return st.one_of(st.sampled_from(strings), _WORD)
    return st.one_of(_substrings(strings), _WORD)


def filter_values(member: Member, operator: str, sample: Any = None,
                  relative: bool = True) -> st.SearchStrategy[list | None]:
    """`values` for a filter on `member` with `operator` (None for set / notSet).

    `sample` is what the data holds (from `column_values`); without it values come from the type."""
    if isinstance(sample, (tuple, list)):
        sample = _Values(tuple(sample))
    if operator in ("set", "notSet"):
        return st.none()
    low, high = (sample.low, sample.high) if isinstance(sample, _Values) else (None, None)
    if operator in ("inDateRange", "notInDateRange"):
        return date_ranges(low, high, relative).map(lambda r: r if isinstance(r, list) else [r])
    if operator in ("beforeDate", "afterDate", "beforeOrOnDate", "afterOrOnDate"):
        single = _single_dates(low, high)
        if relative:
            single = st.one_of(single, st.sampled_from(("today", "yesterday", "last week")))
        return single.map(lambda v: [v])
    value = _scalar_values(member, sample, operator)
    if operator in ("equals", "notEquals", "in", "notIn", "contains", "notContains",
                    "startsWith", "notStartsWith", "endsWith", "notEndsWith"):
        # Sometimes `null` is one of the values, which changes the NULL rule (cube-semantics §2).
        return st.tuples(st.lists(value, min_size=1, max_size=3, unique=True),
                         st.booleans()).map(lambda p: p[0] + [None] if p[1] else p[0])
    return value.map(lambda v: [v])


def _operators(member: Member) -> tuple[str, ...]:
    if member.is_measure:
        return _MEASURE_OPERATORS
    return {"string": _STRING_OPERATORS, "number": _NUMBER_OPERATORS,
            "boolean": _BOOLEAN_OPERATORS, "time": _TIME_OPERATORS}.get(member.type, ("set",))


def _measure_filter_values(operator: str) -> st.SearchStrategy:
    if operator in ("set", "notSet"):
        return st.none()
    return st.integers(0, 200).map(lambda n: [str(n)])


@st.composite
def _filter_leaf(draw: Any, members: tuple[Member, ...], samples: dict[str, _Values | None],
                 relative: bool) -> dict:
    member = draw(st.sampled_from(members))
    operator = draw(st.sampled_from(_operators(member)))
    if member.is_measure:
        values = draw(_measure_filter_values(operator))
    else:
        values = draw(filter_values(member, operator, samples.get(member.path), relative))
    leaf: dict[str, Any] = {"member": member.path, "operator": operator}
    if values is not None:
        leaf["values"] = values
    return leaf


@st.composite
def _filter_node(draw: Any, members: tuple[Member, ...], samples: dict[str, _Values | None],
                 relative: bool, groups: bool) -> dict:
    leaf = _filter_leaf(members, samples, relative)
    if not groups or not draw(st.booleans()):
        return draw(leaf)
    # A group holds only dimension filters or only measure filters (Cube refuses a mix).
    measure_side = members[0].is_measure
    kind = draw(st.sampled_from(("or", "and")))
    items = draw(st.lists(_filter_leaf(
        tuple(m for m in members if m.is_measure == measure_side), samples, relative),
        min_size=1, max_size=2))
    return {kind: items}


# =============================================================================================
# The query strategy


def queries(source: Engine | Model | str | Path, *, cubes: Collection[str] | None = None,
            features: Collection[str] = FEATURES, require: Collection[str] = (),
            exclude: Collection[str] = (), max_members: int = 3) -> st.SearchStrategy[dict]:
    """Valid Cube queries over the model of `source` (an `Engine`, a `Model` or a directory).

    cubes:       draw members of these cubes only (default: all).
    features:    what queries may contain, a subset of `FEATURES` (default: everything).
    require:     parts every query must have: any of "dimensions", "time", "filters",
                 "segments", "order", "limit".
    exclude:     member paths never to draw (members known to be broken, say).
    max_members: at most this many measures, dimensions and filters each.

    With an `Engine`, filter values and date ranges come from its data (each dimension asked
    once); otherwise from the member's type."""
    unknown = set(features) - FEATURES
    if unknown:
        raise ValueError(f"unknown features: {', '.join(sorted(unknown))}; "
                         f"known: {', '.join(sorted(FEATURES))}")
    if set(require) - REQUIRABLE:
        raise ValueError(f"cannot require {', '.join(sorted(set(require) - REQUIRABLE))}; "
                         f"can require: {', '.join(sorted(REQUIRABLE))}")
    features = frozenset(features) | frozenset(require)
    model = _model_of(source)
    pools = _pools(model, cubes, exclude)
    samples: dict[str, _Values | None] = {}
    if isinstance(source, Engine):
        wanted = set()
        for pool in pools:
            wanted |= {m.path for m in pool.times} if "time" in features else set()
            if "filters" in features:
                wanted |= {m.path for m in pool.dimensions + pool.times}
        samples = {path: _sample(source, path) for path in sorted(wanted)}
    if "filters" in require:
        pools = [p for p in pools if p.dimensions or p.times]
    if "time" in require:
        pools = [p for p in pools if p.times]
    if "dimensions" in require:
        pools = [p for p in pools if p.dimensions]
    if "segments" in require:
        pools = [p for p in pools if p.segments]
    if not pools:
        raise ValueError(f"no cube can give queries with {', '.join(sorted(require))}")
    return _query(model, tuple(pools), features, frozenset(require), samples, max_members)


def _subset(items: tuple, min_size: int, max_size: int) -> st.SearchStrategy[list]:
    """A few distinct items, in drawn order. Drawn as absolute indices (duplicates dropped) so
    the shrinker can delete any one of them and lower the rest towards the first items."""
    def pick(indices: list[int]) -> list:
        return [items[i] for i in dict.fromkeys(indices)]
    return st.lists(st.integers(0, len(items) - 1), min_size=min_size,
                    max_size=min(max_size, len(items))).map(pick)


@st.composite
def _query(draw: Any, model: Model, pools: tuple[_Pool, ...], features: frozenset[str],
           require: frozenset[str], samples: dict[str, _Values | None], most: int) -> dict:
    pool = draw(st.sampled_from(pools))
    relative = "relative_dates" in features

    def some(items: tuple, key: str, cap: int = most) -> list:
        if not items or (key not in features and key != "measures"):
            return []
        return draw(_subset(items, 1 if key in require else 0, cap))

    measures = [m.path for m in some(pool.measures, "measures")]
    dimensions = [d.path for d in some(pool.dimensions, "dimensions")]
    time_dimensions = []
    if "time" in features and pool.times:
        for member in some(pool.times, "time", cap=1):
            td: dict[str, Any] = {"dimension": member.path}
            names = GRANULARITIES + tuple(g.name for g in member.granularities)
            granularity = draw(st.one_of(st.none(), st.sampled_from(names)))
            sample = samples.get(member.path)
            date_range = draw(st.one_of(st.none(), date_ranges(
                sample.low if sample else None, sample.high if sample else None, relative)))
            if granularity is not None:
                td["granularity"] = granularity
            if date_range is not None:
                td["dateRange"] = date_range
            time_dimensions.append(td)
    if not (measures or dimensions or any("granularity" in td for td in time_dimensions)):
        # Cube needs something to select: the pool's first member (what shrinking ends on).
        if pool.measures:
            measures = [pool.measures[0].path]
        elif pool.dimensions:
            dimensions = [pool.dimensions[0].path]
        else:
            time_dimensions.append({"dimension": pool.times[0].path, "granularity": "day"})

    query: dict[str, Any] = {}
    if measures:
        query["measures"] = measures
    if dimensions:
        query["dimensions"] = dimensions
    if time_dimensions:
        query["timeDimensions"] = time_dimensions

    filterable = tuple(pool.dimensions + pool.times)
    if "measure_filters" in features:
        filterable += pool.measures
    if "filters" in features and filterable:
        dimension_side = tuple(m for m in filterable if not m.is_measure)
        # Mostly dimension filters: a measure filter (HAVING) turns several invariants off.
        sides = [dimension_side] * 3 if dimension_side else []
        if "measure_filters" in features and pool.measures:
            sides.append(pool.measures)
        filters = draw(st.lists(
            st.sampled_from(sides).flatmap(lambda members: _filter_node(
                members, samples, relative, "filter_groups" in features)),
            min_size=1 if "filters" in require else 0, max_size=min(most, 2)))
        if filters:
            query["filters"] = filters

    segments = [s.path for s in some(pool.segments, "segments", cap=1)]
    if segments:
        query["segments"] = segments

    # Only cubes the declared joins connect: else add the root (it reaches every pool cube).
    touched: set[str] = set()
    for path in _member_paths(query):
        member = _find(model, path)
        if member is not None:
            touched |= _needed_cubes(model, member)
    if not _joinable(model, touched):
        root = model.cubes[pool.root]
        first = next((m for m in pool.measures if m.cube == root.name), None)
        if first is not None:
            query.setdefault("measures", []).append(first.path)
        else:
            first = next(m for m in pool.dimensions + pool.times if m.cube == root.name)
            query.setdefault("dimensions", []).append(first.path)

    # Cube refuses a cumulative measure over a granularity without a date range, and computes
    # it per bucket of the range: keep buckets a day or coarser, or a year has 31M of them.
    cumulative = any(_is_cumulative(model, path) for path in query.get("measures") or [])
    for td in query.get("timeDimensions") or []:
        if not cumulative or "granularity" not in td:
            continue
        if td["granularity"] not in ("day", "week", "month", "quarter", "year"):
            td["granularity"] = "day"
        if "dateRange" not in td:
            sample = samples.get(td["dimension"])
            td["dateRange"] = draw(date_ranges(sample.low if sample else None,
                                               sample.high if sample else None, relative=False))

    if "order" in features:
        keys = _selected_keys(query)
        chosen = draw(_subset(tuple(keys), 1, len(keys)) if "order" in require
                      else st.one_of(st.none(), _subset(tuple(keys), 1, len(keys))))
        if chosen:
            directions = [draw(st.sampled_from(("asc", "desc"))) for _ in chosen]
            if draw(st.booleans()):
                query["order"] = [[k, d] for k, d in zip(chosen, directions)]
            else:
                query["order"] = dict(zip(chosen, directions))
    if "limit" in features:
        limit = draw(st.integers(1, 50) if "limit" in require
                     else st.one_of(st.none(), st.integers(1, 50)))
        if limit is not None:
            query["limit"] = limit
    if "offset" in features:
        offset = draw(st.one_of(st.none(), st.integers(0, 20)))
        if offset is not None:
            query["offset"] = offset
    if "timezone" in features:
        timezone = draw(st.one_of(st.none(), st.sampled_from(TIMEZONES)))
        if timezone is not None:
            query["timezone"] = timezone
    if "total" in features and draw(st.booleans()):
        query["total"] = True
    return query


def cube_query(**options: Any) -> st.SearchStrategy[dict]:
    """`queries` over the engine of the running pytest test, for duckcube's pytest plugin:

        @given(cube_query())
        def test_dashboard_never_breaks(cube_engine, query): ...

    The strategy is built when the first example is drawn (so it can be written in `@given`
    at import time) from the test's `cube_engine` fixture, or, when the test does not ask for
    it, from the engine the plugin's options describe (`--cube-models`, `--cube-db`)."""
    def build() -> st.SearchStrategy[dict]:
        return queries(current.current_engine(), **options)
    return st.deferred(build)


def _is_cumulative(model: Model, path: str) -> bool:
    member = _find(model, path)
    return member is not None and \
        getattr(_origin(model, member), "rolling_window", None) is not None


def _member_paths(query: dict) -> list[str]:
    paths = list(query.get("measures") or []) + list(query.get("dimensions") or [])
    paths += [td["dimension"] for td in query.get("timeDimensions") or []]
    paths += [leaf["member"] for leaf in _leaves(query.get("filters") or [])]
    paths += list(query.get("segments") or [])
    return [".".join(p.split(".")[:2]) for p in paths]


def _leaves(nodes: Iterable[dict]) -> list[dict]:
    out = []
    for node in nodes:
        if "or" in node or "and" in node:
            out.extend(_leaves(node.get("or", node.get("and")) or []))
        else:
            out.append({"member": node.get("member", node.get("dimension")), **node})
    return out


def _selected_keys(query: dict) -> list[str]:
    """The row keys a query selects: dimensions, time dimensions with granularity, measures."""
    keys = list(query.get("dimensions") or [])
    keys += [f"{td['dimension']}.{td['granularity']}" for td in query.get("timeDimensions") or []
             if td.get("granularity")]
    return keys + list(query.get("measures") or [])


# =============================================================================================
# Invalid queries


@dataclass(frozen=True)
class InvalidQuery:
    """A query Cube must refuse, with the HTTP status and body it refuses it with."""

    reason: str
    query: dict
    status: int
    body: dict


def _user_error(message: str) -> dict:
    return {"type": "UserError", "error": message}


_NAME = st.text(alphabet=string.ascii_letters, min_size=1, max_size=8)


def invalid_queries(source: Engine | Model | str | Path, *,
                    cubes: Collection[str] | None = None) -> st.SearchStrategy[InvalidQuery]:
    """Invalid queries over the model of `source`, each with the exact error it must produce:
    unknown member / cube, a member of the wrong kind, unknown granularity, negative or too large
    limit, negative offset, unknown query key, bad time zone, bad order direction, missing
    filter values, a hidden member, cubes no join connects, a malformed member name and an empty
    query. `assert_rejected(engine, invalid)` checks one."""
    model = _model_of(source)
    names = list(model.cubes) if cubes is None else [c for c in model.cubes if c in set(cubes)]
    measures = [m for c in names for m in model.cubes[c].measures.values() if m.public]
    dimensions = [d for c in names for d in model.cubes[c].dimensions.values()
                  if d.public and not d.is_time]
    times = [d for c in names for d in model.cubes[c].dimensions.values() if d.public and d.is_time]
    hidden = [m for c in names for group in (model.cubes[c].measures, model.cubes[c].dimensions)
              for m in group.values() if not m.public]
    selectable = measures + dimensions
    if not selectable:
        raise ValueError("the model has no public measure or dimension")

    def select(member: Member) -> dict:
        return {"measures" if member.is_measure else "dimensions": [member.path]}

    options: list[st.SearchStrategy[InvalidQuery]] = []

    @st.composite
    def unknown_member(draw: Any) -> InvalidQuery:
        cube = model.cubes[draw(st.sampled_from(names))]
        name = draw(_NAME.filter(lambda n: cube.member(n) is None))
        key = draw(st.sampled_from(("measures", "dimensions", "segments", "filters")))
        path = f"{cube.name}.{name}"
        if key == "filters":
            query = {**select(selectable[0]),
                     "filters": [{"member": path, "operator": "set"}]}
        elif key == "segments":
            query = {**select(selectable[0]), "segments": [path]}
        else:
            query = {key: [path]}
        return InvalidQuery(f"unknown member in {key}", query, 400,
                            _user_error(f"'{name}' not found for path '{path}'"))
    options.append(unknown_member())

    @st.composite
    def unknown_cube(draw: Any) -> InvalidQuery:
        cube = draw(_NAME.filter(lambda n: n not in model.cubes))
        member = draw(_NAME)
        path = f"{cube}.{member}"
        key = draw(st.sampled_from(("measures", "dimensions")))
        return InvalidQuery("unknown cube", {key: [path]}, 400,
                            _user_error(f"Cube '{cube}' not found for path '{path}'"))
    options.append(unknown_cube())

    @st.composite
    def wrong_kind(draw: Any) -> InvalidQuery:
        member = draw(st.sampled_from(selectable))
        key = "dimensions" if member.is_measure else "measures"
        return InvalidQuery(f"a {member.kind} listed in {key}", {key: [member.path]}, 400,
                            _user_error(f"'{member.name}' not found for path '{member.path}'"))
    options.append(wrong_kind())

    if times:
        @st.composite
        def bad_granularity(draw: Any) -> InvalidQuery:
            member = draw(st.sampled_from(times))
            taken = set(GRANULARITIES) | {g.name for g in member.granularities}
            name = draw(_NAME.filter(lambda n: n not in taken))
            return InvalidQuery(
                "unknown granularity",
                {"timeDimensions": [{"dimension": member.path, "granularity": name}]}, 400,
                _user_error(f'Granularity "{name}" does not exist in dimension {member.path}'))
        options.append(bad_granularity())

    @st.composite
    def bad_number(draw: Any) -> InvalidQuery:
        member = draw(st.sampled_from(selectable))
        key = draw(st.sampled_from(("limit", "offset")))
        value = draw(st.integers(-1000, -1))
        return InvalidQuery(f"negative {key}", {**select(member), key: value}, 400, {
            "error": f'Invalid query format: "{key}" must be greater than or equal to 0'})
    options.append(bad_number())

    @st.composite
    def limit_too_large(draw: Any) -> InvalidQuery:
        member = draw(st.sampled_from(selectable))
        limit = draw(st.integers(MAX_LIMIT + 1, 10 * MAX_LIMIT))
        # Cube answers 500 here; duckcube 400 (README, "What is compatible").
        return InvalidQuery("limit above 50000", {**select(member), "limit": limit}, 400,
                            {"error": "Error: The query limit has been exceeded."})
    options.append(limit_too_large())

    known_keys = {"measures", "dimensions", "filters", "timeDimensions", "order", "segments",
                  "timezone", "limit", "offset", "total", "cacheMode", "cache", "ungrouped",
                  "responseFormat", "subqueryJoins", "joinHints", "maskedMembers", "renewQuery"}

    @st.composite
    def unknown_key(draw: Any) -> InvalidQuery:
        member = draw(st.sampled_from(selectable))
        key = draw(_NAME.filter(lambda n: n not in known_keys))
        return InvalidQuery("unknown query key", {**select(member), key: 1}, 400,
                            {"error": f'Invalid query format: "{key}" is not allowed'})
    options.append(unknown_key())

    @st.composite
    def bad_timezone(draw: Any) -> InvalidQuery:
        member = draw(st.sampled_from(selectable))
        zone = "Nowhere/" + draw(_NAME)
        return InvalidQuery("unknown time zone", {**select(member), "timezone": zone}, 400, {
            "error": f'Invalid query format: "timezone" must be a valid IANA time zone, '
                     f'got "{zone}"'})
    options.append(bad_timezone())

    @st.composite
    def bad_direction(draw: Any) -> InvalidQuery:
        member = draw(st.sampled_from(selectable))
        direction = draw(_NAME.filter(lambda n: n not in ("asc", "desc")))
        return InvalidQuery("bad order direction",
                            {**select(member), "order": {member.path: direction}}, 400, {
                                "error": f'Invalid query format: "order.{member.path}" must be '
                                         "one of [asc, desc]"})
    options.append(bad_direction())

    if dimensions:
        @st.composite
        def missing_values(draw: Any) -> InvalidQuery:
            member = draw(st.sampled_from(dimensions))
            operator = draw(st.sampled_from(("equals", "notEquals", "contains", "gt")))
            leaf: dict[str, Any] = {"member": member.path, "operator": operator}
            if draw(st.booleans()):
                leaf["values"] = []
            text = json.dumps(leaf, separators=(",", ":"))
            return InvalidQuery("filter without values",
                                {**select(selectable[0]), "filters": [leaf]}, 400,
                                {"error": f"Values required for filter: {text}"})
        options.append(missing_values())

    if hidden:
        @st.composite
        def hidden_member(draw: Any) -> InvalidQuery:
            member = draw(st.sampled_from(hidden))
            alias = member_alias(member.cube, member.name)
            # Cube answers 500 here; duckcube 400 (README, "What is compatible").
            return InvalidQuery("hidden member", select(member), 400, {
                "error": f"Error: You requested hidden member: '{alias}'. Please make it visible "
                         "using `public: true`. Please note primaryKey fields are `public: false` "
                         "by default: https://cube.dev/docs/schema/reference/joins"
                         "#setting-a-primary-key."})
        options.append(hidden_member())

    own_measures = {c: [m for m in model.cubes[c].measures.values()
                        if m.public and _needed_cubes(model, m) == {c}]
                    for c in names if getattr(model.cubes[c], "kind", "cube") == "cube"}
    apart = [(a, b) for a in own_measures for b in own_measures if a != b and own_measures[a]
             and own_measures[b] and not _joinable(model, {a, b})]
    if apart:
        @st.composite
        def no_join_path(draw: Any) -> InvalidQuery:
            a, b = draw(st.sampled_from(apart))
            first, second = own_measures[a][0], own_measures[b][0]
            return InvalidQuery("cubes without a join path",
                                {"measures": [first.path, second.path]}, 400,
                                _user_error(f"Can't find join path to join '{a}', '{b}'"))
        options.append(no_join_path())

    @st.composite
    def malformed_name(draw: Any) -> InvalidQuery:
        name = draw(_NAME)
        return InvalidQuery("member name without a cube", {"measures": [name]}, 400, {
            "error": f'Invalid query format: "measures[0]" with value "{name}" fails to match '
                     "the required pattern: /^[a-zA-Z0-9_]+\\.[a-zA-Z0-9_]+$/"})
    options.append(malformed_name())

    options.append(st.sampled_from(({}, {"measures": []}, {"segments": []})).map(
        lambda query: InvalidQuery("nothing selected", query, 400, {
            "error": "Query should contain either measures, dimensions or timeDimensions with "
                     "granularities in order to be valid"})))

    return st.one_of(*options)


def assert_rejected(engine: Engine, invalid: InvalidQuery) -> None:
    """`engine.load(invalid.query)` must raise `CubeError` with exactly the expected status
    and body."""
    try:
        result = engine.load(invalid.query)
    except CubeError as error:
        if (error.status, error.body) != (invalid.status, invalid.body):
            raise AssertionError(
                f"rejected ({invalid.reason}) with the wrong error\n  query: {_show(invalid.query)}"
                f"\n  expected: {invalid.status} {_show(invalid.body)}"
                f"\n  got:      {error.status} {_show(error.body)}") from None
        return
    raise AssertionError(f"accepted an invalid query ({invalid.reason})\n  query: "
                         f"{_show(invalid.query)}\n  expected: {invalid.status} "
                         f"{_show(invalid.body)}\n  got data: {_show(result.get('data'))[:300]}")


# =============================================================================================
# Invariants


def _show(value: Any) -> str:
    return json.dumps(value, separators=(", ", ": "), default=str)


def _fail(invariant: str, message: str, **queries_: Any) -> AssertionError:
    lines = [f"{invariant}: {message}"]
    lines += [f"  {name}: {_show(value)}" for name, value in queries_.items()]
    return AssertionError("\n".join(lines))


def _load(engine: Engine, query: dict, invariant: str, **context: Any) -> dict:
    try:
        return engine.load(query)
    except CubeError as error:
        raise _fail(invariant, f"the engine refused a valid query: {error.status} "
                               f"{_refusal(error)}", query=query, **context) from None


def _refusal(error: CubeError) -> str:
    """The first line of the error message (database errors go on with context lines)."""
    lines = str(error.message).strip().splitlines()
    return lines[0] if lines else _show(error.body)


def _data(result: dict) -> list[dict]:
    data = result["data"]
    if not isinstance(data, list):
        raise AssertionError(f"expected rows as a list of objects, got {type(data).__name__}")
    return data


def _number(value: Any) -> Decimal:
    if value is None:
        return Decimal(0)
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise AssertionError(f"{value!r} is not a number") from None


def _close(a: Decimal, b: Decimal) -> bool:
    if a == b:
        return True
    return abs(a - b) <= Decimal("1e-9") * max(Decimal(1), abs(a), abs(b))


def _query_limit(query: dict) -> int:
    limit = query.get("limit")
    return limit if isinstance(limit, int) else DEFAULT_LIMIT


def _without_grouping(query: dict) -> dict:
    """The query's rows without grouping, order or paging: no dimensions, time dimensions
    kept only for their date ranges. Its measures stay: they decide the join tree."""
    out = {k: v for k, v in query.items()
           if k not in ("dimensions", "order", "limit", "offset", "total", "timeDimensions",
                        "responseFormat")}
    ranges = [{"dimension": td["dimension"], "dateRange": td["dateRange"]}
              for td in query.get("timeDimensions") or [] if td.get("dateRange") is not None]
    if ranges:
        out["timeDimensions"] = ranges
    return out


def _connected(model: Model, query: dict) -> bool:
    """Whether the declared joins connect every cube the query touches (else Cube refuses it)."""
    cubes: set[str] = set()
    for path in _member_paths(query):
        member = _find(model, path)
        if member is not None:
            cubes |= _needed_cubes(model, member)
    return _joinable(model, cubes)


def _has_measure_filter(model: Model, query: dict) -> bool:
    for leaf in _leaves(query.get("filters") or []):
        member = _find(model, leaf["member"] or "")
        if member is not None and member.is_measure:
            return True
    return False


def _groupings(query: dict) -> list[tuple[str, dict]]:
    """Each way the query groups rows: (row key, the query part that adds it)."""
    out = [(d, {"dimensions": [d]}) for d in query.get("dimensions") or [] if d.count(".") == 1]
    for td in query.get("timeDimensions") or []:
        if td.get("granularity"):
            out.append((f"{td['dimension']}.{td['granularity']}",
                        {"timeDimensions": [{"dimension": td["dimension"],
                                             "granularity": td["granularity"]}]}))
    return out


def compiles_and_runs(engine: Engine, query: dict) -> None:
    """The query runs, and its rows carry exactly the members the annotation describes: the
    requested measures and dimensions, time dimensions under `Cube.td.granularity` (plus Cube's
    plain `Cube.td` key), numbers as strings, times as `YYYY-MM-DDTHH:mm:ss.SSS`, no more rows
    than the limit, and `total` (when asked) equal to the row count when no limit cut it."""
    name = "compiles_and_runs"
    result = _load(engine, query, name)
    data = _data(result)
    annotation = result["annotation"]
    measures = set(query.get("measures") or [])
    dimensions = {d for d in query.get("dimensions") or [] if d.count(".") == 1}
    granular = {f"{td['dimension']}.{td['granularity']}" for td in query.get("timeDimensions") or []
                if td.get("granularity")}
    granular |= {d for d in query.get("dimensions") or [] if d.count(".") == 2}
    if set(annotation["measures"]) != measures:
        raise _fail(name, f"annotation.measures is {sorted(annotation['measures'])}, "
                          f"expected {sorted(measures)}", query=query)
    if set(annotation["dimensions"]) != dimensions:
        raise _fail(name, f"annotation.dimensions is {sorted(annotation['dimensions'])}, "
                          f"expected {sorted(dimensions)}", query=query)
    plain = {key.rsplit(".", 1)[0] for key in granular}
    times = set(annotation["timeDimensions"])
    if not granular <= times or not times <= granular | plain:
        raise _fail(name, f"annotation.timeDimensions is {sorted(times)}, expected "
                          f"{sorted(granular)} (and their plain keys)", query=query)
    columns = set(annotation["measures"]) | set(annotation["dimensions"]) | times
    types = {key: item.get("type") for part in ("measures", "dimensions", "timeDimensions")
             for key, item in annotation[part].items()}
    for key in annotation["measures"]:
        member = _find(engine.model, key)
        if member is not None and member.type not in _NUMERIC_MEASURES:
            # min/max of a date come back as times; `number` measures are whatever their SQL is.
            types[key] = "time or number" if member.type in ("min", "max") else "any"
    limit = _query_limit(query)
    if len(data) > limit:
        raise _fail(name, f"{len(data)} rows for limit {limit}", query=query)
    for index, row in enumerate(data):
        if set(row) != columns:
            raise _fail(name, f"row {index} has keys {sorted(row)}, annotated "
                              f"{sorted(columns)}", query=query, row=row)
        for key, value in row.items():
            problem = _bad_value(types[key], value)
            if problem:
                raise _fail(name, f"row {index} {key}: {problem}", query=query, row=row)
    if query.get("total"):
        if "total" not in result:
            raise _fail(name, "`total: true` but no `total` in the answer", query=query)
        if not query.get("offset") and len(data) < limit and result["total"] != len(data):
            raise _fail(name, f"total is {result['total']} but {len(data)} rows came back "
                              "uncut by the limit", query=query)


_NUMERIC_MEASURES = ("count", "count_distinct", "count_distinct_approx", "sum", "avg")


def _bad_value(member_type: str | None, value: Any) -> str | None:
    if value is None:
        return None
    if member_type == "any":
        return None if isinstance(value, (str, bool)) else f"{value!r} is not a JSON scalar"
    if member_type == "time or number":
        if isinstance(value, str) and _TIME_VALUE.match(value):
            return None
        member_type = "number"
    if member_type == "number":
        if not isinstance(value, str):
            return f"number {value!r} is not a string"
        try:
            Decimal(value)
        except InvalidOperation:
            if value not in ("NaN", "Infinity", "-Infinity"):
                return f"{value!r} is not a number"
    elif member_type == "time":
        if not isinstance(value, str) or not _TIME_VALUE.match(value):
            return f"time {value!r} is not YYYY-MM-DDTHH:mm:ss.SSS"
    elif member_type == "boolean":
        if not isinstance(value, bool) and value not in ("true", "false"):
            return f"boolean {value!r}"
    elif member_type == "string" and not isinstance(value, str):
        return f"string {value!r} is not a string"
    return None


def additive_measures_sum_to_total(engine: Engine, query: dict) -> None:
    """For each `count` / `sum` measure of the query and each of its groupings (dimension, or time
    dimension with granularity) of the measure's own cube or of a cube it reaches through
    many_to_one joins: the grouped values add up to the ungrouped total, under the query's
    filters, segments and date ranges. Skipped with measure filters (they filter groups, not
    rows) and when more groups exist than one answer can hold."""
    name = "additive_measures_sum_to_total"
    model = engine.model
    if query.get("ungrouped") or _has_measure_filter(model, query):
        return
    base = _without_grouping(query)
    if not _connected(model, base):
        return  # the dimensions were what joined the cubes
    for path in query.get("measures") or []:
        measure = _find(model, path)
        if measure is None or measure.type not in ("count", "sum") or _is_cumulative(model, path):
            continue
        parents = set(parent_cubes(model, _origin(model, measure).cube))
        total_query = base
        total = None
        for key, grouping in _groupings(query):
            member = _find(model, key)
            if member is None or not _needed_cubes(model, _origin(model, member)) <= parents:
                continue
            if total is None:
                rows = _data(_load(engine, total_query, name))
                total = _number(rows[0][path]) if rows else Decimal(0)
            grouped_query = {**base, **grouping, "limit": MAX_LIMIT}
            if not _connected(model, grouped_query):
                continue
            if "timeDimensions" in grouping and "timeDimensions" in base:
                grouped_query["timeDimensions"] = \
                    base["timeDimensions"] + grouping["timeDimensions"]
            rows = _data(_load(engine, grouped_query, name))
            if len(rows) >= MAX_LIMIT:
                continue
            summed = sum((_number(row[path]) for row in rows), Decimal(0))
            if not _close(summed, total):
                raise _fail(name, f"{path} summed over the groups of {key} is {summed}, "
                                  f"ungrouped it is {total}",
                            grouped=grouped_query, total=total_query)


def _negated(leaf: dict) -> dict:
    operator, _ = NEGATIONS[leaf["operator"]]
    out = {"member": leaf["member"], "operator": operator}
    if "values" in leaf:
        out["values"] = leaf["values"]
    return out


def filter_and_negation_partition(engine: Engine, query: dict) -> None:
    """For each top-level dimension filter with a negation (equals/notEquals, contains/notContains,
    set/notSet, gt/lte, inDateRange/notInDateRange, beforeDate/afterOrOnDate...): the rows the
    filter keeps and the rows its negation keeps add up to the rows without it, by Cube's NULL
    rules. Negative string operators keep NULL rows unless `null` is one of the values (then the
    positive one has them); comparisons and date operators keep NULL rows on neither side, so
    those are completed with `notSet`. Counted with every count/sum measure of the query that the
    filter's cube does not fan out, and a `count` of the filter's own cube."""
    name = "filter_and_negation_partition"
    model = engine.model
    if query.get("ungrouped") or _has_measure_filter(model, query):
        return
    filters = list(query.get("filters") or [])
    for index, leaf in enumerate(filters):
        if "or" in leaf or "and" in leaf or leaf.get("operator") not in NEGATIONS:
            continue
        path = leaf.get("member", leaf.get("dimension"))
        member = _find(model, path)
        if member is None or member.is_measure:
            continue
        leaf = {"member": path, **{k: v for k, v in leaf.items() if k != "dimension"}}
        base = _without_grouping({**query, "filters": filters[:index] + filters[index + 1:]})
        if not base.get("filters"):
            base.pop("filters", None)
        needed = _needed_cubes(model, _origin(model, member))

        def splits(measure: Member) -> bool:
            # The filter decides per row of the measure's cube: its cube is not fanned out.
            return measure.type in ("count", "sum") and not _is_cumulative(model, measure.path) \
                and needed <= set(parent_cubes(model, _origin(model, measure).cube))
        counted = [m for m in query.get("measures") or []
                   if (found := _find(model, m)) is not None and splits(found)]
        own_count = next((m.path for m in model.cubes[member.cube].measures.values()
                          if m.type == "count" and m.public and not m.filters and splits(m)),
                         None)
        if own_count and own_count not in counted:
            counted.append(own_count)
        if not counted:
            continue
        _, nulls_on_a_side = NEGATIONS[leaf["operator"]]
        others = list(base.get("filters") or [])
        measures = list(base.get("measures") or [])
        whole = {**base, "measures": measures + [m for m in counted if m not in measures]}
        parts = {"kept": {**whole, "filters": others + [leaf]},
                 "dropped": {**whole, "filters": others + [_negated(leaf)]}}
        if not nulls_on_a_side:
            parts["null"] = {**whole, "filters": others + [{"member": path, "operator": "notSet"}]}
        if not _connected(model, parts["kept"]):
            continue
        answers = {label: _data(_load(engine, q, name))
                   for label, q in (("whole", whole), *parts.items())}
        for measure in counted:
            values = {label: _number(rows[0][measure]) if rows else Decimal(0)
                      for label, rows in answers.items()}
            summed = sum((values[label] for label in parts), Decimal(0))
            if not _close(summed, values["whole"]):
                shown = " + ".join(f"{values[label]} ({label})" for label in parts)
                raise _fail(name, f"{measure}: {shown} = {summed}, without the filter "
                                  f"{values['whole']}", whole_query=whole,
                            **{f"{label}_query": q for label, q in parts.items()})


def _order_pairs(order: Any) -> list[list[str]]:
    if isinstance(order, dict):
        return [[k, v] for k, v in order.items()]
    if isinstance(order, list):
        return [[item["id"], "desc" if item.get("desc") else "asc"] if isinstance(item, dict)
                else [item[0], item[1]] for item in order]
    return []


def _total_order(query: dict) -> list[list[str]]:
    """The query's order, then every dimension not in it: ties are then impossible."""
    pairs = _order_pairs(query.get("order"))
    named = {k for k, _ in pairs}
    for key in _selected_keys(query):
        if key not in (query.get("measures") or []) and key not in named:
            pairs.append([key, "asc"])
    return pairs


def pages_concatenate(engine: Engine, query: dict) -> None:
    """Ordered by every dimension (after the query's own order), the answer cut into pages with
    `limit`/`offset` concatenates back to the whole answer, and the query's own `limit`/`offset`
    is the matching slice of it."""
    name = "pages_concatenate"
    if query.get("ungrouped"):
        return
    ordered = {k: v for k, v in query.items() if k not in ("limit", "offset", "total")}
    ordered["order"] = _total_order(query)
    if not ordered["order"]:
        ordered.pop("order")
    full = _data(_load(engine, ordered, name))
    if len(full) >= DEFAULT_LIMIT:
        return
    size = max(1, math.ceil(len(full) / 3))
    pages: list[dict] = []
    offset = 0
    while True:
        page_query = {**ordered, "limit": size, "offset": offset}
        page = _data(_load(engine, page_query, name))
        expected = full[offset:offset + size]
        if page != expected:
            raise _fail(name, f"page at offset {offset} (size {size}) differs from rows "
                              f"{offset}..{offset + size - 1} of the whole answer",
                        page_query=page_query, whole_query=ordered, page=page[:5],
                        expected=expected[:5])
        pages.extend(page)
        if not page:
            break
        offset += size
    if pages != full:
        raise _fail(name, "the pages do not add up to the whole answer", query=ordered)
    if "limit" in query or "offset" in query:
        sliced_query = {**ordered, **{k: query[k] for k in ("limit", "offset") if k in query}}
        start = query.get("offset") or 0
        expected = full[start:start + _query_limit(query)]
        got = _data(_load(engine, sliced_query, name))
        if got != expected:
            raise _fail(name, f"limit/offset gave {len(got)} rows that are not rows "
                              f"{start}.. of the whole answer", query=sliced_query,
                        got=got[:5], expected=expected[:5])


def _sort_key(member_type: str | None, value: Any) -> Any:
    if member_type == "number":
        try:
            return (0, Decimal(str(value)))
        except InvalidOperation:
            return (1, str(value))  # a time from min/max over dates, say
    return value


def order_is_respected(engine: Engine, query: dict) -> None:
    """The rows come in the order dry-run reports (`queryOrder`: the requested order, or Cube's
    default), NULLs last in both directions (DuckDB's default, which Cube does not override)."""
    name = "order_is_respected"
    try:
        order = engine.dry_run(query)["queryOrder"][0]
    except CubeError as error:
        raise _fail(name, f"dry-run refused a valid query: {error.status} {_refusal(error)}",
                    query=query) from None
    result = _load(engine, query, name)
    data = _data(result)
    types = {key: item.get("type") for part in ("measures", "dimensions", "timeDimensions")
             for key, item in result["annotation"][part].items()}
    keys = []
    for key, direction in order.items():
        if not data or key not in data[0]:
            break  # an order key the rows do not show: nothing after it can be checked
        keys.append((key, direction == "desc"))
    for index in range(1, len(data)):
        before, after = data[index - 1], data[index]
        for key, descending in keys:
            a, b = before[key], after[key]
            if a == b or (a is None and b is None):
                continue
            if a is None:
                wrong = True  # NULL came before a value
            elif b is None:
                wrong = False
            else:
                ka, kb = _sort_key(types.get(key), a), _sort_key(types.get(key), b)
                if ka == kb:
                    continue
                wrong = (ka > kb) != descending
            if wrong:
                raise _fail(name, f"rows {index - 1} and {index} are out of order on {key} "
                                  f"({'desc' if descending else 'asc'}): {a!r} then {b!r}",
                            query=query, order=order)
            break


def _loadable(normalized: dict) -> dict:
    """A normalized query as a request again: internal fields dropped, order as pairs."""
    out = {k: v for k, v in normalized.items() if k not in ("rowLimit", "queryType")}
    if "order" in out:
        out["order"] = _order_pairs(out["order"])
    return out


def dry_run_round_trips(engine: Engine, query: dict) -> None:
    """Dry-run's `normalizedQueries[0]`, sent back as a request (without `rowLimit` and
    `queryType`, which are not request fields, and with its order as `[id, dir]` pairs), gives
    the same data as the query, and normalizes to itself."""
    name = "dry_run_round_trips"
    try:
        normalized = engine.dry_run(query)["normalizedQueries"][0]
    except CubeError as error:
        raise _fail(name, f"dry-run refused a valid query: {error.status} {_refusal(error)}",
                    query=query) from None
    again = _loadable(normalized)
    first = _data(_load(engine, query, name))
    second = _data(_load(engine, again, name, original=query))
    if first != second:
        at = next((i for i, (a, b) in enumerate(zip(first, second)) if a != b),
                  min(len(first), len(second)))
        raise _fail(name, f"the normalized query gives {len(second)} rows, the query "
                          f"{len(first)}; they differ from row {at}",
                    query=query, normalized=again)
    try:
        renormalized = engine.dry_run(again)["normalizedQueries"][0]
    except CubeError as error:
        raise _fail(name, f"dry-run refused its own normalized query: {_refusal(error)}",
                    query=again) from None
    if renormalized != normalized:
        changed = sorted(k for k in set(normalized) | set(renormalized)
                         if normalized.get(k) != renormalized.get(k))
        raise _fail(name, f"normalizing the normalized query changes {', '.join(changed)}",
                    query=query, normalized=normalized, renormalized=renormalized)


Invariant = Callable[[Engine, dict], None]

INVARIANTS: dict[str, Invariant] = {
    "compiles_and_runs": compiles_and_runs,
    "additive_measures_sum_to_total": additive_measures_sum_to_total,
    "filter_and_negation_partition": filter_and_negation_partition,
    "pages_concatenate": pages_concatenate,
    "order_is_respected": order_is_respected,
    "dry_run_round_trips": dry_run_round_trips,
}


def check_invariants(engine: Engine, query: dict,
                     names: Iterable[str] | None = None) -> None:
    """Run the named invariants (default: all of `INVARIANTS`, in order) on one query."""
    for invariant in names or INVARIANTS:
        INVARIANTS[invariant](engine, query)
