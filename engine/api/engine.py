"""`Engine`: the embedded API. Each method returns the JSON body Cube's REST API would send.

>>> engine = Engine(models="../shared/conformance/model", database="../shared/conformance/data",
...                 now="2026-11-22T11:10:14Z")  # doctest: +SKIP
>>> engine.load({"measures": ["Orders.count"]})["data"]  # doctest: +SKIP
[{'Orders.count': '120'}]

Bad input raises `CubeError` (its `.status` and `.body` are what the HTTP API answers).
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import duckdb

from engine import dates
from engine.run import (CACHE_MODES, Backend, ContinueWait, Execution, QueryQueue, RefreshKeys,
                        ResultCache, cache_key_query, copy_body, current_stats, open_backend,
                        shared_queue)
from engine.errors import QueryError
from engine.respond import annotation, build_meta, compact, shape_rows, transformed_query
from engine.model import Model, Project, member_alias, read_project
from engine.compile import (CompiledQuery, Plan, build_plan, compile_plan, filter_members,
                            key_count_probes, leaf_measures)
from engine.query import Query, normalize_query, parse_query_param
from .store import ModelStore

REGULAR, COMPARE, BLENDING = "regularQuery", "compareDateRangeQuery", "blendingQuery"

__all__ = ["Engine", "ContinueWait", "parse_instant"]

_ENGINE_IDS = itertools.count(1)


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


COMPILE_CACHE_SIZE = 512


@dataclass
class _Compiled:
    """A cached compile: the plan and SQL of one normalized query. Nothing after normalization
    reads the clock (relative dates are resolved into the query's fields, which key the
    cache), so an entry holds for as long as its model is served."""

    plan: Plan
    compiled: CompiledQuery


class _ModelState:
    """What an engine derives from one model object and keeps exactly as long as that model is
    the one served (a reload or `engine.model = ...` starts a fresh state, so no SQL compiled
    for an old model is ever reused): the compiled queries, least recently used dropped past
    `size`, and which cubes' primary keys the data proves non-null (`Backend.keys_not_null`)."""

    def __init__(self, model: Model, size: int):
        self.model = model
        self.size = size
        self.compiled: OrderedDict[tuple, _Compiled] = OrderedDict()
        self.keys_not_null: dict[str, bool] = {}
        self.lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: tuple) -> _Compiled | None:
        """The entry for `key`, if cached."""
        with self.lock:
            entry = self.compiled.get(key)
            if entry is None:
                self.misses += 1
                return None
            self.compiled.move_to_end(key)
            self.hits += 1
            return entry

    def put(self, key: tuple, entry: _Compiled) -> None:
        if self.size <= 0:
            return
        with self.lock:
            self.compiled[key] = entry
            self.compiled.move_to_end(key)
            while len(self.compiled) > self.size:
                self.compiled.popitem(last=False)


class Engine:
    """Cube's REST API over YAML models and a DuckDB database, in process.

    models:   directory of Cube YAML model files (`cubes/`), a loaded `Model`, or a `ModelStore`
              (what `duckcube serve --dev` hot-reloads).
    database: DuckDB file, directory of Parquet/CSV files, an open connection, or None.
    now:      freezes the clock relative date ranges use (ISO string or datetime); None = real time.
    threads:  DuckDB threads; 1 (default) orders tied rows deterministically, as Cube's DuckDB
              does; None lets DuckDB use every core.

    Query orchestration, all off by default (every `load` runs the query, synchronously):

    cache:          True (or a shared `ResultCache`) keeps results in memory per tenant, model
                    version and normalized query, honouring cube `refresh_key`s, the request's
                    `cache` mode and `renewQuery` (see `engine.run.cache`).
    continue_wait:  seconds a `load` waits for its query before raising `ContinueWait` (Cube's
                    200 `{"error": "Continue wait"}`); the query keeps running and the same
                    `load` asked again picks its result up. None: wait as long as it takes.
    query_timeout:  seconds after which a running query is interrupted (`QueryTimeout`, 400).
    tenant:         a name for this engine's data in cache keys and logs.

    Performance:

    compile_cache:  how many compiled queries (plan + SQL + parameters) to keep, least recently
                    used dropped first; 0 compiles every query afresh. A repeated query then
                    skips planning and SQL generation (about 1.7 ms of a 3 ms small query).
    project:        a Cube project directory (`model/`, `globals.py`, `cube.py`, `.env` with
                    CUBEJS_DB_DUCKDB_DATABASE_PATH): models and database come from it.
    memory_limit:   DuckDB's memory limit (`"1GB"`, `"512MB"`); `"auto"` (default) is 1GB for a
                    database the engine opens and leaves a connection passed in alone; None
                    keeps DuckDB's default (80% of RAM). Ignored by the ClickHouse backends.
    """

    def __init__(self, models: str | Path | Model | ModelStore = "cubes",
                 database: str | Path | duckdb.DuckDBPyConnection | None = None,
                 now: str | datetime | Callable[[], datetime] | None = None,
                 threads: int | None = 1, *,
                 cache: bool | ResultCache = False,
                 continue_wait: float | None = None,
                 query_timeout: float | None = None,
                 tenant: str = "default",
                 queue: QueryQueue | None = None,
                 refresh_clock: Callable[[], float] | None = None,
                 backend: Backend | str | None = None,
                 compile_cache: int = COMPILE_CACHE_SIZE,
                 memory_limit: str | None = "auto",
                 project: str | Path | Project | None = None):
        # A Cube project directory: its model/ folder and its .env's DuckDB file, unless
        # `models` / `database` say otherwise.
        self.project = (read_project(project) if project is not None
                        and not isinstance(project, Project) else project)
        if self.project is not None:
            if isinstance(models, str) and models == "cubes":
                models = self.project.models
            if database is None and self.project.database is not None:
                database = self.project.database
        self._store = models if isinstance(models, ModelStore) else ModelStore(
            models, compile_context=self.project.compile_context() if self.project else None)
        # Where queries run: DuckDB (default), "chdb", "clickhouse://..." or a Backend.
        self.backend = open_backend(backend, database, threads, memory_limit=memory_limit)
        self.connection = self.backend.connection
        if now is None:
            self._clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
        elif callable(now):
            self._clock = now
        else:
            frozen = parse_instant(now)
            self._clock = lambda: frozen
        self.tenant = tenant
        self.cache: ResultCache | None = (ResultCache() if cache is True
                                          else cache if isinstance(cache, ResultCache) else None)
        self.continue_wait = continue_wait
        self.query_timeout = query_timeout
        self._queue = queue
        self._refresh = RefreshKeys(self._run_refresh_sql, refresh_clock or time.time)
        self._scope = (tenant, next(_ENGINE_IDS))  # cache keys never cross engines
        self._compile_cache = compile_cache
        self._state = _ModelState(self._store.model, compile_cache)
        self._state_lock = threading.Lock()

    def now(self) -> datetime:
        return self._clock()

    @property
    def model(self) -> Model:
        return self._store.model

    @model.setter
    def model(self, model: Model) -> None:
        store = ModelStore(model)
        store.version = self._store.version + 1  # cached results of the old model do not apply
        self._store = store

    @property
    def model_version(self) -> int:
        return self._store.version

    @property
    def model_store(self) -> ModelStore:
        """Where the model comes from (`refresh()` reloads it in dev mode)."""
        return self._store

    @property
    def orchestrated(self) -> bool:
        """Whether loads go through the cache / worker queue (any orchestration option set)."""
        return (self.cache is not None or self.continue_wait is not None
                or self.query_timeout is not None)

    # --- public API -------------------------------------------------------------------------

    def load(self, query: Any, query_type: str | None = None,
             cache_mode: str | None = None) -> dict:
        """`/v1/load`: run the query; `query_type="multi"` wraps results as Cube's client expects.

        `cache_mode` is the request's top-level `cache` parameter (it wins over the query's)."""
        if cache_mode is not None and cache_mode not in CACHE_MODES:
            raise QueryError(f'"cache" must be one of [{", ".join(CACHE_MODES)}]')
        stats = current_stats()
        stats.tenant = self.tenant
        model, version = self.model, self.model_version
        started = time.perf_counter()
        kind, queries = self._normalize(query)
        if kind != REGULAR and query_type != "multi":
            raise QueryError(f"'{kind}' query type is not supported by the client."
                             "Please update the client.")
        prepared = [self._prepare(q, model) for q in queries]
        stats.compile_ms += (time.perf_counter() - started) * 1000
        if not self.orchestrated:
            execution = Execution()
            body = self._execute(kind, queries, prepared, query_type, execution)
            stats.db_ms += execution.db_ms
            return body
        return self._orchestrate(model, version, kind, queries, prepared, query_type, cache_mode)

    def sql(self, query: Any) -> dict | list:
        """`/v1/sql`: the SQL and parameters the query runs with."""
        model = self.model
        started = time.perf_counter()
        kind, queries = self._normalize(query)
        bodies = [{"sql": self._sql_body(self._prepare(q, model), model), "dataSource": "default"}
                  for q in queries]
        self._compiled(started)
        return bodies[0] if kind == REGULAR else bodies

    def dry_run(self, query: Any) -> dict:
        """`/v1/dry-run`: the normalized queries, their effective order, no execution."""
        model = self.model
        started = time.perf_counter()
        kind, queries = self._normalize(query)
        prepared = [self._prepare(q, model) for q in queries]
        normalized = [q.normalized() for q in queries]
        pivot = _pivot_query(kind, queries, for_load=False, first=normalized[0])
        body = {
            "queryType": kind,
            "normalizedQueries": normalized,
            "queryOrder": [dict(p.plan.requested_order) for p in prepared],
            "transformedQueries": [transformed_query(model, p.plan) for p in prepared],
            "pivotQuery": pivot,
        }
        self._compiled(started)
        return body

    def meta(self, extended: bool = False) -> dict:
        """`/v1/meta`: the visible cubes and members."""
        current_stats().tenant = self.tenant
        return build_meta(self.model, extended)

    # --- steps ------------------------------------------------------------------------------

    def _run_refresh_sql(self, sql: str) -> list:
        """A cube's `refresh_key.sql`, under the same hard timeout as queries."""
        execution = Execution(self.query_timeout)
        try:
            return execution.run(self.connection, self.backend.model_sql(sql), [])
        finally:
            execution.finish()

    def _compiled(self, started: float) -> None:
        stats = current_stats()
        stats.tenant = self.tenant
        stats.compile_ms += (time.perf_counter() - started) * 1000

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

    def _model_state(self, model: Model) -> _ModelState:
        """The compile cache and key facts of `model` (a fresh, empty one when it changed)."""
        state = self._state
        if state.model is not model:
            with self._state_lock:
                state = self._state
                if state.model is not model:
                    state = self._state = _ModelState(model, self._compile_cache)
        return state

    def _prepare(self, query: Query, model: Model | None = None) -> _Prepared:
        """Plan and compile `query`, or take both from the compile cache.

        The cache key is the whole normalized query (`_compile_key`) with its values, not a
        values-free shape with the values bound afresh: parameters are derived inside compile
        (date bounds turned into UTC instants, LIKE patterns escaped, numbers cast, NULLs made
        IS NULL), so a shape key would need a recipe per parameter to rebuild them. Relative date
        ranges are resolved during normalization, so "This week" is keyed by the bounds it
        resolved to and a new week compiles anew. Model changes start an empty cache
        (`_model_state`); the dialect is fixed per engine but keyed anyway. The key-nullness
        facts (`_keys_not_null`) are fixed per model state and computed before an entry is
        compiled, so an entry always holds the facts in force."""
        model = model or self.model
        state = self._model_state(model)
        key = _compile_key(query, self.backend.dialect.name)
        entry = state.get(key)
        if entry is not None:
            # The plan carries the query it was made for; this one differs at most in what
            # compile does not read (`given`, `now`), and the echo comes from this one.
            return _Prepared(query, dataclasses.replace(entry.plan, query=query), entry.compiled)
        plan = build_plan(model, query)
        compiled = compile_plan(model, plan, total=bool(query.total),
                                dialect=self.backend.dialect,
                                keys_not_null=self._keys_not_null(state, plan))
        state.put(key, _Compiled(plan, compiled))
        return _Prepared(query, plan, compiled)

    def keys_not_null(self, cubes: list[str] | None = None) -> frozenset[str]:
        """Which of `cubes` (default: every cube of the model) have a primary key the data
        proves holds no NULL, so the compiler may count their rows with COUNT(*).

        Proven lazily, once per cube per model (`Backend.keys_not_null` reads DuckDB's column
        statistics, about 2 ms per cube, never a scan; ClickHouse proves nothing) and not
        re-checked while that model is served; a model reload proves afresh. A NULL primary key
        arriving in the data in between is not noticed: a primary key with NULLs is a broken
        model (Cube's counts and joins take keys to identify rows, and `duckcube check` reports
        it), and the counts of such a cube may then include its NULL-key rows."""
        return self._proven_keys(self._model_state(self.model), cubes)

    def _proven_keys(self, state: _ModelState, cubes: Any) -> frozenset[str]:
        wanted = sorted(c for c in (state.model.cubes if cubes is None else cubes)
                        if c in state.model.cubes)
        unknown = [c for c in wanted if c not in state.keys_not_null]
        if unknown:
            proven = self.backend.keys_not_null(
                key_count_probes(state.model, unknown, self.backend.dialect))
            with state.lock:
                for cube in unknown:
                    state.keys_not_null[cube] = cube in proven
        return frozenset(c for c in wanted if state.keys_not_null[c])

    def _keys_not_null(self, state: _ModelState, plan: Plan) -> frozenset[str]:
        """The cubes `plan` reads or counts whose primary key is proven non-null."""
        cubes = set(plan.cubes())
        for column in plan.measures:
            cubes.update(leaf.cube for leaf in leaf_measures(state.model, column.member))
        return self._proven_keys(state, cubes)

    def compile_cache_info(self) -> dict:
        """The compile cache of the current model: `hits`, `misses`, `size` (entries), `limit`."""
        state = self._model_state(self.model)
        with state.lock:
            return {"hits": state.hits, "misses": state.misses, "size": len(state.compiled),
                    "limit": state.size}

    def _execute(self, kind: str, queries: list[Query], prepared: list[_Prepared],
                 query_type: str | None, execution: Execution) -> dict:
        """Run the prepared queries and build the `/load` body."""
        refreshed = _iso_now()
        try:
            results = [self._result(p, refreshed, execution) for p in prepared]
        finally:
            execution.finish()
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

    def _orchestrate(self, model: Model, version: int, kind: str, queries: list[Query],
                     prepared: list[_Prepared], query_type: str | None,
                     cache_mode: str | None) -> dict:
        """Cache lookup, dedupe, continue wait (see `engine.run.cache` for the rules)."""
        stats = current_stats()
        mode = cache_mode or queries[0].cache_mode
        renew = any(q.renew_query for q in queries)
        if renew and mode in ("stale-if-slow", "stale-while-revalidate"):
            mode = "must-revalidate"  # renewQuery: true means never stale
        key = (self._scope, version, kind, query_type == "multi",
               tuple(_query_key(p) for p in prepared))
        refresh: tuple = ()
        entry = None
        if self.cache is not None:
            cubes = [c for p in prepared for c in p.plan.cubes()]
            refresh = self._refresh.values(model, cubes, force=renew)
            if mode != "no-cache":
                entry = self.cache.get(key)
                if entry is not None and entry.refresh == refresh:
                    stats.cache = "hit"
                    return copy_body(entry.body)

        cache = self.cache

        def work() -> tuple[dict, float]:
            execution = Execution(self.query_timeout)
            body = self._execute(kind, queries, prepared, query_type, execution)
            if cache is not None:
                cache.put(key, refresh, body)
            return body, execution.db_ms

        queue = self._queue or shared_queue()
        job = queue.find(key)
        if (job is not None and job.done.is_set() and cache is not None
                and mode != "no-cache" and job.refresh != refresh):
            queue.discard(job)  # finished under older refresh keys: its result is in the cache
            job = None
        if (entry is not None and mode == "stale-while-revalidate"
                and (job is None or not job.done.is_set())):
            if job is None:
                queue.submit(key, work, background=True, refresh=refresh)
            stats.cache = "stale"
            return copy_body(entry.body)
        stats.cache = "joined" if job is not None else "miss"
        if job is None:
            job, _ = queue.submit(key, work, refresh=refresh)
        if not queue.wait(job, self.continue_wait):
            if entry is not None and mode == "stale-if-slow":
                stats.cache = "stale"
                return copy_body(entry.body)
            stats.cache = "wait"
            raise ContinueWait()
        stats.db_ms += job.db_ms
        return job.result()

    def _result(self, prepared: _Prepared, refreshed: str,
                execution: Execution | None = None) -> dict:
        compiled, plan, query = prepared.compiled, prepared.plan, prepared.query
        execution = execution or Execution()
        rows = execution.run(self.connection, compiled.sql, compiled.params)
        body: dict[str, Any] = {
            "query": query.echo(),
            "lastRefreshTime": refreshed,
            "annotation": annotation(plan),
            "dataSource": "default",
            "dbType": self.backend.db_type,
            "external": False,
            "slowQuery": False,
        }
        if compiled.total_sql is not None:
            body["total"] = execution.run(self.connection, compiled.total_sql,
                                          compiled.total_params)[0][0]
        body["data"] = compact(plan, shape_rows(plan, rows), query.response_format)
        return body

    def _sql_body(self, prepared: _Prepared, model: Model | None = None) -> dict:
        model = model or self.model
        plan, compiled = prepared.plan, prepared.compiled
        body: dict[str, Any] = {
            "external": False,
            # Copies: the compiled query is cached and shared, the body is the caller's.
            "sql": [compiled.sql, list(compiled.params)],
            "lambdaQueries": {},
        }
        if plan.query.time_dimensions:
            first = plan.query.time_dimensions[0]
            cube_name, _, name = first.dimension.partition(".")
            body["timeDimensionAlias"] = (member_alias(model.cubes[cube_name].alias, name)
                                          + "_" + (first.granularity or "day"))
            body["timeDimensionField"] = first.dimension
        body.update({
            "order": dict(plan.requested_order),
            # One refresh-key query per cube the SQL reads, as Cube lists them.
            "cacheKeyQueries": [cache_key_query(_refresh_key(model, c)) for c in plan.cubes()],
            "preAggregations": [],
            "dataSource": "default",
            "aliasNameToMember": dict(compiled.aliases),
            "canUseTransformedQuery": transformed_query(model, plan),
            "memberNames": _member_names(model, plan),
        })
        return body


def _refresh_key(model: Model, cube: str) -> dict | None:
    found = model.cubes.get(cube)
    return found.refresh_key if found is not None else None


# Every field of a normalized query but the clock and the raw request: what plan and compile
# read (and, to stay safe when a field is added, everything else a query says).
_KEY_FIELDS = tuple(f.name for f in dataclasses.fields(Query) if f.name not in ("now", "given"))


def _freeze(value: Any) -> Any:
    """Lists (of lists) as tuples, so a query's fields can key a dict. Filters, time
    dimensions and order items are frozen dataclasses of tuples already."""
    if isinstance(value, list):
        return tuple(_freeze(item) for item in value)
    return value


def _compile_key(query: Query, dialect: str) -> tuple:
    """What the compile of `query` depends on besides the model: its normalized fields with
    their resolved values (date ranges as absolute bounds), and the dialect."""
    return (dialect,) + tuple(_freeze(getattr(query, name)) for name in _KEY_FIELDS)


def _query_key(prepared: _Prepared) -> str:
    """What makes two queries the same for the cache: their SQL, parameters and echo."""
    echo = prepared.query.echo()
    echo.pop("renewQuery", None)
    return json.dumps([prepared.compiled.sql, prepared.compiled.params,
                       prepared.compiled.total_sql, prepared.compiled.total_params, echo],
                      sort_keys=True, default=str)


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
    if not isinstance(ranges, list) or not ranges:
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
