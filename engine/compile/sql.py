"""Plan -> one sqlglot SELECT expression plus its bound parameters.

Model SQL (trusted, written by the model's author) is rendered with cube aliases and placed in
the query as SQL already rendered in the output dialect (`Dialect.fragment`: parsed and rendered
once per text, so a query parses and copies no model SQL); every value that came with the request
is a placeholder whose value sits in the parameter list, in placeholder order. Time values are
compared as UTC TIMESTAMPs so DuckDB can skip row groups; time zones are applied only when the
query is not in UTC, and as one constant offset when the zone keeps one over the query's range.

The query is built once; where databases spell the same meaning differently (time zones, date
truncation, intervals, LIKE escaping, placeholders, NULL order...) it asks its `Dialect`
(`engine.compile.dialects`), which also renders the result. DuckDB is the default.

>>> from engine.model import load_model
>>> from engine.query import normalize_query
>>> from engine.compile.plan import build_plan
>>> from datetime import datetime, timezone
>>> model = load_model("../shared/conformance/model")  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import timezone as timezone_utc_module
from functools import lru_cache
from typing import Callable, Iterable
from zoneinfo import ZoneInfo

import sqlglot
from sqlglot import exp

from .dialects import DUCKDB, Dialect, Fragment, get_dialect
from engine.model import CubeRef, Member, MemberRef, Model, Template, parse_interval, underscore
from .plan import (Column, Plan, PlannedFilter, PlannedGroup, PlannedNode, fan_out_leaves,
                   leaf_measures, row_date_ranges, sub_query_tree)

@dataclass
class CompiledQuery:
    """The SQL of one plan: the main query, and the `total` count query when asked for."""

    sql: str
    params: list
    total_sql: str | None = None
    total_params: list = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)  # SQL alias -> member key


class _Params:
    """Collects bound values; each `bind` returns the placeholder that stands for it. Carries the
    query's dialect, which everything that builds SQL for the query needs."""

    def __init__(self, dialect: Dialect = DUCKDB) -> None:
        self.values: list = []
        self.dialect = dialect

    def bind(self, value, cast: str | None = None) -> exp.Expression:
        # Numbered ($1, $2... / {p1: T}...) so a value may sit anywhere in the text, whatever
        # the build order.
        placeholder, bound = self.dialect.placeholder(len(self.values) + 1, value, cast)
        self.values.append(bound)
        return placeholder


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Renderer:
    """Renders member SQL for one query, with each cube under its SQL alias."""

    def __init__(self, model: Model, multiplied: set[str] = frozenset(), ungrouped: bool = False,
                 prefix: str = "", overrides: dict[str, str] | None = None,
                 dialect: Dialect = DUCKDB, count_rows: frozenset[str] = frozenset()):
        self.model = model
        # Cubes whose `count` measures may count rows (COUNT(*)) rather than primary keys: every
        # row of theirs is in the query's rows exactly once and has a key (see `count_rows`).
        self.count_rows = count_rows
        self.dialect = dialect
        self.multiplied = multiplied
        self.ungrouped = ungrouped
        self.prefix = prefix
        # Members whose SQL is already computed elsewhere: path -> the column holding it.
        self.overrides = overrides or {}
        # `sub_query` dimensions met while rendering: path -> (subquery alias, its SELECT).
        self.subqueries: dict[str, tuple[str, exp.Select]] = {}

    def alias_of(self, cube: str) -> str:
        return self.prefix + self.model.cubes[cube].alias

    def cube_alias(self, cube: str) -> str:
        return quote(self.alias_of(cube))

    def text(self, template: Template) -> str:
        """Template -> SQL text: cube references become aliases, member references their SQL."""
        out = []
        for part in template.parts:
            if isinstance(part, CubeRef):
                out.append(self.cube_alias(part.cube))
            elif isinstance(part, MemberRef):
                member = self.model.cubes[part.cube].member(part.name)
                out.append("(" + self.member_text(member) + ")")
            else:
                out.append(part)
        return "".join(out)

    def member_text(self, member: Member) -> str:
        if member.path in self.overrides:
            return self.overrides[member.path]
        if member.sub_query:
            return self.sub_query_value(member)
        if member.kind == "measure":
            return self.measure_text(member)
        return self.text(member.sql)  # type: ignore[arg-type]

    def primary_key_text(self, cube_name: str) -> str | None:
        keys = self.model.cubes[cube_name].primary_keys
        if not keys:
            return None
        if len(keys) == 1:
            return self.text(keys[0].sql)  # type: ignore[arg-type]
        # A composite key counts as one value: its parts joined as text, as Cube does.
        return "CONCAT(" + ", ".join(f"CAST({self.text(k.sql)} AS VARCHAR), '|'"  # type: ignore
                                     for k in keys) + ")"

    def measure_text(self, member: Member) -> str:
        kind = member.type
        value = self.text(member.sql) if member.sql is not None else None
        condition = " AND ".join(f"({self.text(f)})" for f in member.filters) or None
        if kind in ("number", "string", "time", "boolean"):
            return value  # type: ignore[return-value]
        if kind == "running_total":
            kind = "sum"
        counts_rows = kind == "count" and member.cube in self.count_rows and not self.ungrouped
        key = self.primary_key_text(member.cube) if kind == "count" and (
            value is None or counts_rows) else None
        if counts_rows and (value is None or value == key):
            # The key is never NULL, so counting it counts rows: COUNT(*) reads no column.
            return self.dialect.count_rows(condition)
        if kind == "count" and value is None:
            value = key
        if self.ungrouped:
            if kind in ("count", "count_distinct", "count_distinct_approx"):
                test = f"({value}) IS NOT NULL" if value else "TRUE"
                if condition:
                    test = f"{condition} AND {test}"
                return f"CASE WHEN {test} THEN 1 END"
            return f"CASE WHEN {condition} THEN {value} END" if condition else value  # type: ignore
        if condition:
            value = f"CASE WHEN {condition} THEN {value if value else '1'} END"
        if kind == "count":
            if member.cube in self.multiplied and member.sql is None and value:
                return f"count(distinct {value})"
            return f"count({value})" if value else "count(*)"
        if kind == "count_distinct":
            return f"count(distinct {value})"
        if kind == "count_distinct_approx":
            return f"approx_count_distinct({value})"
        return f"{kind}({value})"

    def expression(self, member: Member) -> exp.Expression:
        return self.fragment(self.member_text(member))

    def fragment(self, text: str) -> exp.Expression:
        """Model SQL text (with cube aliases filled in) as a new node for the query: SQL rendered
        once per text (`Dialect.fragment`), no parsing or copying per query."""
        return self.dialect.fragment(text)

    def parse(self, text: str) -> exp.Expression:
        """Model SQL text (with cube aliases filled in) as a fresh expression."""
        return self.dialect.parse(text).copy()

    def sub_query_value(self, member: Member) -> str:
        """A `sub_query` dimension: its measure computed per primary key of its cube in a
        subquery that the query LEFT JOINs; the dimension reads the subquery's column."""
        alias = f"{self.alias_of(member.cube)}_{underscore(member.name)}_subquery"
        if member.path not in self.subqueries:
            self.subqueries[member.path] = (alias, _sub_query_select(self.model, member,
                                                                     self.dialect))
        return f"{quote(alias)}.{quote('value')}"

    def sub_query_joins(self, select: exp.Select) -> exp.Select:
        for path, (alias, subquery) in self.subqueries.items():
            cube_name = path.split(".")[0]
            keys = self.model.cubes[cube_name].primary_keys
            on = exp.and_(*[exp.EQ(this=exp.column(f"__pk_{i}", table=alias, quoted=True),
                                   expression=self.expression(key)) for i, key in enumerate(keys)], copy=False)
            select = _left_join(select, subquery.subquery(alias), on)
        return select


def check_model_sql(model: Model, dialect: Dialect | str | None = None) -> None:
    """Parse every member's SQL once (in the dialect model SQL is written in, DuckDB's unless
    `dialect` says otherwise), so SQL we cannot read fails at load with file and line rather
    than at query time."""
    from engine.errors import ModelError

    dialect = get_dialect(dialect)
    renderer = _CheckRenderer(model, dialect=dialect)
    for cube in model.cubes.values():
        if cube.kind != "cube":
            continue
        members = [*cube.measures.values(), *cube.dimensions.values(), *cube.segments.values()]
        for member in members:
            try:
                if member.sub_query:
                    continue
                dialect.parse(renderer.member_text(member) if member.kind != "segment"
                               else renderer.text(member.sql))  # type: ignore[arg-type]
                for condition in member.filters:
                    dialect.parse(renderer.text(condition))
            except sqlglot.errors.SqlglotError as exc:
                raise ModelError(f"cube '{cube.name}' {member.kind} '{member.name}': SQL could not "
                                 f"be read: {str(exc).splitlines()[0]}", cube.file,
                                 member.line) from None
        for join in cube.joins.values():
            try:
                dialect.parse(renderer.text(join.sql))
            except sqlglot.errors.SqlglotError as exc:
                raise ModelError(f"cube '{cube.name}' join '{join.target}': SQL could not be "
                                 f"read: {str(exc).splitlines()[0]}", cube.file, cube.line) from None


class _CheckRenderer(Renderer):
    """Renders every cube under one alias: whether SQL parses does not depend on the (quoted)
    alias, and cubes written alike then give the same text, parsed once (`Dialect.parse`
    caches by text): loading the 200-cube model parsed 8000 texts in 5 s, now about 60."""

    def alias_of(self, cube: str) -> str:
        return "cube"


def key_count_probes(model: Model, cubes: Iterable[str],
                     dialect: Dialect | str | None = None) -> dict[str, tuple[str, str]]:
    """For each of `cubes` that has a primary key: `SELECT count(<key>) FROM <source>` and
    `SELECT count(*) FROM <source>`, with the FROM and key SQL exactly as queries have them
    (what `Backend.keys_not_null` compares to prove the key holds no NULL). Cubes whose SQL
    cannot be rendered are left out."""
    dialect = get_dialect(dialect)
    renderer = Renderer(model, dialect=dialect)
    probes = {}
    for name in cubes:
        cube = model.cubes.get(name)
        if cube is None or cube.kind != "cube" or not cube.primary_keys:
            continue
        try:
            key = renderer.primary_key_text(name)
            source = dialect.render(cube_source(model, name, renderer))
        except (ValueError, LookupError, TypeError):
            continue
        probes[name] = (f"SELECT count({key}) FROM {source}", f"SELECT count(*) FROM {source}")
    return probes


def compile_plan(model: Model, plan: Plan, total: bool = False,
                 dialect: Dialect | str | None = None,
                 keys_not_null: frozenset[str] = frozenset()) -> CompiledQuery:
    """Build the SELECT for `plan` (and its total-count companion when `total`), in `dialect`
    (a `Dialect` or its name; DuckDB by default).

    `keys_not_null`: cubes whose primary key columns are known to hold no NULL (the backend
    proves it from the data's statistics). A `count` of such a cube (no `sql`, or its key as
    `sql`) is then COUNT(*) (filtered: COUNT(*) FILTER (WHERE ..)) rather than COUNT(<key>),
    when the cube is the query's first (FROM) cube and no join repeats its rows: then each of
    its rows is in the joined rows once, so both count the same. COUNT(<key>) makes DuckDB read
    the key column: count by day over a month of 10M rows took 33 ms against 15 ms, and a
    filtered count COUNT(CASE WHEN .. THEN <key> END) 994 ms against 792 ms for the FILTER
    form (bench/results/experiments_10m.json). Any other count keeps counting keys (a cube
    reached by a LEFT JOIN has NULL keys where no row matched; repeated rows count distinct
    keys).

    Measures that a one-to-many join would inflate are computed on their own cube's rows: the
    distinct (dimensions, primary key) pairs of the joined, filtered rows are joined back to the
    cube and aggregated there, then joined to the other measures on the dimensions (the shape
    Cube calls a keys subquery)."""
    dialect = get_dialect(dialect)
    params = _Params(dialect)
    count_rows = frozenset({plan.root} & set(keys_not_null)) - set(plan.multiplied)
    renderer = Renderer(model, plan.multiplied, plan.ungrouped, dialect=dialect,
                        count_rows=count_rows)
    if plan.window is not None:
        select = _cumulative_select(model, plan, renderer, params)
    else:
        select = _aggregate_select(model, plan, renderer, params, plan.fan_out_leaves,
                                   plan.having_measures)

    total_sql, total_params = None, []
    if total:
        total_params = list(params.values)
        total_sql = dialect.render(
            _select(_as(exp.Count(this=exp.Star()), "total_count"))
            .from_(select.copy().subquery("original_query", copy=False), copy=False), copy=False)

    columns = plan.columns
    if plan.order:
        select = select.order_by(*[
            dialect.ordered(exp.Literal.number(columns.index(column) + 1), desc)
            for column, desc in plan.order], copy=False)
    select = select.limit(params.bind(plan.limit), copy=False)
    if plan.offset:
        select = select.offset(params.bind(plan.offset), copy=False)
    return CompiledQuery(
        sql=dialect.render(select, copy=False), params=params.values,
        total_sql=total_sql, total_params=total_params,
        aliases={c.alias: c.key for c in columns},
    )


def _aggregate_select(model: Model, plan: Plan, renderer: Renderer, params: _Params,
                      unsafe: list[Member], having_measures: list[Member]) -> exp.Select:
    if plan.ungrouped or not unsafe:
        return _flat_select(model, plan, renderer, params)
    return _keys_select(model, plan, renderer, params, unsafe, having_measures)


# --- cumulative measures (rolling windows, running totals) ----------------------------------------

def _cumulative_select(model: Model, plan: Plan, renderer: Renderer,
                       params: _Params) -> exp.Select:
    """Cumulative measures over a series of time buckets: each bucket aggregates the rows whose
    time falls in its window. Other measures are computed as usual and joined on the buckets."""
    window = plan.window
    assert window is not None
    cumulative, time_column, source = plan.cumulative, window.column, window.member
    other_dimensions = [c for c in plan.dimensions if c is not time_column]
    dialect = params.dialect
    # The rows the windows draw from: every filter except the rolled dimension's date range.
    # Their local times are computed over these rows, so only these filters may prove the
    # zone's offset constant (`_fixed_offset`): the date range no longer limits them.
    unrolled = dataclasses.replace(plan, where=[w for w in plan.where if not (
        isinstance(w, PlannedFilter) and w.member is source and w.operator == "inDateRange")])
    local_time = _local_time(renderer.expression(source), plan.timezone, params,
                             _fixed_offset(unrolled, source))
    start = params.bind(window.date_range[0], "TIMESTAMP")
    end = params.bind(window.date_range[1], "TIMESTAMP")

    if time_column is not None:
        granularity = time_column.granularity
        step = dialect.step(granularity)
        first = dialect.truncate(granularity, start.copy())
        series = exp.select(
            exp.alias_(exp.column("d"), "date_from", quoted=True),
            exp.alias_(exp.Sub(this=exp.Add(this=exp.column("d"), expression=step),
                               expression=dialect.one_millisecond()),
                       "date_to", quoted=True),
        ).from_(exp.select(exp.alias_(dialect.series(first, end.copy(), step.copy(), granularity),
                                      "d")).subquery("s"), copy=False)
    else:
        series = exp.select(exp.alias_(start.copy(), "date_from", quoted=True),
                            exp.alias_(end.copy(), "date_to", quoted=True))
    if dialect.needs_equi_join_key:
        # ClickHouse joins only with at least one equality: a constant key on both sides.
        series = series.select(exp.alias_(exp.Literal.number(0), "__window", quoted=True),
                               copy=False)

    keys = other_dimensions + ([time_column] if time_column else [])
    whole_range = time_column is None
    groups: dict[str, list[Column]] = {}
    for column in cumulative:
        condition = _window_condition(column.source, start, whole_range, dialect)
        groups.setdefault(condition.sql(dialect="duckdb"), []).append(column)

    rolled_parts = []
    for index, columns in enumerate(groups.values()):
        inputs = [_window_input(model, renderer, c.source, plan.multiplied) for c in columns]
        base = _joined_rows(model, unrolled, renderer, params, [
            *[exp.alias_(_dimension_value(c, renderer, unrolled, params), c.alias, quoted=True)
              for c in other_dimensions],
            exp.alias_(local_time.copy(), "__time", quoted=True),
            *[exp.alias_(value, f"__m{i}", quoted=True) for i, (value, _) in enumerate(inputs)]])
        on = _window_condition(columns[0].source, start, whole_range, dialect)
        if dialect.needs_equi_join_key:
            base = base.select(exp.alias_(exp.Literal.number(0), "__window", quoted=True),
                               copy=False)
            on = exp.and_(exp.EQ(this=exp.column("__window", table="date_series", quoted=True),
                                 expression=exp.column("__window", table="base", quoted=True)),
                          on, copy=False)
        outer = [exp.alias_(exp.column(c.alias, table="base", quoted=True), c.alias, quoted=True)
                 for c in other_dimensions]
        if time_column is not None:
            outer.append(exp.alias_(exp.column("date_from", table="date_series", quoted=True),
                                    time_column.alias, quoted=True))
        outer += [exp.alias_(aggregate(exp.column(f"__m{i}", table="base", quoted=True)),
                             c.alias, quoted=True)
                  for i, (c, (_, aggregate)) in enumerate(zip(columns, inputs))]
        rolled = _left_join(
            _select(*outer).from_(series.copy().subquery("date_series", copy=False), copy=False),
            base.subquery("base", copy=False), on)
        rolled = _group_by_dimensions(rolled, len(keys))
        rolled_parts.append((f"rolled_{index}", rolled, columns))

    source_of = {c.alias: name for name, _, columns in rolled_parts for c in columns}
    driver = rolled_parts[0][0]
    select_from = _select().from_(rolled_parts[0][1].subquery(driver, copy=False), copy=False)
    for name, rolled, _ in rolled_parts[1:]:
        select_from = _left_join(select_from, rolled.subquery(name, copy=False),
                                 _same_keys(keys, driver, name, dialect))
    regular = [c for c in plan.measures if c not in cumulative]
    if regular:
        rest = dataclasses.replace(plan, measures=regular, order=[])
        unsafe = fan_out_leaves(model, [c.source for c in regular], plan.multiplied)
        others = _aggregate_select(model, rest, renderer, params, unsafe, [])
        select_from = _left_join(select_from, others.subquery("others", copy=False),
                                 _same_keys(keys, driver, "others", dialect))
        source_of.update({c.alias: "others" for c in regular})
    return select_from.select(*[
        exp.alias_(exp.column(c.alias, table=source_of.get(c.alias, driver), quoted=True),
                   c.alias, quoted=True) for c in plan.columns])


def _same_keys(keys: list[Column], left: str, right: str,
               dialect: Dialect = DUCKDB) -> exp.Expression:
    if not keys:
        return exp.true()
    return exp.and_(*[dialect.null_safe_eq(exp.column(c.alias, table=left, quoted=True),
                                           exp.column(c.alias, table=right, quoted=True))
                      for c in keys], copy=False)


def _local_time(value: exp.Expression, timezone: str, params: _Params,
                offset: int | None = None) -> exp.Expression:
    """A time value as wall-clock time in the query's time zone (no conversion for UTC).

    `offset`: the zone's UTC offset in seconds when it is the same at every instant the rows
    can hold (`_fixed_offset`); local time is then the UTC time plus that offset, with no
    per-row time-zone lookup (count by day over a month of 10M rows in New York: 43 ms against
    413 ms, `Dialect.local_time_at_offset`)."""
    if timezone == "UTC" or offset == 0:
        return params.dialect.timestamp(value)
    if offset is not None:
        return params.dialect.local_time_at_offset(value, offset, params.bind)
    return params.dialect.local_time(value, params.bind(timezone))


def _fixed_offset(plan: Plan, member: Member) -> int | None:
    """The UTC offset (seconds) of the query's time zone over every instant `member` can hold in
    the rows of `plan`, when that is one offset; else None (local time is then looked up per
    row).

    The rows are limited by the date range filters on `member` that every row passes
    (`row_date_ranges`: the time dimension's `dateRange`, an AND-ed `inDateRange` or
    `onTheDate` on the same member), as UTC instants exactly as `_leaf` writes them; several
    intersect. Ungrouped queries keep the per-row form: they return at most `limit` rows, so
    there is little per-row work to save."""
    if plan.timezone == "UTC" or plan.ungrouped:
        return None
    bounds = [f.utc_bounds for f in row_date_ranges(plan.where, member)]
    if not bounds:
        return None
    return constant_offset(plan.timezone, max(b[0] for b in bounds),  # type: ignore[index]
                           min(b[1] for b in bounds))  # type: ignore[index,type-var]


# Over this many days, `constant_offset` does not look (3,660 samples: 3.5 ms the first time
# for ten years of Asia/Kolkata, then cached; a month takes 0.2 ms).
_MAX_CONSTANT_OFFSET_DAYS = 3660
_DAY = timedelta(days=1)


@lru_cache(maxsize=4096)
def constant_offset(timezone: str, low: datetime, high: datetime) -> int | None:
    """The UTC offset (whole seconds) of `timezone` at every instant from `low` to `high` (aware
    UTC datetimes) when it is the same throughout; None when it changes, or when the span is
    longer than ten years (not sampled; the per-row form is always right).

    zoneinfo lists no transitions, so the offset is sampled at `low`, every 24 hours after it,
    and `high`. That finds every change: a change after `low` starts a period of another
    offset, and a period lasting longer than 24 hours holds a sample or `high`. No period of
    one offset in tzdata is that short: the shortest between two changes is 95.7 hours
    (Africa/Freetown, September 1939) in the system's tzdata 2025b, 167 hours in the tzdata
    2026f package (Brazil's October 2000 week of summer time, Gaza and Hebron's Ramadan pauses
    of summer time), read from every zone's TZif file; rule-made future changes are months
    apart. Rows' local times then come from Python's tzdata, which is also where the rows'
    bounds come from (`dates.local_to_utc`); DuckDB's per-row TIMEZONE() reads ICU's copy.

    >>> from datetime import datetime, timezone
    >>> utc = lambda *a: datetime(*a, tzinfo=timezone.utc)
    >>> constant_offset("America/New_York", utc(2026, 10, 1, 4), utc(2026, 11, 1, 3, 59))
    -14400
    >>> constant_offset("America/New_York", utc(2026, 10, 1, 4), utc(2026, 11, 1, 6))  # EST
    >>> constant_offset("Asia/Kathmandu", utc(2020, 1, 1), utc(2026, 1, 1))
    20700
    """
    if high < low:
        return None  # no row can pass; nothing to gain
    if high - low > timedelta(days=_MAX_CONSTANT_OFFSET_DAYS):
        return None
    zone = ZoneInfo(timezone)
    first = low.astimezone(zone).utcoffset()
    moment = low + _DAY
    while moment < high:
        if moment.astimezone(zone).utcoffset() != first:
            return None
        moment += _DAY
    if high.astimezone(zone).utcoffset() != first or first is None:
        return None
    seconds = first.total_seconds()
    return int(seconds) if seconds == int(seconds) else None


def _window_input(model: Model, renderer: Renderer, member: Member, multiplied: set[str]):
    """A cumulative measure split into its per-row input and the aggregate applied per window."""
    value = renderer.text(member.sql) if member.sql is not None else None
    kind = "sum" if member.type == "running_total" else member.type
    if kind == "count" and value is None:
        value = renderer.primary_key_text(member.cube) or "1"
    condition = " AND ".join(f"({renderer.text(f)})" for f in member.filters)
    if condition:
        value = f"CASE WHEN {condition} THEN {value} END"
    distinct = kind == "count_distinct" or (kind == "count" and member.cube in multiplied)
    function = {"count_distinct": "count", "count_distinct_approx": "approx_count_distinct"}.get(
        kind, kind)

    def aggregate(column: exp.Expression) -> exp.Expression:
        argument = exp.Distinct(expressions=[column]) if distinct else column
        return exp.func(function, argument)
    return renderer.fragment(value), aggregate


def _window_condition(member: Member, range_start: exp.Expression,
                      whole_range: bool, dialect: Dialect = DUCKDB) -> exp.Expression:
    """Which rows' `__time` fall in the window of a bucket `[date_from, date_to]` (Cube's rules:
    offset `end` measures the trailing interval back from the bucket's end, exclusive; with no
    granularity the one bucket is the whole date range, widened by trailing and leading)."""
    window = member.rolling_window
    time = exp.column("__time", table="base", quoted=True)
    date_from = exp.column("date_from", table="date_series", quoted=True)
    date_to = exp.column("date_to", table="date_series", quoted=True)

    def shifted(moment: exp.Expression, interval: str, sign: type) -> exp.Expression:
        return sign(this=moment.copy(), expression=dialect.interval(parse_interval(interval)))

    if window.from_range_start:
        return exp.and_(exp.GTE(this=time, expression=range_start.copy()),
                        exp.LTE(this=time.copy(), expression=date_to), copy=False)
    if window.to_date is not None:
        return exp.and_(exp.GTE(this=time, expression=dialect.truncate(window.to_date, date_from)),
            exp.LTE(this=time.copy(), expression=date_to), copy=False)
    conditions = []
    at_start = window.offset == "start"
    if window.trailing != "unbounded":
        anchor = date_from if at_start or whole_range else date_to
        bound = shifted(anchor, window.trailing, exp.Sub) if window.trailing else anchor.copy()
        comparison = exp.GTE if at_start else exp.GT
        conditions.append(comparison(this=time.copy(), expression=bound))
    if window.leading != "unbounded":
        anchor = date_to if not at_start or whole_range else date_from
        bound = shifted(anchor, window.leading, exp.Add) if window.leading else anchor.copy()
        comparison = exp.LTE if not at_start else exp.LT
        conditions.append(comparison(this=time.copy(), expression=bound))
    return exp.and_(*conditions, copy=False) if conditions else exp.true()


def _dimension_value(column: Column, renderer: Renderer, plan: Plan,
                     params: _Params) -> exp.Expression:
    value = renderer.expression(column.source)
    if column.granularity is not None:
        value = _truncated(value, column.source, column.granularity, plan.timezone, params,
                           _fixed_offset(plan, column.source))
    elif column.source.type == "boolean":
        value = params.dialect.boolean(value)
    return value


def _measure_value(member: Member, value: exp.Expression, dialect: Dialect) -> exp.Expression:
    """A measure's selected value (a `boolean` measure as a boolean)."""
    return dialect.boolean(value) if member.type == "boolean" else value


def _joined_rows(model: Model, plan: Plan, renderer: Renderer, params: _Params,
                 expressions: list[exp.Expression]) -> exp.Select:
    """SELECT <expressions> FROM the join tree WHERE the query's row filters."""
    select = _select(*expressions).from_(cube_source(model, plan.root, renderer), copy=False)
    for step in plan.joins:
        on = renderer.fragment(renderer.text(step.join.sql))
        select = _left_join(select, cube_source(model, step.joined, renderer), on)
    where = _conditions(plan.where, renderer.expression, params)
    where += [renderer.fragment(renderer.text(s.sql)) for s in plan.segments]  # type: ignore
    for measure in plan.measure_filter_members:
        where += [renderer.fragment(renderer.text(f)) for f in measure.filters]
    select = renderer.sub_query_joins(select)
    return select.where(exp.and_(*where, copy=False), copy=False) if where else select


def _select(*expressions: exp.Expression) -> exp.Select:
    """SELECT <expressions>, built directly (`exp.select` copies each expression)."""
    return exp.Select(expressions=list(expressions))


def _as(value: exp.Expression, alias: str) -> exp.Expression:
    """`value AS "alias"` (without `exp.alias_`'s deep copy of `value`)."""
    return exp.alias_(value, alias, quoted=True, copy=False)


def _left_join(select: exp.Select, source: exp.Expression, on: exp.Expression) -> exp.Select:
    """Adds `LEFT JOIN source ON on` (`Select.join(join_type=...)` parses a little SQL text to
    build the join kind, on every call: 10% of compile time on a three-join query)."""
    select.append("joins", exp.Join(this=source, on=on, side="LEFT"))
    return select


def _group_by_dimensions(select: exp.Select, count: int) -> exp.Select:
    if not count:
        return select
    select.set("group", exp.Group(expressions=[exp.Literal.number(i + 1) for i in range(count)]))
    return select


def _flat_select(model: Model, plan: Plan, renderer: Renderer, params: _Params) -> exp.Select:
    """The single-SELECT shape: every measure is safe to aggregate over the join."""
    expressions = [_as(_dimension_value(c, renderer, plan, params), c.alias)
                   for c in plan.dimensions]
    expressions += [_as(_measure_value(c.source, renderer.expression(c.source),
                                              params.dialect), c.alias)
                    for c in plan.measures]
    select = _joined_rows(model, plan, renderer, params, expressions)
    if plan.ungrouped:
        return select
    select = _group_by_dimensions(select, len(plan.dimensions))
    having = _conditions(plan.having, renderer.expression, params)
    return select.having(exp.and_(*having, copy=False), copy=False) if having else select


def _keys_select(model: Model, plan: Plan, renderer: Renderer, params: _Params,
                 unsafe: list[Member], having_measures: list[Member]) -> exp.Select:
    """Safe leaf measures over the join (q_0), each multiplied cube's leaf measures over its own
    rows (q_1..), joined on the dimensions; calculated measures are computed outside from the
    leaf columns."""
    dimension_aliases = [c.alias for c in plan.dimensions]
    measures = list(dict.fromkeys([c.source for c in plan.measures] + having_measures))
    leaves = list(dict.fromkeys(leaf for m in measures for leaf in leaf_measures(model, m)))
    alias_of = {m.path: member_alias_sql(model, m) for m in leaves}

    def dimension_expressions(renderer_: Renderer) -> list[exp.Expression]:
        return [_as(_dimension_value(c, renderer_, plan, params), c.alias)
                for c in plan.dimensions]

    safe = [m for m in leaves if m not in unsafe]
    if not plan.dimensions and not safe:
        # Nothing to compute over the join: one row for the multiplied cubes' totals to join to.
        base = _select(_as(exp.Literal.number(1), "__one"))
    else:
        base = _joined_rows(model, plan, renderer, params, dimension_expressions(renderer) + [
            _as(renderer.expression(m), alias_of[m.path]) for m in safe])
        base = _group_by_dimensions(base, len(plan.dimensions))
    parts = [base.subquery("q_0", copy=False)]
    source_of = {m.path: "q_0" for m in safe}

    for index, cube_name in enumerate(dict.fromkeys(m.cube for m in unsafe), start=1):
        name = f"q_{index}"
        cube = model.cubes[cube_name]
        if not cube.primary_keys:
            from engine.errors import SchemaError
            raise SchemaError(f"One or more Primary key is required for '{cube_name}' cube")
        key_aliases = [f"__pk_{i}" for i in range(len(cube.primary_keys))]
        keys = _joined_rows(model, plan, renderer, params, dimension_expressions(renderer) + [
            _as(renderer.expression(key), alias)
            for key, alias in zip(cube.primary_keys, key_aliases)]).distinct(copy=False)
        # Re-read the cube under its own alias so each of its rows is aggregated once.
        own = Renderer(model, set(), False, dialect=params.dialect)
        joined_back = exp.and_(*[
            params.dialect.null_safe_eq(exp.column(alias, table="keys", quoted=True),
                                        own.expression(key))
            for key, alias in zip(cube.primary_keys, key_aliases)], copy=False)
        cube_measures = [m for m in unsafe if m.cube == cube_name]
        per_cube = _left_join(_select(
            *[_as(exp.column(a, table="keys", quoted=True), a) for a in dimension_aliases],
            *[_as(own.expression(m), alias_of[m.path]) for m in cube_measures],
        ).from_(keys.subquery("keys", copy=False), copy=False),
            cube_source(model, cube_name, own), joined_back)
        per_cube = _group_by_dimensions(per_cube, len(plan.dimensions))
        parts.append(per_cube.subquery(name, copy=False))
        source_of.update({m.path: name for m in cube_measures})

    leaf_columns = {path: f'{quote(source_of[path])}.{quote(alias)}'
                    for path, alias in alias_of.items()}
    outside = Renderer(model, set(), False, overrides=leaf_columns, dialect=params.dialect)

    def measure_value(member: Member) -> exp.Expression:
        return outside.expression(member)

    outer_columns = [_as(exp.column(a, table="q_0", quoted=True), a)
                     for a in dimension_aliases]
    outer_columns += [_as(_measure_value(c.source, measure_value(c.source),
                                                params.dialect), c.alias)
                      for c in plan.measures]
    select = _select(*outer_columns).from_(parts[0], copy=False)
    for part in parts[1:]:
        on = exp.and_(*[params.dialect.null_safe_eq(exp.column(a, table="q_0", quoted=True),
                                                    exp.column(a, table=part.alias, quoted=True))
                        for a in dimension_aliases], copy=False) if dimension_aliases else exp.true()
        select = _left_join(select, part, on)

    having = _conditions(plan.having, measure_value, params)
    return select.where(exp.and_(*having, copy=False), copy=False) if having else select


def _sub_query_select(model: Model, member: Member, dialect: Dialect = DUCKDB) -> exp.Select:
    """SELECT <cube primary key>, <the dimension's measure SQL> over the cube and the cubes that
    SQL needs (`plan.sub_query_tree`), grouped by the key."""
    cube = model.cubes[member.cube]
    root, steps, multiplied = sub_query_tree(model, member)
    inner = Renderer(model, multiplied, prefix="sub_", dialect=dialect)
    value = inner.fragment(inner.text(member.sql))  # type: ignore[arg-type]
    select = _select(*[_as(inner.expression(key), f"__pk_{i}")
                          for i, key in enumerate(cube.primary_keys)],
                     _as(value, "value")).from_(cube_source(model, root, inner), copy=False)
    for step in steps:
        on = inner.fragment(inner.text(step.join.sql))
        select = _left_join(select, cube_source(model, step.joined, inner), on)
    return _group_by_dimensions(select, len(cube.primary_keys))


def member_alias_sql(model: Model, member: Member) -> str:
    from engine.model import member_alias
    return member_alias(model.cubes[member.cube].alias, member.name)


def cube_source(model: Model, cube_name: str, renderer: Renderer) -> exp.Expression:
    """A cube's FROM item: its `sql_table` or `(sql)`, under the renderer's alias for it."""
    cube = model.cubes[cube_name]
    dialect = renderer.dialect
    if cube.sql_table is not None:
        return Fragment(this=_table_source(dialect, cube.sql_table, renderer.alias_of(cube_name)))
    rendered = _sql_source(dialect, renderer.text(cube.sql), renderer.alias_of(cube_name))  # type: ignore[arg-type]
    if rendered is not None:
        return Fragment(this=rendered)
    body = renderer.parse(renderer.text(cube.sql))  # type: ignore[arg-type]
    return body.subquery(exp.to_identifier(renderer.alias_of(cube_name), quoted=True), copy=False)


@lru_cache(maxsize=16384)
def _table_source(dialect: Dialect, sql_table: str, alias: str) -> str:
    """`<sql_table> AS "<alias>"` rendered in `dialect` (parsed once per table and alias)."""
    table = sqlglot.parse_one(sql_table, into=exp.Table, dialect=dialect.model_sql)
    return dialect.render(exp.alias_(table, exp.to_identifier(alias, quoted=True), table=True),
                          copy=False)


@lru_cache(maxsize=16384)
def _sql_source(dialect: Dialect, text: str, alias: str) -> str | None:
    """`(<cube sql>) AS "<alias>"` rendered in `dialect`; None when the SQL has a WITH, which
    some dialects move to the top of the whole query (it then stays a tree)."""
    body = dialect.parse(text)
    if body.find(exp.With) is not None:
        return None
    return dialect.render(body.subquery(exp.to_identifier(alias, quoted=True)), copy=False)


# Buckets of natural custom intervals ("2 months", "6 hours") start on whole years / days.
_DEFAULT_ORIGIN = "2000-01-01 00:00:00"


def _truncated(value: exp.Expression, member: Member, granularity: str, timezone: str,
               params: _Params, offset: int | None = None) -> exp.Expression:
    """The start of `granularity` containing `value`, in the query's time zone (no per-row
    conversion when that zone is UTC, or when its UTC offset `offset` is fixed over the rows:
    `_local_time`). Custom granularities bucket from their origin, or shift by their offset."""
    dialect = params.dialect
    local = _local_time(value, timezone, params, offset)
    custom = next((g for g in member.granularities if g.name == granularity), None)
    if custom is None:
        return dialect.truncate(granularity, local)
    parts = parse_interval(custom.interval)
    if custom.origin is not None:
        return dialect.bucket(parts, local, parse_instant_local(custom.origin))
    offset = parse_interval(custom.offset) if custom.offset else None
    if len(parts) == 1 and parts[0][0] == 1:
        unit = parts[0][1]
        if offset is None:
            return dialect.truncate(unit, local)
        shifted = dialect.truncate(unit, exp.Sub(this=local, expression=dialect.interval(offset)))
        return exp.Add(this=shifted, expression=dialect.interval(offset))
    return dialect.bucket(parts, local, _DEFAULT_ORIGIN, offset)


def parse_instant_local(text: str) -> str:
    """An origin as a naive timestamp string (an origin with an offset is taken in UTC)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone_utc_module.utc).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


# --- filters -------------------------------------------------------------------------------------

_CASTS = {"number": "DOUBLE", "boolean": "BOOLEAN", "time": "TIMESTAMP"}


ValueOf = Callable[[Member], exp.Expression]


def _conditions(nodes: list[PlannedNode], value_of: ValueOf,
                params: _Params) -> list[exp.Expression]:
    out = []
    for node in nodes:
        condition = _condition(node, value_of, params)
        if condition is not None:
            out.append(condition)
    return out


def _condition(node: PlannedNode, value_of: ValueOf,
               params: _Params) -> exp.Expression | None:
    if isinstance(node, PlannedGroup):
        parts = _conditions(list(node.items), value_of, params)
        if not parts:
            return None
        combine = exp.or_ if node.kind == "or" else exp.and_
        return exp.paren(combine(*[exp.paren(p) for p in parts], copy=False))
    return exp.paren(_leaf(node, value_of, params))


def _leaf(f: PlannedFilter, value_of: ValueOf, params: _Params) -> exp.Expression:
    column = value_of(f.member)
    member_type = "number" if f.member.is_measure and f.member.type not in (
        "string", "time", "boolean") else f.member.type
    cast = _CASTS.get(member_type)
    values = list(f.values or [])
    non_null = [v for v in values if v is not None]
    has_null = len(non_null) != len(values)
    op = f.operator

    def bind(value: str) -> exp.Expression:
        return params.bind(value, cast)

    def time_bound(side: int) -> exp.Expression:
        instant = f.utc_bounds[side]  # type: ignore[index]
        return params.bind(instant.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3], "TIMESTAMP")

    if op in ("equals", "in"):
        if not non_null:
            return exp.Is(this=column, expression=exp.Null())
        test = (exp.EQ(this=column, expression=bind(non_null[0])) if len(non_null) == 1
                else exp.In(this=column, expressions=[bind(v) for v in non_null]))
        return exp.or_(test, exp.Is(this=column.copy(), expression=exp.Null()), copy=False) if has_null else test
    if op in ("notEquals", "notIn"):
        if not non_null:
            return exp.not_(exp.Is(this=column, expression=exp.Null()))
        test = (exp.NEQ(this=column, expression=bind(non_null[0])) if len(non_null) == 1
                else exp.not_(exp.In(this=column, expressions=[bind(v) for v in non_null])))
        # Cube keeps NULL rows for notEquals unless null is one of the values.
        return test if has_null else exp.or_(test, exp.Is(this=column.copy(), expression=exp.Null()), copy=False)
    if op in _TEXT_MATCHES:
        negate = op.startswith("not")
        tests = [params.dialect.match_text(column.copy(), _TEXT_MATCHES[op], v, params.bind,
                                           negate)
                 for v in non_null]
        combined = exp.and_(*tests, copy=False) if negate else exp.or_(*tests, copy=False)
        if negate != has_null:
            # notContains keeps NULL rows unless null is a value; contains adds them if it is.
            return exp.or_(exp.paren(combined), exp.Is(this=column.copy(), expression=exp.Null()), copy=False)
        return combined
    if op in ("gt", "gte", "lt", "lte"):
        comparison = {"gt": exp.GT, "gte": exp.GTE, "lt": exp.LT, "lte": exp.LTE}[op]
        if f.member.type == "time":
            return comparison(this=column, expression=time_bound(0))
        return comparison(this=column, expression=bind(values[0]))
    if op == "set":
        return exp.not_(exp.Is(this=column, expression=exp.Null()))
    if op == "notSet":
        return exp.Is(this=column, expression=exp.Null())
    if op in ("inDateRange", "onTheDate", "notInDateRange"):
        low, high = time_bound(0), time_bound(1)
        if op == "notInDateRange":
            return exp.or_(exp.LT(this=column, expression=low),
                           exp.GT(this=column.copy(), expression=high), copy=False)
        return exp.and_(exp.GTE(this=column, expression=low),
                        exp.LTE(this=column.copy(), expression=high), copy=False)
    # Single-value date operators compare with the value as a range start, as the Cube release we
    # replay (1.7, legacy planner) does: `beforeOrOnDate ["2024-01-15"]` is `<= 2024-01-15 00:00`.
    # Relative values were resolved to their start or end during normalization, so
    # `beforeOrOnDate ["yesterday"]` does include all of yesterday (`PlannedFilter.utc_bounds`).
    comparisons = {"beforeDate": exp.LT, "beforeOrOnDate": exp.LTE, "afterDate": exp.GT,
                   "afterOrOnDate": exp.GTE}
    if op in comparisons:
        return comparisons[op](this=column, expression=time_bound(0))
    raise ValueError(f"unhandled operator {op}")


# The operator -> the kind of text match `Dialect.match_text` builds (negated for `not...`).
_TEXT_MATCHES = {
    "contains": "contains", "notContains": "contains",
    "startsWith": "startsWith", "notStartsWith": "startsWith",
    "endsWith": "endsWith", "notEndsWith": "endsWith",
}
