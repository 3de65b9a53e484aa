"""Tenants (one database per `appId`) and GitLab's product-analytics routes, on a live server.

Tenants dir: `gitlab_project_1/` (Parquet folder, the conformance data: 120 orders) and
`gitlab_project_2.duckdb` (a DuckDB file with 10 orders). A `secret/` folder next to the tenants
dir must never be reachable."""

import json
import shutil
from datetime import date, timedelta

import duckdb
import pytest

from engine.web.auth import TokenFileError, parse_tokens
from engine.web.gitlab import zero_fill
from serverkit import (CONFORMANCE, Server, call, get, model_with_slow_cubes, token, until_done)

TOKENS = {"tok-a": [1], "tok-b": [1, 2], "tok-c": {"1": "guest", "3": "developer"}}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("tenancy")
    models = model_with_slow_cubes(root / "models")
    tenants = root / "tenants"
    shutil.copytree(CONFORMANCE / "data", tenants / "gitlab_project_1")
    shutil.copytree(CONFORMANCE / "data", root / "secret")  # outside: must stay unreachable
    con = duckdb.connect(str(tenants / "gitlab_project_2.duckdb"))
    for table in ("orders", "users", "sessions", "tracked_events"):
        source = str(CONFORMANCE / "data" / f"{table}.parquet")
        limit = " ORDER BY id LIMIT 10" if table == "orders" else ""
        con.execute(f"CREATE TABLE {table} AS SELECT * FROM read_parquet('{source}'){limit}")
    con.close()
    (root / "tokens.json").write_text(json.dumps(TOKENS))
    server = Server(["--models", str(models), "--tenants", str(tenants),
                     "--gitlab-tokens", str(root / "tokens.json"), "--continue-wait", "0.1"])
    yield server
    server.stop()


COUNT = {"measures": ["Orders.count"]}


# --- Cube routes: the tenant comes from the token's appId ----------------------------------


def cube_load(server, claims: dict, query=COUNT, secret=None):
    jwt_token = token(**claims) if secret is None else token(secret, **claims)
    return until_done(lambda: call(f"{server.base}/cubejs-api/v1/load", {"query": query},
                                   {"Authorization": jwt_token}))


def test_each_tenant_reads_its_own_data(server):
    for _ in range(2):  # and the second time (cached) too
        assert cube_load(server, {"appId": "gitlab_project_1"})[1]["data"] == [
            {"Orders.count": "120"}]
        assert cube_load(server, {"appId": "gitlab_project_2"})[1]["data"] == [
            {"Orders.count": "10"}]


def test_the_legacy_u_claim_carries_the_context(server):
    assert cube_load(server, {"u": {"appId": "gitlab_project_2"}})[1]["data"] == [
        {"Orders.count": "10"}]


def test_no_app_id_is_refused(server):
    assert cube_load(server, {"sub": "someone"})[:2] == (
        403, {"error": "No tenant: the security context has no appId"})


@pytest.mark.parametrize("app_id", [
    "gitlab_project_9", "../secret", "gitlab_project_1/../gitlab_project_2", "secret",
    "gitlab_project_1/", "/etc", ".", "..", "", "gitlab_project_1%2F..", "gitlab_project_1.duckdb",
    "gitlab_project_2.duckdb", 1, ["gitlab_project_1"], {"name": "gitlab_project_1"},
])
def test_unknown_or_malformed_tenants_get_a_clear_error(server, app_id):
    status, body, _ = cube_load(server, {"appId": app_id})
    assert status == 403 and body["error"].startswith("Unknown tenant"), body
    assert "data" not in body


def test_forged_and_expired_tokens_are_refused(server):
    forged = cube_load(server, {"appId": "gitlab_project_1"},
                       secret="not-the-server-secret-not-the-server-secret")
    assert forged[:2] == (403, {"error": "Invalid token"})
    assert cube_load(server, {"appId": "gitlab_project_1", "exp": 1})[:2] == (
        403, {"error": "Invalid token"})


def test_meta_and_graphql_go_through_the_tenant_too(server):
    headers = {"Authorization": token(appId="gitlab_project_2")}
    assert call(f"{server.base}/cubejs-api/v1/meta", headers=headers)[0] == 200
    status, body, _ = call(f"{server.base}/cubejs-api/graphql",
                           {"query": "{ cube { orders { count } } }"}, headers)
    assert body["data"] == {"cube": [{"orders": {"count": 10}}]}
    headers = {"Authorization": token(appId="nobody")}
    assert call(f"{server.base}/cubejs-api/v1/meta", headers=headers)[0] == 403


# --- GitLab's routes -------------------------------------------------------------------------


def gitlab(server, project, action="load", body=None, token_=None, bearer=False, method="POST"):
    """The answer once it is not Continue wait (`gitlab_once` for a single request)."""
    return until_done(lambda: gitlab_once(server, project, action, body, token_, bearer, method))


def gitlab_once(server, project, action="load", body=None, token_=None, bearer=False,
                method="POST"):
    headers = {}
    if token_ is not None:
        headers = ({"Authorization": f"Bearer {token_}"} if bearer else {"PRIVATE-TOKEN": token_})
    url = f"{server.base}/api/v4/projects/{project}/product_analytics/request/{action}"
    if method == "GET":
        return get(url, body, headers)
    return call(url, body if body is not None else ({} if action == "meta" else None), headers,
                method=method)


def test_load_answers_cube_multi_bodies_from_the_projects_tenant(server):
    status, body, _ = gitlab(server, 2, body={"query": COUNT}, token_="tok-b")
    assert status == 200 and body["queryType"] == "regularQuery"  # queryType defaults to multi
    assert body["results"][0]["data"] == [{"Orders.count": "10"}]
    status, body, _ = gitlab(server, 1, body={"query": COUNT}, token_="tok-b", bearer=True)
    assert body["results"][0]["data"] == [{"Orders.count": "120"}]


def test_query_type_other_than_multi_is_passed_on(server):
    status, body, _ = gitlab(server, 1, body={"query": COUNT, "queryType": "regularQuery"},
                             token_="tok-a")
    assert status == 200 and body["data"] == [{"Orders.count": "120"}]


def test_dry_run_and_meta(server):
    status, body, _ = gitlab(server, 1, "dry-run", {"query": COUNT}, "tok-a")
    assert status == 200 and body["normalizedQueries"][0]["measures"] == ["Orders.count"]
    for method in ("GET", "POST"):
        status, body, _ = gitlab(server, 1, "meta", None, "tok-a", method=method)
        assert status == 200 and "Orders" in [c["name"] for c in body["cubes"]]


def test_include_token_is_accepted_and_changes_nothing(server):
    plain = gitlab(server, 1, body={"query": COUNT}, token_="tok-a")[1]
    with_token = gitlab(server, 1, body={"query": COUNT, "include_token": True}, token_="tok-a")[1]
    assert with_token["results"][0]["data"] == plain["results"][0]["data"]
    assert gitlab(server, 1, body={"query": COUNT, "include_token": "maybe"}, token_="tok-a")[:2] \
        == (400, {"error": "include_token is invalid"})


@pytest.mark.parametrize("token_, bearer", [(None, False), ("nope", False), ("nope", True),
                                            ("tok-", False), ("TOK-A", False)])
def test_401_without_a_valid_token(server, token_, bearer):
    for action in ("load", "dry-run", "meta"):
        assert gitlab(server, 1, action, {"query": COUNT}, token_, bearer)[:2] == (
            401, {"message": "401 Unauthorized"})


def test_404_for_a_project_the_token_may_not_read(server):
    for action in ("load", "dry-run", "meta"):
        assert gitlab(server, 2, action, {"query": COUNT}, "tok-a")[:2] == (
            404, {"message": "404 Project Not Found"})


def test_401_access_denied_below_reporter(server):
    assert gitlab(server, 1, "load", {"query": COUNT}, "tok-c")[:2] == (
        401, {"message": "Access Denied"})


def test_404_for_a_project_without_data(server):
    assert gitlab(server, 3, "load", {"query": COUNT}, "tok-c")[:2] == (
        404, {"message": "404 Clickhouse Database Not Found"})


@pytest.mark.parametrize("project", ["abc", "..%2F2", "1%2F..%2F2", "-1", "1.0", "%EF%BC%91",
                                     "2%00", "0x1", "1%20", "..", "1/..%2F2"])
def test_400_for_project_ids_that_are_not_integers(server, project):
    status, body, _ = gitlab(server, project, "load", {"query": COUNT}, "tok-b")
    assert (status, body) == (400, {"error": "project_id is invalid"}), project


def test_path_tricks_never_reach_other_data(server):
    # with a token for everything it may read, no id spelling reaches the outside folder
    for project in ("secret", "..%2Fsecret", "1%2F..%2F..%2Fsecret"):
        status, body, _ = gitlab(server, project, "load", {"query": COUNT}, "tok-b")
        assert status == 400 and "results" not in body


def test_400_for_missing_or_invalid_query(server):
    assert gitlab(server, 1, "load", {}, "tok-a")[:2] == (400, {"error": "query is missing"})
    assert gitlab(server, 1, "load", {"query": [COUNT]}, "tok-a")[:2] == (
        400, {"error": "query is invalid"})
    assert gitlab(server, 1, "dry-run", {"query": "{nope"}, "tok-a")[:2] == (
        400, {"error": "query is invalid"})


def test_query_errors_are_400_with_the_cube_message(server):
    assert gitlab(server, 1, "load", {"query": {"measures": ["Nope.count"]}}, "tok-a")[:2] == (
        400, {"message": "Cube 'Nope' not found for path 'Nope.count'"})
    assert gitlab(server, 1, "dry-run", {"query": {"measures": ["Orders.count"], "limit": -1}},
                  "tok-a")[0] == 400


def test_the_query_may_come_as_a_json_string_or_by_get(server):
    body = {"query": json.dumps(COUNT)}
    assert gitlab(server, 1, body=body, token_="tok-a")[1]["results"][0]["data"] == [
        {"Orders.count": "120"}]
    assert gitlab(server, 1, body=body, token_="tok-a", method="GET")[1]["results"][0][
        "data"] == [{"Orders.count": "120"}]


def test_continue_wait_passes_through_as_200(server):
    query = {"query": {"measures": ["Slow.checksum"], "limit": 11}}
    assert gitlab_once(server, 1, body=query, token_="tok-a")[:2] == (
        200, {"error": "Continue wait"})
    status, body, waits = gitlab(server, 1, body=query, token_="tok-a")
    assert status == 200 and body["results"][0]["data"][0]["Slow.checksum"].isdigit()


def test_an_unknown_action_is_404(server):
    assert gitlab(server, 1, "drop", {"query": COUNT}, "tok-a")[0] == 404


def test_requests_are_logged_with_their_tenant(server):
    since = server.mark()
    gitlab(server, 2, body={"query": {"measures": ["Orders.totalAmount"]}}, token_="tok-b")
    server.wait_lines(r"POST /api/v4/projects/2/product_analytics/request/load 200 "
                      r"tenant=gitlab_project_2 compile_ms=", since)


# --- GitLab's day zero-fill -------------------------------------------------------------------


def days(first: str, last: str) -> list[str]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [(start + timedelta(days=i)).isoformat() + "T00:00:00.000"
            for i in range((end - start).days + 1)]


BY_DAY = {"measures": ["Orders.count", "Orders.totalAmount"],
          "timeDimensions": [{"dimension": "Orders.createdAt", "granularity": "day"}],
          "filters": [{"member": "Orders.createdAt", "operator": "inDateRange",
                       "values": ["2024-01-01", "2024-01-31"]}],
          "order": {"Orders.createdAt": "asc"}}


def test_load_fills_missing_days_with_zero_rows(server, engine):
    status, body, _ = gitlab(server, 1, body={"query": BY_DAY}, token_="tok-a")
    rows = body["results"][0]["data"]
    original = engine.load(BY_DAY)["data"]
    assert 0 < len(original) < 31
    assert rows[:len(original)] == original  # rows with data first, untouched
    present = {r["Orders.createdAt.day"] for r in original}
    assert rows[len(original):] == [
        {"Orders.createdAt.day": d, "Orders.createdAt": d, "Orders.count": "0",
         "Orders.totalAmount": "0"} for d in days("2024-01-01", "2024-01-31") if d not in present]


def test_dry_run_is_not_filled(server):
    status, body, _ = gitlab(server, 1, "dry-run", {"query": BY_DAY}, "tok-a")
    assert status == 200 and "results" not in body


def test_zero_fill_follows_gitlabs_data_transformer():
    query = {"measures": ["Sessions.count"],
             "filters": [{"member": "Sessions.startAt", "operator": "inDateRange",
                          "values": ["2023-05-29", "2023-06-01T12:00:00.000"]}]}
    row = {"Sessions.startAt.day": "2023-05-30T00:00:00.000",
           "Sessions.startAt": "2023-05-30T00:00:00.000", "Sessions.count": "3"}
    results = zero_fill(query, [{"data": [dict(row)]}])
    assert [r["Sessions.startAt"] for r in results[0]["data"]] == [
        "2023-05-30T00:00:00.000", "2023-05-29T00:00:00.000", "2023-05-31T00:00:00.000",
        "2023-06-01T00:00:00.000"]
    # not grouped by day on that member, no measures, no inDateRange filter, or no rows: unchanged
    totalled = [{"data": [{"Sessions.count": "9"}]}]
    assert zero_fill(query, totalled) == [{"data": [{"Sessions.count": "9"}]}]
    assert zero_fill({**query, "measures": []}, [{"data": [dict(row)]}])[0]["data"] == [row]
    no_filter = {**query, "filters": [{**query["filters"][0], "operator": "equals"}]}
    assert zero_fill(no_filter, [{"data": [dict(row)]}])[0]["data"] == [row]
    assert zero_fill(query, [{"data": []}]) == [{"data": []}]
    # a relative range cannot be read as dates: left alone
    relative = {**query, "filters": [{**query["filters"][0], "values": ["last week", "today"]}]}
    assert zero_fill(relative, [{"data": [dict(row)]}])[0]["data"] == [row]


# --- the tokens file ------------------------------------------------------------------------


def test_tokens_file_format():
    assert parse_tokens({"a": [1, "2"], "b": {"3": "guest"}}) == {"a": {1: 20, 2: 20},
                                                                  "b": {3: 10}}
    for bad in ([], {"a": 1}, {"a": ["x"]}, {"a": {"1": "admin"}}, {"": [1]}, {"a": [True]}):
        with pytest.raises(TokenFileError):
            parse_tokens(bad)
