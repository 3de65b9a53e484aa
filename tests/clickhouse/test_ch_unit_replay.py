"""The unit tests of cumulative measures (rolling windows, running totals, to-date) and custom
granularities, run again on ClickHouse (chDB): their expected answers are computed in Python
from the raw rows, so they check ClickHouse's series of buckets, window joins, interval
arithmetic and bucketing from an origin, not just agreement with DuckDB.

Each test function of tests/unit/test_cumulative.py and tests/unit/test_granularities.py that
takes the engine is collected here too, with the engine fixture replaced by one on chDB."""

from __future__ import annotations

import importlib.util
import inspect

import pytest

from clickhouse_kit import CONFORMANCE, TESTS, BackendEngine, needs_chdb

needs_chdb()


def _unit_module(name: str):
    spec = importlib.util.spec_from_file_location(f"chdb_replay_{name}",
                                                  TESTS / "unit" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


cumulative = _unit_module("test_cumulative")
granularities = _unit_module("test_granularities")


def _engine_on_chdb(tmp_path_factory, backend, model_text: str) -> BackendEngine:
    models = tmp_path_factory.mktemp("models")
    (models / "orders.yml").write_text(model_text)
    return BackendEngine(models, backend, now="2026-11-22T11:10:14Z")


@pytest.fixture(scope="module")
def engine(tmp_path_factory, chdb_conformance):
    return _engine_on_chdb(tmp_path_factory, chdb_conformance, cumulative.MODEL)


@pytest.fixture(scope="module")
def custom(tmp_path_factory, chdb_conformance):
    return _engine_on_chdb(tmp_path_factory, chdb_conformance, granularities.MODEL)


orders = cumulative.orders  # the raw rows, read through the chDB connection


def _collect(module, fixture: str) -> dict:
    return {f"{name}_on_clickhouse": function for name, function in vars(module).items()
            if name.startswith("test_") and callable(function)
            and fixture in inspect.signature(function).parameters}


REPLAYED = {**_collect(cumulative, "engine"), **_collect(granularities, "custom")}
globals().update(REPLAYED)


def test_the_replayed_tests_are_collected():
    assert len(REPLAYED) >= 13


def test_the_engine_really_runs_on_clickhouse(engine):
    assert engine.load({"measures": ["Orders.count"]})["dbType"] == "clickhouse"
    assert CONFORMANCE.is_dir()
