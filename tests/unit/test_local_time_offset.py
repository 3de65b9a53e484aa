"""Local time at a constant UTC offset: when a date range limits the rows to instants where the
query's time zone has one UTC offset, a time dimension's local time is the UTC time plus that
offset (`CAST(ts AS TIMESTAMP) + CAST($1 AS INTERVAL)`) instead of a per-row
`TIMEZONE($1, CAST(ts AS TIMESTAMPTZ))`. The answers must not change: each case here runs the
query twice on real DuckDB, as written and with its date range moved into an OR group (the same
rows, which the engine cannot prove limited, so it keeps the per-row form), around the changes of
offset in New York (DST), Kolkata (+05:30), Kathmandu (+05:30 -> +05:45 on 1986-01-01) and Apia
(-10:00 -> +14:00: 2011-12-30 never happened there)."""

from datetime import datetime, timezone

import duckdb
import pytest

from engine import Engine
from engine.compile.sql import constant_offset

MODEL = """\
cubes:
  - name: Events
    sql_table: events
    measures:
      - name: count
        type: count
      - name: amount
        type: sum
        sql: amount
      - name: amountLast3Days
        type: sum
        sql: amount
        rolling_window:
          trailing: 3 day
    dimensions:
      - name: id
        sql: id
        type: number
        primary_key: true
        public: true
      - name: ts
        sql: ts
        type: time
        granularities:
          - name: shifted_day
            interval: 1 day
            offset: 6 hours
          - name: fortnight
            interval: 2 weeks
            origin: "2024-01-05"
          - name: six_hours
            interval: 6 hours
      - name: sameTs
        sql: ts
        type: time
  - name: Marks
    sql_table: marks
    measures:
      - name: count
        type: count
    dimensions:
      - name: id
        sql: id
        type: number
        primary_key: true
      - name: ts
        sql: ts
        type: time
"""

# Windows of rows (UTC), one every 17 min 13 s so rows fall at every minute of the hour over
# time: around each change of offset the tests look at.
WINDOWS = [("1985-12-20", "1986-01-15"), ("2011-12-20", "2012-02-05"),
           ("2026-02-20", "2026-04-05"), ("2026-06-25", "2026-08-05"),
           ("2026-10-20", "2026-11-15")]

# Hand-placed rows for the written-out answers: either side of midnight in New York on July 1
# (EDT, UTC-4) and 01:30 twice on November 1 (EDT, then EST).
MARKS = ["2026-07-01 03:59:59.999", "2026-07-01 04:00:00", "2026-07-01 12:00:00",
         "2026-07-02 03:59:59", "2026-07-02 04:00:00.5",
         "2026-11-01 05:30:00", "2026-11-01 06:30:00"]

GRANULARITIES = ["hour", "day", "week", "month", "shifted_day", "fortnight", "six_hours"]


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    models = tmp_path_factory.mktemp("models")
    (models / "events.yml").write_text(MODEL)
    con = duckdb.connect()
    con.execute("CREATE TABLE events (id BIGINT, ts TIMESTAMP, amount INTEGER)")
    for start, end in WINDOWS:
        con.execute(f"""
            INSERT INTO events
            SELECT (SELECT count(*) FROM events) + row_number() OVER (), r, (epoch(r)::BIGINT % 97)
            FROM range(TIMESTAMP '{start}', TIMESTAMP '{end}', INTERVAL 1033 SECOND) t(r)""")
    con.execute("INSERT INTO events VALUES (999999, NULL, 5)")
    con.execute("CREATE TABLE marks (id INTEGER, ts TIMESTAMP)")
    con.executemany("INSERT INTO marks VALUES (?, CAST(? AS TIMESTAMP))",
                    [(i, t) for i, t in enumerate(MARKS)])
    return Engine(models=models, database=con, now="2026-11-23T12:00:00Z")


def query(zone, date_range, granularity="day", measures=("Events.count", "Events.amount"),
          **extra):
    return {"measures": list(measures), "timezone": zone, **extra,
            "timeDimensions": [{"dimension": "Events.ts", "granularity": granularity,
                                "dateRange": date_range}]}


def per_row(q):
    """The same rows with the date range inside an OR group: the engine keeps TIMEZONE()."""
    ranges = [{"member": td["dimension"], "operator": "inDateRange", "values": td["dateRange"]}
              for td in q["timeDimensions"] if td.get("dateRange")]
    return dict(q, timeDimensions=[{k: v for k, v in td.items() if k != "dateRange"}
                                   for td in q["timeDimensions"]],
                filters=list(q.get("filters", [])) + [{"or": ranges}])


def both(engine, q):
    """The SQL and parameters as written, its data, and the data of the per-row form."""
    slow = per_row(q)
    sql, params = engine.sql(q)["sql"]["sql"][:2]
    assert "TIMEZONE(" in engine.sql(slow)["sql"]["sql"][0]
    return sql, params, engine.load(q)["data"], engine.load(slow)["data"]


# zone, date range, the offset written into the SQL (None: the per-row form is kept)
CASES = [
    ("America/New_York", ["2026-07-01", "2026-07-31"], -14400),       # inside summer time
    ("America/New_York", ["2026-03-01", "2026-03-07"], -18000),       # winter, before Mar 8
    ("America/New_York", ["2026-10-25", "2026-11-07"], None),         # spans Nov 1 (EDT -> EST)
    ("America/New_York", ["2026-03-07", "2026-03-09"], None),         # spans Mar 8 (EST -> EDT)
    ("America/New_York", ["2026-10-31", "2026-10-31"], -14400),       # the last EDT day
    ("America/New_York", ["2026-11-01", "2026-11-01"], None),         # the day of the change
    ("Asia/Kolkata", ["2026-02-20", "2026-04-04"], 19800),            # +05:30
    ("Asia/Kathmandu", ["2026-06-25", "2026-08-04"], 20700),          # +05:45
    ("Asia/Kathmandu", ["1985-12-25", "1986-01-10"], None),           # +05:30 -> +05:45
    ("Asia/Kathmandu", ["1986-01-01", "1986-01-14"], 20700),          # just after it
    ("Asia/Kathmandu", ["1985-12-20", "1985-12-31"], 19800),          # just before it
    ("Pacific/Apia", ["2011-12-25", "2012-01-05"], None),             # skipped Dec 30 2011
    ("Pacific/Apia", ["2012-01-01", "2012-02-04"], 50400),            # +14:00 (summer time)
    ("Europe/London", ["2026-02-20", "2026-03-20"], 0),               # GMT: the UTC form
]


@pytest.mark.parametrize("zone,date_range,offset", CASES)
def test_same_answers_as_the_per_row_form_at_every_granularity(engine, zone, date_range, offset):
    for granularity in GRANULARITIES:
        sql, params, data, expected = both(engine, query(zone, date_range, granularity))
        assert data == expected, (zone, date_range, granularity)
        if offset is None:
            assert 'TIMEZONE($1, CAST("events".ts AS TIMESTAMPTZ))' in sql
            assert params[0] == zone
        elif offset == 0:
            assert "TIMEZONE(" not in sql and "$1 AS INTERVAL" not in sql
            assert 'CAST("events".ts AS TIMESTAMP)' in sql
        else:
            assert "TIMEZONE(" not in sql
            assert 'CAST("events".ts AS TIMESTAMP) + CAST($1 AS INTERVAL)' in sql
            assert params[0] == f"{offset} seconds"
    assert data, "the case must see rows"


def test_written_out_answers_around_midnight_and_the_repeated_hour_in_new_york(engine):
    day = {"measures": ["Marks.count"], "timezone": "America/New_York",
           "timeDimensions": [{"dimension": "Marks.ts", "granularity": "day",
                               "dateRange": ["2026-07-01", "2026-07-01"]}]}
    sql = engine.sql(day)["sql"]["sql"]
    assert 'DATE_TRUNC(\'DAY\', CAST("marks".ts AS TIMESTAMP) + CAST($1 AS INTERVAL))' in sql[0]
    assert sql[1][:3] == ["-14400 seconds", "2026-07-01T04:00:00.000", "2026-07-02T03:59:59.999"]
    # 03:59:59.999Z is June 30 in New York, outside the range; 2026-07-02 03:59:59Z is 23:59:59.
    assert engine.load(day)["data"] == [
        {"Marks.ts.day": "2026-07-01T00:00:00.000", "Marks.count": "3",
         "Marks.ts": "2026-07-01T00:00:00.000"}]

    hour = dict(day, timeDimensions=[{"dimension": "Marks.ts", "granularity": "hour",
                                      "dateRange": ["2026-11-01", "2026-11-01"]}])
    # 01:30 EDT and 01:30 EST: one local hour twice, which no single offset can write.
    assert "TIMEZONE(" in engine.sql(hour)["sql"]["sql"][0]
    assert engine.load(hour)["data"] == [
        {"Marks.ts.hour": "2026-11-01T01:00:00.000", "Marks.count": "2",
         "Marks.ts": "2026-11-01T01:00:00.000"}]


def test_an_and_ed_in_date_range_filter_on_the_same_dimension_limits_the_rows_too(engine):
    q = {"measures": ["Events.count"], "timezone": "America/New_York",
         "timeDimensions": [{"dimension": "Events.ts", "granularity": "day"}],
         "filters": [{"and": [{"member": "Events.ts", "operator": "inDateRange",
                               "values": ["2026-07-01", "2026-07-10"]}]}]}
    sql = engine.sql(q)["sql"]["sql"]
    assert "TIMEZONE(" not in sql[0] and sql[1][0] == "-14400 seconds"
    data = engine.load(q)["data"]
    assert len(data) == 10
    assert data == engine.load(per_row_of_filters(q))["data"]


def per_row_of_filters(q):
    return dict(q, filters=[{"or": q["filters"][0]["and"]}])


def test_a_range_spanning_a_change_intersected_with_one_inside_summer_time_is_rewritten(engine):
    q = query("America/New_York", ["2026-10-25", "2026-11-07"], "hour",
              filters=[{"member": "Events.ts", "operator": "inDateRange",
                        "values": ["2026-10-26", "2026-10-30"]}])
    sql, params = engine.sql(q)["sql"]["sql"][:2]
    data = engine.load(q)["data"]
    assert "TIMEZONE(" not in sql and params[0] == "-14400 seconds"
    slow = query("America/New_York", ["2026-10-25", "2026-11-07"], "hour",
                 filters=[{"or": [{"member": "Events.ts", "operator": "inDateRange",
                                   "values": ["2026-10-26", "2026-10-30"]}]}])
    assert "TIMEZONE(" in engine.sql(slow)["sql"]["sql"][0]
    assert data == engine.load(slow)["data"] and len(data) == 5 * 24


def test_queries_without_a_limiting_date_range_keep_the_per_row_form(engine):
    no_range = {"measures": ["Events.count"], "timezone": "America/New_York",
                "timeDimensions": [{"dimension": "Events.ts", "granularity": "day"}]}
    assert "TIMEZONE(" in engine.sql(no_range)["sql"]["sql"][0]
    # A range on another member says nothing of this one's instants (even on the same column).
    other = dict(no_range, filters=[{"member": "Events.sameTs", "operator": "inDateRange",
                                     "values": ["2026-07-01", "2026-07-02"]}])
    assert "TIMEZONE(" in engine.sql(other)["sql"]["sql"][0]
    # Ungrouped: at most `limit` rows, nothing worth saving.
    ungrouped = {"dimensions": ["Events.id"], "ungrouped": True, "limit": 5,
                 "timezone": "America/New_York",
                 "timeDimensions": [{"dimension": "Events.ts", "granularity": "day",
                                     "dateRange": ["2026-07-01", "2026-07-31"]}]}
    assert "TIMEZONE(" in engine.sql(ungrouped)["sql"]["sql"][0]
    # UTC never converts.
    utc = query("UTC", ["2026-07-01", "2026-07-31"])
    sql = engine.sql(utc)["sql"]["sql"][0]
    assert "TIMEZONE(" not in sql and "INTERVAL" not in sql


def test_rolling_windows_read_rows_outside_the_range_so_keep_the_per_row_form(engine):
    q = query("America/New_York", ["2026-11-02", "2026-11-05"], "day",
              measures=["Events.amountLast3Days", "Events.count"])
    sql = engine.sql(q)["sql"]["sql"][0]
    # The window's rows (`base`) reach back before Nov 2, across the Nov 1 change: per row.
    base = sql[sql.index("LEFT JOIN (SELECT"):]
    assert 'TIMEZONE($1, CAST("events".ts AS TIMESTAMPTZ)) AS "__time"' in base
    data = engine.load(q)["data"]
    # Nov 2-5 in New York is EST; the 3-day windows reach into Oct 30 .. Nov 1.
    amounts = {r["Events.ts.day"][:10]: int(r["Events.amountLast3Days"]) for r in data}
    con = engine.connection
    for day, amount in amounts.items():
        expected = con.execute(f"""
            SELECT sum(amount) FROM events
            WHERE timezone('America/New_York', ts::TIMESTAMPTZ)
                  > TIMESTAMP '{day}' + INTERVAL 1 DAY - INTERVAL 1 MILLISECOND - INTERVAL 3 DAY
              AND timezone('America/New_York', ts::TIMESTAMPTZ)
                  <= TIMESTAMP '{day}' + INTERVAL 1 DAY - INTERVAL 1 MILLISECOND""").fetchone()[0]
        assert amount == expected, day
    assert len(amounts) == 4


def test_compare_date_range_decides_per_range(engine):
    ranges = [["2026-07-01", "2026-07-07"], ["2026-10-28", "2026-11-03"]]
    q = {"measures": ["Events.count"], "timezone": "America/New_York",
         "timeDimensions": [{"dimension": "Events.ts", "granularity": "day",
                             "compareDateRange": ranges}]}
    sqls = [body["sql"]["sql"][0] for body in engine.sql(q)]
    assert ["TIMEZONE(" in s for s in sqls] == [False, True]
    results = engine.load(q, query_type="multi")["results"]
    for result, date_range in zip(results, ranges):
        single = query("America/New_York", date_range, measures=["Events.count"])
        _, _, _, expected = both(engine, single)
        assert [{k: v for k, v in row.items() if k != "compareDateRange"}
                for row in result["data"]] == expected


def test_constant_offset_samples_daily_and_finds_short_periods():
    utc = lambda *a: datetime(*a, tzinfo=timezone.utc)  # noqa: E731
    assert constant_offset("America/New_York", utc(2026, 10, 1, 4),
                           utc(2026, 11, 1, 5, 59, 59)) == -14400
    # 06:00Z on Nov 1 is 01:00 EST.
    assert constant_offset("America/New_York", utc(2026, 10, 1, 4), utc(2026, 11, 1, 6)) is None
    # Freetown kept -00:40 for 95.7 hours from 1939-09-01 01:00Z, between two spells of -01:00:
    # the shortest period of one offset in tzdata; a daily sample lands in it.
    assert constant_offset("Africa/Freetown", utc(1939, 8, 20), utc(1939, 9, 20)) is None
    assert constant_offset("Africa/Freetown", utc(1939, 9, 1, 2), utc(1939, 9, 5)) == -2400
    # Longer than ten years: not sampled.
    assert constant_offset("Asia/Kolkata", utc(2000, 1, 1), utc(2011, 1, 1)) is None
    assert constant_offset("Asia/Kolkata", utc(2000, 1, 1), utc(2009, 1, 1)) == 19800
    # LMT offsets have seconds (Kolkata: +05:53:28 until 1854): a whole number, kept.
    assert constant_offset("Asia/Kolkata", utc(1800, 1, 1), utc(1801, 1, 1)) == 21208


def test_clickhouse_writes_the_same_local_times_at_a_constant_offset():
    """ClickHouse's form, `addSeconds(toDateTime64(t, 6, 'UTC'), {p1: Int64})`, gives chdb's
    per-row local time on rows inside one offset period (New York summer, Kathmandu)."""
    pytest.importorskip("chdb")
    from sqlglot import exp

    from engine.run.backends import ChdbBackend
    from engine.compile.dialects import CLICKHOUSE
    moments = [datetime(2026, 7, 1, 3, 59, 59, 999000), datetime(2026, 7, 1, 4),
               datetime(2026, 8, 31, 23, 30, 0, 500000), None]
    house = ChdbBackend(None)
    try:
        house.client.command("CREATE TABLE m (i Int32, t Nullable(DateTime64(6, 'UTC'))) "
                             "ENGINE = MergeTree ORDER BY i")
        house.client.insert("m", list(enumerate(moments)), column_names=["i", "t"])
        for zone, seconds in [("America/New_York", -14400), ("Asia/Kathmandu", 20700)]:
            values: list = []

            def bind(value, cast):
                placeholder, bound = CLICKHOUSE.placeholder(len(values) + 1, value, cast)
                values.append(bound)
                return placeholder
            column = exp.column("t")
            fixed = CLICKHOUSE.local_time_at_offset(column, seconds, bind)
            kind = "Int64" if seconds < 0 else "UInt64"
            assert CLICKHOUSE.render(fixed) == \
                f"addSeconds(toDateTime64(t, 6, 'UTC'), {{p1: {kind}}})"
            per_row = CLICKHOUSE.local_time(column.copy(), exp.Literal.string(zone))
            select = exp.select("i", exp.alias_(fixed, "a"), exp.alias_(per_row, "b")) \
                .from_("m").order_by("i")
            rows = house.run(CLICKHOUSE.render(select), values)
            assert [a for _, a, _ in rows] == [b for _, _, b in rows]
            assert rows[0][1] is not None and rows[-1][1] is None
    finally:
        house.close()
