"""`Engine`: the embedded API. Each method returns the JSON body Cube's REST API would send.

>>> engine = Engine(models="../shared/conformance/model", database="../shared/conformance/data",
...                 now="2026-11-22T11:10:14Z")  # doctest: +SKIP
>>> engine.load({"measures": ["Orders.count"]})["data"]  # doctest: +SKIP
[{'Orders.count': '120'}]

Bad input raises `CubeError` (its `.status` and `.body` are what the HTTP API answers).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import duckdb

from . import dates
from .errors import CubeError, QueryError
from .execute import connect, run
from .meta import build_meta
from .model import Model, load_model
from .naming import member_alias
from .plan import Plan, filter_members, build_plan
from .query import Query, normalize_query, parse_query_param
from .results import annotation, compact, shape_rows
from .sqlgen import CompiledQuery, check_model_sql, compile_plan
from .transformed import transformed_query

REGULAR, COMPARE, BLENDING = "regularQuery", "compareDateRangeQuery", "blendingQuery"

# Cube's default refresh key: a new cache generation every 10 seconds.
_DEFAULT_CACHE_KEY_QUERY = ["SELECT FLOOR((EXTRACT(EPOCH FROM NOW())) / 10) as refresh_key", [],
                            {"external": False, "renewalThreshold": 10}]


def parse_instant(value: str | datetime) -> datetime:
    """An ISO-8601 instant (`2026-11-22T11:10:14Z`) as an aware datetime; naive means UTC."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


@dataclass
class _Prepared:
    query: Query
    plan: Plan
    compiled: CompiledQuery


class Engine:
    """Cube's REST API over YAML models and a DuckDB database, in process.

    models:   directory of Cube YAML model files (`cubes/`).
    database: DuckDB file, directory of Parquet/CSV files, an open connection, or None.
    now:      freezes the clock relative date ranges use (ISO string or datetime); None = real time.
    threads:  DuckDB threads; 1 (default) orders tied rows deterministically, as Cube's DuckDB
              does; None lets DuckDB use every core.
    """

    def __init__(self, models: str | Path | Model = "cubes",
                 database: str | Path | duckdb.DuckDBPyConnection | None = None,
                 now: str | datetime | Callable[[], datetime] | None = None,
                 threads: int | None = 1):
        self.model = models if isinstance(models, Model) else load_model(models)
        check_model_sql(self.model)
        self.connection = connect(database, threads)
        if now is None:
            self._clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
        elif callable(now):
            self._clock = now
        else:
            frozen = parse_instant(now)
            self._clock = lambda: frozen

    def now(self) -> datetime:
        return self._clock()

    # --- public API -------------------------------------------------------------------------

    def load(self, query: Any, query_type: str | None = None) -> dict:
        """`/v1/load`: run the query; `query_type="multi"` wraps results as Cube's client expects."""
        kind, queries = self._normalize(query)
        if kind != REGULAR and query_type != "multi":
            raise QueryError(f"'{kind}' query type is not supported by the client."
                             "Please update the client.")
        refreshed = _iso_now()
        results = [self._result(self._prepare(q), refreshed) for q in queries]
        if kind == COMPARE:
            for q, result in zip(queries, results):
                label = " - ".join(q.time_dimensions[_compare_index(q)].date_range or ())
                for row in _rows(result):
                    row["compareDateRange"] = label
        if kind == BLENDING:
            for q, result in zip(queries, results):
                td = next(t for t in q.time_dimensions if t.granularity)
                source = f"{td.dimension}.{td.granularity}"
                for row in _rows(result):
                    row[f"time.{td.granularity}"] = row.get(source)
        if query_type != "multi":
            return results[0]
        return {"queryType": kind, "results": results,
                "pivotQuery": _pivot_query(kind, queries, for_load=True), "slowQuery": False}

    def sql(self, query: Any) -> dict | list:
        """`/v1/sql`: the SQL and parameters the query runs with."""
        kind, queries = self._normalize(query)
        bodies = [{"sql": self._sql_body(self._prepare(q)), "dataSource": "default"}
                  for q in queries]
        return bodies[0] if kind == REGULAR else bodies

    def dry_run(self, query: Any) -> dict:
        """`/v1/dry-run`: the normalized queries, their effective order, no execution."""
        kind, queries = self._normalize(query)
        prepared = [self._prepare(q) for q in queries]
        normalized = [q.normalized() for q in queries]
        pivot = _pivot_query(kind, queries, for_load=False, first=normalized[0])
        return {
            "queryType": kind,
            "normalizedQueries": normalized,
            "queryOrder": [p.plan.requested_order for p in prepared],
            "transformedQueries": [transformed_query(self.model, p.plan) for p in prepared],
            "pivotQuery": pivot,
        }

    def meta(self, extended: bool = False) -> dict:
        """`/v1/meta`: the visible cubes and members."""
        return build_meta(self.model, extended)

    # --- steps ------------------------------------------------------------------------------

    def _normalize(self, raw: Any) -> tuple[str, list[Query]]:
        query = parse_query_param(raw)
        now = self.now()
        try:
            if isinstance(query, list):
                if not query:
                    raise QueryError("Query param is required")
                queries = [normalize_query(q, now) for q in query]
                _check_blending(queries)
                return BLENDING, queries
            split = _split_compare_date_range(query)
            if split is not None:
                return COMPARE, [normalize_query(q, now) for q in split]
            return REGULAR, [normalize_query(query, now)]
        except dates.DateParseError as exc:
            raise QueryError(str(exc)) from None

    def _prepare(self, query: Query) -> _Prepared:
        plan = build_plan(self.model, query)
        return _Prepared(query, plan, compile_plan(self.model, plan, total=bool(query.total)))

    def _result(self, prepared: _Prepared, refreshed: str) -> dict:
        compiled, plan, query = prepared.compiled, prepared.plan, prepared.query
        rows = run(self.connection, compiled.sql, compiled.params)
        body: dict[str, Any] = {
            "query": query.echo(),
            "lastRefreshTime": refreshed,
            "annotation": annotation(plan),
            "dataSource": "default",
            "dbType": "duckdb",
            "external": False,
            "slowQuery": False,
        }
        if compiled.total_sql is not None:
            body["total"] = run(self.connection, compiled.total_sql, compiled.total_params)[0][0]
        body["data"] = compact(plan, shape_rows(plan, rows), query.response_format)
        return body

    def _sql_body(self, prepared: _Prepared) -> dict:
        plan, compiled = prepared.plan, prepared.compiled
        body: dict[str, Any] = {
            "external": False,
            "sql": [compiled.sql, compiled.params],
            "lambdaQueries": {},
        }
        if plan.query.time_dimensions:
            first = plan.query.time_dimensions[0]
            cube_name, _, name = first.dimension.partition(".")
            body["timeDimensionAlias"] = (member_alias(self.model.cubes[cube_name].alias, name)
                                          + "_" + (first.granularity or "day"))
            body["timeDimensionField"] = first.dimension
        body.update({
            "order": plan.requested_order,
            # One refresh-key query per cube the SQL reads, as Cube lists them.
            "cacheKeyQueries": [_DEFAULT_CACHE_KEY_QUERY for _ in plan.cubes()],
            "preAggregations": [],
            "dataSource": "default",
            "aliasNameToMember": compiled.aliases,
            "canUseTransformedQuery": transformed_query(self.model, plan),
            "memberNames": _member_names(self.model, plan),
        })
        return body


# --- helpers --------------------------------------------------------------------------------------


def _iso_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{datetime.now(timezone.utc).microsecond // 1000:03d}Z"


def _rows(result: dict) -> list[dict]:
    data = result["data"]
    return data if isinstance(data, list) else []


def _compare_index(query: Query) -> int:
    return next((i for i, td in enumerate(query.time_dimensions) if td.date_range), 0)


def _split_compare_date_range(query: Any) -> list[dict] | None:
    """A query with `compareDateRange` becomes one query per range (Cube's transformer)."""
    if not isinstance(query, dict) or not isinstance(query.get("timeDimensions"), list):
        return None
    carriers = [i for i, td in enumerate(query["timeDimensions"])
                if isinstance(td, dict) and td.get("compareDateRange") is not None]
    if not carriers:
        return None
    if len(carriers) > 1:
        raise QueryError("compareDateRange can only exist for one timeDimension")
    index = carriers[0]
    ranges = query["timeDimensions"][index]["compareDateRange"]
    if not isinstance(ranges, list):
        return None  # the format check reports it
    split = []
    for date_range in ranges:
        single = copy.deepcopy(query)
        td = single["timeDimensions"][index]
        del td["compareDateRange"]
        td["dateRange"] = date_range
        split.append(single)
    return split


def _check_blending(queries: list[Query]) -> None:
    granularities = []
    for q in queries:
        first = q.time_dimensions[0] if q.time_dimensions else None
        if first is None or first.granularity is None:
            raise QueryError("Data blending query without granularity is not supported")
        granularities.append(first.granularity)
    if len(set(granularities)) > 1:
        raise QueryError("Data blending query granularities must match")


def _pivot_query(kind: str, queries: list[Query], for_load: bool, first: dict | None = None) -> dict:
    """Cube's pivotQuery: query #0 (the same object, so dry-run shows its mutations too)."""
    if kind == BLENDING:
        measures: list[str] = []
        dimensions: list[str] = []
        for q in queries:
            measures += [m for m in q.measures or [] if m not in measures]
            dimensions += [d for d in q.dimensions if d not in dimensions]
        base = queries[0]
        time = [{"dimension": "time", "granularity": base.time_dimensions[0].granularity}]
        if not for_load:
            # /dry-run shows Cube's own pivot object; /load re-serializes it with the
            # query defaults and without an empty dimensions list.
            return {"measures": measures, "dimensions": dimensions, "timeDimensions": time,
                    "queryType": kind}
        pivot: dict[str, Any] = {"measures": measures}
        if dimensions:
            pivot["dimensions"] = dimensions
        pivot.update({"timeDimensions": time, "limit": base.limit, "timezone": base.timezone,
                      "filters": [], "rowLimit": base.limit, "queryType": kind})
        return pivot
    pivot = first if first is not None else queries[0].echo()
    if kind == COMPARE:
        pivot["dimensions"] = ["compareDateRange"] + list(pivot.get("dimensions", []))
    pivot["queryType"] = kind
    return pivot


def _member_names(model: Model, plan: Plan) -> list[str]:
    """Members the SQL touches, in the order Cube lists them (measures first)."""
    names: list[str] = []

    def add(path: str) -> None:
        if path not in names:
            names.append(path)

    for column in plan.measures:
        add(column.key)
        member = column.member
        for template in ([member.sql] if member.sql else []) + list(member.filters):
            for ref in template.references():
                add(f"{ref.cube}.{ref.name}")
        if member.type == "count" and member.sql is None:
            for key in model.cubes[member.cube].primary_keys:
                add(key.path)
    for column in plan.dimensions:
        if column.granularity is None:
            add(column.member.path)
    for td in plan.query.time_dimensions:
        add(td.dimension)
    for member in filter_members(plan.where) + filter_members(plan.having) + plan.segments:
        add(member.path)
    return names
