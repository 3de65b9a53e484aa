"""`transformed_query` against the descriptors real Cube 1.7.43 recorded.

Every recorded case that carries a pre-aggregation matching descriptor (`/v1/dry-run`
`transformedQueries`, `/v1/sql` `sql.canUseTransformedQuery`, either as the case's own request or
under `also`) in `tests/conformance/cases/` (recorded over `tests/conformance/model/`); each
descriptor becomes one test that builds the engine objects directly and compares key order and
values.
"""

from __future__ import annotations

import copy
import json
import urllib.parse
from datetime import datetime, timezone
from pathlib import Path

import pytest

from engine.model import load_model
from engine.compile.plan import build_plan
from engine.query import normalize_query
from engine.respond.transformed import GRANULARITY_HIERARCHY, granularity_for, min_granularity, \
    transformed_query

CONFORMANCE = Path(__file__).parent.parent / "conformance"
CASES = CONFORMANCE / "cases"
NOW = datetime(2026, 11, 22, 11, 10, 14, tzinfo=timezone.utc)  # when the cases were recorded


def _request_query(case: dict):
    if case["method"] == "GET":
        params = urllib.parse.parse_qs(urllib.parse.urlparse(case["path"]).query)
        return json.loads(params["query"][0])
    body = case["body"]
    return body["query"] if isinstance(body, dict) and "query" in body else body


def _descriptors(source: str, response) -> list | None:
    if source == "dry-run":
        return response.get("transformedQueries") if isinstance(response, dict) else None
    if isinstance(response, list):  # /v1/sql of a multi-query request
        return [item["sql"]["canUseTransformedQuery"] for item in response]
    sql = response.get("sql") if isinstance(response, dict) else None
    if isinstance(sql, dict) and "canUseTransformedQuery" in sql:
        return [sql["canUseTransformedQuery"]]
    return None


def _recorded() -> list:
    params = []
    for path in sorted(CASES.glob("*.json")):
        case = json.loads(path.read_text())
        sources = []
        if case["status"] == 200 and "/v1/dry-run" in case["path"]:
            sources.append(("dry-run", case["response"]))
        if case["status"] == 200 and "/v1/sql" in case["path"]:
            sources.append(("sql", case["response"]))
        for name, extra in (case.get("also") or {}).items():
            if extra.get("status") == 200:
                sources.append((name, extra["response"]))
        for source, response in sources:
            expected = _descriptors(source, response)
            if expected is not None:
                params.append(pytest.param(_request_query(case), expected,
                                           id=f"{path.stem}:{source}"))
    return params


def _split(query) -> list[dict]:
    """The queries Cube plans for one request: an array is blended, and a time dimension's
    `compareDateRange` makes one query per range."""
    if isinstance(query, list):
        return query
    for index, td in enumerate(query.get("timeDimensions") or []):
        if td.get("compareDateRange") is not None:
            split = []
            for date_range in td["compareDateRange"]:
                single = copy.deepcopy(query)
                del single["timeDimensions"][index]["compareDateRange"]
                single["timeDimensions"][index]["dateRange"] = date_range
                split.append(single)
            return split
    return [query]


@pytest.fixture(scope="module")
def model():
    return load_model(CONFORMANCE / "model")


RECORDED = _recorded()


def test_every_recorded_case_is_covered():
    assert len({p.id.split(":")[0] for p in RECORDED}) == 38
    assert len(RECORDED) == 43


@pytest.mark.parametrize("query, expected", RECORDED)
def test_matches_recorded_descriptor(model, query, expected):
    queries = _split(copy.deepcopy(query))
    assert len(queries) == len(expected)
    for single, want in zip(queries, expected):
        plan = build_plan(model, normalize_query(single, now=NOW))
        got = transformed_query(model, plan)
        assert got == want
        assert list(got) == list(want)  # the JSON key order too


# --- the granularity rules, spelled out -------------------------------------------------------


@pytest.mark.parametrize("a, b, finest", [
    ("week", "month", "day"), ("week", "year", "day"), ("year", "month", "month"),
    ("quarter", "month", "month"), ("quarter", "year", "quarter"), ("day", "week", "day"),
    ("hour", "hour", "hour"), (None, "week", "week"), ("week", None, "week"), (None, None, None),
])
def test_min_granularity(a, b, finest):
    assert min_granularity(a, b) == finest


@pytest.mark.parametrize("moment, granularity", [
    (datetime(2024, 1, 1), "year"),
    (datetime(2024, 4, 1), "month"),            # quarter starts are never inferred
    (datetime(2026, 11, 16), "week"),           # a Monday
    (datetime(2024, 1, 16), "day"),
    (datetime(2024, 1, 16, 6), "hour"),
    (datetime(2024, 1, 16, 6, 30), "minute"),
    (datetime(2024, 1, 16, 6, 30, 5), "second"),
    (datetime(2024, 1, 16, 6, 30, 5, 1000), "second"),
])
def test_granularity_for(moment, granularity):
    assert granularity_for(moment) == granularity


def test_hierarchies_are_finer_or_equal_chains():
    assert GRANULARITY_HIERARCHY["week"] == ("week", "day", "hour", "minute", "second")
    for name, chain in GRANULARITY_HIERARCHY.items():
        assert chain[0] == name and chain[-1] == "second"


@pytest.mark.parametrize("date_range, granularity, rollup", [
    (["2024-01-01", "2024-12-31"], None, "year"),
    (["2024-01-01", "2024-03-31"], None, "month"),
    (["2024-01-01", "2024-03-31"], "week", "day"),
    (["2024-01-01", "2024-03-31"], "quarter", "month"),
    (["2024-01-01", "2024-01-07"], "month", "day"),
    (["2024-01-01T06:00:00.000", "2024-01-01T06:59:59.999"], None, "hour"),
    (["2024-01-01T06:00:00.000", "2024-01-01T18:29:59.999"], "day", "minute"),
])
def test_rollup_granularity_of_ranges(model, date_range, granularity, rollup):
    td = {"dimension": "Orders.createdAt", "dateRange": date_range}
    if granularity:
        td["granularity"] = granularity
    plan = build_plan(model, normalize_query(
        {"measures": ["Orders.count"], "timeDimensions": [td]}, now=NOW))
    got = transformed_query(model, plan)
    assert got["sortedTimeDimensions"] == [["Orders.createdAt", rollup]]
    assert got["timeDimensions"] == [["Orders.createdAt", granularity]]
    assert got["hasNoTimeDimensionsWithoutGranularity"] is bool(granularity)


# --- rules the recordings do not reach, taken from Cube's source -------------------------------


def _descriptor(model, query: dict) -> dict:
    return transformed_query(model, build_plan(model, normalize_query(query, now=NOW)))


def test_non_additive_measures(model):
    got = _descriptor(model, {"measures": ["Orders.averageAmount", "Orders.minAmount"]})
    assert got["isAdditive"] is False and got["leafMeasureAdditive"] is False
    assert got["measureToLeafMeasures"]["Orders.averageAmount"] == [
        {"measure": "Orders.averageAmount", "additive": False, "type": "avg"}]
    assert got["measureToLeafMeasures"]["Orders.minAmount"][0]["additive"] is True


def test_single_value_equals_filters(model):
    got = _descriptor(model, {"measures": ["Orders.count"], "dimensions": ["Orders.status"],
                              "filters": [{"member": "Orders.status", "operator": "equals",
                                           "values": ["paid"]}]})
    assert got["filterDimensionsSingleValueEqual"] == {}
    assert got["allFiltersWithinSelectedDimensions"] is True
    got = _descriptor(model, {"measures": ["Orders.count"],
                              "filters": [{"member": "Orders.status", "operator": "equals",
                                           "values": ["paid", "new"]}]})
    assert got["filterDimensionsSingleValueEqual"] is None
    assert got["allFiltersWithinSelectedDimensions"] is False
    assert got["sortedDimensions"] == ["Orders.status"]


def test_measure_filters_count_as_measures_not_dimensions(model):
    got = _descriptor(model, {"measures": ["Orders.count"], "dimensions": ["Orders.status"],
                              "filters": [{"member": "Orders.totalAmount", "operator": "gt",
                                           "values": ["10"]}]})
    assert got["measures"] == ["Orders.count"]
    assert got["leafMeasures"] == ["Orders.count", "Orders.totalAmount"]
    assert list(got["measureToLeafMeasures"]) == ["Orders.count", "Orders.totalAmount"]
    assert got["sortedDimensions"] == ["Orders.status"]
    assert got["allFiltersWithinSelectedDimensions"] is True


def test_multiplied_measures(model):
    got = _descriptor(model, {"measures": ["Users.count"], "dimensions": ["Orders.status"]})
    assert got["hasMultipliedMeasures"] is True
    assert got["leafMeasuresFullPaths"] == ["Orders.Users.count"]
    got = _descriptor(model, {"measures": ["Orders.count"], "dimensions": ["Users.city"]})
    assert got["hasMultipliedMeasures"] is False


def test_custom_granularities(tmp_path):
    (tmp_path / "events.yml").write_text("""cubes:
  - name: Events
    sql_table: events
    measures:
      - name: count
        type: count
    dimensions:
      - name: id
        sql: id
        type: number
        primary_key: true
      - name: at
        sql: at
        type: time
        granularities:
          - name: fiscal_year
            interval: 1 year
            offset: 3 months
          - name: half_year
            interval: 6 months
          - name: fortnight
            interval: 2 weeks
            origin: "2024-08-23"
""")
    custom_model = load_model(tmp_path)
    query = {"measures": ["Events.count"],
             "timeDimensions": [{"dimension": "Events.at", "granularity": "half_year"}]}
    got = _descriptor(custom_model, query)
    hierarchies = got["granularityHierarchies"]
    assert list(hierarchies)[8:] == ["Events.at.fiscal_year", "Events.at.half_year",
                                     "Events.at.fortnight"]
    assert hierarchies["Events.at.fiscal_year"] == ["fiscal_year", "month", "day", "hour",
                                                    "minute", "second"]
    assert hierarchies["Events.at.half_year"] == ["half_year", "month", "day", "hour",
                                                  "minute", "second"]
    # Its origin, 2024-08-23, is a Friday: the grid is day-aligned, not week-aligned.
    assert hierarchies["Events.at.fortnight"] == ["fortnight", "day", "hour", "minute", "second"]
    # As is: the interval's unit; for pre-aggregation matching: the finest unit of its grid.
    assert got["timeDimensions"] == [["Events.at", "month"]]
    assert got["sortedTimeDimensions"] == [["Events.at", "month"]]
    # A date range on the custom grid keeps the custom granularity; one off the grid does not.
    query["timeDimensions"][0]["dateRange"] = ["2026-01-01", "2026-12-31"]
    assert _descriptor(custom_model, query)["sortedTimeDimensions"] == [["Events.at", "half_year"]]
    query["timeDimensions"][0]["dateRange"] = ["2026-02-01", "2026-07-31"]
    assert _descriptor(custom_model, query)["sortedTimeDimensions"] == [["Events.at", "month"]]
