"""The server's fast JSON paths give what the standard library gave: orjson for request and response
bodies (`engine.respond.bodies.encode_json`, `parse_json_body`), the kept /meta body, and the job
result copy (`engine.run.cache.copy_body`)."""

import json
import math
import urllib.request
import uuid
from datetime import date, datetime
from decimal import Decimal

import pytest

from engine import Engine
from engine.run.cache import copy_body
from serverkit import CONFORMANCE, RECORDED_AT, Server, call
from engine.respond.bodies import encode_json, parse_json_body, writes_as_stdlib


def stdlib(body) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


ROWS = [{"Orders.status": f"s{i}", "Orders.count": str(i), "Orders.createdAt.day":
         "2024-01-05T00:00:00.000", "Orders.flag": bool(i % 2) if i % 3 else None}
        for i in range(50)]

SAME_AS_STDLIB = [
    {"query": {"measures": ["Orders.count"], "limit": 10000, "timezone": "UTC"}, "data": ROWS,
     "annotation": {"measures": {"Orders.count": {"title": "Orders Count", "type": "number"}}},
     "total": 50, "slowQuery": False},
    {"error": "Continue wait"},
    {"cubes": [{"name": "Orders", "meta": {"nested": [1, [2, {"x": (3, "é")}]]}}]},
    ["Ωmega ☃ \u2028 \u2029 \x00 \x1f \"quoted\" back\\slash", True, False, None, -0, 2**63 - 1],
    # floats and what orjson writes differently: the stdlib writes these
    {"a": 1e-05, "b": 1e16, "c": 0.1, "d": 1.0, "e": -1e-7, "f": 5e-324},
    {"meta": {"ratio": math.nan, "top": math.inf, "bottom": -math.inf}},
    [{"Orders.count": "1", "Orders.share": 0.25}],
    {1: "int key", None: "none key", True: "bool key"},
    {"big": 2**70, "small": -2**64},
    {"rows": [("tuple", 1), ["list", 2]]},
    {},
    [],
]


@pytest.mark.parametrize("body", SAME_AS_STDLIB)
def test_encode_json_writes_what_the_stdlib_writes(body):
    assert encode_json(body) == stdlib(body)


@pytest.mark.parametrize("value", [datetime(2024, 1, 5), date(2024, 1, 5), Decimal("1.5"),
                                   uuid.UUID(int=1), {1, 2}, b"bytes"])
def test_what_the_stdlib_refuses_is_still_refused(value):
    """orjson would write a datetime or UUID; the stdlib raises, and so does the server (500)."""
    assert not writes_as_stdlib({"data": [{"x": value}]})
    with pytest.raises(TypeError):
        stdlib({"data": [{"x": value}]})
    with pytest.raises(TypeError):
        encode_json({"data": [{"x": value}]})


def test_a_lone_surrogate_fails_as_before():
    with pytest.raises(UnicodeEncodeError):
        encode_json({"x": "\ud800"})


@pytest.mark.parametrize("raw", [
    b'{"query": {"measures": ["Orders.count"], "limit": 10}, "queryType": "multi"}',
    b'{"a": NaN, "b": Infinity, "c": -Infinity}',
    b'{"a": 123456789012345678901234567890, "b": -9223372036854775809, "c": 1e400}',
    b'{"a": 1.5e3, "b": 0.1, "c": -0.0, "d": 18446744073709551615}',
    b'{"a": "\\ud800", "b": "\\u00e9", "c": "\xc3\xa9"}',
    b'{"a": 1, "a": 2}',
    b' \n [1, 2] \t',
    b'"just a string"',
])
def test_parse_json_body_reads_what_the_stdlib_reads(raw):
    got, expected = parse_json_body(raw), json.loads(raw.decode(errors="replace"))
    assert json.dumps(got) == json.dumps(expected)
    assert [type(v) for v in (got.values() if isinstance(got, dict) else got)] == \
        [type(v) for v in (expected.values() if isinstance(expected, dict) else expected)]


@pytest.mark.parametrize("raw", [b'{"query": ', b"[1, 2", b"\xff{}", b'\xef\xbb\xbf{"a": 1}',
                                 b"{'single': 1}", b'{"a": 1} trailing', b"nul"])
def test_parse_json_body_fails_with_the_stdlib_message(raw):
    with pytest.raises(json.JSONDecodeError) as ours:
        parse_json_body(raw)
    with pytest.raises(json.JSONDecodeError) as theirs:
        json.loads(raw.decode(errors="replace"))
    assert ours.value.msg == theirs.value.msg


def test_copy_body_is_a_deep_copy():
    body = {"query": {"measures": ["Orders.count"]}, "data": [dict(r) for r in ROWS],
            "annotation": {"measures": {}}, "pairs": [("a", [1])], "when": datetime(2024, 1, 5)}
    copied = copy_body(body)
    assert copied == body
    copied["query"]["measures"].append("x")
    copied["data"][0]["Orders.count"] = "changed"
    copied["pairs"][0][1].append(2)
    assert body["query"]["measures"] == ["Orders.count"]
    assert body["data"][0]["Orders.count"] == "0"
    assert body["pairs"] == [("a", [1])]


# --- over HTTP ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server():
    server = Server(["--models", str(CONFORMANCE / "model"), "--db", str(CONFORMANCE / "data"),
                     "--no-cache"], secret=None)
    yield server
    server.stop()


def raw_get(url: str) -> tuple[int, bytes, str]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.read(), response.headers["Content-Type"]


def test_load_and_meta_bodies_over_http_are_the_engines_bodies_compact(server):
    engine = Engine(models=CONFORMANCE / "model", database=CONFORMANCE / "data", now=RECORDED_AT)
    query = {"measures": ["Orders.count"], "dimensions": ["Orders.status"],
             "order": {"Orders.status": "asc"}}
    status, body, headers = call(f"{server.base}/cubejs-api/v1/load", {"query": query})
    assert status == 200 and headers["Content-Type"] == "application/json"
    expected = engine.load(query)
    assert body["data"] == expected["data"] and body["annotation"] == expected["annotation"]
    for extended in ("", "?extended=true"):
        first = raw_get(f"{server.base}/cubejs-api/v1/meta{extended}")
        again = raw_get(f"{server.base}/cubejs-api/v1/meta{extended}")
        assert first == again  # the kept body
        assert first[0] == 200 and first[2] == "application/json"
        assert first[1] == stdlib(engine.meta(extended=bool(extended)))


def test_a_malformed_body_is_still_the_stdlib_message(server):
    status, body, _ = call(f"{server.base}/cubejs-api/v1/load", raw=b'{"query": ')
    assert (status, body) == (400, {"error": "Unable to decode query param as JSON, error: "
                                             "Expecting value"})
    status, body, _ = call(f"{server.base}/cubejs-api/v1/load", raw=b"  \n ")
    assert (status, body) == (400, {"error": "Query param is required"})  # blank: no query
