"""Query normalization: Cube's defaults and its exact validation messages."""

from datetime import datetime, timezone

import pytest

from engine.errors import QueryError
from engine.query import Filter, FilterGroup, normalize_query, parse_query_param

NOW = datetime(2026, 11, 22, 11, 10, 14, tzinfo=timezone.utc)


def error_of(query) -> str:
    with pytest.raises(QueryError) as error:
        normalize_query(query, NOW)
    assert error.value.status == 400
    return error.value.body["error"]


def test_defaults_are_filled():
    echo = normalize_query({"measures": ["A.count"]}, NOW).echo()
    assert echo == {"measures": ["A.count"], "dimensions": [], "timeDimensions": [],
                    "limit": 10000, "timezone": "UTC", "filters": [], "rowLimit": 10000}


def test_three_part_dimension_becomes_a_time_dimension():
    query = normalize_query({"dimensions": ["A.createdAt.month", "A.city"]}, NOW)
    assert query.dimensions == ["A.city"]
    assert query.echo()["timeDimensions"] == [{"dimension": "A.createdAt", "granularity": "month"}]


def test_order_object_becomes_id_desc_pairs():
    query = normalize_query({"measures": ["A.count"], "order": {"A.count": "desc", "A.x": "asc"}}, NOW)
    assert query.echo()["order"] == [{"id": "A.count", "desc": True}, {"id": "A.x", "desc": False}]


def test_filter_values_are_stringified_like_javascript():
    query = normalize_query({"measures": ["A.count"], "filters": [
        {"dimension": "A.n", "operator": "equals", "values": [3, 2.5, True, None]}]}, NOW)
    assert query.filters == [Filter("A.n", "equals", ("3", "2.5", "true", None))]


def test_nested_filter_groups_are_kept():
    query = normalize_query({"measures": ["A.count"], "filters": [{"or": [
        {"member": "A.x", "operator": "set"},
        {"and": [{"member": "A.y", "operator": "equals", "values": ["1"]}]}]}]}, NOW)
    assert isinstance(query.filters[0], FilterGroup) and query.filters[0].kind == "or"


def test_timezone_is_canonicalized():
    assert normalize_query({"measures": ["A.count"], "timezone": "america/new_york"},
                           NOW).timezone == "America/New_York"


def test_empty_query_is_refused():
    assert error_of({}) == ("Query should contain either measures, dimensions or timeDimensions "
                            "with granularities in order to be valid")


def test_bad_member_name_reports_the_pattern():
    assert error_of({"measures": ["foo"]}) == (
        'Invalid query format: "measures[0]" with value "foo" fails to match the required '
        "pattern: /^[a-zA-Z0-9_]+\\.[a-zA-Z0-9_]+$/")


def test_unknown_query_key_is_not_allowed():
    assert error_of({"measures": ["A.count"], "limt": 5}) == 'Invalid query format: "limt" is not allowed'


def test_limit_must_be_a_non_negative_integer():
    assert error_of({"measures": ["A.count"], "limit": -1}) == (
        'Invalid query format: "limit" must be greater than or equal to 0')
    assert error_of({"measures": ["A.count"], "limit": "10"}) == (
        'Invalid query format: "limit" must be a number')
    assert error_of({"measures": ["A.count"], "limit": 1.5}) == (
        'Invalid query format: "limit" must be an integer')


def test_limit_over_the_maximum_is_a_client_error():
    assert error_of({"measures": ["A.count"], "limit": 50001}) == (
        "Error: The query limit has been exceeded.")


def test_bad_order_direction():
    assert error_of({"measures": ["A.count"], "order": {"A.count": "up"}}) == (
        'Invalid query format: "order.A.count" must be one of [asc, desc]')


def test_unknown_filter_operator_matches_no_filter_type():
    assert error_of({"measures": ["A.count"], "filters": [
        {"member": "A.x", "operator": "like", "values": ["a"]}]}) == (
        'Invalid query format: "filters[0]" does not match any of the allowed types')


def test_filter_without_values_is_refused():
    assert error_of({"measures": ["A.count"], "filters": [
        {"member": "A.x", "operator": "equals"}]}) == (
        'Values required for filter: {"member":"A.x","operator":"equals"}')


def test_invalid_timezone():
    assert error_of({"measures": ["A.count"], "timezone": "Mars/Base"}) == (
        'Invalid query format: "timezone" must be a valid IANA time zone, got "Mars/Base"')


def test_time_dimension_needs_a_dimension():
    assert error_of({"measures": ["A.count"], "timeDimensions": [{"granularity": "day"}]}) == (
        'Invalid query format: "timeDimensions[0].dimension" is required')


def test_query_param_must_be_present_and_json():
    with pytest.raises(QueryError, match="Query param is required"):
        parse_query_param(None)
    with pytest.raises(QueryError, match="Unable to decode query param as JSON, error: "):
        parse_query_param("{not json")


def test_absolute_date_range_is_normalized_to_day_bounds():
    query = normalize_query({"measures": ["A.count"], "timeDimensions": [
        {"dimension": "A.t", "dateRange": ["2024-01-01", "2024-01-31"]}]}, NOW)
    assert query.time_dimensions[0].date_range == ("2024-01-01T00:00:00.000",
                                                   "2024-01-31T23:59:59.999")


def test_relative_date_range_resolves_against_the_clock():
    query = normalize_query({"measures": ["A.count"], "timeDimensions": [
        {"dimension": "A.t", "dateRange": "This week"}]}, NOW)
    assert query.time_dimensions[0].date_range == ("2026-11-16T00:00:00.000",
                                                   "2026-11-22T23:59:59.999")
