"""Cube's pre-aggregation matching descriptor of a query ("transformed query").

Real Cube reduces every query to a plain descriptor before it looks for a pre-aggregation that can
answer it, and reports that descriptor: `/v1/dry-run` in `transformedQueries[i]`, `/v1/sql` in
`sql.canUseTransformedQuery`. duckcube has no pre-aggregations, but clients (and the conformance
recordings) read these fields, so `transformed_query` rebuilds the descriptor from a `Plan`.

The rules, as recorded from Cube 1.7.43 (ties broken by Cube's source, noted where that happened):

* `sortedDimensions`: the paths of the query's dimensions, of every leaf of its dimension filters
  and of its segments, de-duplicated and sorted, then written as join paths (`Users.city` joined from
  `Orders` is `Orders.Users.city`). Date ranges of time dimensions are not filters here.
* `sortedTimeDimensions`: `[dimension, rollup granularity]` per time dimension, sorted by dimension.
  The rollup granularity is the granularity the data must be grouped by to answer the query:
  without a date range the granularity itself; with a date range, the finest granularity that both
  the granularity and the range's bounds line up with (`week` over a month-aligned range gives
  `day`: weeks do not nest in months); with no granularity, the range's own granularity.
* A date range's granularity: for each bound (the end plus 1 ms) the largest of year / month / week
  (a Monday) / day / hour / minute / second whose boundary it sits on, then the finer of the two.
  Quarter is never inferred (Cube's `granularityFor` does not know it).
* `timeDimensions`: `[dimension, granularity or null]`, sorted by dimension.
* `measures` (join paths), `leafMeasures` (the measures at the bottom of measure-to-measure
  references), `leafMeasuresFullPaths`, `measureToLeafMeasures` (per measure: each leaf with
  `additive` and Cube's camelCase `type`). Additive: count, sum, min, max, countDistinctApprox.
* `isAdditive` / `leafMeasureAdditive`: every (leaf) measure is additive.
* `hasNoTimeDimensionsWithoutGranularity`, `allFiltersWithinSelectedDimensions` (every filtered
  member is a selected dimension), `filterDimensionsSingleValueEqual` (`{}` when every filter is a
  single-value `equals`, possibly inside `and` groups; else `null`).
* `granularityHierarchies`: for every time dimension of the model, `Cube.dim.<g>` -> `<g>` and the
  finer granularities it splits into (`week` -> week, day, hour, minute, second).
* `hasMultipliedMeasures`: some measure sits on a cube the join repeats (count distinct excepted).
* `ownedDimensions` / `ownedTimeDimensions*`: the same, but with every member the SQL references.
* `ungrouped`, `sortedUsedCubePrimaryKeys`, `sortedAllCubeNames`: only when the query says
  `ungrouped`.
* Cumulative (rolling window) and multi-stage measures and views are not in duckcube's model
  language, so `hasCumulativeMeasures` / `hasMultiStage` are false, `windowGranularity` is null and
  `allBackAliasMembers` is `{}`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterable
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from engine.model import Cube, Granularity, Member, Model, Template
from engine.compile import Plan
from engine.query import Filter, FilterGroup, FilterNode, TimeDimension

# Each granularity and the finer ones a group of it splits into, in Cube's order.
GRANULARITY_HIERARCHY: dict[str, tuple[str, ...]] = {
    "year": ("year", "quarter", "month", "day", "hour", "minute", "second"),
    "quarter": ("quarter", "month", "day", "hour", "minute", "second"),
    "month": ("month", "day", "hour", "minute", "second"),
    "week": ("week", "day", "hour", "minute", "second"),
    "day": ("day", "hour", "minute", "second"),
    "hour": ("hour", "minute", "second"),
    "minute": ("minute", "second"),
    "second": ("second",),
}

# Cube's measure types, camelCased as the descriptor spells them.
_CUBE_TYPES = {"count_distinct": "countDistinct", "count_distinct_approx": "countDistinctApprox"}
_ADDITIVE = {"count", "sum", "min", "max", "count_distinct_approx"}


def transformed_query(model: Model, plan: Plan) -> dict | None:
    """Cube's pre-aggregation matching descriptor for a query, as `/v1/dry-run` reports it in
    `transformedQueries[i]` and `/v1/sql` in `sql.canUseTransformedQuery`."""
    return _Descriptor(model, plan).build()


# ---------------------------------------------------------------------------------------------
# Filters, classified as Cube does before planning


@dataclass(frozen=True)
class _Leaf:
    member: Member
    operator: str
    values: tuple | None


@dataclass(frozen=True)
class _Group:
    kind: str
    items: tuple  # of _Leaf | _Group


def _leaves(node: _Leaf | _Group) -> list[_Leaf]:
    if isinstance(node, _Leaf):
        return [node]
    return [leaf for item in node.items for leaf in _leaves(item)]


# ---------------------------------------------------------------------------------------------


class _Descriptor:
    def __init__(self, model: Model, plan: Plan) -> None:
        self.model = model
        self.plan = plan
        self.query = plan.query
        self.timezone = plan.timezone or "UTC"
        self.now = self.query.now or datetime.now(timezone.utc)
        # The join tree as parent links: joined cube -> the cube it was joined from.
        self.parent: dict[str, str] = {step.joined: step.owner for step in plan.joins}
        # Cube's `filters` (dimension filters, plus `measureFilter` leaves) and `measureFilters`.
        self.filters: list[_Leaf | _Group] = []
        self.measure_filters: list[_Leaf | _Group] = []
        for node in self.query.filters:
            self._classify(node)

    # --- the descriptor ---------------------------------------------------------------------

    def build(self) -> dict[str, Any]:
        measures = [c.member for c in self.plan.measures]
        dimensions = [self._member(path, "dimensions") for path in self.query.dimensions]
        segments = list(self.plan.segments)
        filter_leaves = [leaf for node in self.filters for leaf in _leaves(node)]
        dimension_members = dimensions + [leaf.member for leaf in filter_leaves] + segments
        time_dimensions = [(td, self._member(td.dimension, "dimensions"))
                           for td in self.query.time_dimensions]

        leaf_by_root: dict[str, list[str]] = {}
        leaf_paths: list[str] = []
        for key, roots in self._measure_roots(measures):
            leaves = _unique(leaf for root in roots for leaf in self._leaf_measures(root))
            leaf_by_root[key] = leaves
            leaf_paths.extend(leaves)
        leaf_paths = _unique(leaf_paths)
        leaf_members = [self._member(path, "measures") for path in leaf_paths]

        owned_time = []
        for td, member in time_dimensions:
            owned = sorted(_unique(self._member_names(member)))
            path = owned[0] if len(owned) == 1 else member.path
            owned_time.append((path, td, member))

        dimension_paths = [d.path for d in dimensions]
        out: dict[str, Any] = {
            "sortedDimensions": [self._full_path(p) for p in
                                 sorted(_unique(m.path for m in dimension_members))],
            "sortedTimeDimensions": _sort_pairs(
                (member.path, self._rollup_granularity(td, member))
                for td, member in time_dimensions),
            "timeDimensions": _sort_pairs(
                (member.path, self._resolved_granularity(td, member))
                for td, member in time_dimensions),
            "measures": [self._full_path(p) for p in _unique(m.path for m in measures)],
            "leafMeasureAdditive": all(_is_additive(m) for m in leaf_members),
            "leafMeasures": leaf_paths,
            "leafMeasuresFullPaths": [self._full_path(p) for p in leaf_paths],
            "measureToLeafMeasures": {
                key: [{"measure": leaf, "additive": _is_additive(self._member(leaf, "measures")),
                       "type": _cube_type(self._member(leaf, "measures"))}
                      for leaf in leaves]
                for key, leaves in leaf_by_root.items()},
            "hasNoTimeDimensionsWithoutGranularity":
                all(td.granularity for td, _ in time_dimensions),
            "allFiltersWithinSelectedDimensions":
                all(leaf.member.path in dimension_paths for leaf in filter_leaves),
            "isAdditive": all(_is_additive(m) for m in measures),
            "granularityHierarchies": self._granularity_hierarchies(),
            "hasMultipliedMeasures": self._has_multiplied_measures(measures),
            "hasCumulativeMeasures": False,
            "windowGranularity": None,
            "filterDimensionsSingleValueEqual": self._single_value_equal(dimensions + segments),
            "ownedDimensions": [self._full_path(p) for p in sorted(_unique(
                name for m in dimension_members for name in self._member_names(m)))],
            "ownedTimeDimensionsWithRollupGranularity": [
                [self._full_path(path), granularity] for path, granularity in _sort_pairs(
                    (path, self._rollup_granularity(td, member))
                    for path, td, member in owned_time)],
            "ownedTimeDimensionsAsIs": [
                [self._full_path(path), granularity] for path, granularity in _sort_pairs(
                    (path, self._resolved_granularity(td, member))
                    for path, td, member in owned_time)],
            "allBackAliasMembers": {},
        }
        if self.query.ungrouped is not None:
            # Cube copies the query's own `ungrouped`; the two lists exist only when it is true.
            out["ungrouped"] = self.query.ungrouped
            if self.query.ungrouped:
                cubes = sorted(set(self.plan.cubes()))
                out["sortedUsedCubePrimaryKeys"] = sorted(
                    key.path for cube in cubes for key in self.model.cubes[cube].primary_keys)
                out["sortedAllCubeNames"] = cubes
        out["hasMultiStage"] = False
        return out

    # --- members and paths --------------------------------------------------------------------

    def _member(self, path: str, kind: str) -> Member:
        cube_name, _, name = path.partition(".")
        cube: Cube = self.model.cubes[cube_name]
        found = getattr(cube, kind).get(name) or cube.member(name)
        if found is None:  # the plan resolved every member already
            raise KeyError(path)
        return found

    def _full_path(self, path: str) -> str:
        """`Cube.member` written with the join path from the query's root cube."""
        cube, _, name = path.partition(".")
        if not name:
            return path
        chain = [cube]
        while chain[-1] in self.parent:
            chain.append(self.parent[chain[-1]])
        if chain[-1] != self.plan.root:
            return path  # not in the join tree (cannot happen for a planned query)
        return ".".join(reversed(chain)) + "." + name

    def _classify(self, node: FilterNode) -> None:
        """Split top-level filters as Cube does: dimension groups and leaves (and `measureFilter`
        leaves) are `filters`, measure groups and leaves are `measureFilters`."""
        converted = self._convert(node)
        if converted is None:
            return
        leaves = _leaves(converted)
        if isinstance(converted, _Leaf):
            is_measure = converted.member.is_measure and converted.operator != "measureFilter"
        else:
            is_measure = any(leaf.member.is_measure for leaf in leaves)
        (self.measure_filters if is_measure else self.filters).append(converted)

    def _convert(self, node: FilterNode) -> _Leaf | _Group | None:
        if isinstance(node, FilterGroup):
            items = tuple(item for item in (self._convert(i) for i in node.items) if item)
            if not items:
                return None  # Cube drops a group with no members
            return _Group(node.kind, items)
        assert isinstance(node, Filter)
        cube_name, _, name = node.member.partition(".")
        member = self.model.cubes[cube_name].member(name)
        if member is None:
            raise KeyError(node.member)
        return _Leaf(member, node.operator, node.values)

    def _references(self, member: Member) -> list[Member]:
        """Members the member's SQL evaluates, in Cube's evaluation order: a measure's `sql` (or
        its cube's primary key, for a count without `sql`), then its `filters`."""
        refs: list[Member] = []
        if member.sql is not None:
            refs.extend(self._template_members(member.sql))
        elif member.is_measure:
            refs.extend(self.model.cubes[member.cube].primary_keys)
        if member.is_measure:
            for template in member.filters:
                refs.extend(self._template_members(template))
        return refs

    def _template_members(self, template: Template) -> list[Member]:
        found = []
        for ref in template.references():
            target = self.model.cubes[ref.cube].member(ref.name)
            if target is not None:
                found.append(target)
        return found

    def _member_names(self, member: Member) -> list[str]:
        """The member and every member its SQL reaches (Cube's `collectMemberNamesFor`)."""
        names: list[str] = []
        stack: set[str] = set()

        def visit(current: Member) -> None:
            names.append(current.path)
            if current.path in stack:
                return
            stack.add(current.path)
            for ref in self._references(current):
                visit(ref)
            stack.discard(current.path)

        visit(member)
        return _unique(names)

    # --- measures -----------------------------------------------------------------------------

    def _measure_roots(self, measures: list[Member]) -> list[tuple[str, list[Member]]]:
        """(key, root measures) per query measure and per measure filter, as Cube collects leaf
        measures: a filter group is keyed by its first measure and covers all of its leaves."""
        roots: list[tuple[str, list[Member]]] = [(m.path, [m]) for m in measures]
        for node in self.measure_filters:
            leaves = [leaf.member for leaf in _leaves(node)]
            roots.append((leaves[0].path, leaves))
        return roots

    def _leaf_measures(self, root: Member) -> list[str]:
        """Measures reached from `root` that reference no other measure (pre-order of first
        visit, as Cube's `collectLeafMeasures` fills its map)."""
        is_leaf: dict[str, bool] = {}
        active: set[str] = set()

        def visit(member: Member, parent: str | None) -> None:
            if member.is_measure:
                if parent is not None:
                    is_leaf[parent] = False
                is_leaf[member.path] = True
                parent = member.path
            if member.path in active:
                return
            active.add(member.path)
            for ref in self._references(member):
                visit(ref, parent)
            active.discard(member.path)

        visit(root, None)
        return [path for path, leaf in is_leaf.items() if leaf]

    def _has_multiplied_measures(self, measures: list[Member]) -> bool:
        """Cube's `fullKeyQueryAggregateMeasures({hasMultipliedForPreAggregation: true})`: any
        rendered measure on a cube the join repeats; count distinct stays exact."""
        query_paths = {m.path for m in measures}
        roots = list(measures)
        for node in self.measure_filters:
            for leaf in _leaves(node):
                if leaf.member.path not in query_paths and all(
                        leaf.member.path != r.path for r in roots):
                    roots.append(leaf.member)
        for root in roots:
            for member in self._rendered_measures(root):
                if member.cube in self.plan.multiplied and member.type != "count_distinct":
                    return True
        return False

    def _rendered_measures(self, root: Member) -> list[Member]:
        """The measures Cube renders for a root measure: itself, or, when it combines measures of
        other cubes, those measures (the nearest ones that do not themselves combine others)."""
        composite: set[str] = set()
        edges: list[tuple[Member, Member]] = []  # (parent measure, child measure)

        def walk(member: Member, parent: Member | None, active: frozenset) -> None:
            if member.is_measure:
                if parent is not None:
                    edges.append((parent, member))
                    if parent.cube != member.cube:
                        composite.add(parent.path)
                parent = member
            if member.path in active:
                return
            for ref in self._references(member):
                walk(ref, parent, active | {member.path})

        walk(root, None, frozenset())
        rendered = _unique_members(child for parent, child in edges
                                   if parent.path in composite and child.path not in composite)
        return rendered or [root]

    # --- filters ------------------------------------------------------------------------------

    def _single_value_equal(self, selected: list[Member]) -> dict | None:
        """`{}` (Cube serialises a Set) when every filter is a one-value `equals`, else null."""
        counts: dict[str, int] = {m.path: 1 for m in selected}

        def collect(nodes: Iterable[_Leaf | _Group]) -> bool:
            for node in nodes:
                if isinstance(node, _Leaf) and node.operator == "equals":
                    size = len(node.values or ())
                    counts[node.member.path] = min(counts.get(node.member.path) or 2, size)
                elif isinstance(node, _Group) and node.kind == "and":
                    if not collect(node.items):
                        return False
                else:
                    return False
            return True

        if not collect(self.filters):
            return None
        return {} if all(v == 1 for v in counts.values()) else None

    # --- time ---------------------------------------------------------------------------------

    def _custom(self, member: Member, name: str | None) -> Granularity | None:
        if name is None or name in GRANULARITY_HIERARCHY:
            return None
        return next((g for g in member.granularities if g.name == name), None)

    def _resolved_granularity(self, td: TimeDimension, member: Member) -> str | None:
        if td.granularity is None:
            return None
        custom = self._custom(member, td.granularity)
        return _interval_granularity(custom.interval) if custom else td.granularity

    def _rollup_granularity(self, td: TimeDimension, member: Member) -> str | None:
        if td.granularity is None:
            return _date_range_granularity(td.date_range) if td.date_range else None
        custom = self._custom(member, td.granularity)
        own = self._custom_min_granularity(custom) if custom else td.granularity
        if td.date_range is None:
            return own
        if custom is None or not self._aligned(custom, td.date_range):
            return min_granularity(own, _date_range_granularity(td.date_range))
        return td.granularity

    def _origin(self, custom: Granularity) -> tuple[datetime, bool]:
        """A custom granularity's origin (naive local time) and whether it came from `offset`."""
        zone = ZoneInfo(self.timezone)
        if custom.origin:
            return _parse_local(custom.origin), False
        local_now = self.now.astimezone(zone)
        origin = datetime(local_now.year, 1, 1)
        interval = _parse_interval(custom.interval)
        if set(interval) == {"week"}:
            origin -= timedelta(days=origin.isoweekday() - 1)  # weeks start on Monday
        if custom.offset:
            return origin + _relativedelta(_parse_interval(custom.offset)), True
        return origin, False

    def _custom_min_granularity(self, custom: Granularity) -> str:
        origin, from_offset = self._origin(custom)
        by_interval = _interval_granularity(custom.interval)
        if from_offset:
            return min_granularity(by_interval, _interval_granularity(custom.offset or ""))
        # Cube reads the origin's granularity in UTC.
        origin_utc = origin.replace(tzinfo=ZoneInfo(self.timezone)).astimezone(timezone.utc)
        return min_granularity(by_interval, granularity_for(origin_utc.replace(tzinfo=None)))

    def _aligned(self, custom: Granularity, date_range: tuple[str, str]) -> bool:
        """The range spans whole intervals of the custom granularity, starting on its grid."""
        step = _relativedelta(_parse_interval(custom.interval))
        start = _range_bound(date_range[0], end=False)
        stop = _range_bound(date_range[1], end=True) + timedelta(milliseconds=1)
        if start + step <= start:
            return False
        probe = start
        while probe < stop:
            probe = probe + step
        if probe != stop:
            return False
        origin, _ = self._origin(custom)
        probe = origin
        if start < origin:
            while probe > start:
                probe = probe - step
        else:
            while probe < start:
                probe = probe + step
        return probe == start

    def _granularity_hierarchies(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for cube in self.model.cubes.values():
            for member in cube.dimensions.values():
                if not member.is_time:
                    continue
                for name, chain in GRANULARITY_HIERARCHY.items():
                    out[f"{member.path}.{name}"] = list(chain)
                for custom in member.granularities:
                    finest = self._custom_min_granularity(custom)
                    out[f"{member.path}.{custom.name}"] = [custom.name,
                                                           *GRANULARITY_HIERARCHY[finest]]
        return out


# ---------------------------------------------------------------------------------------------
# Granularity arithmetic


def min_granularity(a: str | None, b: str | None) -> str | None:
    """The finest granularity both `a` and `b` split into (`week`, `month` -> `day`)."""
    if not a:
        return b
    if not b:
        return a
    if a == b:
        return a
    chain_a = GRANULARITY_HIERARCHY[a][::-1]
    chain_b = GRANULARITY_HIERARCHY[b][::-1]
    common = 0
    while common < min(len(chain_a), len(chain_b)) and chain_a[common] == chain_b[common]:
        common += 1
    if common == 0:
        raise ValueError(f"Can't find common parent for '{a}' and '{b}'")
    return chain_a[common - 1]


def granularity_for(moment: datetime) -> str:
    """The largest granularity whose boundary `moment` (wall clock) sits on; never quarter."""
    at_midnight = (moment.hour, moment.minute, moment.second, moment.microsecond) == (0, 0, 0, 0)
    if at_midnight and moment.month == 1 and moment.day == 1:
        return "year"
    if at_midnight and moment.day == 1:
        return "month"
    if at_midnight and moment.isoweekday() == 1:
        return "week"
    if at_midnight:
        return "day"
    if (moment.minute, moment.second, moment.microsecond) == (0, 0, 0):
        return "hour"
    if (moment.second, moment.microsecond) == (0, 0):
        return "minute"
    return "second"


def _date_range_granularity(date_range: tuple[str, str]) -> str | None:
    # Wall-clock arithmetic: the bounds are local times in the query's time zone.
    start = _range_bound(date_range[0], end=False)
    stop = _range_bound(date_range[1], end=True) + timedelta(milliseconds=1)
    return min_granularity(granularity_for(start), granularity_for(stop))


def _range_bound(value: str, end: bool) -> datetime:
    """A date range bound as Cube formats it (date only -> start / end of day), to the ms."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        day = date.fromisoformat(value)
        if end:
            return datetime(day.year, day.month, day.day, 23, 59, 59, 999000)
        return datetime(day.year, day.month, day.day)
    moment = _parse_local(value)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _parse_local(value: str) -> datetime:
    text = value.strip().replace(" ", "T", 1)
    text = re.sub(r"(Z|[+-]\d{2}:?\d{2})$", "", text)
    match = re.fullmatch(r"(.*\.)(\d+)", text)
    if match:  # fromisoformat wants 3 or 6 fraction digits
        text = match.group(1) + (match.group(2) + "000000")[:6]
    return datetime.fromisoformat(text)


_INTERVAL_UNITS = ("year", "quarter", "month", "week", "day", "hour", "minute", "second")


def _parse_interval(interval: str) -> dict[str, int]:
    """`"1 year 2 months"` -> {"year": 1, "month": 2} (Cube's `parseSqlInterval`)."""
    out: dict[str, int] = {}
    for amount, unit in re.findall(r"(-?\d+)\s*([a-zA-Z]+)", interval):
        unit = unit.lower().rstrip("s")
        if unit in _INTERVAL_UNITS:
            out[unit] = out.get(unit, 0) + int(amount)
    return out


def _interval_granularity(interval: str) -> str:
    """The finest standard granularity an interval string is made of."""
    parsed = _parse_interval(interval)
    if len(parsed) == 1:
        return next(iter(parsed))
    for unit, granularity in (("second", "second"), ("minute", "minute"), ("hour", "hour"),
                              ("day", "day"), ("week", "day"), ("month", "month"),
                              ("quarter", "month")):
        if parsed.get(unit):
            return granularity
    return "year"


def _relativedelta(parsed: dict[str, int]) -> relativedelta:
    return relativedelta(
        years=parsed.get("year", 0), months=parsed.get("month", 0) + 3 * parsed.get("quarter", 0),
        weeks=parsed.get("week", 0), days=parsed.get("day", 0), hours=parsed.get("hour", 0),
        minutes=parsed.get("minute", 0), seconds=parsed.get("second", 0))


# ---------------------------------------------------------------------------------------------
# Small helpers


def _is_additive(measure: Member) -> bool:
    return measure.type in _ADDITIVE


def _cube_type(measure: Member) -> str:
    return _CUBE_TYPES.get(measure.type, measure.type)


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _unique_members(items: Iterable[Member]) -> list[Member]:
    seen: dict[str, Member] = {}
    for item in items:
        seen.setdefault(item.path, item)
    return list(seen.values())


def _sort_pairs(pairs: Iterable[tuple[str, str | None]]) -> list[list]:
    """Sorted by dimension path; stable, so one dimension's entries keep the query's order."""
    return [list(pair) for pair in sorted(pairs, key=lambda pair: pair[0])]
