"""Cube's query orchestration, in process: result cache, refresh keys, "Continue wait", dedupe.

What a request goes through when the engine runs with a cache or a continue-wait time
(`Engine(cache=True, continue_wait=5)`, which `duckcube serve` turns on):

1. The query's *key*: tenant, model version and the normalized query (its SQL, parameters and
   the normalized JSON it echoes), so relative dates that resolve to the same range share it.
2. The *refresh key values* of the cubes it reads (`refresh_key` in the model):
   `every: "1 hour"` is the current hour bucket, `sql: SELECT max(updated_at) ...` is that query's
   answer (re-checked at most every `every`, default 10 s), `immutable: true` never changes, and a
   cube without one gets Cube's default, a new value every 10 seconds.
3. The cache entry for the key is fresh when its refresh values equal the current ones. What
   happens otherwise depends on the request's `cache` mode (Cube's words):

   - `stale-if-slow` (default): run the query; if it does not finish within the continue-wait
     time, answer the stale entry (or "Continue wait" when there is none).
   - `stale-while-revalidate`: answer the stale entry at once and refresh it in the background.
   - `must-revalidate` (also `renewQuery: true`, which re-checks `sql` refresh keys now): never
     answer stale data; "Continue wait" while the query runs.
   - `no-cache`: skip the refresh-key check and the cache; always run the query.

4. Queries run on worker threads (`QueryQueue`), one job per key: a second request for a key
   whose job is still running joins it instead of starting another. A request that waited the
   continue-wait time answers 200 `{"error": "Continue wait"}`; the job keeps running and the
   client's retry of the same query picks its result (or its error) up.

The cache is in memory, per process, bounded (least recently used entries go first).
"""

from __future__ import annotations

import contextvars
import copy
import json
import logging
import math
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, Callable

from engine.errors import CubeError, ModelError
from engine.model import Model, parse_interval

log = logging.getLogger("duckcube")

CACHE_MODES = ("stale-if-slow", "stale-while-revalidate", "must-revalidate", "no-cache")
DEFAULT_REFRESH_SECONDS = 10  # Cube's default refresh key: a new value every 10 seconds
DEFAULT_CONTINUE_WAIT = 5.0   # Cube's continueWaitTimeout default
DEFAULT_QUERY_TIMEOUT = 600.0  # Cube's default query execution timeout (CUBEJS_DB_QUERY_TIMEOUT 10m)

_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400,
                 "month": 30 * 86400, "quarter": 91 * 86400, "year": 365 * 86400}


class ContinueWait(CubeError):
    """The query is still running: Cube's 200 `{"error": "Continue wait"}`; ask again."""

    def __init__(self) -> None:
        super().__init__(200, {"error": "Continue wait"})


# --- per-request statistics (the server's log line) -------------------------------------------


@dataclass
class QueryStats:
    """What one request cost: compile (normalize + plan + SQL) and database milliseconds, and
    how the cache answered (`hit`, `miss`, `stale`, `wait`, `joined`, or None when not used)."""

    compile_ms: float = 0.0
    db_ms: float = 0.0
    cache: str | None = None
    tenant: str | None = None


_STATS: contextvars.ContextVar[QueryStats | None] = contextvars.ContextVar("duckcube_stats",
                                                                         default=None)


def begin_stats() -> QueryStats:
    """Start collecting for the current request (the server calls this per request)."""
    stats = QueryStats()
    _STATS.set(stats)
    return stats


def current_stats() -> QueryStats:
    """The current request's statistics (a throwaway object outside a request)."""
    return _STATS.get() or QueryStats()


# --- refresh keys -----------------------------------------------------------------------------


def every_seconds(every: Any) -> int | None:
    """`"1 hour"` -> 3600; None for what is not an interval (a cron string)."""
    if isinstance(every, (int, float)) and every > 0:
        return int(every)
    if not isinstance(every, str):
        return None
    try:
        parts = parse_interval(every)
    except ValueError:
        return None
    seconds = sum(n * _UNIT_SECONDS[unit] for n, unit in parts)
    return seconds if seconds > 0 else None


def check_refresh_keys(model: Model) -> None:
    """A `refresh_key` must be `{every}`, `{sql, every?}` or `{immutable: true}`: else ModelError."""
    for cube in model.cubes.values():
        key = cube.refresh_key
        if key is None:
            continue
        unknown = set(key) - {"every", "sql", "immutable", "timezone"}
        if unknown:
            raise ModelError(f"refresh_key of cube '{cube.name}' has unknown key(s) "
                             f"{', '.join(sorted(unknown))}", cube.file, cube.line)
        if not ({"every", "sql"} & set(key)) and key.get("immutable") is not True:
            raise ModelError(f"refresh_key of cube '{cube.name}' needs 'every', 'sql' or "
                             "'immutable: true'", cube.file, cube.line)
        if "sql" in key and not isinstance(key["sql"], str):
            raise ModelError(f"refresh_key.sql of cube '{cube.name}' must be a string",
                             cube.file, cube.line)
        every = key.get("every")
        if every is not None and every_seconds(every) is None and not _looks_like_cron(every):
            raise ModelError(f"refresh_key.every of cube '{cube.name}' must be an interval like "
                             f"'1 hour' or a cron string, not {every!r}", cube.file, cube.line)


def _looks_like_cron(every: Any) -> bool:
    return isinstance(every, str) and len(every.split()) in (5, 6)


def cache_key_query(cube_refresh_key: dict | None) -> list:
    """The `cacheKeyQueries` entry `/v1/sql` lists for a cube with this refresh key:
    `[sql, params, {external, renewalThreshold}]`, the threshold being how often (seconds) the
    key is checked."""
    key = cube_refresh_key or {}
    every = every_seconds(key.get("every"))
    if "sql" in key:
        return [key["sql"], [], {"external": False,
                                 "renewalThreshold": every or DEFAULT_REFRESH_SECONDS}]
    if key.get("immutable") is True:
        return ["SELECT 1 as refresh_key", [], {"external": False, "renewalThreshold": 86400}]
    seconds = every or DEFAULT_REFRESH_SECONDS
    threshold = min(max(seconds // 10, 1), 300) if every else DEFAULT_REFRESH_SECONDS
    return [f"SELECT FLOOR((EXTRACT(EPOCH FROM NOW())) / {seconds}) as refresh_key", [],
            {"external": False, "renewalThreshold": threshold}]


class RefreshKeys:
    """Current refresh key values of cubes, for one engine (its database answers `sql` keys).

    `clock` is wall time in seconds (the refresh cadence is about the data, not the frozen
    query clock); `run_sql(sql) -> rows` runs a `sql` refresh key."""

    def __init__(self, run_sql: Callable[[str], list], clock: Callable[[], float] = time.time):
        self._run_sql = run_sql
        self.clock = clock
        self._checked: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def values(self, model: Model, cubes: list[str], force: bool = False) -> tuple:
        now = self.clock()
        out = []
        for name in sorted(set(cubes)):
            cube = model.cubes.get(name)
            out.append((name, self._value(cube.refresh_key if cube else None, now, force)))
        return tuple(out)

    def _value(self, key: dict | None, now: float, force: bool) -> Any:
        key = key or {}
        if "sql" in key:
            threshold = every_seconds(key.get("every")) or DEFAULT_REFRESH_SECONDS
            with self._lock:
                cached = self._checked.get(key["sql"])
            if cached is not None and not force and now - cached[0] < threshold:
                return cached[1]
            value = json.dumps(self._run_sql(key["sql"]), default=str)
            with self._lock:
                self._checked[key["sql"]] = (now, value)
            return value
        if key.get("immutable") is True:
            return "immutable"
        seconds = every_seconds(key.get("every")) or DEFAULT_REFRESH_SECONDS
        return math.floor(now / seconds)


# --- the result cache -------------------------------------------------------------------------


@dataclass
class Entry:
    refresh: tuple
    body: Any
    stored_at: float


class ResultCache:
    """Bodies by query key, with the refresh key values they were computed under. LRU-bounded."""

    def __init__(self, max_entries: int = 2000):
        self.max_entries = max_entries
        self._entries: OrderedDict[Any, Entry] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: Any, refresh: tuple, body: Any) -> None:
        with self._lock:
            self._entries[key] = Entry(refresh, body, time.time())
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def copy_body(body: Any) -> Any:
    """A deep copy of a JSON body (dicts, lists, str, numbers, bool, None), so a caller may change
    what it got without touching the cached or shared original. Six times faster than
    `copy.deepcopy`, which pays for a memo and per-type dispatch a JSON tree does not need
    (a 10,000-row body: 8 ms instead of 54 ms). Anything else is handed to `copy.deepcopy`."""
    kind = type(body)
    if kind is dict:
        if set(map(type, body.values())) <= _IMMUTABLE:
            return body.copy()
        return {key: copy_body(value) for key, value in body.items()}
    if kind is list:
        types = set(map(type, body))
        if types <= _IMMUTABLE:
            return body.copy()
        if types == {dict} and set(map(type, chain.from_iterable(
                map(dict.values, body)))) <= _IMMUTABLE:
            return list(map(dict, body))  # rows of plain values: one C-level copy each
        return [copy_body(value) for value in body]
    if kind in _IMMUTABLE:
        return body
    return copy.deepcopy(body)


_IMMUTABLE = frozenset((str, int, float, bool, type(None)))


# --- running queries: jobs, dedupe, continue wait ---------------------------------------------


@dataclass
class Job:
    key: Any
    done: threading.Event = field(default_factory=threading.Event)
    body: Any = None
    error: BaseException | None = None
    db_ms: float = 0.0
    finished_at: float | None = None
    background: bool = False
    refresh: tuple = ()  # the refresh key values it runs under
    abandoned: bool = False  # a waiter gave up ("Continue wait"): keep the result for its retry

    def result(self) -> Any:
        if self.error is not None:
            raise self.error
        return copy_body(self.body)


class QueryQueue:
    """Worker threads running query jobs, at most one per key at a time.

    A finished job whose first waiter had already answered "Continue wait" is kept (up to
    `keep_for` seconds) until a retry collects it."""

    def __init__(self, workers: int = 8, keep_for: float = 60.0):
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="duckcube-query")
        self._jobs: dict[Any, Job] = {}
        self._lock = threading.Lock()
        self.keep_for = keep_for

    def find(self, key: Any) -> Job | None:
        with self._lock:
            self._sweep()
            return self._jobs.get(key)

    def submit(self, key: Any, work: Callable[[], tuple[Any, float]],
               background: bool = False, refresh: tuple = ()) -> tuple[Job, bool]:
        """The job for `key`: the one already queued or running, else a new one running `work`
        (which returns `(body, db_ms)`). Also says whether it is new."""
        with self._lock:
            self._sweep()
            job = self._jobs.get(key)
            if job is not None:
                return job, False
            job = Job(key, background=background, refresh=refresh)
            self._jobs[key] = job
        self._pool.submit(self._run, job, work)
        return job, True

    def _run(self, job: Job, work: Callable[[], tuple[Any, float]]) -> None:
        try:
            job.body, job.db_ms = work()
        except BaseException as exc:  # delivered to whoever collects the job
            job.error = exc
            if not isinstance(exc, CubeError):
                log.exception("query job failed")
        finally:
            job.finished_at = time.monotonic()
            with self._lock:
                if job.background and self._jobs.get(job.key) is job:
                    del self._jobs[job.key]  # its result went to the cache
            job.done.set()

    def wait(self, job: Job, timeout: float | None) -> bool:
        """Wait for `job` up to `timeout` seconds (None: until done). On time-out the job is kept
        for the retry; when done it is collected (removed)."""
        if not job.done.wait(timeout):
            job.abandoned = True
            return False
        with self._lock:
            if self._jobs.get(job.key) is job:
                del self._jobs[job.key]
        return True

    def discard(self, job: Job) -> None:
        """Forget a finished job nobody should collect any more (its data is outdated)."""
        with self._lock:
            if self._jobs.get(job.key) is job:
                del self._jobs[job.key]

    def _sweep(self) -> None:
        now = time.monotonic()
        for key in [k for k, j in self._jobs.items()
                    if j.finished_at is not None and now - j.finished_at > self.keep_for]:
            del self._jobs[key]

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


_SHARED_QUEUE: QueryQueue | None = None
_SHARED_LOCK = threading.Lock()


def shared_queue() -> QueryQueue:
    """The process-wide queue engines use unless given their own."""
    global _SHARED_QUEUE
    with _SHARED_LOCK:
        if _SHARED_QUEUE is None:
            _SHARED_QUEUE = QueryQueue()
        return _SHARED_QUEUE
