"""The compile cache: a repeated query skips planning and SQL generation, and never answers
differently for it (new clock, new model, other values, other time zone)."""

import os
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from engine import Engine
from engine.model import load_model
from engine.api.store import ModelStore

CONFORMANCE = Path(__file__).resolve().parents[1] / "conformance"
RECORDED_AT = "2026-11-22T11:10:14Z"

BY_STATUS = {"measures": ["Orders.count", "Orders.totalAmount"], "dimensions": ["Orders.status"],
             "order": [["Orders.status", "asc"]]}


class Clock:
    """A clock a test moves."""

    def __init__(self, at: str):
        self.at = datetime.fromisoformat(at.replace("Z", "+00:00"))

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture()
def fresh() -> Engine:
    return Engine(models=CONFORMANCE / "model", database=CONFORMANCE / "data", now=RECORDED_AT)


def test_second_identical_load_is_served_from_the_cache_with_the_same_body(fresh):
    first = fresh.load(BY_STATUS)
    assert fresh.compile_cache_info()["misses"] == 1
    second = fresh.load(BY_STATUS)
    assert fresh.compile_cache_info() == {"hits": 1, "misses": 1, "size": 1, "limit": 512}
    assert second["data"] == first["data"] and second["data"]
    assert second["query"] == first["query"] and second["annotation"] == first["annotation"]


def test_sql_and_dry_run_share_the_cache_and_answer_the_same(fresh):
    sql = fresh.sql(BY_STATUS)
    dry = fresh.dry_run(BY_STATUS)
    assert fresh.sql(BY_STATUS) == sql and fresh.dry_run(BY_STATUS) == dry
    assert fresh.compile_cache_info()["size"] == 1


def test_mutating_a_returned_body_does_not_reach_the_cache(fresh):
    body = fresh.sql(BY_STATUS)["sql"]
    expected = fresh.sql(BY_STATUS)["sql"]
    body["sql"][1].append("poison")
    body["aliasNameToMember"]["x"] = "y"
    body["order"]["x"] = "asc"
    fresh.dry_run(BY_STATUS)["queryOrder"][0]["x"] = "asc"
    assert fresh.sql(BY_STATUS)["sql"] == expected


def test_other_values_compile_their_own_sql(fresh):
    def status(values):
        return {"measures": ["Orders.count"], "filters": [
            {"member": "Orders.status", "operator": "equals", "values": values}]}
    answers = [fresh.load(status(values))["data"]
               for values in (["completed"], ["processing"], ["completed"], [None])]
    assert answers == [[{"Orders.count": "29"}], [{"Orders.count": "32"}],
                       [{"Orders.count": "29"}], [{"Orders.count": "0"}]]
    assert fresh.compile_cache_info() == {"hits": 1, "misses": 3, "size": 3, "limit": 512}


def test_same_range_in_another_time_zone_is_another_entry(fresh):
    def in_zone(zone):
        return {"measures": ["Orders.count"], "timezone": zone, "timeDimensions": [
            {"dimension": "Orders.createdAt", "dateRange": ["2026-11-01", "2026-11-10"]}]}
    utc = fresh.sql(in_zone("UTC"))["sql"]["sql"][1]
    tokyo = fresh.sql(in_zone("Asia/Tokyo"))["sql"]["sql"][1]
    assert utc != tokyo


def test_relative_date_range_compiles_new_bounds_when_the_clock_moves():
    clock = Clock("2026-11-22T11:10:14Z")
    engine = Engine(models=CONFORMANCE / "model", database=CONFORMANCE / "data", now=clock)
    today = {"measures": ["Orders.count"],
             "timeDimensions": [{"dimension": "Orders.createdAt", "dateRange": "Today"}]}
    before = engine.sql(today)["sql"]["sql"][1]
    assert engine.sql(today)["sql"]["sql"][1] == before  # same day: a cache hit
    assert engine.compile_cache_info()["hits"] == 1
    clock.at += timedelta(days=1)
    after = engine.sql(today)["sql"]["sql"][1]
    assert before[:2] == ["2026-11-22T00:00:00.000", "2026-11-22T23:59:59.999"]
    assert after[:2] == ["2026-11-23T00:00:00.000", "2026-11-23T23:59:59.999"]
    # And the answers are those of a fresh engine at the new time.
    reference = Engine(models=CONFORMANCE / "model", database=CONFORMANCE / "data",
                       now=clock.at)
    assert engine.load(today)["data"] == reference.load(today)["data"]


def test_relative_comparison_value_follows_the_clock():
    # `gt ["yesterday"]` keeps its value in the echo; normalization resolves its bound
    # (`Filter.bounds`), which is part of the cache key, so a new day is a new entry.
    clock = Clock("2026-11-22T11:10:14Z")
    engine = Engine(models=CONFORMANCE / "model", database=CONFORMANCE / "data", now=clock)
    query = {"measures": ["Orders.count"], "filters": [
        {"member": "Orders.createdAt", "operator": "gt", "values": ["yesterday"]}]}
    before = engine.sql(query)["sql"]["sql"][1][0]
    assert engine.sql(query)["sql"]["sql"][1][0] == before  # same clock: a cache hit
    assert engine.compile_cache_info()["hits"] == 1
    clock.at += timedelta(days=3)
    after = engine.sql(query)["sql"]["sql"][1][0]
    assert (before, after) == ("2026-11-21T00:00:00.000", "2026-11-24T00:00:00.000")


def _write_model(directory: Path, sql: str) -> None:
    directory.mkdir(exist_ok=True)
    (directory / "items.yml").write_text(f"""cubes:
  - name: Items
    sql_table: items
    measures:
      - name: total
        type: sum
        sql: "{sql}"
    dimensions:
      - name: id
        sql: id
        type: number
        primary_key: true
""")


@pytest.fixture()
def items() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE TABLE items AS SELECT range AS id, range AS v FROM range(1, 5)")
    return con


def test_a_new_model_never_reuses_sql_compiled_for_the_old_one(tmp_path, items):
    _write_model(tmp_path / "a", "v")
    _write_model(tmp_path / "b", "v * 10")
    engine = Engine(models=tmp_path / "a", database=items)
    query = {"measures": ["Items.total"]}
    assert engine.load(query)["data"] == [{"Items.total": "10"}]
    assert engine.load(query)["data"] == [{"Items.total": "10"}]
    engine.model = load_model(tmp_path / "b")
    assert engine.load(query)["data"] == [{"Items.total": "100"}]
    assert engine.compile_cache_info() == {"hits": 0, "misses": 1, "size": 1, "limit": 512}


def test_a_hot_reload_never_reuses_sql_compiled_for_the_old_files(tmp_path, items):
    folder = tmp_path / "models"
    _write_model(folder, "v")
    engine = Engine(models=ModelStore(folder, watch=True), database=items)
    query = {"measures": ["Items.total"]}
    assert engine.load(query)["data"] == [{"Items.total": "10"}]
    _write_model(folder, "v * 10")
    file = folder / "items.yml"
    stat = file.stat()
    os.utime(file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # a distinct mtime
    engine.model_store.refresh()
    assert engine.load(query)["data"] == [{"Items.total": "100"}]


def test_the_cache_is_bounded_least_recently_used_first(items, tmp_path):
    _write_model(tmp_path / "a", "v")
    engine = Engine(models=tmp_path / "a", database=items, compile_cache=2)
    queries = [{"measures": ["Items.total"], "limit": n} for n in (1, 2, 3)]
    for query in queries:
        engine.load(query)
    engine.load(queries[2])
    assert engine.compile_cache_info() == {"hits": 1, "misses": 3, "size": 2, "limit": 2}
    engine.load(queries[0])  # dropped: compiled again
    assert engine.compile_cache_info()["misses"] == 4


def test_a_zero_size_cache_compiles_every_time(items, tmp_path):
    _write_model(tmp_path / "a", "v")
    engine = Engine(models=tmp_path / "a", database=items, compile_cache=0)
    for _ in range(2):
        assert engine.load({"measures": ["Items.total"]})["data"] == [{"Items.total": "10"}]
    assert engine.compile_cache_info() == {"hits": 0, "misses": 2, "size": 0, "limit": 0}

