"""Where compiled SQL runs: DuckDB in process (the default), ClickHouse, or chDB.

A `Backend` is what the engine needs from a database:

    backend.dialect      the `engine.compile.dialects.Dialect` to compile queries with
    backend.db_type      what `/load` reports as `dbType`
    backend.connection   what `engine.run.execute.run` / `Execution.run` take: `.cursor()` gives an
                         object with `.execute(sql, params).fetchall()`, `.interrupt()`, `.close()`
                         (a DuckDB connection is one; ClickHouse gets a small adapter)
    backend.model_sql(sql)   model-written SQL (refresh keys) in the backend's dialect
    backend.for_tenant(name) the same server, tenant `name`'s database
    backend.close()

`open_backend(spec, database, threads)` opens one from what a user types:

    open_backend("duckdb", "data/")                       # DuckDB over Parquet/CSV files
    open_backend("chdb", "data/")                         # embedded ClickHouse, same inputs
    open_backend("clickhouse://user:pass@host:8123/db")   # a ClickHouse server (HTTP)
    open_backend("clickhouses://user:pass@host/db")       # ... over HTTPS (port 8443)

ClickHouse and chDB both go through clickhouse-connect (chDB is its in-process transport), so
the tests that run on chDB exercise the driver code that talks to a server: parameter binding
(`{p1: Type}` placeholders, bound on the server), result types and errors. Install them with
`pip install 'duckcube[clickhouse]'`.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import parse_qsl, unquote, urlsplit

import duckdb

from engine.compile import CLICKHOUSE, DUCKDB, Dialect
from engine.errors import DatabaseError, ModelError

_TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DATABASE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
TENANT_DATABASE = "gitlab_project_{}"  # GitLab keeps each project's analytics in its own database


def tenant_database(project_id: int | str) -> str:
    """The ClickHouse database of a GitLab project: `gitlab_project_<id>`."""
    text = str(project_id)
    if not text.isdigit():
        raise ValueError(f"a project id is a number, not {text!r}")
    return TENANT_DATABASE.format(text)


class Backend:
    """The interface; see the module docstring."""

    name = "?"
    db_type = "?"
    dialect: Dialect = DUCKDB
    connection: Any = None

    def model_sql(self, sql: str) -> str:
        """SQL written in the model's dialect (a `refresh_key`'s `sql`), as this backend runs it."""
        if self.dialect.model_sql == self.dialect.name:
            return sql
        return self.dialect.render(self.dialect.parse(sql))

    def run(self, sql: str, params: list | None = None) -> list[tuple]:
        """Run one compiled statement (database errors raise `DatabaseError`, 400)."""
        cursor = self.connection.cursor()
        try:
            return cursor.execute(sql, params or []).fetchall()
        except duckdb.Error as exc:
            raise DatabaseError(str(exc)) from None
        finally:
            cursor.close()

    def for_tenant(self, tenant: str) -> "Backend":
        raise NotImplementedError(f"the {self.name} backend has no tenants")

    def keys_not_null(self, probes: Mapping[str, tuple[str, str]]) -> frozenset[str]:
        """Which cubes have a primary key the database proves holds no NULL, from metadata alone
        (never a scan). `probes`: cube -> (`SELECT count(<key>) FROM <source>`, `SELECT
        count(*) FROM <source>`), as `engine.compile.key_count_probes` writes them. The
        compiler then counts their rows with COUNT(*). Nothing is proven by default."""
        return frozenset()

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


# --- DuckDB ------------------------------------------------------------------------------------


class DuckDBBackend(Backend):
    """DuckDB in process: exactly what `engine.run.execute.connect` opens."""

    name = "duckdb"
    db_type = "duckdb"
    dialect = DUCKDB

    def __init__(self, database: str | Path | duckdb.DuckDBPyConnection | None = None,
                 threads: int | None = 1, memory_limit: str | None = "auto"):
        from .execute import connect
        self.connection = connect(database, threads, memory_limit)

    def keys_not_null(self, probes: Mapping[str, tuple[str, str]]) -> frozenset[str]:
        """DuckDB's optimizer knows, from the column statistics every table keeps (per row group,
        updated on every write), whether a column can hold a NULL; when it cannot, it plans
        `count(col)` exactly as `count(*)` (`count_star()`, or a constant read from the table's
        row count). So a key is proven non-null when `EXPLAIN SELECT count(<pk>) FROM <cube's
        source>` tops out in the same operator as `EXPLAIN SELECT count(*) FROM ...`: two plans,
        no row read, about 2 ms per cube. A source whose statistics do not reach the count
        (a view over files, expressions DuckDB does not propagate them through), or whose SQL
        fails, is not proven."""
        def top(sql: str) -> tuple:
            node = json.loads(self.run(f"EXPLAIN (FORMAT JSON) {sql}")[0][1])[0]
            return node["name"], node.get("extra_info")

        proven = set()
        for name, (count_key, count_star) in probes.items():
            try:
                if top(count_key) == top(count_star):
                    proven.add(name)
            except (DatabaseError, duckdb.Error, ValueError, LookupError, TypeError):
                continue
        return frozenset(proven)

    def close(self) -> None:
        self.connection.close()


# --- ClickHouse (a server, or chDB in process) -----------------------------------------------


@dataclass
class ClickHouseTarget:
    """A ClickHouse server as a `clickhouse://` URL names it; `client_args()` are the
    `clickhouse_connect.get_client` arguments."""

    host: str = "localhost"
    port: int = 8123
    username: str = "default"
    password: str = ""
    database: str = "default"
    secure: bool = False
    settings: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_url(cls, url: str) -> "ClickHouseTarget":
        """`clickhouse://user:pass@host:8123/db?setting=value` (`clickhouses://`, or
        `?secure=true`, for HTTPS, default port 8443). User and password are URL-decoded."""
        parts = urlsplit(url)
        if parts.scheme not in ("clickhouse", "clickhouses"):
            raise ValueError(f"not a clickhouse:// URL: {url!r}")
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        secure = parts.scheme == "clickhouses" or \
            query.pop("secure", "false").lower() in ("1", "true", "yes")
        database = unquote(parts.path.lstrip("/")) or "default"
        if "/" in database or not _DATABASE_NAME.match(database):
            raise ValueError(f"not a ClickHouse database name: {database!r}")
        try:
            port = parts.port
        except ValueError:
            raise ValueError(f"not a port number in {url!r}") from None
        return cls(host=parts.hostname or "localhost", port=port or (8443 if secure else 8123),
                   username=unquote(parts.username) if parts.username else "default",
                   password=unquote(parts.password) if parts.password else "",
                   database=database, secure=secure, settings=query)

    def client_args(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port, "username": self.username,
                "password": self.password, "database": self.database, "secure": self.secure,
                "interface": "https" if self.secure else "http",
                # No server session: the engine runs queries from many threads at once, and a
                # ClickHouse session takes one query at a time. Settings go with each query.
                "autogenerate_session_id": False,
                "settings": dict(self.settings)}

    def __repr__(self) -> str:  # never print the password
        scheme = "clickhouses" if self.secure else "clickhouse"
        return f"{scheme}://{self.username}@{self.host}:{self.port}/{self.database}"


class ClickHouseBackend(Backend):
    """ClickHouse through a clickhouse-connect client (HTTP, or chDB's in-process transport).

    `client` reads `database` (its default database); `connect(database)` makes a client for
    another database of the same server (what `for_tenant` uses). `settings` are added to the
    dialect's session settings on every query."""

    name = "clickhouse"
    db_type = "clickhouse"
    dialect = CLICKHOUSE

    def __init__(self, client: Any, database: str | None = None,
                 settings: dict[str, Any] | None = None, kill_on_interrupt: bool = True,
                 target: ClickHouseTarget | None = None,
                 connect: Callable[[str], Any] | None = None):
        self.client = client
        self.database = database
        self.target = target
        self.settings = {**self.dialect.SESSION_SETTINGS, **(settings or {})}  # type: ignore
        self._connect = connect
        self.connection = ClickHouseConnection(self, kill_on_interrupt)

    @classmethod
    def from_url(cls, url: str, **client_args: Any) -> "ClickHouseBackend":
        """Connect to the server a `clickhouse://` URL names (clickhouse-connect needed)."""
        target = ClickHouseTarget.from_url(url)
        clickhouse_connect = _import_clickhouse_connect()

        def connect(database: str) -> Any:
            try:
                return clickhouse_connect.get_client(
                    **{**target.client_args(), "database": database, **client_args})
            except Exception as exc:
                if not _is_clickhouse_error(exc):
                    raise
                shown = f"{target!r}".rsplit("/", 1)[0] + f"/{database}"
                raise ModelError(f"cannot use ClickHouse at {shown}: "
                                 f"{clickhouse_message(exc)}") from None
        return cls(connect(target.database), target.database, target=target, connect=connect)

    def query_settings(self, query_id: str | None = None) -> dict[str, Any]:
        """What goes with one query: the session settings and the query's id."""
        settings = dict(self.settings)
        if query_id is not None:
            settings["query_id"] = query_id
        return settings

    def for_tenant(self, tenant: str) -> "ClickHouseBackend":
        """Tenant `tenant`'s data: the database of that name on the same server (GitLab's
        tenants are `gitlab_project_<id>`, see `tenant_database`), through a client of its own."""
        if not isinstance(tenant, str) or not _DATABASE_NAME.match(tenant):
            raise ValueError(f"not a tenant database name: {tenant!r}")
        if self._connect is None:
            raise NotImplementedError("this backend was given a client, not a way to connect")
        twin = type(self).__new__(type(self))
        twin.__dict__.update(self.__dict__)
        twin.database = tenant
        twin.client = self._connect(tenant)
        twin.connection = ClickHouseConnection(twin, self.connection.kill_on_interrupt)
        if hasattr(twin, "_owns_database"):
            twin._owns_database = False
        return twin

    def databases(self) -> list[str]:
        """Every database on the server (to tell a tenant that exists from one that does not)."""
        return [row[0] for row in self.run("SELECT name FROM system.databases ORDER BY name")]

    def tables(self) -> list[str]:
        return [row[0] for row in self.run(
            "SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name")]

    def close(self) -> None:
        self.client.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.target or self.name} database={self.database}>"


class ClickHouseConnection:
    """The DuckDB-connection shape `engine.run.execute` drives, over a clickhouse-connect client."""

    def __init__(self, backend: ClickHouseBackend, kill_on_interrupt: bool = True):
        self.backend = backend
        self.kill_on_interrupt = kill_on_interrupt

    def cursor(self) -> "ClickHouseCursor":
        return ClickHouseCursor(self)

    def execute(self, sql: str, params: list | dict | None = None) -> "ClickHouseCursor":
        return self.cursor().execute(sql, params)

    def close(self) -> None:
        pass


class ClickHouseCursor:
    """One statement at a time. Bound values are a list (placeholder `{pN: Type}` is item N) or
    a dict by name; the server parses each as its placeholder's type."""

    def __init__(self, connection: ClickHouseConnection):
        self.connection = connection
        self._rows: list[tuple] = []
        self._query_id: str | None = None
        self._interrupted = False
        self.description: list[tuple] | None = None

    def execute(self, sql: str, params: list | dict | None = None) -> "ClickHouseCursor":
        backend = self.connection.backend
        self._query_id = uuid.uuid4().hex
        try:
            result = backend.client.query(sql, parameters=bind_parameters(params),
                                          settings=backend.query_settings(self._query_id))
        except Exception as exc:  # clickhouse_connect's errors, whatever the transport
            if self._interrupted:
                # What engine.run.execute.Execution reads as "the timeout fired".
                raise duckdb.InterruptException("INTERRUPT Error: Interrupted!") from None
            if not _is_clickhouse_error(exc):
                raise
            raise DatabaseError(clickhouse_message(exc)) from None
        finally:
            query_id, self._query_id = self._query_id, None
        if self._interrupted:
            raise duckdb.InterruptException("INTERRUPT Error: Interrupted!")
        self.description = [(name, type_.name) for name, type_ in
                            zip(result.column_names, result.column_types)]
        self._rows = [tuple(row) for row in result.result_rows]
        return self

    def fetchall(self) -> list[tuple]:
        return self._rows

    def fetchone(self) -> tuple | None:
        return self._rows[0] if self._rows else None

    def interrupt(self) -> None:
        """Stop the running statement (from another thread). On a server: KILL QUERY by its id.
        chDB runs one statement at a time and cannot be interrupted: the statement finishes,
        then reports the interruption."""
        self._interrupted = True
        query_id = self._query_id
        if query_id is None or not self.connection.kill_on_interrupt:
            return
        try:
            self.connection.backend.client.command(
                "KILL QUERY WHERE query_id = {query_id:String} ASYNC",
                parameters={"query_id": query_id})
        except Exception:  # best effort: the statement fails as interrupted either way
            pass

    def close(self) -> None:
        self._rows = []


def bind_parameters(params: list | tuple | dict | None) -> dict[str, Any] | None:
    """Compiled parameters (a list, the value of `{pN: Type}` at index N-1) as the dict
    clickhouse-connect binds on the server; None when there are none."""
    if not params:
        return None
    if isinstance(params, dict):
        return dict(params)
    return {f"p{index}": value for index, value in enumerate(params, start=1)}


_VERSION_TRAILER = re.compile(r"\s*\(version [^)]*\)\s*$")


def clickhouse_message(exc: Exception) -> str:
    """The server's own message (`Code: 47. DB::Exception: ...`), without the driver's preamble
    or the version trailer."""
    text = str(exc).strip()
    start = text.find("Code: ")
    if start > 0:
        text = text[start:]
    return _VERSION_TRAILER.sub("", text.splitlines()[0] if text else text).strip()


def _is_clickhouse_error(exc: Exception) -> bool:
    try:
        from clickhouse_connect.driver.exceptions import ClickHouseError
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, ClickHouseError)


def _import_clickhouse_connect():
    try:
        import clickhouse_connect
    except ImportError:
        raise ModelError("the ClickHouse backends need clickhouse-connect (and chdb for "
                         "`--backend chdb`): pip install 'duckcube[clickhouse]'") from None
    return clickhouse_connect


# --- chDB: ClickHouse in process -------------------------------------------------------------

_CHDB_DATABASES = itertools.count(1)
_CHDB_LOCK = threading.Lock()
_CHDB_ANCHOR: list = []


def _chdb_anchor(clickhouse_connect: Any) -> Any:
    """A chDB client kept open for the life of the process: chDB's in-memory engine (and every
    table loaded into it) goes away when its last client closes."""
    with _CHDB_LOCK:
        if not _CHDB_ANCHOR:
            _CHDB_ANCHOR.append(clickhouse_connect.get_client(interface="chdb"))
        return _CHDB_ANCHOR[0]


class ChdbBackend(ClickHouseBackend):
    """Embedded ClickHouse (chDB) over the same data inputs as the DuckDB backend: a directory
    whose `*.parquet` / `*.csv` files (subfolders too) become tables named by file stem, a DuckDB
    database file or open connection (its tables are copied over through Parquet), or None.

    chDB keeps one engine per process; each backend gets a database of its own on it
    (`database`, or a fresh `duckcube_<pid>_<n>`), dropped by `close()` when it made it.
    Tables are MergeTree tables in file order; `threads=1` (the default) reads them with one
    thread, so answers, tie order included, are the same run after run."""

    name = "chdb"

    def __init__(self, data: str | Path | duckdb.DuckDBPyConnection | None = None,
                 threads: int | None = 1,
                 database: str | None = None, settings: dict[str, Any] | None = None):
        clickhouse_connect = _import_clickhouse_connect()
        try:
            import chdb  # noqa: F401  (clickhouse-connect's chdb transport needs it)
        except ImportError:
            raise ModelError("`--backend chdb` needs chdb: pip install 'duckcube[clickhouse]'") \
                from None
        extra = dict(settings or {})
        if threads is not None:
            extra.setdefault("max_threads", int(threads))
        self._owns_database = database is None
        database = database or f"duckcube_{os.getpid()}_{next(_CHDB_DATABASES)}"
        if not _DATABASE_NAME.match(database):
            raise ValueError(f"not a database name: {database!r}")

        def connect(name: str) -> Any:
            # Every chDB client shares the process's one engine; each has its own USE database.
            with _CHDB_LOCK:
                return clickhouse_connect.get_client(interface="chdb", database=name)
        _chdb_anchor(clickhouse_connect).command(f"CREATE DATABASE IF NOT EXISTS `{database}`")
        super().__init__(connect(database), database, extra, kill_on_interrupt=False,
                         connect=connect)
        if isinstance(data, duckdb.DuckDBPyConnection):
            self.load_duckdb(data)
        elif data is not None:
            path = Path(data)
            if path.is_dir():
                self.load_directory(path)
            elif path.is_file():
                con = duckdb.connect(str(path), read_only=True)
                try:
                    self.load_duckdb(con)
                finally:
                    con.close()
            else:
                raise ModelError(f"database not found: {path}")

    def load_duckdb(self, con: duckdb.DuckDBPyConnection, database: str | None = None) -> list[str]:
        """Every table and view of a DuckDB database's main schema, copied through Parquet."""
        cursor = con.cursor()
        try:
            names = [row[0] for row in cursor.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
                "ORDER BY table_name").fetchall() if _TABLE_NAME.match(row[0])]
            with tempfile.TemporaryDirectory(prefix="duckcube-chdb-") as folder:
                for name in names:
                    target = str(Path(folder) / f"{name}.parquet").replace("'", "''")
                    cursor.execute(f'COPY (SELECT * FROM "{name}") TO \'{target}\' '
                                   "(FORMAT PARQUET)")
                return self.load_directory(Path(folder), database)
        finally:
            cursor.close()

    def load_directory(self, directory: Path, database: str | None = None) -> list[str]:
        """Every `*.parquet` / `*.csv` below `directory` (subfolders included, in the order
        `engine.run.execute.attach_directory` reads them) as a MergeTree table named after the file
        (columns Nullable, as DuckDB's are; rows kept in file order)."""
        database = database or self.database
        if database != self.database:
            self.client.command(f"CREATE DATABASE IF NOT EXISTS `{database}`")
        names = []
        for file in sorted(Path(directory).rglob("*")):
            if (file.suffix not in (".parquet", ".csv") or not file.is_file()
                    or not _TABLE_NAME.match(file.stem)):
                continue
            fmt = "Parquet" if file.suffix == ".parquet" else "CSVWithNames"
            literal = str(file.resolve()).replace("\\", "\\\\").replace("'", "\\'")
            self.client.command(
                f"CREATE OR REPLACE TABLE `{database}`.`{file.stem}` ENGINE = MergeTree "
                f"ORDER BY tuple() AS SELECT * FROM file('{literal}', {fmt})",
                settings={"schema_inference_make_columns_nullable": 1,
                          "input_format_parquet_preserve_order": 1,
                          "max_threads": 1, "max_insert_threads": 1,
                          "session_timezone": "UTC"})
            names.append(file.stem)
        return names

    def close(self) -> None:
        try:
            if self._owns_database:
                self.client.command(f"DROP DATABASE IF EXISTS `{self.database}`")
        finally:
            self.client.close()


# --- choosing one --------------------------------------------------------------------------------

BACKENDS = ("duckdb", "chdb", "clickhouse://user:password@host:8123/database")


def open_backend(spec: str | Backend | None = None, database: Any = None,
                 threads: int | None = 1, memory_limit: str | None = "auto") -> Backend:
    """The backend `spec` names (`duckdb`, the default; `chdb`; a `clickhouse://` URL) over
    `database` (DuckDB and chDB: the data inputs; a ClickHouse server has its data already).
    `memory_limit` is DuckDB's (see `engine.run.execute.connect`); the others ignore it."""
    if isinstance(spec, Backend):
        return spec
    if spec is None or spec == "duckdb":
        return DuckDBBackend(database, threads, memory_limit)
    if spec == "chdb":
        return ChdbBackend(database, threads)
    if isinstance(spec, str) and spec.split(":", 1)[0] in ("clickhouse", "clickhouses"):
        if database is not None:
            raise ModelError("a ClickHouse server has its own data: --db does not apply to "
                             "--backend clickhouse://...")
        return ClickHouseBackend.from_url(spec)
    raise ValueError(f"unknown backend {spec!r}: use one of {', '.join(BACKENDS)}")
