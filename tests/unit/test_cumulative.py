"""Cumulative measures (rolling_window, running_total): each time bucket aggregates the rows in
its window. Checked against windows computed in Python from the raw rows."""

from pathlib import Path
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from engine import CubeError, Engine

CONFORMANCE = Path(__file__).parent.parent / "conformance"

MODEL = """\
cubes:
  - name: Orders
    sql_table: orders
    measures:
      - name: count
        type: count
      - name: amountLast7Days
        type: sum
        sql: amount
        rolling_window:
          trailing: 7 day
      - name: amountNext2Days
        type: sum
        sql: amount
        rolling_window:
          trailing: unbounded
          leading: 2 day
          offset: start
      - name: runningAmount
        type: running_total
        sql: amount
      - name: ordersYearToDate
        type: count
        rolling_window:
          type: to_date
          granularity: year
    dimensions:
      - name: id
        sql: id
        type: number
        primary_key: true
      - name: status
        sql: status
        type: string
      - name: createdAt
        sql: created_at
        type: time
"""

DAYS = ["2024-01-01", "2024-01-10"]


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    models = tmp_path_factory.mktemp("models")
    (models / "orders.yml").write_text(MODEL)
    return Engine(models=models, database=CONFORMANCE / "data", now="2026-11-22T11:10:14Z")


@pytest.fixture(scope="module")
def orders(engine):
    return engine.connection.execute("SELECT created_at, amount, status FROM orders").fetchall()


def series(engine, measure, granularity="day", date_range=DAYS, **extra):
    query = {"measures": [measure], "timeDimensions": [
        {"dimension": "Orders.createdAt", "granularity": granularity, "dateRange": date_range}],
        **extra}
    return {row[f"Orders.createdAt.{granularity}"]: row[measure]
            for row in engine.load(query)["data"]}


def js_sum(values) -> str | None:
    values = [v for v in values if v is not None]
    if not values:
        return None
    total = sum(values, Decimal(0))
    return str(int(total)) if total == int(total) else str(total.normalize())


def day_buckets():
    start = datetime(2024, 1, 1)
    return [start + timedelta(days=i) for i in range(10)]


def label(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000")


def test_trailing_window_sums_the_seven_days_up_to_each_bucket_end(engine, orders):
    expected = {}
    for day in day_buckets():
        end = day + timedelta(days=1) - timedelta(milliseconds=1)
        expected[label(day)] = js_sum(a for t, a, _ in orders if end - timedelta(days=7) < t <= end)
    assert series(engine, "Orders.amountLast7Days") == expected


def test_leading_window_with_start_offset(engine, orders):
    expected = {}
    for day in day_buckets():
        expected[label(day)] = js_sum(a for t, a, _ in orders if t < day + timedelta(days=2))
    assert series(engine, "Orders.amountNext2Days") == expected


def test_running_total_starts_at_the_date_range(engine, orders):
    expected = {}
    for day in day_buckets():
        end = day + timedelta(days=1) - timedelta(milliseconds=1)
        expected[label(day)] = js_sum(a for t, a, _ in orders if datetime(2024, 1, 1) <= t <= end)
    assert series(engine, "Orders.runningAmount") == expected


def test_year_to_date_counts_from_the_start_of_the_year(engine, orders):
    months = [datetime(2024, m, 1) for m in (1, 2, 3)]
    expected = {}
    for month in months:
        end = (month + timedelta(days=32)).replace(day=1) - timedelta(milliseconds=1)
        expected[label(month)] = str(sum(1 for t, _, _ in orders if datetime(2024, 1, 1) <= t <= end))
    assert series(engine, "Orders.ordersYearToDate", "month",
                  ["2024-01-01", "2024-03-31"]) == expected


def test_every_bucket_of_the_range_is_answered(engine):
    assert len(series(engine, "Orders.amountLast7Days")) == 10


def test_regular_measures_join_the_buckets(engine, orders):
    query = {"measures": ["Orders.runningAmount", "Orders.count"], "timeDimensions": [
        {"dimension": "Orders.createdAt", "granularity": "day", "dateRange": DAYS}]}
    data = engine.load(query)["data"]
    for row in data:
        day = datetime.fromisoformat(row["Orders.createdAt.day"])
        count = sum(1 for t, _, _ in orders if day <= t < day + timedelta(days=1))
        assert row["Orders.count"] == (str(count) if count else None)


def test_without_granularity_the_window_spans_the_date_range(engine, orders):
    query = {"measures": ["Orders.amountLast7Days"], "timeDimensions": [
        {"dimension": "Orders.createdAt", "dateRange": DAYS}]}
    expected = js_sum(a for t, a, _ in orders
                      if datetime(2024, 1, 1) - timedelta(days=7) < t
                      <= datetime(2024, 1, 10, 23, 59, 59, 999000))
    assert engine.load(query)["data"] == [{"Orders.amountLast7Days": expected}]


def test_granularity_without_date_range_is_refused(engine):
    with pytest.raises(CubeError, match="Time series queries without dateRange aren't supported"):
        engine.load({"measures": ["Orders.runningAmount"], "timeDimensions": [
            {"dimension": "Orders.createdAt", "granularity": "day"}]})


def test_cumulative_measures_are_flagged_in_meta(engine):
    measures = {m["name"]: m for m in engine.meta()["cubes"][0]["measures"]}
    assert (measures["Orders.runningAmount"]["cumulative"],
            measures["Orders.runningAmount"]["aggType"],
            measures["Orders.count"]["cumulative"]) == (True, "runningTotal", False)
