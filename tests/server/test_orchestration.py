"""Result cache, refresh keys, cache modes, Continue wait and the hard timeout, in process.

A fake wall clock drives refresh keys; a DuckDB Python function `pause(ms)` makes a query as slow
as a test needs, without depending on the machine's speed."""

import threading
import time

import duckdb
import pytest

from engine import CubeError, Engine
from engine.run.cache import ContinueWait, QueryQueue, begin_stats

COUNT = {"measures": ["Items.count"]}
SLOW = {"measures": ["Slow.total"]}
ENDLESS = {"measures": ["Endless.total"]}


class Clock:
    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def model(tmp_path, refresh_key: str = "") -> str:
    (tmp_path / "model.yml").write_text(f"""\
cubes:
  - name: Items
    sql_table: items
{refresh_key}
    measures:
      - name: count
        type: count
    dimensions:
      - name: id
        sql: id
        type: number
        primary_key: true
  - name: Slow
    sql: "SELECT pause(300 + i * 0) AS v FROM range(1) t(i)"
    measures:
      - name: total
        type: sum
        sql: v
  - name: SlowItems
    sql: "SELECT id FROM items WHERE pause(100 + id * 0) > 0"
    measures:
      - name: count
        type: count
  - name: Endless
    sql: "SELECT i FROM range(1000000000000) t(i)"
    measures:
      - name: total
        type: sum
        sql: "hash(i) % 7"
""")
    return str(tmp_path)


def pause(ms: int) -> int:
    time.sleep(ms / 1000)
    return ms


@pytest.fixture
def con():
    con = duckdb.connect(":memory:")
    con.execute("CREATE TABLE items AS SELECT range AS id FROM range(1, 3)")
    con.create_function("pause", pause)
    return con


def make(tmp_path, con, refresh_key: str = "", **options):
    options.setdefault("cache", True)
    clock = Clock()
    engine = Engine(models=model(tmp_path, refresh_key), database=con, refresh_clock=clock,
                    queue=QueryQueue(workers=4), **options)
    return engine, clock


def count(engine, query=COUNT, **kwargs) -> str:
    return engine.load(query, **kwargs)["data"][0]["Items.count"]


def add_row(con) -> None:
    con.execute("INSERT INTO items SELECT max(id) + 1 FROM items")


def test_the_embedded_default_runs_every_query(tmp_path, con):
    engine = Engine(models=model(tmp_path), database=con)
    assert not engine.orchestrated and engine.cache is None
    assert count(engine) == "2"
    add_row(con)
    assert count(engine) == "3"


def test_default_refresh_key_is_a_new_value_every_10_seconds(tmp_path, con):
    engine, clock = make(tmp_path, con)
    clock.now = 1_000_000.0  # the start of a 10 s bucket
    assert count(engine) == "2"
    add_row(con)
    clock.now += 9.9
    stats = begin_stats()
    assert count(engine) == "2" and stats.cache == "hit"
    clock.now += 0.1
    assert count(engine) == "3"


def test_refresh_key_every(tmp_path, con):
    engine, clock = make(tmp_path, con, '    refresh_key:\n      every: "1 hour"')
    clock.now = 3600 * 300
    assert count(engine) == "2"
    add_row(con)
    clock.now += 3599
    assert count(engine) == "2"
    clock.now += 1
    assert count(engine) == "3"


def test_refresh_key_sql_is_rechecked_every_10_seconds_or_on_renew_query(tmp_path, con):
    engine, clock = make(tmp_path, con, '    refresh_key:\n      sql: "SELECT max(id) FROM items"')
    assert count(engine) == "2"
    add_row(con)
    clock.now += 5
    assert count(engine) == "2"  # the key is not checked again within 10 s
    assert count(engine, {**COUNT, "renewQuery": True}) == "3"  # renewQuery checks it now
    add_row(con)
    clock.now += 11
    assert count(engine) == "4"
    clock.now += 10_000
    stats = begin_stats()
    assert count(engine) == "4" and stats.cache == "hit"  # same data, same key: still cached


def test_refresh_key_sql_with_every_sets_the_check_interval(tmp_path, con):
    engine, clock = make(tmp_path, con,
                         '    refresh_key:\n      sql: "SELECT count(*) FROM items"\n'
                         '      every: "1 minute"')
    assert count(engine) == "2"
    add_row(con)
    clock.now += 30
    assert count(engine) == "2"
    clock.now += 31
    assert count(engine) == "3"


def test_immutable_refresh_key_never_expires(tmp_path, con):
    engine, clock = make(tmp_path, con, "    refresh_key:\n      immutable: true")
    assert count(engine) == "2"
    add_row(con)
    clock.now += 10 ** 7
    assert count(engine) == "2"
    assert count(engine, cache_mode="no-cache") == "3"


def test_no_cache_always_runs_the_query(tmp_path, con):
    engine, clock = make(tmp_path, con)
    assert count(engine) == "2"
    add_row(con)
    assert count(engine, {**COUNT, "cache": "no-cache"}) == "3"  # in the query, or
    add_row(con)
    assert count(engine, cache_mode="no-cache") == "4"  # as the request's `cache` parameter


def test_cache_is_keyed_by_the_normalized_query(tmp_path, con):
    engine, clock = make(tmp_path, con)
    assert count(engine) == "2"
    add_row(con)
    stats = begin_stats()
    # the same query spelled differently (defaults written out) is the same entry
    assert count(engine, {**COUNT, "limit": 10000, "timezone": "UTC"}) == "2"
    assert stats.cache == "hit"
    # a different query is not
    assert count(engine, {**COUNT, "limit": 5}) == "3"


def test_the_model_version_is_part_of_the_key(tmp_path, con):
    engine, clock = make(tmp_path, con)
    assert count(engine) == "2"
    add_row(con)
    engine.model = engine.model  # a new model (dev-mode reload does this)
    assert count(engine) == "3"


def test_tenants_do_not_share_cache_entries(tmp_path, con):
    other = duckdb.connect(":memory:")
    other.execute("CREATE TABLE items AS SELECT range AS id FROM range(1, 10)")
    other.create_function("pause", pause)
    shared = QueryQueue()
    a = Engine(models=model(tmp_path), database=con, cache=True, queue=shared, tenant="a")
    b = Engine(models=model(tmp_path), database=other, cache=a.cache, queue=shared, tenant="b")
    assert (count(a), count(b)) == ("2", "9")


def slow_until_done(engine, query=SLOW, **kwargs):
    waits = 0
    while True:
        try:
            return engine.load(query, **kwargs), waits
        except ContinueWait:
            waits += 1
            assert waits < 200


def test_continue_wait_then_the_retry_picks_the_result_up(tmp_path, con):
    engine, _ = make(tmp_path, con, cache=False, continue_wait=0.05)
    calls = []
    execute = engine._execute
    engine._execute = lambda *a: calls.append(1) or execute(*a)
    with pytest.raises(CubeError) as first:
        engine.load(SLOW)
    assert (first.value.status, first.value.body) == (200, {"error": "Continue wait"})
    body, waits = slow_until_done(engine)
    assert body["data"] == [{"Slow.total": "300"}]
    assert len(calls) == 1  # the retries joined the running query


def test_concurrent_identical_queries_run_once(tmp_path, con):
    engine, _ = make(tmp_path, con, cache=False, continue_wait=30)
    calls = []
    execute = engine._execute
    engine._execute = lambda *a: calls.append(1) or execute(*a)
    results = []
    threads = [threading.Thread(target=lambda: results.append(engine.load(SLOW)["data"]))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [[{"Slow.total": "300"}]] * 4 and len(calls) == 1


def test_stale_if_slow_answers_the_stale_entry(tmp_path, con):
    engine, clock = make(tmp_path, con, continue_wait=0.05)
    first, _ = slow_until_done(engine)
    clock.now += 10  # refresh key expired
    stats = begin_stats()
    again = engine.load(SLOW)
    assert stats.cache == "stale" and again["lastRefreshTime"] == first["lastRefreshTime"]
    fresh, _ = slow_until_done(engine)  # the refresh it started completes; the retry gets it
    assert fresh["lastRefreshTime"] >= first["lastRefreshTime"]


def test_must_revalidate_never_answers_stale_data(tmp_path, con):
    engine, clock = make(tmp_path, con, continue_wait=0.05)
    slow_until_done(engine)
    clock.now += 10
    with pytest.raises(ContinueWait):
        engine.load(SLOW, cache_mode="must-revalidate")
    with pytest.raises(ContinueWait):
        engine.load({**SLOW, "renewQuery": True})  # renewQuery means the same
    body, _ = slow_until_done(engine, cache_mode="must-revalidate")
    assert body["data"] == [{"Slow.total": "300"}]


def test_stale_while_revalidate_answers_at_once_and_refreshes_in_the_background(tmp_path, con):
    engine, clock = make(tmp_path, con, continue_wait=10)
    assert count(engine) == "2"
    add_row(con)
    clock.now += 10
    stats = begin_stats()
    assert count(engine, cache_mode="stale-while-revalidate") == "2"
    assert stats.cache == "stale"
    deadline = time.monotonic() + 5
    while count(engine, cache_mode="stale-while-revalidate") != "3":
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_a_result_left_uncollected_is_not_served_once_the_data_changed(tmp_path, con):
    engine, clock = make(tmp_path, con, continue_wait=0.05)
    query = {"measures": ["SlowItems.count"]}
    with pytest.raises(ContinueWait):
        engine.load(query)  # the client never comes back for this one
    time.sleep(0.6)  # it finishes
    add_row(con)
    clock.now += 10
    body, waits = slow_until_done(engine, query, cache_mode="must-revalidate")
    assert waits >= 1 and body["data"] == [{"SlowItems.count": "3"}]


def test_hard_timeout_interrupts_duckdb(tmp_path, con):
    engine, _ = make(tmp_path, con, query_timeout=0.3)
    started = time.monotonic()
    with pytest.raises(CubeError) as error:
        engine.load(ENDLESS)
    assert time.monotonic() - started < 5
    assert error.value.status == 400
    assert error.value.body == {"error": "Error: Query timeout: the query ran longer than 0.3 s "
                                         "and was interrupted"}
    assert count(engine) == "2"  # the engine still answers


def test_the_retry_after_continue_wait_gets_the_timeout_error(tmp_path, con):
    engine, _ = make(tmp_path, con, continue_wait=0.05, query_timeout=0.3)
    with pytest.raises(ContinueWait):
        engine.load(ENDLESS)
    with pytest.raises(CubeError) as error:
        slow_until_done(engine, ENDLESS)
    assert error.value.status == 400 and "Query timeout" in error.value.body["error"]


def test_query_errors_are_not_cached(tmp_path, con):
    engine, _ = make(tmp_path, con)
    with pytest.raises(CubeError):
        engine.load({"measures": ["Items.nope"]})
    with pytest.raises(CubeError):
        engine.load({"measures": ["Items.nope"]})


def test_an_unknown_cache_mode_is_a_400(tmp_path, con):
    engine, _ = make(tmp_path, con)
    with pytest.raises(CubeError) as error:
        engine.load(COUNT, cache_mode="sometimes")
    assert error.value.status == 400


def test_a_bad_refresh_key_is_a_model_error(tmp_path, con):
    from engine import ModelError
    with pytest.raises(ModelError, match="refresh_key.every of cube 'Items'"):
        make(tmp_path, con, '    refresh_key:\n      every: "whenever"')


def test_sql_lists_the_cubes_refresh_keys(tmp_path, con):
    engine, _ = make(tmp_path, con, '    refresh_key:\n      every: "1 hour"')
    assert engine.sql(COUNT)["sql"]["cacheKeyQueries"] == [
        ["SELECT FLOOR((EXTRACT(EPOCH FROM NOW())) / 3600) as refresh_key", [],
         {"external": False, "renewalThreshold": 300}]]
