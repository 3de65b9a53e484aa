"""Date values in filters are read once, during normalization (`Filter.bounds`), and turned into
UTC instants by the plan (`PlannedFilter.utc_bounds`): a value that is no date is refused with
Cube's message and status 400, and nothing after normalization reads the clock."""

from datetime import datetime, timezone
from pathlib import Path

import pytest

from engine import CubeError, Engine
from engine.compile.plan import build_plan
from engine.model import load_model
from engine.query import normalize_query

CONFORMANCE = Path(__file__).resolve().parents[1] / "conformance"
NOW = datetime(2026, 11, 22, 11, 10, 14, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(models=CONFORMANCE / "model", database=CONFORMANCE / "data", now=NOW)


def count_where(*filters: dict) -> dict:
    return {"measures": ["Orders.count"], "filters": list(filters)}


def refusal(engine: Engine, query: dict) -> tuple[int, dict]:
    with pytest.raises(CubeError) as caught:
        engine.load(query)
    return caught.value.status, caught.value.body


def test_a_comparison_of_a_time_with_a_non_date_is_a_400(engine):
    query = count_where({"member": "Orders.createdAt", "operator": "gt", "values": ["garbage"]})
    assert refusal(engine, query) == (400, {"error": "Can't parse date: 'garbage'"})


def test_an_impossible_absolute_date_in_a_range_is_a_400(engine):
    query = count_where({"member": "Orders.createdAt", "operator": "inDateRange",
                         "values": ["2024-13-45", "2024-12-31"]})
    assert refusal(engine, query) == (400, {"error": "Can't parse date: '2024-13-45'"})


def test_a_comparison_of_a_text_with_a_date_like_word_is_a_text_comparison(engine):
    query = {"measures": ["Orders.count"], "filters": [
        {"member": "Orders.status", "operator": "gt", "values": ["today"]}]}
    assert build_plan(load_model(CONFORMANCE / "model"),
                      normalize_query(query, NOW)).where[0].utc_bounds is None
    assert engine.load(query)["data"] == [{"Orders.count": "0"}]


def test_normalization_keeps_the_value_and_resolves_its_bounds_in_the_query_zone():
    query = normalize_query(count_where({"member": "Orders.createdAt", "operator": "gte",
                                         "values": ["yesterday"]}), NOW)
    assert query.filters[0].values == ("yesterday",)
    assert query.filters[0].bounds == ("2026-11-21T00:00:00.000", None)
    assert query.echo()["filters"] == [{"member": "Orders.createdAt", "operator": "gte",
                                        "values": ["yesterday"]}]


def test_the_plan_turns_local_bounds_into_utc_instants():
    query = normalize_query({**count_where({"member": "Orders.createdAt",
                                            "operator": "inDateRange",
                                            "values": ["2026-07-01", "2026-07-31"]}),
                             "timezone": "America/New_York"}, NOW)
    planned = build_plan(load_model(CONFORMANCE / "model"), query).where[0]
    assert planned.utc_bounds == (datetime(2026, 7, 1, 4, tzinfo=timezone.utc),
                                  datetime(2026, 8, 1, 3, 59, 59, 999000, tzinfo=timezone.utc))
