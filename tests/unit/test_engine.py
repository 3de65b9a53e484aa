"""The embedded API over real DuckDB: answers, SQL shape, errors."""

import re

import pytest

from engine import CubeError


def rows(engine, query):
    return engine.load(query)["data"]


def test_count_over_the_whole_table(engine):
    assert rows(engine, {"measures": ["Orders.count"]}) == [{"Orders.count": "120"}]


def test_error_carries_cube_status_and_body(engine):
    with pytest.raises(CubeError) as error:
        engine.load({"measures": ["Orders.nope"]})
    assert (error.value.status, error.value.body) == (
        400, {"type": "UserError", "error": "'nope' not found for path 'Orders.nope'"})


def test_request_values_reach_sql_only_as_parameters(engine):
    sql, params = engine.sql({"measures": ["Orders.count"], "filters": [
        {"member": "Orders.status", "operator": "equals", "values": ["x' OR 1=1 --"]}]})["sql"]["sql"]
    assert "1=1" not in sql and "x' OR 1=1 --" in params


def test_like_operators_match_underscore_literally(engine):
    data = rows(engine, {"measures": ["TrackedEvents.count"], "dimensions": ["TrackedEvents.eventName"],
                         "filters": [{"member": "TrackedEvents.eventName", "operator": "contains",
                                      "values": ["_"]}]})
    assert [r["TrackedEvents.eventName"] for r in data] == ["page_view"]


def test_not_equals_keeps_null_rows(engine):
    everything = rows(engine, {"measures": ["Users.count"]})[0]["Users.count"]
    nulls = rows(engine, {"measures": ["Users.count"], "filters": [
        {"member": "Users.city", "operator": "notSet"}]})[0]["Users.count"]
    in_city = rows(engine, {"measures": ["Users.count"], "filters": [
        {"member": "Users.city", "operator": "equals", "values": ["Berlin"]}]})[0]["Users.count"]
    not_in_city = rows(engine, {"measures": ["Users.count"], "filters": [
        {"member": "Users.city", "operator": "notEquals", "values": ["Berlin"]}]})[0]["Users.count"]
    assert int(in_city) + int(not_in_city) == int(everything)
    assert int(nulls) >= 0


def test_measure_filter_goes_to_having(engine):
    data = rows(engine, {"measures": ["Orders.count"], "dimensions": ["Orders.status"],
                         "filters": [{"member": "Orders.count", "operator": "gt", "values": ["25"]}]})
    assert data and all(int(r["Orders.count"]) > 25 for r in data)
    sql = engine.sql({"measures": ["Orders.count"], "dimensions": ["Orders.status"],
                      "filters": [{"member": "Orders.count", "operator": "gt", "values": ["25"]}]})
    assert "HAVING" in sql["sql"]["sql"][0]


def test_dimension_and_measure_in_one_group_is_refused(engine):
    with pytest.raises(CubeError, match="You cannot use dimension and measure in same condition"):
        engine.load({"measures": ["Orders.count"], "filters": [{"or": [
            {"member": "Orders.count", "operator": "gt", "values": ["1"]},
            {"member": "Orders.status", "operator": "equals", "values": ["x"]}]}]})


def test_compact_response_format(engine):
    body = engine.load({"measures": ["Orders.count"], "dimensions": ["Orders.status"],
                        "order": {"Orders.status": "asc"}, "responseFormat": "compact", "limit": 2})
    assert body["data"]["members"] == ["Orders.status", "Orders.count"]
    assert len(body["data"]["dataset"]) == 2


def test_time_dimension_in_new_york_groups_by_local_day(engine):
    utc = rows(engine, {"measures": ["Orders.count"], "timeDimensions": [
        {"dimension": "Orders.createdAt", "granularity": "year"}]})
    ny = rows(engine, {"measures": ["Orders.count"], "timezone": "America/New_York",
                       "timeDimensions": [{"dimension": "Orders.createdAt", "granularity": "year"}]})
    assert sum(int(r["Orders.count"]) for r in utc) == sum(int(r["Orders.count"]) for r in ny) == 120
    assert all(re.match(r"^\d{4}-01-01T00:00:00\.000$", r["Orders.createdAt.year"]) for r in ny)


def test_ungrouped_query_needs_primary_keys(engine):
    with pytest.raises(CubeError, match="Ungrouped query requires primary keys to be present in "
                                        "dimensions: 'Orders.id'"):
        engine.load({"dimensions": ["Orders.status"], "ungrouped": True})


def test_unknown_granularity(engine):
    with pytest.raises(CubeError, match='Granularity "fortnight" does not exist in dimension '
                                        "Orders.createdAt"):
        engine.load({"measures": ["Orders.count"], "timeDimensions": [
            {"dimension": "Orders.createdAt", "granularity": "fortnight"}]})


def test_total_counts_all_rows_before_the_limit(engine):
    body = engine.load({"measures": ["Orders.count"], "dimensions": ["Orders.status"],
                        "limit": 1, "total": True})
    assert len(body["data"]) == 1 and body["total"] == 4


def test_bad_filter_value_for_a_number_is_a_400(engine):
    with pytest.raises(CubeError) as error:
        engine.load({"measures": ["Orders.count"], "filters": [
            {"member": "Orders.amount", "operator": "gt", "values": ["lots"]}]})
    assert error.value.status == 400 and error.value.body["error"].startswith("Error: ")


def test_meta_hides_primary_keys(engine):
    sessions = next(c for c in engine.meta()["cubes"] if c["name"] == "Sessions")
    assert "Sessions.sessionId" not in [d["name"] for d in sessions["dimensions"]]
