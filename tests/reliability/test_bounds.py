"""Inputs that once answered 500 (issue 17): deep `and`/`or` nesting, `compareDateRange: []`,
bodies too deep for the JSON decoder, oversized bodies. Each must be a 4xx `{"error": ...}`."""

import json
import urllib.parse

import pytest

from engine.query import MAX_FILTER_DEPTH
from engine.web.http import MAX_BODY_BYTES
from serverkit import call

ROUTES = ["load", "sql", "dry-run"]
FILTER = {"member": "Orders.status", "operator": "equals", "values": ["completed"]}


def nested(depth: int, kind: str = "and") -> dict:
    node = FILTER
    for _ in range(depth - 1):
        node = {kind: [node]}
    return node


def post(live, auth, route, body=None, raw=None):
    return call(f"{live.base}/cubejs-api/v1/{route}", body, headers=auth, raw=raw)


def assert_client_error(status, body, status_range=(400, 499)):
    assert status_range[0] <= status <= status_range[1], (status, body)
    assert isinstance(body, dict) and isinstance(body.get("error"), str), body


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("kind", ["and", "or"])
def test_filter_depth_at_the_limit_answers(live, auth, route, kind):
    query = {"measures": ["Orders.count"], "filters": [nested(MAX_FILTER_DEPTH, kind)]}
    status, body, _ = post(live, auth, route, {"query": query})
    assert status == 200, body


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("depth", [MAX_FILTER_DEPTH + 1, 900, 5000, 100_000])
def test_filter_deeper_than_the_limit_is_400(live, auth, route, depth):
    query = {"measures": ["Orders.count"], "filters": [nested(depth)]}
    raw = json.dumps({"query": query}).encode() if depth < 900 else (
        b'{"query": {"measures": ["Orders.count"], "filters": ['
        + b'{"and": [' * (depth - 1) + json.dumps(FILTER).encode() + b']}' * (depth - 1)
        + b"]}}")
    status, body, _ = post(live, auth, route, raw=raw)
    assert_client_error(status, body, (400, 413))
    if status == 400 and depth < 900:
        assert "deeper than" in body["error"]


@pytest.mark.parametrize("route", ROUTES)
def test_deep_json_in_get_query_param_is_400(live, auth, route):
    text = "[" * 15_000 + "]" * 15_000  # under waitress's 256 KiB header limit
    url = f"{live.base}/cubejs-api/v1/{route}?" + urllib.parse.urlencode({"query": text})
    status, body, _ = call(url, headers=auth, method="GET")
    assert_client_error(status, body)


@pytest.mark.parametrize("route", ROUTES)
def test_deep_json_body_is_400(live, auth, route):
    status, body, _ = post(live, auth, route, raw=b'{"query": ' + b"[" * 200_000 + b"]" * 200_000 + b"}")
    assert_client_error(status, body, (400, 413))
    status, body, _ = post(live, auth, route, raw=b'{"query": ' + b"[" * 5000 + b"]" * 5000 + b"}")
    assert_client_error(status, body)


@pytest.mark.parametrize("route", ["load", "dry-run", "sql"])
@pytest.mark.parametrize("ranges", [[], [5], [["2024-01-01", "2024-02-01", "x"]], [[]]])
def test_bad_compare_date_range_is_400(live, auth, route, ranges):
    query = {"measures": ["Orders.count"],
             "timeDimensions": [{"dimension": "Orders.createdAt", "compareDateRange": ranges}]}
    status, body, _ = post(live, auth, route, {"query": query})
    assert_client_error(status, body)


def test_body_over_the_limit_is_413(live, auth):
    filler = "x" * (MAX_BODY_BYTES + 10)
    status, body, _ = post(live, auth, "load", raw=json.dumps({"query": {}, "pad": filler}).encode())
    assert status == 413, body
    assert "too large" in body["error"]
