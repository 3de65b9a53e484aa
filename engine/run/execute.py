"""Opening the data and running compiled SQL on DuckDB.

One DuckDB connection per engine, session time zone UTC (so naive timestamps mean UTC), and a
fresh cursor per query so threads can share the engine. An `Execution` runs the statements of one
request on such cursors, adds up their database time and can be interrupted from another thread
(the hard query timeout).

>>> con = connect(None)
>>> run(con, "SELECT ? + 1", [1])
[(2,)]
"""

from __future__ import annotations

import heapq
import itertools
import logging
import re
import threading
import time
from pathlib import Path
from typing import Any, Callable

import duckdb

from engine.errors import DatabaseError, ModelError

_TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

log = logging.getLogger("duckcube")

# What `memory_limit="auto"` (the default) gives a database the engine opens itself. With
# DuckDB's own default (80% of RAM) the buffer cache of a process answering the benchmark's
# queries on 100M rows grew to 1.8 GB (threads=1) and 2.0 GB (all cores), and `duckcube serve`
# with 8 clients to 4.3 GB; capped at 1GB the same sequence peaked at 1.4 GB with no query
# slower (heavier operators spill to `<database>.tmp`). bench/README.md has the figures.
AUTO_MEMORY_LIMIT = "1GB"


def connect(database: str | Path | duckdb.DuckDBPyConnection | None,
            threads: int | None = 1,
            memory_limit: str | None = "auto") -> duckdb.DuckDBPyConnection:
    """A connection over `database`: a DuckDB file (opened read-only), a directory whose
    `*.parquet` / `*.csv` files are loaded as tables named by file stem, an open connection, or
    None for an empty in-memory database.

    `threads=1` (the default) makes DuckDB answer deterministically: rows that tie in the ORDER
    BY come out in first-seen order, run after run, as on real Cube's DuckDB. More threads are
    faster on large data but order ties differently from one run to the next; None keeps
    DuckDB's own setting (one thread per core).

    `memory_limit` (`"1GB"`, `"512MB"`: DuckDB's size syntax) caps the memory DuckDB's buffer
    manager uses for data and intermediate results; operators past it spill to a temporary
    directory or fail. None keeps DuckDB's default, 80% of the machine's RAM, which lets a
    process answering queries on 100M rows grow to several GB before DuckDB evicts anything.
    `"auto"` (the default) is `AUTO_MEMORY_LIMIT` for a database opened here and leaves an open
    connection passed in as its owner set it; an explicit size applies to that one too."""
    if memory_limit == "auto":
        memory_limit = None if isinstance(database, duckdb.DuckDBPyConnection) else AUTO_MEMORY_LIMIT
    # Set at open, so the limit already holds while a directory's files load into memory.
    config = {"memory_limit": _size(memory_limit)} if memory_limit is not None else {}
    if isinstance(database, duckdb.DuckDBPyConnection):
        con = database
    elif database is None:
        con = _open(":memory:", config)
    else:
        path = Path(database)
        if path.is_dir():
            con = _open(":memory:", config)
            attach_directory(con, path)
        elif path.exists():
            con = _open(str(path), config, read_only=True)
        else:
            raise ModelError(f"database not found: {path}")
    con.execute("SET TimeZone = 'UTC'")
    if threads is not None:
        con.execute(f"SET threads = {int(threads)}")
    if memory_limit is not None and con is database:
        try:
            con.execute(f"SET memory_limit = '{config['memory_limit']}'")
        except duckdb.Error as exc:
            raise ModelError(f"memory_limit {memory_limit!r}: {exc}") from None
    return con


def _open(path: str, config: dict, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(path, read_only=read_only, config=config)
    except duckdb.Error as exc:  # an unreadable setting value ("1 parsecs")
        raise ModelError(f"cannot open DuckDB with {config}: {exc}") from None


_SIZE = re.compile(r"^\s*\d+(\.\d+)?\s*[A-Za-z]*\s*$")


def _size(value: str) -> str:
    """A memory size as DuckDB reads it (`1GB`, `512 MiB`), checked before it goes into SQL."""
    if not isinstance(value, str) or not _SIZE.match(value):
        raise ModelError(f"memory_limit must be a size like '1GB' or '512MB', not {value!r}")
    return value.strip()


def attach_directory(con: duckdb.DuckDBPyConnection, directory: Path) -> list[str]:
    """Load every Parquet / CSV file below `directory` (subfolders included) into an in-memory
    table named after the file.

    Tables rather than views over the files: row order is then the file's, so rows that tie in a
    query's ORDER BY come out in the same order as on real Cube's DuckDB, which loads tables too.
    For data larger than memory, pass a DuckDB database file instead."""
    names = []
    for file in sorted(directory.rglob("*")):
        if (file.suffix not in (".parquet", ".csv") or not file.is_file()
                or not _TABLE_NAME.match(file.stem)):
            continue
        reader = "read_parquet" if file.suffix == ".parquet" else "read_csv_auto"
        literal = str(file.resolve()).replace("'", "''")
        con.execute(f'CREATE OR REPLACE TABLE "{file.stem}" AS SELECT * FROM {reader}(\'{literal}\')')
        names.append(file.stem)
    return names


def run(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> list[tuple]:
    """Execute on a new cursor; database errors become Cube's 400 `Error: <message>`."""
    cursor = con.cursor()
    try:
        return cursor.execute(sql, params).fetchall()
    except duckdb.Error as exc:
        raise DatabaseError(str(exc)) from None
    finally:
        cursor.close()


class QueryTimeout(DatabaseError):
    """The hard query timeout fired: DuckDB was interrupted. 400 `Error: Query timeout ...`, the
    shape Cube gives every error coming back from query execution."""

    def __init__(self, seconds: float):
        super().__init__(f"Query timeout: the query ran longer than {seconds:g} s and was "
                         "interrupted")


class Execution:
    """The statements of one request: each on a fresh cursor, timed (`db_ms`), interruptible.

    `timeout` (seconds) arms a timer when the first statement starts; when it fires the running
    cursor is interrupted (`DuckDBPyConnection.interrupt()`) and the statement raises
    `QueryTimeout`, as does any statement started afterwards."""

    def __init__(self, timeout: float | None = None):
        self.timeout = timeout
        self.db_ms = 0.0
        self._lock = threading.Lock()
        self._cursor: duckdb.DuckDBPyConnection | None = None
        self._timer: list | None = None  # a `deadlines` handle
        self._timed_out = False

    def run(self, con: duckdb.DuckDBPyConnection, sql: str, params: list) -> list[tuple]:
        cursor = con.cursor()
        with self._lock:
            if self._timed_out:
                cursor.close()
                raise QueryTimeout(self.timeout or 0)
            self._cursor = cursor
            if self.timeout is not None and self._timer is None:
                # One shared thread for every timeout (a Timer thread per query: 0.4-3.5 ms).
                self._timer = deadlines.arm(self.timeout, self.interrupt)
        started = time.perf_counter()
        try:
            return cursor.execute(sql, params).fetchall()
        except duckdb.InterruptException:
            raise QueryTimeout(self.timeout or 0) from None
        except duckdb.Error as exc:
            raise DatabaseError(str(exc)) from None
        finally:
            self.db_ms += (time.perf_counter() - started) * 1000
            with self._lock:
                self._cursor = None
            cursor.close()

    def interrupt(self) -> None:
        """Stop the running statement (from any thread); later statements fail at once."""
        with self._lock:
            self._timed_out = True
            if self._cursor is not None:
                self._cursor.interrupt()

    def finish(self) -> None:
        """Disarm the timer (the work is done)."""
        with self._lock:
            if self._timer is not None:
                deadlines.disarm(self._timer)


class Deadlines:
    """Calls `action()` once `seconds` have passed unless disarmed first, for any number of
    pending deadlines, on one thread: what the hard query timeout needs per query.

        handle = deadlines.arm(600, execution.interrupt)
        ...                                 # the query runs
        deadlines.disarm(handle)            # it finished in time

    A `threading.Timer` per query starts and ends a thread each time: 0.4 ms per request on an
    idle 2-core machine, 1.5-3.5 ms once other processes keep both cores busy, where the new
    thread waits for a core (HTTP /load small-query p50 4.63 -> 4.25 ms idle, 8.65 -> 5.34 ms
    at load average 3). Arming here is a heap push under a lock; the thread is woken only
    when the new deadline comes before every pending one, which never happens when all
    queries have the same timeout. Disarmed entries are dropped lazily."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[list] = []  # [deadline, sequence, action, or None once disarmed]
        self._disarmed = 0
        self._sequence = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, seconds: float, action: Callable[[], Any]) -> list:
        entry = [time.monotonic() + seconds, next(self._sequence), action]
        with self._cond:
            heapq.heappush(self._heap, entry)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="duckcube-deadlines",
                                                daemon=True)
                self._thread.start()
            elif self._heap[0] is entry:
                self._cond.notify()
        return entry

    def disarm(self, handle: list) -> None:
        """Cancel (a no-op when the action already ran)."""
        with self._cond:
            if handle[2] is None:
                return
            handle[2] = None
            self._disarmed += 1
            if self._disarmed > 64 and self._disarmed * 2 > len(self._heap):
                self._heap = [e for e in self._heap if e[2] is not None]
                heapq.heapify(self._heap)
                self._disarmed = 0

    def pending(self) -> int:
        """Armed deadlines not yet due."""
        with self._cond:
            return len(self._heap) - self._disarmed

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    while self._heap and self._heap[0][2] is None:
                        heapq.heappop(self._heap)
                        self._disarmed -= 1
                    if not self._heap:
                        self._cond.wait()
                        continue
                    delay = self._heap[0][0] - time.monotonic()
                    if delay <= 0:
                        entry = heapq.heappop(self._heap)
                        action, entry[2] = entry[2], None
                        break
                    self._cond.wait(delay)
            try:
                action()
            except Exception:  # one failing action must not stop the others
                log.exception("deadline action failed")


deadlines = Deadlines()
"""The process-wide deadlines (`Execution`'s query timeouts)."""


def warm_up() -> None:
    """Pay DuckDB's one-time cost before the first request: the first statement with bound
    parameters imports pandas (about a second), which would otherwise land on a user's query."""
    con = duckdb.connect(":memory:")
    try:
        con.execute("SELECT ?", [1]).fetchall()
    finally:
        con.close()
