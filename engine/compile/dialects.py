"""Where SQL dialects differ: one `Dialect` per database, each difference in one named method.

`engine.compile.sql` builds every query once, as sqlglot expressions, and asks the dialect only at the few
places where databases spell the same meaning differently; the dialect renders the finished
expression. DuckDB is the reference (its methods build exactly the SQL duckdb has always run);
ClickHouse gives the same answers. DuckDB's spelling first, then ClickHouse's:

- bound values: DuckDB `$1` (`CAST($1 AS DOUBLE)`); ClickHouse `{p1: Float64}`, typed
  parameters bound on the server.
- a time as a UTC timestamp: `CAST(x AS TIMESTAMP)`; `toDateTime64(x, 6, 'UTC')`.
- the wall clock in a time zone: `timezone(tz, CAST(x AS TIMESTAMPTZ))`;
  `addSeconds(t, timeZoneOffset(toTimeZone(t, tz)))` (still typed UTC, as DuckDB's is naive).
- truncation, weeks from Monday: `DATE_TRUNC('week', x)`; `toMonday` / `toStartOfMonth` ...
  and, below a day, floor arithmetic (toStartOfMinute & co. round pre-1970 times up).
- intervals: `CAST('3 months' AS INTERVAL)`; `toIntervalMonth(3)`, a tuple for several units.
- custom-granularity buckets: `time_bucket(interval, x, origin)`; the same floor arithmetic
  spelled out (toStartOfInterval refuses times before its origin).
- the series of buckets of a rolling window: `unnest(generate_series(a, b, step))`;
  `arrayJoin(arrayFilter(.., arrayMap(.., range(..))))`.
- contains / startsWith / endsWith: `contains(lower(x), lower($1))` (`starts_with`,
  `ends_with`) with the value bound as it is; `x ILIKE '%' || {p1: String} || '%'` with `%`, `_`
  and `\\` escaped in the bound value (ClickHouse always escapes with a backslash).
- ORDER BY: NULLs last both ways (DuckDB's default); `NULLS LAST` written out.
- null-safe equality: `IS NOT DISTINCT FROM` on both (isNotDistinctFrom in ClickHouse).
- approximate distinct counts: `approx_count_distinct` (HyperLogLog); `uniq` (exact below
  65536 values). Both are estimates: they may differ.
- the average of a DECIMAL: exact sum / count rounded once; the same spelled out (`avg` rounds
  the sum to a double first).
- booleans computed by SQL: DuckDB BOOLEAN; ClickHouse UInt8, so selected as `toBool(..)`.
- `json_extract_string` in model SQL: NULL for a missing key; `JSONExtract(.., 'Nullable(String)')`
  (not JSONExtractString, which answers '').
- the rolling-window join on a range: ClickHouse also needs an equality, a constant key.
- meaning set per query: `ClickHouseDialect.SESSION_SETTINGS` (outer-join misses are NULL,
  aggregates of no rows are NULL, times are UTC, ...).

Model SQL fragments are written in DuckDB SQL by default (`model_sql`): they are parsed with
that dialect and rendered with the backend's, sqlglot translating functions between the two.

>>> from sqlglot import exp
>>> CLICKHOUSE.render(CLICKHOUSE.truncate("week", exp.column("t")))
"toDateTime64(toMonday(t), 6, 'UTC')"
>>> CLICKHOUSE.placeholder(1, "3.50", "DOUBLE")[0].sql("clickhouse")
'{p1: Float64}'
"""

from __future__ import annotations

import math
from datetime import datetime
from functools import lru_cache
from typing import Any, Callable

import sqlglot
from dateutil.relativedelta import relativedelta
from sqlglot import exp
from sqlglot.dialects.clickhouse import ClickHouse as _SqlglotClickHouse
from sqlglot.dialects.dialect import json_extract_segments
from sqlglot.dialects.duckdb import DuckDB as _SqlglotDuckDB

from engine.model import duckdb_interval

Parts = list[tuple[int, str]]  # an interval as (count, unit) pairs, as `model.parse_interval` gives

_MONTH_UNITS = {"year": 12, "quarter": 3, "month": 1}
_MICROS = {"week": 7 * 86_400_000_000, "day": 86_400_000_000, "hour": 3_600_000_000,
           "minute": 60_000_000, "second": 1_000_000}


@lru_cache(maxsize=8192)
def _parse(text: str, read: str) -> exp.Expression:
    return sqlglot.parse_one(text, dialect=read)


class Fragment(exp.Expression):
    """A piece of model SQL already rendered in the output dialect: the generator writes its text
    as it is. Queries place one per member instead of a deep copy of the member's parsed tree
    (a copy costs about 7 us per node: 41 copies of 10-30 nodes per query on the 200-cube model,
    a third of compile time), and generating it costs nothing."""

    arg_types = {"this": True}


def _fragment_sql(generator: Any, expression: Fragment) -> str:
    return expression.this


def _classes(*names: str) -> tuple[type, ...]:
    return tuple(getattr(exp, name) for name in names if hasattr(exp, name))


# A fragment must render as its tree would in the query. That holds when the generator writes
# the top node the same whatever its parent is, and no node inside looks above the top. Roots:
# columns, literals, parentheses, functions and operators, except those a builder or generator
# treats by their parent or type: `exp.and_` / `not_` wrap AND / OR in parentheses, `exp.cast`
# does not re-cast a CAST, DuckDB parenthesises `->>` and bit shifts under an operator and `%`
# on the right of one, ClickHouse rewrites IS / contains / StrToDate by their parent, and a few
# nodes search their ancestors (structs, VALUES, ORDER BY in aggregates, WITH moved to the top).
# Any other SQL stays a parsed tree, copied per query: the SQL is the same either way.
_FRAGMENT_ROOTS = _classes("Column", "Literal", "Paren", "Null", "Boolean", "Func", "Binary",
                           "Filter")
_TREE_ROOTS = _classes(
    "Connector", "Cast", "Is", "Like", "ILike", "Escape", "Mod", "BitwiseLeftShift",
    "BitwiseRightShift", "JSONExtract", "JSONExtractScalar", "JSONBExtract",
    "JSONBExtractScalar", "Dot", "Contains", "StrToDate", "WeekStart", "Struct", "Map", "VarMap",
    "UDTF", "ArrayAgg", "Window")
_TREE_INSIDE = _classes("With", "Struct", "Values", "Ordered", "PivotAlias",
                        "ExplodingGenerateSeries", "Posexplode", "Seq1", "Seq2", "Seq4", "Seq8")


@lru_cache(maxsize=65536)
def _rendered(dialect: "Dialect", text: str) -> tuple[str, exp.Expression | None]:
    """(model SQL `text` rendered in the dialect, or its parsed tree when that must stay a tree)."""
    parsed = dialect.parse(text)
    if not isinstance(parsed, _FRAGMENT_ROOTS) or isinstance(parsed, _TREE_ROOTS) \
            or parsed.find(*_TREE_INSIDE) is not None:
        return "", parsed
    return parsed.sql(dialect=dialect.sqlglot_dialect), None


class _DuckDBSQL(_SqlglotDuckDB):
    """sqlglot's DuckDB, writing `Fragment`s as they are."""

    class Generator(_SqlglotDuckDB.Generator):
        TRANSFORMS = {**_SqlglotDuckDB.Generator.TRANSFORMS, Fragment: _fragment_sql}


@lru_cache(maxsize=64)
def _data_type(name: str) -> exp.DataType:
    return exp.DataType.build(name)


def _cast(value: exp.Expression, to: str) -> exp.Expression:
    """`exp.cast(value, to)` without parsing the type name on every call (`DataType.build` runs
    the SQL parser: 15% of compiling a query with four bound numbers). A CAST goes through
    `exp.cast`, which does not cast it again to the same type."""
    if isinstance(value, exp.Cast):
        return exp.cast(value, to)
    return exp.Cast(this=value, to=_data_type(to).copy())


class Dialect:
    """DuckDB: the SQL duckcube has always generated (and the base every dialect overrides)."""

    name = "duckdb"
    sqlglot_dialect: Any = _DuckDBSQL
    # ClickHouse cannot join on a range condition alone; DuckDB can.
    needs_equi_join_key = False

    def __init__(self, model_sql: str = "duckdb"):
        self.model_sql = model_sql  # the dialect model SQL fragments are written in

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model_sql={self.model_sql!r})"

    # --- reading and writing SQL --------------------------------------------------------------

    def parse(self, text: str) -> exp.Expression:
        """A model SQL fragment as an expression (cached; copy before changing it)."""
        return _parse(text, self.model_sql)

    def render(self, expression: exp.Expression, copy: bool = True) -> str:
        """SQL text of `expression`. `copy=False` lets the generator change the tree in place
        (saves a deep copy of the query; only for a tree that is thrown away afterwards)."""
        return expression.sql(dialect=self.sqlglot_dialect, copy=copy)

    def fragment(self, text: str) -> exp.Expression:
        """Model SQL `text` as a new node to place in a query: a `Fragment` holding the SQL
        rendered once (cached per text), or, for the few shapes builders look into, a copy of
        its parsed tree."""
        rendered, tree = _rendered(self, text)
        return Fragment(this=rendered) if tree is None else tree.copy()

    # --- parameter binding ----------------------------------------------------------------------

    def placeholder(self, index: int, value: Any, cast: str | None) -> tuple[exp.Expression, Any]:
        """The expression standing for bound value number `index` (1-based) read as type `cast`
        (`DOUBLE`, `BOOLEAN`, `TIMESTAMP` or None), and the value to bind."""
        placeholder: exp.Expression = exp.Placeholder(this=str(index))
        return (_cast(placeholder, cast) if cast else placeholder), value

    # --- time -----------------------------------------------------------------------------------

    def timestamp(self, value: exp.Expression) -> exp.Expression:
        """A time value as a UTC timestamp (no zone)."""
        return _cast(value, "TIMESTAMP")

    def local_time(self, value: exp.Expression, zone: exp.Expression) -> exp.Expression:
        """The wall-clock time in time zone `zone` (a bound value) at instant `value`."""
        return exp.func("timezone", zone, _cast(value, "TIMESTAMPTZ"))

    def local_time_at_offset(self, value: exp.Expression, seconds: int,
                             bind: Callable[[Any, str | None], exp.Expression]) -> exp.Expression:
        """The wall-clock time at instant `value` in a zone whose UTC offset is `seconds` at
        every instant the query's rows can hold (the caller proves it, `compile.sql._fixed_offset`):
        the UTC timestamp plus that offset, which is exactly what `local_time` gives those rows.
        `bind(v, cast)` returns the placeholder of a new bound value.

        DuckDB: `CAST(col AS TIMESTAMP) + CAST($n AS INTERVAL)`, the offset bound as text
        (`'-14400 seconds'`), rather than `TIMEZONE($1, CAST(col AS TIMESTAMPTZ))`, which asks
        ICU for every row: count by day over October 2026 in New York, 10M rows
        (bench/data/events_10m.duckdb, p50 of 20 interleaved runs on 2 busy cores), 43 ms
        against 413 ms; with the offset inlined as a literal 47 ms, so it stays bound. Going
        through TIMESTAMPTZ (`CAST(CAST(col AS TIMESTAMPTZ) AS TIMESTAMP)`) costs the ICU call
        again (350 ms); the plain cast is the UTC path's own reading of the column, and what
        the row filters compare with. (A time stored as text with a UTC offset is the one
        column this reads differently from TIMESTAMPTZ: DuckDB's cast to TIMESTAMP drops the
        offset, as the UTC path and the filters already do.)"""
        return exp.Add(this=self.timestamp(value),
                       expression=bind(f"{seconds} seconds", "INTERVAL"))

    def truncate(self, unit: str, value: exp.Expression) -> exp.Expression:
        """The start of the `unit` (second .. year; weeks start on Monday) containing `value`."""
        return exp.func("DATE_TRUNC", exp.Literal.string(unit), value)

    def interval(self, parts: Parts) -> exp.Expression:
        """An interval value, to add to or subtract from a timestamp."""
        return _cast(exp.Literal.string(duckdb_interval(parts)), "INTERVAL")

    def step(self, granularity: str) -> exp.Expression:
        """One bucket of a built-in granularity, as an interval."""
        text = "3 months" if granularity == "quarter" else f"1 {granularity}"
        return _cast(exp.Literal.string(text), "INTERVAL")

    def one_millisecond(self) -> exp.Expression:
        return _cast(exp.Literal.string("1 millisecond"), "INTERVAL")

    def bucket(self, parts: Parts, value: exp.Expression, origin: str,
               offset: Parts | None = None) -> exp.Expression:
        """The start of the interval-sized bucket containing `value`, buckets counted from the
        timestamp `origin` (text, `YYYY-MM-DD HH:MM:SS`) shifted by `offset`."""
        origin_value: exp.Expression = _cast(exp.Literal.string(origin), "TIMESTAMP")
        if offset is not None:
            origin_value = exp.Add(this=origin_value, expression=self.interval(offset))
        return exp.func("time_bucket", self.interval(parts), value, origin_value)

    def series(self, first: exp.Expression, last: exp.Expression, step: exp.Expression,
               granularity: str) -> exp.Expression:
        """One row per bucket start from `first` (a bucket start) to `last`, `step` apart."""
        return exp.func("unnest", exp.func("generate_series", first, last, step))

    # --- values ----------------------------------------------------------------------------------

    def boolean(self, value: exp.Expression) -> exp.Expression:
        """A selected value of a `boolean` member, as a boolean (not a 0/1 number)."""
        return value

    # --- filters, joins and order ---------------------------------------------------------------

    # contains / startsWith / endsWith: DuckDB's string functions on lower-cased text.
    _MATCH_FUNCTIONS = {"contains": "contains", "startsWith": "starts_with",
                        "endsWith": "ends_with"}

    def match_text(self, column: exp.Expression, kind: str, value: str,
                   bind: Callable[[Any], exp.Expression], negate: bool) -> exp.Expression:
        """`column` contains / starts with / ends with (`kind`: "contains", "startsWith",
        "endsWith") the text `value`, ignoring case; every character of `value` is literal.
        `bind(v)` returns the placeholder of a new bound value. NULL when `column` is NULL
        (negated too), as `ILIKE` is.

        DuckDB: `contains(lower(col), lower($1))` with the raw value bound, not
        `col ILIKE '%' || $1 || '%' ESCAPE '\\'` with an escaped one: 1.0 s against 1.8 s over
        10M rows (bench/results/experiments_10m.json, `ilike_escape`), same rows. Both fold case
        with DuckDB's lower-casing (ILIKE lower-cases both sides too), so they agree beyond
        ASCII (`É`/`é` match; neither folds `ß` to `ss` nor a final sigma); Cube's own ILIKE
        is the database's, so this is what Cube on DuckDB answers."""
        test: exp.Expression = exp.Anonymous(
            this=self._MATCH_FUNCTIONS[kind],
            expressions=[exp.Lower(this=column), exp.Lower(this=bind(value))])
        return exp.not_(test) if negate else test

    def null_safe_eq(self, left: exp.Expression, right: exp.Expression) -> exp.Expression:
        return exp.NullSafeEQ(this=left, expression=right)

    # --- aggregates -------------------------------------------------------------------------------

    def count_rows(self, condition: str | None) -> str:
        """Model SQL (DuckDB's) counting the rows, or the rows where `condition` (SQL text)
        holds: `count(*)`, `count(*) FILTER (WHERE ..)`."""
        return f"count(*) FILTER (WHERE {condition})" if condition else "count(*)"

    def ordered(self, expression: exp.Expression, desc: bool) -> exp.Ordered:
        """An ORDER BY key. NULLs sort last both ways (DuckDB's default, and Cube's answers)."""
        return exp.Ordered(this=expression, desc=desc)


class _ClickHouseSQL(_SqlglotClickHouse):
    """sqlglot's ClickHouse, writing NULLS FIRST / LAST out whenever the order says which, and
    averaging decimals exactly."""

    class Generator(_SqlglotClickHouse.Generator):
        TRANSFORMS = {**_SqlglotClickHouse.Generator.TRANSFORMS,
                      exp.JSONExtractScalar: lambda self, e: self.json_extract_string(e),
                      Fragment: _fragment_sql}

        def json_extract_string(self, expression: exp.JSONExtractScalar) -> str:
            """DuckDB's `json_extract_string` / `->>`: NULL for a missing key or a JSON null
            (sqlglot's JSONExtractString answers '' there), other values as their text."""
            call = json_extract_segments("JSONExtract", quoted_index=False)(self, expression)
            return call[:-1] + ", 'Nullable(String)')"

        def avg_sql(self, expression: exp.Avg) -> str:
            """ClickHouse averages a Decimal column as float(sum) / count, which can be one unit
            in the last place off DuckDB's (and Cube's) exactly divided, correctly rounded
            average. For decimals: the exact sum divided with 40 decimal places, then read as
            a double; other types keep `avg` (the unused branch is never evaluated)."""
            if isinstance(expression.this, exp.Distinct):
                return self.function_fallback_sql(expression)
            value = self.sql(expression, "this")
            return (f"if(toTypeName(sum({value})) LIKE '%Decimal%', toFloat64(toString("
                    f"toDecimal256(sum({value}), 40) / nullIf(count({value}), 0))), "
                    f"avg({value}))")

        def ordered_sql(self, expression: exp.Ordered) -> str:
            nulls_first = expression.args.get("nulls_first")
            if nulls_first is None or expression.args.get("with_fill"):
                return super().ordered_sql(expression)
            direction = " DESC" if expression.args.get("desc") else " ASC"
            nulls = "FIRST" if nulls_first else "LAST"
            return f"{self.sql(expression, 'this')}{direction} NULLS {nulls}"


def _call(name: str, *args: exp.Expression | str | int) -> exp.Expression:
    """A ClickHouse function call, spelled exactly `name` (sqlglot knows few of them)."""
    return exp.Anonymous(this=name, expressions=[
        a if isinstance(a, exp.Expression) else
        exp.Literal.string(a) if isinstance(a, str) else exp.Literal.number(a) for a in args])


def _interval_call(unit: str, count: exp.Expression | int) -> exp.Expression:
    return _call("toInterval" + unit.capitalize(), count)


class ClickHouseDialect(Dialect):
    """ClickHouse (a server through clickhouse-connect, or chDB in process)."""

    name = "clickhouse"
    sqlglot_dialect = _ClickHouseSQL
    needs_equi_join_key = True
    TIMESTAMP = "DateTime64(6, 'UTC')"
    # Settings every query runs with, so that the SQL means what it means on DuckDB.
    SESSION_SETTINGS = {
        "join_use_nulls": 1,                    # outer-join misses are NULL, not 0 / ''
        "aggregate_functions_null_for_empty": 1,  # sum/min/max/avg of no rows is NULL
        "session_timezone": "UTC",              # zone-less times are UTC, as in DuckDB
        "prefer_column_name_to_alias": 1,       # a column name never means a SELECT alias
        "enable_positional_arguments": 1,       # GROUP BY 1, ORDER BY 1
        "enable_extended_results_for_datetime_functions": 1,  # toStartOf* beyond 1970..2106
        "precise_float_parsing": 1,             # text -> Float64 correctly rounded (avg_sql)
    }
    _TYPES = {"DOUBLE": "Float64", "BOOLEAN": "Bool", "TIMESTAMP": TIMESTAMP}

    # --- parameter binding ----------------------------------------------------------------------

    def placeholder(self, index: int, value: Any, cast: str | None) -> tuple[exp.Expression, Any]:
        """`{p<index>: Type}`: ClickHouse parses the value as that type on the server (a value
        that does not parse is a 400 error, as DuckDB's failed CAST is)."""
        if cast is not None:
            type_name = self._TYPES[cast]
        elif isinstance(value, bool):
            type_name = "Bool"
        elif isinstance(value, int):
            type_name = "UInt64" if value >= 0 else "Int64"
        else:
            type_name = "String"
        if cast == "DOUBLE":
            value = _float_text(value)
        elif cast == "TIMESTAMP" and isinstance(value, str):
            value = value.replace("T", " ", 1)
        kind = exp.DataType.build(type_name, dialect="clickhouse")
        return exp.Placeholder(this=exp.Var(this=f"p{index}"), kind=kind), value

    # --- time -----------------------------------------------------------------------------------

    def timestamp(self, value: exp.Expression) -> exp.Expression:
        return _call("toDateTime64", value, 6, "UTC")

    def local_time(self, value: exp.Expression, zone: exp.Expression) -> exp.Expression:
        # The instant moved by the zone's offset at that instant: its local wall clock, still
        # typed UTC, which is what DuckDB's timezone(zone, TIMESTAMPTZ) gives.
        instant = self.timestamp(value)
        offset = _call("timeZoneOffset", _call("toTimeZone", instant.copy(), zone))
        return _call("addSeconds", instant, offset)

    def local_time_at_offset(self, value: exp.Expression, seconds: int,
                             bind: Callable[[Any, str | None], exp.Expression]) -> exp.Expression:
        # addSeconds(instant, {p: Int64}) rather than timeZoneOffset(toTimeZone(..)) per row.
        return _call("addSeconds", self.timestamp(value), bind(seconds, None))

    _TRUNCATE = {"week": "toMonday", "month": "toStartOfMonth", "quarter": "toStartOfQuarter",
                 "year": "toStartOfYear"}

    def truncate(self, unit: str, value: exp.Expression) -> exp.Expression:
        if unit in self._TRUNCATE:
            return self.timestamp(_call(self._TRUNCATE[unit], value))
        # toStartOfMinute / Hour round times before 1970 towards 1970; floor instead.
        return self.bucket([(1, unit)], value, "1970-01-01 00:00:00")

    def interval(self, parts: Parts) -> exp.Expression:
        """DuckDB keeps an interval as months, days and microseconds and adds them in that
        order (`2024-02-29 - 1 year 2 months` is 14 months back, 2022-12-29); so does this,
        as a tuple of intervals when it has more than one of them."""
        if len(parts) == 1:
            n, unit = parts[0]
            return _interval_call(unit, n)
        months = sum(n * _MONTH_UNITS[u] for n, u in parts if u in _MONTH_UNITS)
        days = sum(n * (7 if u == "week" else 1) for n, u in parts if u in ("week", "day"))
        micros = sum(n * _MICROS[u] for n, u in parts if u in ("hour", "minute", "second"))
        calls = []
        if months:
            calls.append(_interval_call("month", months))
        if days:
            calls.append(_interval_call("day", days))
        if micros:
            unit = next(u for u in ("hour", "minute", "second") if micros % _MICROS[u] == 0) \
                if micros % 1_000_000 == 0 else None
            calls.append(_interval_call(unit, micros // _MICROS[unit]) if unit
                         else _interval_call("microsecond", micros))
        if not calls:
            return _interval_call("second", 0)
        return calls[0] if len(calls) == 1 else exp.Tuple(expressions=calls)

    def step(self, granularity: str) -> exp.Expression:
        return _interval_call(granularity, 1)

    def one_millisecond(self) -> exp.Expression:
        return _interval_call("millisecond", 1)

    def bucket(self, parts: Parts, value: exp.Expression, origin: str,
               offset: Parts | None = None) -> exp.Expression:
        """DuckDB's time_bucket, spelled out (ClickHouse's toStartOfInterval refuses times
        before its origin): floor((time - origin) / width) * width + origin, in months for
        month-sized intervals and in microseconds for the others."""
        start = datetime.fromisoformat(origin)
        for n, unit in offset or []:
            start += _relativedelta(n, unit)
        months = {unit for _, unit in parts} <= set(_MONTH_UNITS)
        micros = {unit for _, unit in parts} <= set(_MICROS)
        if not (months or micros):
            from engine.errors import DatabaseError
            raise DatabaseError(f"Not implemented Error: an interval mixing months with days or "
                                f"time cannot bucket times: {duckdb_interval(parts)}")
        time = self.timestamp(value)
        if months:
            # DuckDB counts whole months from the origin's month; the origin's day and time
            # do not move the buckets, which start on the first of a month at midnight.
            width = sum(n * _MONTH_UNITS[unit] for n, unit in parts)
            month_number = exp.Sub(
                this=exp.Add(this=exp.Mul(this=_call("toYear", time),
                                          expression=exp.Literal.number(12)),
                             expression=_call("toMonth", time.copy())),
                expression=exp.Literal.number(start.year * 12 + start.month))
            floor = exp.Sub(this=month_number, expression=_call("pmod", month_number.copy(), width))
            origin_month = _call("toDateTime64", start.strftime("%Y-%m-01 00:00:00"), 6, "UTC")
            return _call("addMonths", origin_month, floor)
        width = sum(n * _MICROS[unit] for n, unit in parts)
        since_epoch = start - datetime(1970, 1, 1)
        origin_micros = ((since_epoch.days * 86_400 + since_epoch.seconds) * 1_000_000
                         + since_epoch.microseconds)
        since: exp.Expression = _call("toUnixTimestamp64Micro", time)
        if origin_micros:
            since = exp.Sub(this=since, expression=exp.Literal.number(origin_micros))
        floor: exp.Expression = exp.Sub(this=since, expression=_call("pmod", since.copy(), width))
        if origin_micros:
            floor = exp.Add(this=floor, expression=exp.Literal.number(origin_micros))
        return _call("fromUnixTimestamp64Micro", floor, "UTC")

    def series(self, first: exp.Expression, last: exp.Expression, step: exp.Expression,
               granularity: str) -> exp.Expression:
        # range() over enough steps (dateDiff counts boundaries), then keep those <= last.
        count = _call("toUInt64", _call("greatest", exp.Add(
            this=_call("dateDiff", granularity, first, last), expression=exp.Literal.number(2)), 0))
        i, d = exp.to_identifier("i"), exp.to_identifier("d")
        starts = _call("arrayMap", exp.Lambda(
            this=exp.Add(this=first.copy(), expression=_interval_call(granularity, i.copy())),
            expressions=[i]), _call("range", count))
        kept = _call("arrayFilter", exp.Lambda(
            this=exp.LTE(this=d.copy(), expression=last.copy()), expressions=[d]), starts)
        return _call("arrayJoin", kept)

    # --- values ----------------------------------------------------------------------------------

    def boolean(self, value: exp.Expression) -> exp.Expression:
        # Comparisons and LIKE give UInt8 0/1 in ClickHouse, which would print as "0"/"1".
        return _call("toBool", value)

    # --- filters, joins and order ---------------------------------------------------------------

    _LIKE_AFFIXES = {"contains": ("%", "%"), "startsWith": ("", "%"), "endsWith": ("%", "")}

    def match_text(self, column: exp.Expression, kind: str, value: str,
                   bind: Callable[[Any], exp.Expression], negate: bool) -> exp.Expression:
        """ClickHouse: `col ILIKE '%' || {p: String} || '%'` with `%`, `_` and `\\` escaped in
        the bound value."""
        prefix, suffix = self._LIKE_AFFIXES[kind]
        pattern: exp.Expression = bind(_escape_like(value))
        if prefix:
            pattern = exp.DPipe(this=exp.Literal.string(prefix), expression=pattern)
        if suffix:
            pattern = exp.DPipe(this=pattern, expression=exp.Literal.string(suffix))
        # ClickHouse's LIKE has no ESCAPE clause: `\` always escapes, as _escape_like expects.
        test = exp.ILike(this=column, expression=pattern)
        return exp.not_(exp.paren(test)) if negate else test

    def count_rows(self, condition: str | None) -> str:
        """`count()`, `countIf(..)` (written in DuckDB SQL, which sqlglot renders so)."""
        return f"count_if({condition})" if condition else "count(*)"

    def ordered(self, expression: exp.Expression, desc: bool) -> exp.Ordered:
        return exp.Ordered(this=expression, desc=desc, nulls_first=False)


def _escape_like(value: str) -> str:
    """`value` as a LIKE pattern matching exactly it (`\\` escapes `%`, `_` and itself)."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _relativedelta(n: int, unit: str) -> relativedelta:
    if unit == "quarter":
        return relativedelta(months=3 * n)
    return relativedelta(**{unit + "s": n})


def _float_text(value: Any) -> Any:
    """A number filter value as ClickHouse reads Float64 (DuckDB's CAST accepts a little more:
    surrounding spaces, `Infinity`); left alone when it is no number, so the database refuses it."""
    if not isinstance(value, str):
        return value
    try:
        number = float(value)
    except ValueError:
        return value
    if math.isnan(number):
        return "nan"
    if math.isinf(number):
        return "inf" if number > 0 else "-inf"
    return repr(number)


DUCKDB = Dialect()
CLICKHOUSE = ClickHouseDialect()
DIALECTS = {"duckdb": DUCKDB, "clickhouse": CLICKHOUSE}


def get_dialect(dialect: Dialect | str | None) -> Dialect:
    """A dialect by name (`duckdb`, `clickhouse`), or the one given; None is DuckDB."""
    if dialect is None:
        return DUCKDB
    if isinstance(dialect, Dialect):
        return dialect
    try:
        return DIALECTS[dialect]
    except KeyError:
        raise ValueError(f"unknown SQL dialect '{dialect}' (known: {', '.join(DIALECTS)})") \
            from None
