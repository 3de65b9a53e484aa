"""A live `duckcube serve` driven over HTTP: the real `@cubejs-client/core`, Continue wait, the
hard timeout, the result cache, GraphQL, the request log, and the loopback rule."""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from engine.cli import main
from serverkit import Server, call, get, model_with_slow_cubes, token, until_done

JS = Path(__file__).parent / "js"
QUERY_TIMEOUT = 3


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    models = model_with_slow_cubes(tmp_path_factory.mktemp("models"))
    server = Server(["--models", str(models), "--db", "tests/conformance/data",
                     "--continue-wait", "0.1", "--query-timeout", str(QUERY_TIMEOUT)])
    yield server
    server.stop()


def api(server, route: str) -> str:
    return f"{server.base}/cubejs-api/v1/{route}"


def auth() -> dict:
    return {"Authorization": token()}


def load_once(server, query, **params):
    return call(api(server, "load"), {"query": query, **params}, auth())


def load(server, query, **params):
    """The answer once it is not Continue wait."""
    return until_done(lambda: load_once(server, query, **params))


# --- the real Cube client ------------------------------------------------------------------


@pytest.fixture(scope="module")
def cube_client():
    """`@cubejs-client/core` from the npm registry, installed into tests/server/js (pinned by
    its package-lock.json). Failing to install fails the test: it is the point of the test."""
    if (JS / "node_modules" / "@cubejs-client" / "core" / "package.json").exists():
        return JS
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is not installed: cannot install @cubejs-client/core")
    done = subprocess.run([npm, "install", "--no-audit", "--no-fund"], cwd=JS,
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        pytest.fail(f"npm install failed:\n{done.stdout}\n{done.stderr}")
    return JS


def test_the_real_cube_client(server, cube_client, engine):
    expected = {
        "byStatus": engine.load({"measures": ["Orders.count"], "dimensions": ["Orders.status"],
                                 "order": {"Orders.status": "asc"}})["data"],
        "byMonth": engine.load({"measures": ["Orders.count"], "timeDimensions": [{
            "dimension": "Orders.createdAt", "granularity": "month",
            "dateRange": ["2023-11-01", "2024-04-30"]}]})["data"],
    }
    env = dict(os.environ, DUCKCUBE_API=f"{server.base}/cubejs-api/v1",
               DUCKCUBE_TOKEN=token(), DUCKCUBE_EXPECTED=json.dumps(expected))
    done = subprocess.run(["node", "client_check.mjs"], cwd=cube_client, env=env,
                          capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n--- server ---\n{server.output}"
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["ok"] and summary["continueWaits"] >= 1
    # the client's slow result is the one the server now has cached
    status, body, _ = load(server, {"measures": ["Slow.checksum"]}, queryType="multi")
    assert body["results"][0]["data"] == [{"Slow.checksum": summary["slowChecksum"]}]
    # the client asked with GET ?query=...&queryType=multi, and retried the same request: the
    # retry joins the running query, or (on a loaded machine, the query done by then) hits it
    server.wait_lines(r"GET /cubejs-api/v1/load 200 .*cache=wait")
    server.wait_lines(r"GET /cubejs-api/v1/load 200 .*cache=(joined|hit)")


# --- Continue wait, timeout, cache over HTTP ------------------------------------------------


def test_continue_wait_then_the_retry_gets_the_result(server):
    query = {"measures": ["Slow.checksum"], "limit": 7}  # a query nobody asked yet
    since = server.mark()
    status, body, _ = load_once(server, query)
    assert (status, body) == (200, {"error": "Continue wait"})
    status, body, waits = load(server, query)
    assert status == 200 and body["data"][0]["Slow.checksum"].isdigit()
    # the retries joined the running query
    server.wait_lines(r"POST /cubejs-api/v1/load 200 .*cache=joined", since)


def test_a_query_over_the_hard_timeout_is_interrupted(server):
    query = {"measures": ["Endless.checksum"]}
    status, body, waits = until_done(lambda: load_once(server, query), limit=QUERY_TIMEOUT + 20)
    assert waits >= 1
    assert (status, body) == (400, {"error": f"Error: Query timeout: the query ran longer than "
                                             f"{QUERY_TIMEOUT} s and was interrupted"})
    status, body, _ = load(server, {"measures": ["Orders.count"]})  # DuckDB still answers
    assert (status, body["data"]) == (200, [{"Orders.count": "120"}])


def test_results_are_cached_unless_the_request_says_no_cache(server):
    query = {"measures": ["Orders.count"], "dimensions": ["Orders.status"], "limit": 3}
    since = server.mark()
    first = load(server, query)[1]
    second = load(server, query)[1]
    assert second == first  # same lastRefreshTime: served from the cache
    third = load(server, query, cache="no-cache")[1]
    assert third["data"] == first["data"]
    caches = [re.search(r"cache=(\w+)", line).group(1)
              for line in server.wait_lines("/cubejs-api/v1/load", since, count=3)]
    assert caches == ["miss", "hit", "miss"]


def test_a_bad_cache_mode_is_a_400(server):
    status, body, _ = load(server, {"measures": ["Orders.count"]}, cache="always")
    assert status == 400 and "cache" in body["error"]


def test_each_query_logs_compile_and_database_milliseconds(server):
    since = server.mark()
    load(server, {"measures": ["Orders.totalAmount"]})
    server.wait_lines(r"POST /cubejs-api/v1/load 200 tenant=default compile_ms=\d+\.\d "
                      r"db_ms=\d+\.\d cache=miss total_ms=\d+\.\d", since)


def test_get_with_query_string_like_the_client(server):
    status, body, _ = get(api(server, "load"), {
        "query": json.dumps({"measures": ["Orders.count"]}), "queryType": "multi"}, auth())
    assert status == 200 and body["results"][0]["data"] == [{"Orders.count": "120"}]


# --- auth -----------------------------------------------------------------------------------


@pytest.mark.parametrize("headers, error", [
    ({}, "Authorization header isn't set"),
    ({"Authorization": token(secret="another-secret-another-secret-another")}, "Invalid token"),
    ({"Authorization": token(exp=1)}, "Invalid token"),
    ({"Authorization": "Bearer not.a.jwt"}, "Invalid token"),
])
def test_auth_failures_are_403(server, headers, error):
    for route in ("load", "meta", "sql", "dry-run"):
        status, body, _ = call(api(server, route), {"query": {"measures": ["Orders.count"]}},
                               headers)
        assert (status, body) == (403, {"error": error})
    status, body, _ = call(f"{server.base}/cubejs-api/graphql", {"query": "{ __typename }"},
                           headers)
    assert (status, body) == (403, {"error": error})


def test_an_unsigned_token_is_refused(server):
    import jwt
    unsigned = jwt.encode({"sub": "x"}, None, algorithm="none")
    assert call(api(server, "meta"), headers={"Authorization": unsigned})[:2] == (
        403, {"error": "Invalid token"})


# --- GraphQL --------------------------------------------------------------------------------


def test_graphql_over_http(server):
    status, body, _ = call(f"{server.base}/cubejs-api/graphql", {
        "query": "query ($n: Int) { cube(limit: $n, orderBy: {orders: {status: asc}}) "
                 "{ orders { status count } } }", "variables": {"n": 2}}, auth())
    assert status == 200
    assert [row["orders"]["status"] for row in body["data"]["cube"]] == ["cancelled", "completed"]
    assert all(isinstance(row["orders"]["count"], int) for row in body["data"]["cube"])


def test_graphql_over_get(server):
    status, body, _ = get(f"{server.base}/cubejs-api/graphql",
                          {"query": "{ cube { orders { count } } }"}, auth())
    assert (status, body["data"]) == (200, {"cube": [{"orders": {"count": 120}}]})


# --- the loopback rule ----------------------------------------------------------------------


def test_without_a_secret_only_loopback_is_served(monkeypatch, capsys):
    monkeypatch.delenv("CUBEJS_API_SECRET", raising=False)
    assert main(["serve", "--host", "0.0.0.0", "--db", "tests/conformance/data"]) == 2
    assert "refusing to listen on 0.0.0.0 without CUBEJS_API_SECRET" in capsys.readouterr().err


def test_the_startup_message_says_what_is_served(server):
    assert "JWT required" in server.output
    assert "continue wait 0.1 s, query timeout 3 s" in server.output
