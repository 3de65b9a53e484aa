"""Each place where ClickHouse spells SQL differently from DuckDB (engine/dialects.py), checked
twice: the SQL it writes, and its answers against DuckDB's on the same rows (DuckDB is the
reference: it is what the conformance suite was recorded against)."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlglot
from sqlglot import exp

from clickhouse_kit import CONFORMANCE, RECORDED_AT, needs_chdb

needs_chdb()

from engine.run.backends import ChdbBackend, DuckDBBackend  # noqa: E402
from engine.compile.dialects import CLICKHOUSE, DUCKDB, ClickHouseDialect, get_dialect  # noqa: E402
from engine.model import load_model  # noqa: E402
from engine.compile.plan import build_plan  # noqa: E402
from engine.query import normalize_query  # noqa: E402
from engine.api import parse_instant  # noqa: E402
from engine.respond.rows import format_value, shape_rows  # noqa: E402
from engine.compile.sql import compile_plan  # noqa: E402

# Instants that trip time code up: DST changes (New York, Berlin, Sydney), half- and
# three-quarter-hour zones, year ends on ISO week 53, leap days, before 1970, microseconds.
MOMENTS = [
    "2024-03-10 06:59:59.999999", "2024-03-10 07:00:00", "2024-03-10 07:30:00",
    "2024-11-03 05:30:00", "2024-11-03 06:30:00", "2024-03-31 00:59:59", "2024-03-31 01:00:00",
    "2024-10-27 00:30:00", "2024-10-27 01:30:00", "2024-04-06 15:59:59", "2024-10-05 16:00:00",
    "2020-12-31 23:59:59.999", "2021-01-03 12:00:00", "2021-01-04 00:00:00",
    "2024-02-29 23:30:00", "2023-12-31 18:15:00", "1969-12-31 23:59:59.5", "1965-06-15 10:00:00",
    "2000-01-01 00:00:00", "2026-11-22 11:10:14.123456", "2099-12-31 23:59:59",
    "2024-01-01 00:00:00", "2024-06-30 18:45:00", "2025-09-30 23:59:59.999999",
]
ZONES = ["UTC", "America/New_York", "Europe/Berlin", "Australia/Sydney", "Asia/Kolkata",
         "Asia/Kathmandu", "Australia/Adelaide", "Pacific/Chatham"]
UNITS = ["second", "minute", "hour", "day", "week", "month", "quarter", "year"]


WORDS = ["100% sure", "100 percent", "a_b", "aXb", "back\\slash", "BACK\\SLASH", "it's",
         "tab\there", "Straße", "50%_off", None, "", "%", "_"]
MOMENT_ROWS = [(i, datetime.fromisoformat(m)) for i, m in enumerate(MOMENTS)] + \
    [(len(MOMENTS), None)]
WORD_ROWS = [(i, w, None if i % 3 == 0 else i % 4) for i, w in enumerate(WORDS)]


@pytest.fixture(scope="module")
def duck():
    backend = DuckDBBackend(None)
    con = backend.connection
    con.execute("CREATE TABLE moments (i INTEGER, t TIMESTAMP)")
    con.executemany("INSERT INTO moments VALUES (?, ?)", MOMENT_ROWS)
    con.execute("CREATE TABLE words (i INTEGER, w VARCHAR, n INTEGER)")
    con.executemany("INSERT INTO words VALUES (?, ?, ?)", WORD_ROWS)
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def house():
    backend = ChdbBackend(None)
    client = backend.client
    client.command("CREATE TABLE moments (i Int32, t Nullable(DateTime64(6, 'UTC'))) "
                   "ENGINE = MergeTree ORDER BY i")
    client.insert("moments", MOMENT_ROWS, column_names=["i", "t"])
    client.command("CREATE TABLE words (i Int32, w Nullable(String), n Nullable(Int32)) "
                   "ENGINE = MergeTree ORDER BY i")
    client.insert("words", WORD_ROWS, column_names=["i", "w", "n"])
    yield backend
    backend.close()


def answers(backend, dialect, build, table="moments", order="i") -> list:
    """`SELECT i, <build(dialect, column)> FROM table ORDER BY i` on `backend`, values shaped
    as results are (JavaScript numbers, Cube times)."""
    column = exp.column("t" if table == "moments" else "w")
    select = exp.select(exp.column("i"), exp.alias_(build(dialect, column), "v")).from_(table) \
        .order_by(order)
    rows = backend.run(dialect.render(select))
    return [(i, format_value(v)) for i, v in rows]


def same_answers(duck, house, build, table="moments"):
    expected = answers(duck, DUCKDB, build, table)
    assert answers(house, CLICKHOUSE, build, table) == expected
    return expected


# --- time zones and truncation --------------------------------------------------------------------

@pytest.mark.parametrize("zone", ZONES)
def test_local_time_is_the_wall_clock_in_the_zone(duck, house, zone):
    same_answers(duck, house, lambda d, t: d.local_time(t, exp.Literal.string(zone)))


@pytest.mark.parametrize("unit", UNITS)
def test_truncation_in_utc_with_monday_weeks(duck, house, unit):
    values = same_answers(duck, house, lambda d, t: d.truncate(unit, d.timestamp(t)))
    if unit == "week":
        assert all(datetime.fromisoformat(v).weekday() == 0 for _, v in values if v)


@pytest.mark.parametrize("zone", ["America/New_York", "Australia/Sydney", "Asia/Kathmandu"])
@pytest.mark.parametrize("unit", ["hour", "day", "week", "month", "year"])
def test_truncation_in_a_time_zone(duck, house, zone, unit):
    same_answers(duck, house, lambda d, t: d.truncate(unit, d.local_time(
        t, exp.Literal.string(zone))))


def test_clickhouse_truncation_sql():
    assert CLICKHOUSE.render(CLICKHOUSE.truncate("week", exp.column("t"))) == \
        "toDateTime64(toMonday(t), 6, 'UTC')"
    assert CLICKHOUSE.render(CLICKHOUSE.local_time(exp.column("t"), exp.Literal.string("X"))) == (
        "addSeconds(toDateTime64(t, 6, 'UTC'), "
        "timeZoneOffset(toTimeZone(toDateTime64(t, 6, 'UTC'), 'X')))")


# --- intervals, custom granularities, series ----------------------------------------------------

@pytest.mark.parametrize("parts", [[(7, "day")], [(1, "month")], [(3, "quarter")], [(2, "week")],
                                   [(1, "year"), (2, "month")], [(36, "hour"), (30, "minute")]])
def test_interval_arithmetic(duck, house, parts):
    same_answers(duck, house, lambda d, t: exp.Sub(this=d.timestamp(t),
                                                   expression=d.interval(parts)))
    same_answers(duck, house, lambda d, t: exp.Add(this=d.timestamp(t),
                                                   expression=d.interval(parts)))


@pytest.mark.parametrize("parts,origin,offset", [
    ([(2, "week")], "2024-01-05 00:00:00", None),
    ([(6, "month")], "2000-01-01 00:00:00", None),
    ([(1, "year")], "2000-01-01 00:00:00", [(3, "month")]),
    ([(5, "month")], "2024-01-15 06:30:00", None),  # DuckDB counts months from the origin's
    ([(2, "month")], "2023-03-31 00:00:00", None),  # month; its day and time do not count
    ([(36, "hour")], "2020-01-01 12:00:00", None),
    ([(10, "day")], "1995-06-01 00:00:00", None),
    ([(7, "minute")], "2000-01-01 00:00:00", [(3, "minute")]),
    ([(1, "year"), (6, "month")], "2010-07-10 10:00:00", None),
])
def test_custom_granularity_buckets_match_time_bucket(duck, house, parts, origin, offset):
    same_answers(duck, house, lambda d, t: d.bucket(parts, d.timestamp(t), origin, offset))


def test_buckets_mixing_months_and_days_are_refused_on_both(duck):
    from engine.errors import DatabaseError
    with pytest.raises(DatabaseError, match="Month intervals cannot have day or time component"):
        answers(duck, DUCKDB, lambda d, t: d.bucket([(1, "month"), (2, "day")], d.timestamp(t),
                                                    "2000-01-01 00:00:00"))
    with pytest.raises(DatabaseError, match="mixing months with days"):
        CLICKHOUSE.bucket([(1, "month"), (2, "day")], exp.column("t"), "2000-01-01 00:00:00")


@pytest.mark.parametrize("granularity,start,end", [
    ("day", "2024-02-27 10:00:00", "2024-03-02 00:00:00"),
    ("week", "2024-12-25 00:00:00", "2025-01-20 23:59:59.999"),
    ("month", "2024-01-31 00:00:00", "2024-06-30 23:59:59.999"),
    ("quarter", "2023-11-15 00:00:00", "2024-12-31 23:59:59.999"),
    ("year", "2019-05-01 00:00:00", "2024-01-01 00:00:00"),
    ("hour", "2024-03-10 00:00:00", "2024-03-10 05:59:59.999"),
    ("month", "2024-06-01 00:00:00", "2024-01-01 00:00:00"),  # an empty range
])
def test_bucket_series(duck, house, granularity, start, end):
    def series(backend, d):
        first = d.truncate(granularity, d.timestamp(exp.Literal.string(start)))
        last = d.timestamp(exp.Literal.string(end))
        select = exp.select(exp.alias_(d.series(first, last, d.step(granularity), granularity),
                                       "d")).order_by("d")
        return [format_value(row[0]) for row in backend.run(d.render(select))]
    expected = series(duck, DUCKDB)
    assert series(house, CLICKHOUSE) == expected
    assert (expected == []) == (start > end)


# --- LIKE, order, equality -----------------------------------------------------------------------

@pytest.mark.parametrize("needle", ["%", "_", "\\", "a_b", "100%", "BACK\\", "s'", "\t", "STRASSE",
                                    "straße", ""])
@pytest.mark.parametrize("kind", ["contains", "startsWith", "endsWith"])
@pytest.mark.parametrize("negate", [False, True])
def test_text_matches_take_special_characters_literally(duck, house, needle, kind, negate):
    def build(d, w):
        return d.boolean(d.match_text(w, kind, needle, exp.Literal.string, negate))
    same_answers(duck, house, build, table="words")


def test_text_match_sql():
    args = (exp.column("w"), "contains", "a_", lambda value: exp.Placeholder(this="1"))
    assert DUCKDB.render(DUCKDB.match_text(*args, False)) == "CONTAINS(LOWER(w), LOWER($1))"
    assert CLICKHOUSE.render(CLICKHOUSE.match_text(*args, True)) == \
        "NOT (w ILIKE '%' || {1: } || '%')"


@pytest.mark.parametrize("desc", [False, True])
def test_nulls_sort_last_both_ways(duck, house, desc):
    def rows(backend, d):
        select = exp.select("i", "n").from_("words").order_by(
            d.ordered(exp.column("n"), desc), exp.Ordered(this=exp.column("i")))
        return backend.run(d.render(select))
    expected = rows(duck, DUCKDB)
    assert expected[-1][1] is None and expected[0][1] is not None
    assert rows(house, CLICKHOUSE) == expected
    assert CLICKHOUSE.render(CLICKHOUSE.ordered(exp.Literal.number(1), desc)) == \
        f"1 {'DESC' if desc else 'ASC'} NULLS LAST"
    assert DUCKDB.render(DUCKDB.ordered(exp.Literal.number(1), desc)) == \
        ("1 DESC" if desc else "1 ASC")


def test_null_safe_equality_joins_nulls(duck, house):
    def rows(backend, d):
        on = d.null_safe_eq(exp.column("n", table="a"), exp.column("n", table="b"))
        count = exp.Count(this=exp.column("i", table="b"))
        select = exp.select(exp.column("i", table="a"), count) \
            .from_(exp.alias_(exp.to_table("words"), "a", table=True)) \
            .join(exp.alias_(exp.to_table("words"), "b", table=True), on=on, join_type="left") \
            .group_by(exp.Literal.number(1)).order_by(exp.Literal.number(1))
        return [tuple(format_value(v) for v in row) for row in backend.run(d.render(select))]
    assert rows(house, CLICKHOUSE) == rows(duck, DUCKDB)
    assert "IS NOT DISTINCT FROM" in CLICKHOUSE.render(
        CLICKHOUSE.null_safe_eq(exp.column("a"), exp.column("b")))


# --- aggregates and result types -----------------------------------------------------------------

MEASURES_SQL = (
    "SELECT count(*) AS rows, count(amount) AS amounts, sum(amount) AS total, avg(amount) AS mean,"
    " min(amount) AS low, max(created_at) AS latest, sum(quantity) AS quantity,"
    " avg(quantity) AS mean_quantity, count(distinct user_id) AS users, max(is_paid) AS any_paid"
    " FROM orders")


@pytest.mark.parametrize("where", ["", " WHERE status = 'completed'", " WHERE id < 0"])
def test_aggregates_shape_alike(duckdb_conformance, chdb_conformance, where):
    """Integer, decimal, double, time and boolean results (UInt64 / Decimal(38, 2) / Float64 on
    ClickHouse) print the same; aggregates of no rows are NULL (count: 0)."""
    parsed = sqlglot.parse_one(MEASURES_SQL + where, read="duckdb")
    duck_rows = duckdb_conformance.run(DUCKDB.render(parsed))
    house_rows = chdb_conformance.run(CLICKHOUSE.render(parsed))
    assert [format_value(v) for v in house_rows[0]] == [format_value(v) for v in duck_rows[0]]


def test_decimal_average_is_rounded_once():
    """7279.23 / 29 is 251.0079310344827586...: DuckDB (and Cube) answer the nearest double,
    251.00793103448277; ClickHouse's avg() rounds the sum first and answers ...274."""
    sql = CLICKHOUSE.render(sqlglot.parse_one("SELECT avg(x) FROM t", read="duckdb"))
    assert "toDecimal256(sum(x), 40)" in sql


@pytest.mark.parametrize("document", ['{"a":"x"}', '{"a":5}', '{"a":null}', '{}', '{"a":true}',
                                      '{"a":{"b":1}}', '{"a":[1,2]}', '{"b":"a"}'])
@pytest.mark.parametrize("spelling", ["json_extract_string(d, '$.a')", "d->>'a'"])
def test_json_extract_string_in_model_sql(duck, house, document, spelling):
    """A missing key and a JSON null are NULL on both (ClickHouse's JSONExtractString says '')."""
    parsed = sqlglot.parse_one(f"SELECT {spelling} FROM (SELECT '{document}' AS d) AS t",
                               read="duckdb")
    assert house.run(CLICKHOUSE.render(parsed)) == duck.run(DUCKDB.render(parsed))


def test_approximate_distinct_count_is_uniq(duckdb_conformance, chdb_conformance):
    """The documented exception: both are estimates, by different algorithms. ClickHouse's
    uniq is exact below 65536 distinct values; DuckDB's HyperLogLog is off by a little even on
    small data (29 of the 30 users here)."""
    parsed = sqlglot.parse_one("SELECT approx_count_distinct(user_id), count(distinct user_id) "
                               "FROM orders", read="duckdb")
    assert CLICKHOUSE.render(parsed).startswith("SELECT uniq(user_id)")
    [(about, exact)] = chdb_conformance.run(CLICKHOUSE.render(parsed))
    assert about == exact == 30
    [(about, exact)] = duckdb_conformance.run(DUCKDB.render(parsed))
    assert exact == 30 and abs(about - exact) <= 0.05 * exact


# --- parameter binding ---------------------------------------------------------------------------

def test_placeholders_are_typed_server_side_parameters():
    cases = [("a'b", None, "{p1: String}", "a'b"), (10, None, "{p1: UInt64}", 10),
             ("3.50", "DOUBLE", "{p1: Float64}", "3.5"), (" 2", "DOUBLE", "{p1: Float64}", "2.0"),
             ("Infinity", "DOUBLE", "{p1: Float64}", "inf"),
             ("abc", "DOUBLE", "{p1: Float64}", "abc"),
             ("true", "BOOLEAN", "{p1: Bool}", "true"),
             ("2024-01-01T00:00:00.000", "TIMESTAMP", "{p1: DateTime64(6, 'UTC')}",
              "2024-01-01 00:00:00.000")]
    for value, cast, sql, bound in cases:
        placeholder, value_bound = CLICKHOUSE.placeholder(1, value, cast)
        assert (CLICKHOUSE.render(placeholder), value_bound) == (sql, bound)
    placeholder, value_bound = DUCKDB.placeholder(3, "3.50", "DOUBLE")
    assert (DUCKDB.render(placeholder), value_bound) == ("CAST($3 AS DOUBLE)", "3.50")


@pytest.fixture(scope="module")
def conformance_model():
    return load_model(CONFORMANCE / "model")


def compiled_both(model, query):
    normalized = normalize_query(query, parse_instant(RECORDED_AT))
    plan = build_plan(model, normalized)
    return plan, compile_plan(model, plan, dialect=DUCKDB), compile_plan(model, plan,
                                                                         dialect=CLICKHOUSE)


@pytest.mark.parametrize("values", [["it's"], ["back\\slash", "tab\there"], ["100%", "a_b"],
                                    ["{p1:String}", "$1"], ["\\N"]])
def test_filter_values_reach_clickhouse_intact(conformance_model, duckdb_conformance,
                                               chdb_conformance, values):
    """Values are bound on the server, never pasted into SQL: quotes, backslashes, tabs and
    placeholder look-alikes are compared as they are."""
    query = {"measures": ["Users.count"], "filters": [
        {"member": "Users.name", "operator": "equals", "values": values},
        {"member": "Users.city", "operator": "notContains", "values": values}]}
    plan, duck_sql, house_sql = compiled_both(conformance_model, query)
    assert "$1" not in house_sql.sql and "{p1: String}" in house_sql.sql
    assert house_sql.params[:len(values)] == values
    assert shape_rows(plan, chdb_conformance.run(house_sql.sql, house_sql.params)) == \
        shape_rows(plan, duckdb_conformance.run(duck_sql.sql, duck_sql.params))


def test_number_filter_value_that_is_no_number_is_a_400_on_both(conformance_model,
                                                                duckdb_conformance,
                                                                chdb_conformance):
    from engine.errors import DatabaseError
    query = {"measures": ["Orders.count"], "filters": [
        {"member": "Orders.amount", "operator": "gt", "values": ["lots"]}]}
    _, duck_sql, house_sql = compiled_both(conformance_model, query)
    for backend, compiled in ((duckdb_conformance, duck_sql), (chdb_conformance, house_sql)):
        with pytest.raises(DatabaseError) as raised:
            backend.run(compiled.sql, compiled.params)
        assert raised.value.status == 400 and raised.value.body["error"].startswith("Error: ")


# --- whole queries --------------------------------------------------------------------------------

def test_duckdb_sql_is_pinned(conformance_model):
    """A change to the DuckDB SQL shows here. Since the issue-8 speed work `contains` is
    CONTAINS(LOWER(..)) and January in New York one constant offset (test_sql_shape.py and
    test_local_time_offset.py in tests/unit check what those mean)."""
    query = {"measures": ["Orders.count"], "dimensions": ["Users.city"],
             "timeDimensions": [{"dimension": "Orders.createdAt", "granularity": "week",
                                 "dateRange": ["2024-01-01", "2024-02-01"]}],
             "filters": [{"member": "Users.name", "operator": "contains", "values": ["a_"]}],
             "timezone": "America/New_York", "order": {"Orders.count": "desc"}}
    _, duck_sql, _ = compiled_both(conformance_model, query)
    assert duck_sql.sql == (
        'SELECT "users".city AS "users__city", DATE_TRUNC(\'WEEK\', CAST("orders".created_at '
        'AS TIMESTAMP) + CAST($1 AS INTERVAL)) AS "orders__created_at_week", COUNT("orders".id) AS '
        '"orders__count" FROM orders AS "orders" LEFT JOIN users AS "users" ON "orders".user_id = '
        '"users".id WHERE ("orders".created_at >= CAST($2 AS TIMESTAMP) AND "orders".created_at '
        '<= CAST($3 AS TIMESTAMP)) AND (CONTAINS(LOWER("users".name), LOWER($4))) '
        'GROUP BY 1, 2 ORDER BY 3 DESC LIMIT $5')
    assert duck_sql.params == ["-18000 seconds", "2024-01-01T05:00:00.000",
                               "2024-02-02T04:59:59.999", "a_", 10000]


def test_rolling_windows_join_on_a_constant_key_on_clickhouse(tmp_path):
    (tmp_path / "orders.yml").write_text(
        "cubes:\n  - name: Orders\n    sql_table: orders\n    measures:\n"
        "      - name: last7\n        type: sum\n        sql: amount\n"
        "        rolling_window:\n          trailing: 7 day\n    dimensions:\n"
        "      - name: id\n        sql: id\n        type: number\n        primary_key: true\n"
        "      - name: createdAt\n        sql: created_at\n        type: time\n")
    model = load_model(tmp_path)
    query = {"measures": ["Orders.last7"], "timeDimensions": [
        {"dimension": "Orders.createdAt", "granularity": "day",
         "dateRange": ["2024-01-01", "2024-01-10"]}]}
    _, duck_sql, house_sql = compiled_both(model, query)
    assert '"__window"' not in duck_sql.sql and "GENERATE_SERIES" in duck_sql.sql
    assert '"date_series"."__window" = "base"."__window"' in house_sql.sql
    assert "arrayJoin" in house_sql.sql


def test_model_sql_may_be_written_for_clickhouse(tmp_path, chdb_conformance):
    """`ClickHouseDialect(model_sql="clickhouse")`: model SQL in ClickHouse's own SQL."""
    (tmp_path / "orders.yml").write_text(
        "cubes:\n  - name: Orders\n    sql_table: orders\n    measures:\n"
        "      - name: count\n        type: count\n    dimensions:\n"
        "      - name: id\n        sql: id\n        type: number\n        primary_key: true\n"
        "      - name: weekday\n        sql: toDayOfWeek({CUBE}.created_at)\n"
        "        type: number\n")
    model = load_model(tmp_path)
    native = ClickHouseDialect(model_sql="clickhouse")
    from engine.compile.sql import check_model_sql
    check_model_sql(model, native)
    normalized = normalize_query({"measures": ["Orders.count"], "dimensions": ["Orders.weekday"]},
                                 parse_instant(RECORDED_AT))
    plan = build_plan(model, normalized)
    compiled = compile_plan(model, plan, dialect=native)
    rows = shape_rows(plan, chdb_conformance.run(compiled.sql, compiled.params))
    assert sum(int(r["Orders.count"]) for r in rows) == 120 and len(rows) == 7


def test_dialects_by_name():
    assert get_dialect(None) is DUCKDB and get_dialect("clickhouse") is CLICKHOUSE
    with pytest.raises(ValueError, match="unknown SQL dialect"):
        get_dialect("oracle")


def test_time_results_print_like_duckdb(duckdb_conformance, chdb_conformance):
    sql = "SELECT created_at, CAST(created_at AS DATE) FROM orders ORDER BY id LIMIT 3"
    parsed = sqlglot.parse_one(sql, read="duckdb")
    duck = [[format_value(v) for v in row] for row in duckdb_conformance.run(DUCKDB.render(parsed))]
    house = [[format_value(v) for v in row]
             for row in chdb_conformance.run(CLICKHOUSE.render(parsed))]
    assert house == duck
