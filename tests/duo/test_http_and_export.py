"""`POST /api/graphql` through the Flask blueprint (callers from loopback, tokens, headers),
the CSV export (`GET /api/duo/ai-metrics.csv` and the function behind `duckcube export
ai-metrics`), and the sample data `duckcube serve` generates in memory."""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import io
import json

import duckdb
from flask import Flask

from duo_helpers import DATA, MODELS, NOW, ROOT, data_of, engine_docs, engine_now, example
from engine import Engine
from engine.web.auth import Auth
from engine.web.duo import create_blueprint
from engine.web.duo.export import COLUMNS, ai_metrics_csv, months, rate
from engine.web.duo.rules import RESOURCE_ACCESS_ERROR

METRICS = '{ group(fullPath: "gitlab-org") { aiMetrics { duoUsedCount } } }'
TOKENS = {"tok-jas": "jasbourne", "tok-guest": "guest-viewer", "tok-root": "root"}


def client(engine, tokens=None):
    app = Flask("duo-test")
    app.register_blueprint(create_blueprint(lambda: engine, Auth(duo_tokens=tokens)))
    return app.test_client()


def post(c, body, remote="127.0.0.1", **headers):
    r = c.post("/api/graphql", data=json.dumps(body), content_type="application/json",
               headers=headers, environ_base={"REMOTE_ADDR": remote})
    return r.status_code, r.get_json()


def test_loopback_without_auth_is_the_local_administrator(engine_now):
    c = client(engine_now)
    status, body = post(c, {"query": "{ aiUsageData { all(first: 1) { nodes { event } } } }"})
    assert status == 200 and len(body["data"]["aiUsageData"]["all"]["nodes"]) == 1
    status, body = post(c, {"query": "{ currentUser { username } }"})
    assert body == {"data": {"currentUser": {"username": "root"}}}
    # from another address nobody is trusted: anonymous
    status, body = post(c, {"query": METRICS}, remote="10.1.2.3")
    assert status == 200 and body["data"] == {"group": {"aiMetrics": None}}
    assert body["errors"][0]["message"] == RESOURCE_ACCESS_ERROR


def test_tokens(engine_now):
    c = client(engine_now, TOKENS)
    status, body = post(c, {"query": METRICS}, **{"PRIVATE-TOKEN": "tok-jas"})
    assert status == 200 and body["data"]["group"]["aiMetrics"]["duoUsedCount"] > 0
    status, body = post(c, {"query": METRICS}, Authorization="Bearer tok-guest")
    assert body["errors"][0]["message"] == RESOURCE_ACCESS_ERROR
    assert body["data"] == {"group": {"aiMetrics": None}}
    assert post(c, {"query": METRICS}, Authorization="Bearer nope") == (
        401, {"errors": [{"message": "Invalid token"}]})
    # with tokens configured, no token is anonymous even on loopback
    status, body = post(c, {"query": "{ aiUsageData { all { nodes { event } } } }"})
    assert body["data"] == {"aiUsageData": None}
    status, body = post(c, {"query": "{ aiUsageData { all(first: 1) { nodes { event } } } }"},
                        **{"PRIVATE-TOKEN": "tok-root"})
    assert body["data"]["aiUsageData"]["all"]["nodes"]


def test_request_forms(engine_docs):
    c = client(engine_docs)
    query, _ = example("ai_metrics")
    status, body = post(c, {"query": query})
    assert status == 200 and body["data"]["group"]["aiMetrics"]["codeSuggestions"]["shownCount"] > 0
    # GET, variables as a JSON string, operationName, batches
    r = c.get("/api/graphql", query_string={
        "query": "query Q($p: ID!) { group(fullPath: $p) { fullPath } }",
        "variables": json.dumps({"p": "gitlab-org"}), "operationName": "Q"})
    assert r.get_json() == {"data": {"group": {"fullPath": "gitlab-org"}}}
    status, body = post(c, [{"query": "{ group(fullPath: \"gitlab-org\") { id } }"},
                            {"query": "{ project(fullPath: \"gitlab-org/gitlab\") { id nameWithNamespace } }"}])
    assert body == [{"data": {"group": {"id": "gid://gitlab/Group/9970"}}},
                    {"data": {"project": {"id": "gid://gitlab/Project/278964",
                                          "nameWithNamespace": "GitLab.org / GitLab"}}}]
    r = c.post("/api/graphql", data="{not json", content_type="application/json")
    assert r.status_code == 400 and r.get_json()["errors"][0]["message"].startswith("Invalid JSON body")
    status, body = post(c, {"variables": {}})
    assert (status, body) == (200, {"errors": [{"message": "No query string was present"}]})
    status, body = post(c, {"query": "{ group(fullPath: "})
    assert status == 200 and body["errors"][0]["message"].startswith("Syntax Error")


def test_csv_export(engine_now):
    text = ai_metrics_csv(engine_now, "gitlab-org", "2025-11-15", "2026-01-31")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == COLUMNS
    assert [(r["start_date"], r["end_date"]) for r in rows] == [
        ("2025-11-15", "2025-11-30"), ("2025-12-01", "2025-12-31"), ("2026-01-01", "2026-01-31")]
    q = """{ group(fullPath: "gitlab-org") { aiMetrics(startDate: "2025-12-01", endDate: "2025-12-31") {
      codeContributorsCount codeSuggestions { shownCount acceptedCount } duoAssignedUsersCount } } }"""
    m = data_of(engine_now, q)["group"]["aiMetrics"]
    dec = rows[1]
    assert int(dec["code_suggestions_shown_count"]) == m["codeSuggestions"]["shownCount"]
    assert float(dec["code_suggestions_acceptance_rate"]) == rate(
        m["codeSuggestions"]["acceptedCount"], m["codeSuggestions"]["shownCount"])
    assert int(dec["code_contributors_count"]) == m["codeContributorsCount"]
    assert rate(0, 0) is None and rate(1, 4) == 25.0
    assert months(dt.date(2024, 1, 31), dt.date(2024, 2, 1)) == [
        (dt.date(2024, 1, 31), dt.date(2024, 1, 31)), (dt.date(2024, 2, 1), dt.date(2024, 2, 1))]


def test_csv_export_over_http(engine_now):
    c = client(engine_now, TOKENS)
    r = c.get("/api/duo/ai-metrics.csv", query_string={"group": "gitlab-org", "start": "2026-10-01",
                                                       "end": "2026-11-23"},
              headers={"PRIVATE-TOKEN": "tok-jas"})
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.get_data(as_text=True) == ai_metrics_csv(engine_now, "gitlab-org", "2026-10-01", "2026-11-23")
    r = c.get("/api/duo/ai-metrics.csv", query_string={"group": "gitlab-org", "start": "2026-10-01",
                                                       "end": "2026-11-23"},
              headers={"PRIVATE-TOKEN": "tok-guest"})
    assert r.status_code == 400 and r.get_json()["errors"][0]["message"] == RESOURCE_ACCESS_ERROR
    r = c.get("/api/duo/ai-metrics.csv", query_string={"group": "gitlab-org"})
    assert r.status_code == 400


def _module(name: str, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_serve_sample_database_has_both_domains():
    """What `duckcube serve` without --db does: both generators into one in-memory connection,
    every model in cubes/ over it. The Duo tables equal the committed Parquet files
    (`python fixtures/duo_generate.py --anchor 2026-11-23`)."""
    con = duckdb.connect(":memory:")
    anchor = dt.date(2026, 11, 23)
    snowplow = _module("fixtures_generate", ROOT / "fixtures" / "generate.py").create_tables(con, anchor)
    duo = _module("fixtures_duo_generate", ROOT / "fixtures" / "duo_generate.py").create_tables(con, anchor)
    assert not set(snowplow) & set(duo)
    # the committed fixtures/data/duo files are exactly what the generator produces
    assert sorted(duo) == sorted(p.stem for p in DATA.glob("*.parquet"))
    for table in duo:
        path = (DATA / f"{table}.parquet").as_posix()
        for a, b in ((table, f"read_parquet('{path}')"), (f"read_parquet('{path}')", table)):
            diff = con.execute(f"SELECT count(*) FROM (SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b})")
            assert diff.fetchall()[0][0] == 0, (table, a)
    engine = Engine(models=MODELS, database=con, now=NOW)
    assert engine.load({"measures": ["TrackedEvents.count"]})["data"][0]["TrackedEvents.count"] != "0"
    query, _ = example("user_metrics_features")
    assert data_of(engine, query)["group"]["aiUserMetrics"]["nodes"]


def test_caller_rules():
    from engine.web.auth import Caller, caller_for
    assert caller_for({}, "127.0.0.1", None) == Caller.local_admin()
    assert caller_for({}, "::1", None) == Caller.local_admin()
    assert caller_for({}, "10.0.0.1", None) == Caller.anonymous()
    # any auth configured on the server (e.g. a JWT secret): no token is anonymous
    assert caller_for({}, "127.0.0.1", None, auth_configured=True) == Caller.anonymous()
    assert caller_for({"PRIVATE-TOKEN": "t"}, "127.0.0.1", {"t": "jasbourne"}) == Caller("jasbourne")
    assert caller_for({"Authorization": "Bearer t"}, "10.0.0.1", {"t": "jasbourne"}) == Caller("jasbourne")
    assert caller_for({"Authorization": "Bearer x"}, "127.0.0.1", {"t": "jasbourne"}) is None
    assert caller_for({"PRIVATE-TOKEN": "t"}, "127.0.0.1", None) is None


def test_introspection(engine_now):
    from graphql import get_introspection_query
    data = data_of(engine_now, get_introspection_query())
    names = {t["name"] for t in data["__schema"]["types"]}
    assert {"AiUsageData", "AiInstanceUsageData", "CodeSuggestionEvent", "AiUserMetrics",
            "codeSuggestionsUserMetrics", "mcpUserMetrics", "AiMetrics"} <= names


def test_orchestrated_engine_is_waited_for():
    """An engine with Continue wait (as `duckcube serve` runs it): GraphQL waits for the result."""
    engine = Engine(models=MODELS, database=DATA, now=NOW, continue_wait=0.0001, cache=True)
    query = '{ group(fullPath: "gitlab-org") { aiMetrics { duoUsedCount } } }'
    assert data_of(engine, query)["group"]["aiMetrics"]["duoUsedCount"] > 0


def test_serve_with_the_docs_clock_answers_every_example():
    """`duckcube serve --now 2025-09-30T12:00:00Z`: data generated for that day, every documented
    example answers with data."""
    con = duckdb.connect(":memory:")
    _module("fixtures_duo_generate_docs", ROOT / "fixtures" / "duo_generate.py").create_tables(
        con, dt.date(2025, 9, 30))
    engine = Engine(models=MODELS, database=con, now="2025-09-30T12:00:00Z")
    for name in ("group_code_suggestion_events", "group_all_events", "instance_all_events",
                 "user_metrics_totals", "user_metrics_features", "ai_metrics"):
        query, _ = example(name)
        data = data_of(engine, query)
        assert "null" not in json.dumps(data).replace('"language": null', ""), name
