"""ClickHouse tests run on chDB (embedded ClickHouse) through clickhouse-connect: both come with
`pip install -e '.[clickhouse]'`. Modules that need them skip without them (`needs_chdb`)."""

import pytest

from clickhouse_kit import CONFORMANCE

from engine.run.backends import DuckDBBackend


@pytest.fixture(scope="session")
def chdb_conformance():
    """chDB loaded with the conformance dataset (one database for the whole session)."""
    from engine.run.backends import ChdbBackend
    backend = ChdbBackend(CONFORMANCE / "data")
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def duckdb_conformance():
    backend = DuckDBBackend(CONFORMANCE / "data")
    yield backend
    backend.close()
