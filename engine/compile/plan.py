"""A normalized query resolved against the model: which columns, which joins, which filters where.

`build_plan` is where member names meet the model: unknown cubes and members, wrong kinds, hidden
members, bad granularities and unreachable cubes are refused here with Cube's messages. The `Plan`
it returns is plain data that `engine.compile.sql` turns into SQL and `results` uses to shape rows.

Column order follows Cube: dimensions, then time dimensions, then measures.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Union

from engine import dates
from engine.errors import QueryError, SchemaError
from engine.model import Cube, Join, Member, MemberRef, Model, member_alias
from engine.query import (COMPARISONS, DATE_OPERATORS, Filter, FilterGroup, FilterNode, OrderItem,
                          Query)

GRANULARITIES = ("second", "minute", "hour", "day", "week", "month", "quarter", "year")


@dataclass(frozen=True)
class Column:
    """One selected column: its member, SQL alias and the key it gets in result rows.

    `member` is what the query named (titles, keys); `source` the cube member whose SQL computes
    it: the same member, or for a view member the cube member it stands for."""

    member: Member
    alias: str
    key: str
    granularity: str | None = None  # set for time dimensions with a granularity
    source: Member | None = None

    def __post_init__(self) -> None:
        if self.source is None:
            object.__setattr__(self, "source", self.member)

    @property
    def is_measure(self) -> bool:
        return self.member.is_measure


@dataclass(frozen=True)
class JoinStep:
    """`LEFT JOIN <to> ON <join sql>`, with the join as declared on cube `owner`."""

    owner: str
    target: str
    join: Join
    joined: str  # the cube this step brings into the FROM clause


@dataclass(frozen=True)
class PlannedFilter:
    """A filter on a cube member. `utc_bounds`, for a filter comparing a time: the UTC instants
    (millisecond precision) the SQL compares with, the first value's start and, for ranges, the
    last value's end (`Filter.bounds` in the query's time zone, converted once here)."""

    member: Member
    operator: str
    values: tuple[str | None, ...] | None
    utc_bounds: tuple[datetime, datetime | None] | None = None


@dataclass(frozen=True)
class PlannedGroup:
    kind: str
    items: tuple["PlannedNode", ...]


PlannedNode = Union[PlannedFilter, PlannedGroup]


@dataclass(frozen=True)
class Window:
    """The time dimension cumulative measures roll over: its date range's local bounds and,
    when it is selected with a granularity, its column (one row per bucket); without a column
    the whole range is one window."""

    date_range: tuple[str, str]
    column: Column | None
    member: Member  # the cube member of the rolled dimension


@dataclass
class Plan:
    query: Query
    dimensions: list[Column]          # dimensions then time dimensions, in select order
    measures: list[Column]
    root: str
    joins: list[JoinStep]
    multiplied: set[str]
    where: list[PlannedNode]          # dimension filters, date ranges
    having: list[PlannedNode]         # measure filters
    segments: list[Member]
    measure_filter_members: list[Member]  # `measureFilter` operator: the measure's own filters
    order: list[tuple[Column, bool]]  # (column, descending)
    requested_order: dict[str, str]   # what /dry-run reports as queryOrder
    timezone: str
    limit: int
    offset: int | None
    ungrouped: bool
    legacy_time_keys: list[tuple[str, Column]] = field(default_factory=list)
    # The shape decisions the SQL follows (see `build_plan`):
    having_measures: list[Member] = field(default_factory=list)  # filtered on, not selected
    fan_out_leaves: list[Member] = field(default_factory=list)   # need the keys subquery
    cumulative: list[Column] = field(default_factory=list)       # rolling windows to roll
    window: "Window | None" = None                               # ... over this time dimension

    @property
    def columns(self) -> list[Column]:
        return self.dimensions + self.measures

    def cubes(self) -> list[str]:
        return [self.root] + [step.joined for step in self.joins]


def find_member(model: Model, path: str, kind: str) -> Member:
    """Resolve `Cube.member` of the given kind ("measures" / "dimensions" / "segments")."""
    cube_name, _, name = path.partition(".")
    cube = model.cubes.get(cube_name)
    if cube is None:
        raise SchemaError(f"Cube '{cube_name}' not found for path '{path}'")
    member = getattr(cube, kind).get(name)
    if member is None:
        raise SchemaError(f"'{name}' not found for path '{path}'")
    _check_runnable(member)
    return member


def find_any_member(model: Model, path: str) -> Member:
    cube_name, _, name = path.partition(".")
    cube = model.cubes.get(cube_name)
    if cube is None:
        raise SchemaError(f"Cube '{cube_name}' not found for path '{path}'")
    member = cube.member(name)
    if member is None or member.kind == "segment":
        raise SchemaError(f"'{name}' not found for path '{path}'")
    _check_runnable(member)
    return member


def _check_runnable(member: Member) -> None:
    """Multi-stage members load but are not computed: querying one is refused, never answered
    as if it were a plain member."""
    if member.multi_stage:
        raise QueryError(f"Multi-stage {member.kind} '{member.path}' cannot be queried: "
                         "multi-stage calculations are not supported yet")


def source_member(model: Model, member: Member) -> Member:
    """The cube member that computes `member` (follows view aliases)."""
    while member.alias_member is not None:
        cube_name, _, name = member.alias_member.partition(".")
        member = model.cubes[cube_name].member(name)  # type: ignore[assignment]
    return member


def _check_visible(member: Member) -> None:
    if not member.public:
        alias = member_alias(member.cube, member.name)
        # Cube raises this as a 500 after running the query; it is the caller's mistake: 400.
        raise QueryError(
            f"Error: You requested hidden member: '{alias}'. Please make it visible using "
            "`public: true`. Please note primaryKey fields are `public: false` by default: "
            "https://cube.dev/docs/schema/reference/joins#setting-a-primary-key.")


def _check_granularity(member: Member, granularity: str) -> None:
    if granularity in GRANULARITIES or any(g.name == granularity for g in member.granularities):
        return
    raise SchemaError(f'Granularity "{granularity}" does not exist in dimension {member.path}')


def build_plan(model: Model, query: Query) -> Plan:
    """Resolve every member of `query`, pick the join tree and the order."""
    alias_of = lambda m: member_alias(model.cubes[m.cube].alias, m.name)  # noqa: E731

    measures = [find_member(model, path, "measures") for path in query.measures or []]
    plain_dimensions = [find_member(model, path, "dimensions") for path in query.dimensions]
    named_segments = [find_member(model, path, "segments") for path in query.segments or []]
    segments = [source_member(model, s) for s in named_segments]
    source = lambda m: source_member(model, m)  # noqa: E731
    forced_paths = [m.join_path for m in measures + plain_dimensions + named_segments
                    if m.join_path]

    dimension_columns = [Column(d, alias_of(d), d.path, source=source(d)) for d in plain_dimensions]
    time_columns: list[Column] = []
    where: list[PlannedNode] = []
    for td in query.time_dimensions:
        member = find_member(model, td.dimension, "dimensions")
        if member.join_path:
            forced_paths.append(member.join_path)
        if td.granularity is not None:
            _check_granularity(member, td.granularity)
            key = f"{member.path}.{td.granularity}"
            if all(c.key != key for c in time_columns):
                time_columns.append(Column(member, f"{alias_of(member)}_{td.granularity}", key,
                                           td.granularity, source(member)))
        if td.date_range is not None:
            where.append(PlannedFilter(source(member), "inDateRange", td.date_range,
                                       _to_utc(td.date_range, query.timezone)))
    date_filters = list(where)
    measure_columns = [Column(m, alias_of(m), m.path, source=source(m)) for m in measures]

    for column in dimension_columns + time_columns + measure_columns:
        _check_visible(column.member)
    for segment in named_segments:
        _check_visible(segment)

    having: list[PlannedNode] = []
    measure_filter_members: list[Member] = []
    for node in query.filters:
        forced_paths += _view_paths(model, node)
        planned = _plan_filter(model, node, query.timezone)
        if planned is None:
            continue
        if isinstance(planned, PlannedFilter) and planned.operator == "measureFilter":
            measure_filter_members.append(planned.member)
        elif _is_measure_node(planned):
            having.append(planned)
        else:
            where.append(planned)

    ungrouped = bool(query.ungrouped)
    if ungrouped and having:
        raise SchemaError("Measure filters aren't allowed in ungrouped query")

    referenced = _referenced_cubes(model, [
        [c.source for c in measure_columns], [c.source for c in dimension_columns], segments,
        filter_members(where[len(date_filters):]), filter_members(having),
        measure_filter_members, [c.source for c in time_columns], filter_members(date_filters),
        # A time dimension with neither granularity nor date range still joins its cube, as in Cube.
        [source(find_member(model, td.dimension, "dimensions")) for td in query.time_dimensions]])
    root, steps = join_tree(model, referenced, query.join_hints or [], forced_paths)
    multiplied = multiplied_cubes(root, steps)

    all_dimensions = dimension_columns + time_columns
    order, requested = _order(query, all_dimensions, measure_columns)

    if ungrouped:
        _check_ungrouped_primary_keys(model, [root] + [s.joined for s in steps], all_dimensions)

    legacy: list[tuple[str, Column]] = []
    for column in _finest_first(time_columns):
        path = column.member.path
        if all(c.key != path for c in dimension_columns) and all(k != path for k, _ in legacy):
            legacy.append((path, column))

    # The SQL's shape: measures a join would inflate are aggregated on their own cube's rows
    # (Cube's keys subquery); cumulative measures roll over the first ranged time dimension.
    having_measures = [m for m in filter_members(having)
                       if all(m is not c.source for c in measure_columns)]
    cumulative = [c for c in measure_columns if c.source.rolling_window is not None]
    window = (_window(model, query, all_dimensions)
              if cumulative and not ungrouped else None)
    return Plan(
        query=query, dimensions=all_dimensions, measures=measure_columns, root=root, joins=steps,
        multiplied=multiplied, where=where, having=having, segments=segments,
        measure_filter_members=measure_filter_members, order=order,
        requested_order=requested, timezone=query.timezone, limit=query.limit,
        offset=query.offset, ungrouped=ungrouped, legacy_time_keys=legacy,
        having_measures=having_measures,
        fan_out_leaves=fan_out_leaves(model, [c.source for c in measure_columns]
                                      + having_measures, multiplied),
        cumulative=cumulative, window=window,
    )


CALCULATED = ("number", "string", "time", "boolean")


def leaf_measures(model: Model, member: Member) -> list[Member]:
    """The aggregating measures a measure is built from: itself, or for a calculated measure
    (`number` and friends) every measure its SQL references, recursively."""
    if member.type not in CALCULATED or member.sql is None:
        return [member]
    leaves: list[Member] = []
    for ref in member.sql.references():
        referenced = model.cubes[ref.cube].member(ref.name)
        if referenced is not None and referenced.is_measure:
            leaves += [leaf for leaf in leaf_measures(model, referenced) if leaf not in leaves]
    return leaves or [member]


def is_fan_out_safe(member: Member, multiplied: set[str]) -> bool:
    """An aggregating measure gives the right answer over a join that repeats its cube's rows
    when it is not multiplied at all, or when it is a distinct count (a plain `count` becomes
    one of the key)."""
    if member.cube not in multiplied:
        return True
    if member.type == "count" and member.sql is None:
        return True
    return member.type in ("count_distinct", "count_distinct_approx")


def fan_out_leaves(model: Model, measures: list[Member], multiplied: set[str]) -> list[Member]:
    """The aggregating measures behind `measures` that the joins would inflate, once each."""
    leaves = [leaf for m in measures for leaf in leaf_measures(model, m)]
    return [leaf for leaf in dict.fromkeys(leaves) if not is_fan_out_safe(leaf, multiplied)]


def _window(model: Model, query: Query, dimensions: list[Column]) -> Window | None:
    """The time dimension a cumulative measure rolls over: the first one with a date range
    (its granular column when selected); None when the query has none, which makes cumulative
    measures plain aggregates, as in Cube."""
    for td in query.time_dimensions:
        column = next((c for c in dimensions
                       if c.granularity and c.member.path == td.dimension), None)
        if td.date_range is None and column is not None:
            raise SchemaError("Time series queries without dateRange aren't supported")
        if td.date_range is not None:
            member = column.source if column is not None else source_member(
                model, find_member(model, td.dimension, "dimensions"))
            return Window(td.date_range, column, member)  # type: ignore[arg-type]
    return None


def _to_utc(bounds: tuple[str, str | None], timezone: str) -> tuple[datetime, datetime | None]:
    """Local bounds -> UTC instants, truncated to milliseconds as SQL timestamps compare."""
    def utc(local: str) -> datetime:
        instant = dates.local_to_utc(local, timezone)
        return instant.replace(microsecond=instant.microsecond // 1000 * 1000)
    low, high = bounds
    return utc(low), (utc(high) if high is not None else None)


def _filter_bounds(node: Filter, member: Member, timezone: str
                   ) -> tuple[datetime, datetime | None] | None:
    """`PlannedFilter.utc_bounds` for a filter that compares a time; a comparison of a time
    member with a value that is no date is refused with Cube's date message."""
    compares_time = node.operator in DATE_OPERATORS or (
        node.operator in COMPARISONS and member.type == "time")
    if not compares_time:
        return None
    try:
        if node.bounds is None:
            raise dates.DateParseError(str((node.values or [""])[0]))
        return _to_utc(node.bounds, timezone)
    except dates.DateParseError as exc:
        raise QueryError(str(exc)) from None


def _plan_filter(model: Model, node: FilterNode, timezone: str) -> PlannedNode | None:
    if isinstance(node, FilterGroup):
        items = tuple(p for p in (_plan_filter(model, item, timezone) for item in node.items)
                      if p)
        if not items:
            return None  # an empty group renders nothing, as in Cube
        kinds = {_is_measure_node(item) for item in items}
        if len(kinds) > 1:
            raise SchemaError("You cannot use dimension and measure in same condition: "
                              + _js(node.to_json()))
        return PlannedGroup(node.kind, items)
    member = source_member(model, find_any_member(model, node.member))
    return PlannedFilter(member, node.operator, node.values,
                         _filter_bounds(node, member, timezone))


def _view_paths(model: Model, node: FilterNode) -> list[tuple[str, ...]]:
    if isinstance(node, FilterGroup):
        return [p for item in node.items for p in _view_paths(model, item)]
    member = find_any_member(model, node.member)
    return [member.join_path] if member.join_path else []


def _js(value: object) -> str:
    import json
    return json.dumps(value, separators=(",", ":"))


def _is_measure_node(node: PlannedNode) -> bool:
    if isinstance(node, PlannedFilter):
        return node.member.is_measure
    return any(_is_measure_node(item) for item in node.items)


def filter_members(nodes: list[PlannedNode]) -> list[Member]:
    """Every member a filter tree tests, in order."""
    out: list[Member] = []
    for node in nodes:
        if isinstance(node, PlannedFilter):
            out.append(node.member)
        else:
            out.extend(filter_members(list(node.items)))
    return out


def row_date_ranges(nodes: list[PlannedNode], member: Member) -> list[PlannedFilter]:
    """The `inDateRange` / `onTheDate` filters on `member` that every row of the query passes:
    those AND-ed at the top of `nodes` (a query's `where`) or inside AND groups, never under an
    OR. A time dimension's `dateRange` is one of them; so is an equal filter in `filters`."""
    out: list[PlannedFilter] = []
    for node in nodes:
        if isinstance(node, PlannedFilter):
            if node.member.path == member.path and node.operator in ("inDateRange", "onTheDate"):
                out.append(node)
        elif node.kind == "and":
            out.extend(row_date_ranges(list(node.items), member))
    return out


def _referenced_cubes(model: Model, groups: list[list[Member]]) -> list[str]:
    """Cubes the query touches, in Cube's join-hint order (first member's cube first)."""
    ordered: list[str] = []
    for members in groups:
        for member in members:
            for cube in cubes_of(model, member, set()):
                if cube not in ordered:
                    ordered.append(cube)
    return ordered


def cubes_of(model: Model, member: Member, seen: set[str]) -> list[str]:
    """The member's cube, then every cube its SQL reaches through references."""
    if member.path in seen:
        return []
    seen.add(member.path)
    cubes = [member.cube]
    if member.sub_query:
        return cubes  # its other cubes are joined inside its own subquery
    for template in ([member.sql] if member.sql else []) + list(member.filters):
        for part in template.parts:
            if isinstance(part, MemberRef):
                referenced = model.cubes[part.cube].member(part.name)
                if referenced is not None:
                    for cube in cubes_of(model, referenced, seen):
                        if cube not in cubes:
                            cubes.append(cube)
    return cubes


def join_tree(model: Model, cubes: list[str], hints: list[list[str]] = (),
               forced: list[tuple[str, ...]] = ()) -> tuple[str, list[JoinStep]]:
    """Cube's join tree: try each hinted cube as root, keep the tree with the fewest joins
    (the earliest root on a tie), each cube reached by its own shortest path from the root.
    A view's members bring their join paths: those joins are taken as declared."""
    if forced:
        return _forced_tree(model, cubes, list(forced))
    wanted = [c for hint in hints for c in hint if c in model.cubes]
    wanted += [c for c in cubes if c not in wanted]
    if len(wanted) <= 1:
        return wanted[0], []
    best: tuple[str, list[JoinStep]] | None = None
    for root in wanted:
        tree = _tree_from(model, root, [c for c in wanted if c != root])
        if tree is not None and (best is None or len(tree) < len(best[1])):
            best = (root, tree)
    if best is None:
        raise SchemaError("Can't find join path to join "
                          + ", ".join(f"'{c}'" for c in wanted))
    return best


def _forced_tree(model: Model, cubes: list[str],
                 paths: list[tuple[str, ...]]) -> tuple[str, list[JoinStep]]:
    root = paths[0][0]
    indexed: list[tuple[int, JoinStep]] = []
    for path in paths:
        if path[0] != root:
            raise SchemaError("Can't find join path to join "
                              + ", ".join(f"'{c}'" for c in dict.fromkeys(p[0] for p in paths)))
        for depth, (owner, target) in enumerate(zip(path, path[1:])):
            indexed.append((depth, JoinStep(owner, target, model.cubes[owner].joins[target],
                                            target)))
    steps: list[JoinStep] = []
    for _, step in sorted(indexed, key=lambda pair: pair[0]):
        if all(s.joined != step.joined for s in steps):
            steps.append(step)
    joined = {root} | {s.joined for s in steps}
    for cube in cubes:
        if cube not in joined:
            path = _shortest_path(model, root, cube)
            if path is None:
                raise SchemaError(f"Can't find join path to join '{root}', '{cube}'")
            for step in path:
                if step.joined not in joined:
                    joined.add(step.joined)
                    steps.append(step)
    return root, steps


def _tree_from(model: Model, root: str, cubes: list[str]) -> list[JoinStep] | None:
    """The union of the shortest paths from `root`, ordered by depth (Cube's join order)."""
    indexed: list[tuple[int, JoinStep]] = []
    for target in cubes:
        path = _shortest_path(model, root, target)
        if path is None:
            return None
        indexed += list(enumerate(path))
    steps: list[JoinStep] = []
    for _, step in sorted(indexed, key=lambda pair: pair[0]):
        if all((s.owner, s.target) != (step.owner, step.target) for s in steps):
            steps.append(step)
    return steps


def _shortest_path(model: Model, source: str, target: str) -> list[JoinStep] | None:
    """Fewest joins from `source` to `target`, following joins in their declared direction."""
    previous = _paths_from(model, source)
    if target not in previous:
        return None
    path = []
    step = previous[target]
    while step is not None:
        path.append(step)
        step = previous[step.owner]
    return list(reversed(path))


def _paths_from(model: Model, source: str) -> dict[str, JoinStep | None]:
    """Breadth-first search over the join graph from `source`: for every reachable cube, the
    step that first reached it. Computed once per model and source (`Model.join_paths`): on
    the 200-cube model a search per query and target was 7% of compile time."""
    cached = model.join_paths.get(source)
    if cached is not None:
        return cached
    previous: dict[str, JoinStep | None] = {source: None}
    queue = deque([source])
    while queue:
        current = queue.popleft()
        for name, join in model.joins_from(current).items():
            if name not in previous:
                previous[name] = JoinStep(current, name, join, name)
                queue.append(name)
    model.join_paths[source] = previous
    return previous


def multiplied_cubes(root: str, steps: list[JoinStep]) -> set[str]:
    """Cubes whose rows the join tree repeats: some to-many step leads away from them."""
    edges: dict[str, list[tuple[str, bool]]] = {root: []}
    for step in steps:
        # Walking owner -> target repeats owner rows when one owner row meets many targets.
        edges.setdefault(step.owner, []).append(
            (step.target, step.join.relationship == "one_to_many"))
        edges.setdefault(step.target, []).append(
            (step.owner, step.join.relationship == "many_to_one"))
    multiplied = set()
    for cube in edges:
        seen, stack = {cube}, [cube]
        while stack:
            current = stack.pop()
            for neighbour, fans_out in edges[current]:
                if neighbour in seen:
                    continue
                if fans_out:
                    multiplied.add(cube)
                seen.add(neighbour)
                stack.append(neighbour)
    return multiplied


def _finest_first(columns: list[Column]) -> list[Column]:
    rank = {g: i for i, g in enumerate(GRANULARITIES)}
    return sorted(columns, key=lambda c: rank.get(c.granularity or "", len(GRANULARITIES)))


def _order(query: Query, dimensions: list[Column],
           measures: list[Column]) -> tuple[list[tuple[Column, bool]], dict[str, str]]:
    items: list[OrderItem]
    if query.order is not None:
        items = query.order
    else:
        items = _default_order(query, dimensions, measures)
    requested = {item.id: "desc" if item.desc else "asc" for item in items}
    resolved: list[tuple[Column, bool]] = []
    for item in items:
        if query.order is None and item.id not in {c.key for c in measures}:
            # The default order names a time dimension or a dimension; for a time dimension it
            # means its granular column even when the raw dimension is selected too.
            column = _order_column(item.id, [c for c in dimensions if c.granularity], []) or \
                _order_column(item.id, dimensions, [])
        else:
            column = _order_column(item.id, dimensions, measures)
        if column is not None and all(column is not c for c, _ in resolved):
            resolved.append((column, item.desc))
    return resolved, requested


def _default_order(query: Query, dimensions: list[Column],
                   measures: list[Column]) -> list[OrderItem]:
    granular = [td for td in query.time_dimensions if td.granularity]
    if granular:
        return [OrderItem(granular[0].dimension, False)]
    if measures and query.dimensions:
        return [OrderItem(measures[0].key, True)]
    if query.dimensions:
        return [OrderItem(query.dimensions[0], False)]
    return []


def _order_column(member_id: str, dimensions: list[Column],
                  measures: list[Column]) -> Column | None:
    for column in dimensions + measures:
        if column.key == member_id:
            return column
    # `Cube.td` with no granularity: the finest granularity of that dimension in the query.
    candidates = [c for c in dimensions if c.granularity and c.member.path == member_id]
    return _finest_first(candidates)[0] if candidates else None


def _check_ungrouped_primary_keys(model: Model, cubes: list[str], dimensions: list[Column]) -> None:
    selected = {c.source.path for c in dimensions if c.granularity is None}
    for cube_name in cubes:
        cube: Cube = model.cubes[cube_name]
        keys = cube.primary_keys
        if not keys:
            raise SchemaError(f"One or more Primary key is required for '{cube_name}' cube")
        missing = [k.path for k in keys if k.path not in selected]
        if missing:
            raise SchemaError(
                "Ungrouped query requires primary keys to be present in dimensions: "
                + ", ".join(f"'{m}'" for m in missing)
                + ". Pass allowUngroupedWithoutPrimaryKey option to disable this check.")


def sub_query_tree(model: Model, member: Member) -> tuple[str, list[JoinStep], set[str]]:
    """The joins a `sub_query` dimension's SQL needs, rooted at its own cube (whose primary key
    the sub-query is grouped by): (root, steps, multiplied cubes)."""
    cube = model.cubes[member.cube]
    if not cube.primary_keys:
        raise SchemaError(f"One or more Primary key is required for '{cube.name}' cube")
    needed = [member.cube] + [c for ref in member.sql.references()  # type: ignore[union-attr]
                              for c in cubes_of(model, model.cubes[ref.cube].member(ref.name),
                                                set()) if c != member.cube]
    needed = list(dict.fromkeys(needed))
    root, steps = join_tree(model, needed)
    if root != member.cube:
        root = member.cube
        found = _tree_from(model, root, [c for c in needed if c != root])
        if found is None:
            raise SchemaError("Can't find join path to join "
                              + ", ".join(f"'{c}'" for c in needed))
        steps = found
    return root, steps, multiplied_cubes(root, steps)
