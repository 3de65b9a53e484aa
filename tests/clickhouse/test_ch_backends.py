"""engine/backends.py: choosing a backend, ClickHouse URLs and tenants, what is sent to a
ClickHouse server, errors and interruption, and chDB loading the same inputs as DuckDB.

No ClickHouse server is available to the tests: the server path is checked up to the
clickhouse-connect calls (a stand-in client records them, and clickhouse-connect's own binding
shows the HTTP parameters it would send). The same ClickHouseBackend code runs for real on chDB
(clickhouse-connect's in-process transport) in every other test of this directory."""

from __future__ import annotations

import threading
import time

import pytest

from clickhouse_kit import CONFORMANCE, TESTS, needs_chdb

needs_chdb()

from clickhouse_connect.driver.binding import bind_query  # noqa: E402
from clickhouse_connect.driver.exceptions import DatabaseError as DriverError  # noqa: E402

from engine.run.backends import (ChdbBackend, ClickHouseBackend, ClickHouseTarget,  # noqa: E402
                             DuckDBBackend, bind_parameters, clickhouse_message, open_backend,
                             tenant_database)
from engine.compile.dialects import CLICKHOUSE, DUCKDB  # noqa: E402
from engine.errors import DatabaseError, ModelError  # noqa: E402
from engine.run.execute import Execution, QueryTimeout, run  # noqa: E402
from engine.respond.rows import format_value  # noqa: E402

# --- URLs ----------------------------------------------------------------------------------------


def test_url_names_server_user_password_and_database():
    target = ClickHouseTarget.from_url("clickhouse://analytics:p%40ss%2Fw0rd@ch.internal:8123/"
                                       "gitlab_project_42")
    assert (target.host, target.port, target.username, target.password, target.database,
            target.secure) == ("ch.internal", 8123, "analytics", "p@ss/w0rd", "gitlab_project_42",
                               False)
    assert "p@ss" not in repr(target)


def test_url_defaults_and_https():
    assert ClickHouseTarget.from_url("clickhouse://localhost").client_args() == {
        "host": "localhost", "port": 8123, "username": "default", "password": "",
        "database": "default", "secure": False, "interface": "http",
        "autogenerate_session_id": False, "settings": {}}
    secure = ClickHouseTarget.from_url("clickhouses://u:p@ch.example.com/db")
    assert (secure.port, secure.secure, secure.client_args()["interface"]) == (8443, True, "https")
    flagged = ClickHouseTarget.from_url("clickhouse://u@h:9440/db?secure=true&max_threads=8")
    assert (flagged.port, flagged.secure, flagged.settings) == (9440, True, {"max_threads": "8"})


@pytest.mark.parametrize("url,message", [
    ("postgres://u@h/db", "not a clickhouse:// URL"),
    ("clickhouse://u@h/db/extra", "not a ClickHouse database name"),
    ("clickhouse://u@h/ba d", "not a ClickHouse database name"),
    ("clickhouse://u@h:port/db", "not a port number"),
])
def test_bad_urls_are_refused(url, message):
    with pytest.raises(ValueError, match=message):
        ClickHouseTarget.from_url(url)


# --- what goes to the server ---------------------------------------------------------------------


class _Result:
    def __init__(self, rows, names=("value",), types=("String",)):
        self.result_rows = rows
        self.column_names = names
        self.column_types = [type("T", (), {"name": t})() for t in types]


class RecordingClient:
    """Stands in for a clickhouse-connect client: records calls, answers `rows`."""

    def __init__(self, rows=(), error: Exception | None = None,
                 block: threading.Event | None = None):
        self.queries: list[tuple] = []
        self.commands: list[tuple] = []
        self.rows = list(rows)
        self.error = error
        self.block = block
        self.closed = False

    def query(self, sql, parameters=None, settings=None):
        self.queries.append((sql, parameters, settings))
        if self.block is not None:
            self.block.wait(5)
        if self.error is not None:
            raise self.error
        return _Result(self.rows)

    def command(self, sql, parameters=None, settings=None):
        self.commands.append((sql, parameters))
        if self.block is not None:
            self.block.set()

    def close(self):
        self.closed = True


@pytest.fixture
def connected(monkeypatch):
    """`ClickHouseBackend.from_url` with clickhouse_connect.get_client recording its calls."""
    import clickhouse_connect
    clients: list[tuple[dict, RecordingClient]] = []

    def get_client(**kwargs):
        client = RecordingClient(rows=[("ok",)])
        clients.append((kwargs, client))
        return client
    monkeypatch.setattr(clickhouse_connect, "get_client", get_client)
    return clients


def test_from_url_connects_with_the_url_and_no_server_session(connected):
    backend = open_backend("clickhouse://analytics:secret@ch.internal:8123/gitlab_project_7")
    assert isinstance(backend, ClickHouseBackend) and backend.dialect is CLICKHOUSE
    [(kwargs, _)] = connected
    assert kwargs == {"host": "ch.internal", "port": 8123, "username": "analytics",
                      "password": "secret", "database": "gitlab_project_7", "secure": False,
                      "interface": "http", "autogenerate_session_id": False, "settings": {}}
    assert backend.db_type == "clickhouse"


def test_a_server_that_cannot_be_reached_is_a_model_error_without_the_password():
    """The real HTTP client, against a closed port: what `duckcube serve` prints and exits on."""
    with pytest.raises(ModelError) as raised:
        open_backend("clickhouse://analytics:secret@127.0.0.1:1/gitlab_project_7")
    message = str(raised.value)
    assert message.startswith("cannot use ClickHouse at clickhouse://analytics@127.0.0.1:1/"
                              "gitlab_project_7: ") and "secret" not in message


def test_compiled_query_is_sent_with_typed_parameters_and_session_settings(connected):
    backend = open_backend("clickhouse://ch.internal/default")
    sql = "SELECT count() FROM events WHERE name = {p1: String} LIMIT {p2: UInt64}"
    assert backend.run(sql, ["it's", 10]) == [("ok",)]
    [(sent, parameters, settings)] = connected[0][1].queries
    assert (sent, parameters) == (sql, {"p1": "it's", "p2": 10})
    assert settings["join_use_nulls"] == 1 and settings["session_timezone"] == "UTC"
    assert len(settings["query_id"]) == 32
    # What clickhouse-connect then sends over HTTP: the SQL as is, values as server-side binds.
    assert bind_query(sent, parameters) == (sql, {"param_p1": "it\\'s", "param_p2": "10"})


def test_tenants_are_databases_on_the_same_server(connected):
    backend = open_backend("clickhouse://u:p@ch.internal:8123/default")
    tenant = backend.for_tenant(tenant_database(42))
    assert tenant.database == "gitlab_project_42" and backend.database == "default"
    assert [kwargs["database"] for kwargs, _ in connected] == ["default", "gitlab_project_42"]
    assert connected[1][0]["host"] == "ch.internal"
    with pytest.raises(ValueError, match="not a tenant database name"):
        backend.for_tenant("../etc")


def test_tenant_database_names():
    assert tenant_database(42) == tenant_database("42") == "gitlab_project_42"
    with pytest.raises(ValueError):
        tenant_database("42; DROP")


def test_server_errors_are_400_with_the_server_message():
    text = ("HTTPDriver for http://ch:8123 received ClickHouse error code 60\n Code: 60. "
            "DB::Exception: Unknown table expression identifier 'nope'. (UNKNOWN_TABLE) "
            "(version 25.3.1.1)")
    assert clickhouse_message(DriverError(text)) == \
        "Code: 60. DB::Exception: Unknown table expression identifier 'nope'. (UNKNOWN_TABLE)"
    backend = ClickHouseBackend(RecordingClient(error=DriverError(text)))
    with pytest.raises(DatabaseError) as raised:
        backend.run("SELECT 1")
    assert raised.value.status == 400
    assert raised.value.body["error"].startswith("Error: Code: 60. DB::Exception: Unknown table")


def test_timeout_kills_the_running_query_by_its_id():
    started = threading.Event()
    client = RecordingClient(block=started)
    backend = ClickHouseBackend(client)
    execution = Execution(timeout=0.05)
    with pytest.raises(QueryTimeout):
        execution.run(backend.connection, "SELECT sleep(3)", [])
    execution.finish()
    [(kill, parameters)] = client.commands
    assert kill == "KILL QUERY WHERE query_id = {query_id:String} ASYNC"
    assert parameters["query_id"] == client.queries[0][2]["query_id"]


def test_parameters_by_position_become_names():
    assert bind_parameters(["a", 1]) == {"p1": "a", "p2": 1}
    assert bind_parameters([]) is None and bind_parameters({"x": 1}) == {"x": 1}


# --- choosing a backend --------------------------------------------------------------------------


def test_open_backend_by_name():
    duck = open_backend(None, CONFORMANCE / "data")
    assert isinstance(duck, DuckDBBackend) and duck.dialect is DUCKDB
    assert duck.run("SELECT count(*) FROM orders") == [(120,)]
    assert open_backend(duck) is duck
    with pytest.raises(ValueError, match="unknown backend 'oracle'"):
        open_backend("oracle")
    with pytest.raises(ModelError, match="--db does not apply"):
        open_backend("clickhouse://h/db", CONFORMANCE / "data")


def test_chdb_backend_runs_through_the_engine_execution_path(chdb_conformance):
    assert run(chdb_conformance.connection, "SELECT count() FROM orders WHERE id > {p1: UInt64}",
               [100]) == [(20,)]
    assert chdb_conformance.tables() == ["orders", "sessions", "tracked_events", "users"]
    assert chdb_conformance.database in chdb_conformance.databases()


def test_refresh_key_sql_written_for_duckdb_runs_on_clickhouse(chdb_conformance):
    sql = "SELECT FLOOR((EXTRACT(EPOCH FROM NOW())) / 10) as refresh_key"
    [(value,)] = chdb_conformance.run(chdb_conformance.model_sql(sql))
    assert abs(float(value) - time.time() / 10) < 2
    assert DuckDBBackend(None).model_sql(sql) == sql


# --- chDB loads what DuckDB loads ----------------------------------------------------------------


@pytest.mark.parametrize("directory", [CONFORMANCE / "data", TESTS / "check_models" / "data",
                                       TESTS.parent / "fixtures" / "data"])
def test_chdb_loads_parquet_and_csv_like_duckdb(directory):
    """Same tables, same rows in the same (file) order, values printing the same."""
    duck, house = DuckDBBackend(directory), ChdbBackend(directory)
    try:
        tables = [r[0] for r in duck.run("SELECT table_name FROM information_schema.tables "
                                         "ORDER BY 1")]
        assert house.tables() == tables
        for table in tables:
            def shaped(backend):
                return [[format_value(v) for v in row]
                        for row in backend.run(f"SELECT * FROM {table}")]
            assert shaped(house) == shaped(duck), table
    finally:
        house.close()
        duck.close()


def test_chdb_backend_is_a_database_of_its_own_until_closed(tmp_path):
    (tmp_path / "numbers.csv").write_text("n,label\n1,one\n2,\n")
    first, second = ChdbBackend(tmp_path), ChdbBackend(None)
    try:
        assert first.run("SELECT n, label FROM numbers ORDER BY n") == [(1, "one"), (2, None)]
        assert second.tables() == []
        name = first.database
    finally:
        first.close()
        second.close()
    other = ChdbBackend(None)
    try:
        assert name not in other.databases()
    finally:
        other.close()


def test_chdb_tenants_read_their_own_database(tmp_path):
    for project, count in ((1, 2), (2, 3)):
        folder = tmp_path / str(project)
        folder.mkdir()
        (folder / "events.csv").write_text("id\n" + "\n".join(str(i) for i in range(count)))
    house = ChdbBackend(tmp_path / "1", database=tenant_database(1))
    try:
        house.load_directory(tmp_path / "2", database=tenant_database(2))
        assert house.run("SELECT count() FROM events") == [(2,)]
        assert house.for_tenant("gitlab_project_2").run("SELECT count() FROM events") == [(3,)]
        assert {"gitlab_project_1", "gitlab_project_2"} <= set(house.databases())
    finally:
        house.run("DROP DATABASE gitlab_project_2")
        house.run("DROP DATABASE gitlab_project_1")
        house.close()


def test_chdb_loads_a_duckdb_database_file_or_connection(tmp_path):
    import duckdb
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE sales AS SELECT i AS id, i * 1.5::DECIMAL(10, 2) AS amount, "
                "TIMESTAMP '2024-01-01' + i * INTERVAL 1 HOUR AS at FROM range(5) t(i)")
    expected = [[format_value(v) for v in row] for row in con.execute(
        "SELECT * FROM sales").fetchall()]
    for source in (con, path):
        if source is path:
            con.close()
        house = ChdbBackend(source)
        try:
            assert [[format_value(v) for v in row]
                    for row in house.run("SELECT * FROM sales")] == expected
        finally:
            house.close()
    with pytest.raises(ModelError, match="database not found"):
        ChdbBackend(tmp_path / "missing.duckdb")
