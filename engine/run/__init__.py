"""Stage 5: running compiled SQL, and the orchestration around it.

    backend = open_backend(None, "fixtures/data")     # DuckDB in process (or chdb, ClickHouse)
    Execution(timeout=5).run(backend.connection, compiled.sql, compiled.params)

`backends` opens the database a query runs on (DuckDB, chDB, a ClickHouse server) and proves
key facts from its metadata; `execute` runs one statement under a deadline; `cache` keeps
results per refresh key, deduplicates running queries and answers Cube's "Continue wait".
"""

from .backends import (BACKENDS, Backend, ChdbBackend, ClickHouseBackend, DuckDBBackend,
                       open_backend)
from .cache import (CACHE_MODES, DEFAULT_CONTINUE_WAIT, DEFAULT_QUERY_TIMEOUT, ContinueWait,
                    QueryQueue, QueryStats, RefreshKeys, ResultCache, begin_stats,
                    cache_key_query, check_refresh_keys, copy_body, current_stats, shared_queue)
from .execute import Execution, QueryTimeout, connect, warm_up

__all__ = [
    "BACKENDS", "Backend", "ChdbBackend", "ClickHouseBackend", "DuckDBBackend", "open_backend",
    "CACHE_MODES", "DEFAULT_CONTINUE_WAIT", "DEFAULT_QUERY_TIMEOUT", "ContinueWait",
    "QueryQueue", "QueryStats", "RefreshKeys", "ResultCache", "begin_stats", "cache_key_query",
    "check_refresh_keys", "copy_body", "current_stats", "shared_queue", "Execution",
    "QueryTimeout", "connect", "warm_up",
]
