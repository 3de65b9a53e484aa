"""Property tests across backends: any valid query (engine.testing draws them from the
conformance model and data) answers the same on ClickHouse (chDB) as on DuckDB.

Compared: every row and value as Cube prints it, `total`, and errors (status and body). Rows
that tie on every ORDER BY key may come in either order, and `limit` / `offset` are left out of
the drawn queries: with ties, which rows a page holds is as open as their order. Approximate
distinct counts are not in this model (they are estimates by different algorithms; see
test_ch_dialects). The draw is derandomized: CI runs the same queries every time."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from clickhouse_kit import CONFORMANCE, RECORDED_AT, BackendEngine, needs_chdb

needs_chdb()

from engine import CubeError, Engine  # noqa: E402
from engine.compile.plan import build_plan  # noqa: E402
from engine.query import normalize_query  # noqa: E402
from engine.testing import FEATURES, queries  # noqa: E402

from test_conformance_chdb import suite  # noqa: E402

DUCKDB_ENGINE = Engine(models=CONFORMANCE / "model", database=CONFORMANCE / "data",
                       now=RECORDED_AT)


@pytest.fixture(scope="module")
def clickhouse_engine(chdb_conformance):
    return BackendEngine(CONFORMANCE / "model", chdb_conformance, now=RECORDED_AT)


def _answer(engine: Engine, query: dict):
    try:
        body = engine.load(query)
    except CubeError as error:
        return ("error", error.status, error.body)
    plan = build_plan(engine.model, normalize_query(dict(query), engine.now()))
    keys = [column.key for column, _ in plan.order]
    return ("data", suite._ties_unordered(body["data"], keys), body.get("total"))


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(query=queries(DUCKDB_ENGINE, features=FEATURES - {"limit", "offset"}))
def test_clickhouse_answers_every_query_like_duckdb(clickhouse_engine, query):
    assert _answer(clickhouse_engine, query) == _answer(DUCKDB_ENGINE, query), query
