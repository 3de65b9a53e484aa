"""The recorded conformance cases, answered from the Jinja and the JavaScript versions of the
conformance model exactly as from its YAML (and so as real Cube answered them).

tests/models/conformance_jinja builds the same cubes with Jinja loops, globals.py helpers and a
filter; tests/models/conformance_js with `cube(...)`, template literals, a loop building members,
`extends` across files and `require` of a sibling file. Only `fileName` in the extended /meta
differs (the files are named .js there). Volatile fields and SQL text are left out, as in
tests/conformance; rows must come in the same order (same SQL, same data, one thread).
"""

from __future__ import annotations

import json
from pathlib import Path

import jwt
import pytest

from engine import Engine
from server import create_app

TESTS = Path(__file__).parents[1]
CONFORMANCE = TESTS / "conformance"
CASES = sorted((CONFORMANCE / "cases").glob("*.json"))
SECRET = "secret"
RECORDED_AT = "2026-11-22T11:10:14Z"
VERSIONS = {"jinja": (TESTS / "models" / "conformance_jinja", ".yml"),
            "js": (TESTS / "models" / "conformance_js", ".js")}
VOLATILE = ("lastRefreshTime", "requestId")


def headers(auth):
    token = jwt.encode({}, SECRET, algorithm="HS256")
    return {"default": {"Authorization": token}, "bearer": {"Authorization": f"Bearer {token}"},
            "bad-secret": {"Authorization": jwt.encode({}, "another-secret", algorithm="HS256")},
            "garbage": {"Authorization": "not-a-jwt"}, "none": {},
            None: {"Authorization": token}}[auth]


def strip(value, suffix):
    if isinstance(value, dict):
        out = {k: strip(v, suffix) for k, v in value.items() if k not in VOLATILE}
        sql = out.get("sql")
        if isinstance(sql, list) and len(sql) == 2 and isinstance(sql[0], str):
            out["sql"] = ["<sql>", "<params>"]
        if isinstance(out.get("fileName"), str):
            out["fileName"] = out["fileName"].rsplit(".", 1)[0] + suffix
        return out
    if isinstance(value, list):
        return [strip(v, suffix) for v in value]
    return value


def send(client, case, path):
    if case["method"] == "GET":
        return client.get(path, headers=headers(case.get("auth")))
    if case.get("raw_body"):
        return client.post(path, data=case.get("body"), headers=headers(case.get("auth")),
                           content_type="application/json")
    return client.post(path, json=case.get("body"), headers=headers(case.get("auth")))


def requests(case):
    yield case["path"]
    for also in (case.get("also") or {}).values():
        path = also["path"]
        if case["method"] == "GET" and "?" in case["path"]:
            path += "?" + case["path"].split("?", 1)[1]
        yield path


def client_for(models):
    engine = Engine(models=models, database=CONFORMANCE / "data", now=RECORDED_AT)
    return create_app(engine, api_secret=SECRET).test_client()


@pytest.fixture(scope="module")
def yaml_client():
    return client_for(CONFORMANCE / "model")


@pytest.fixture(scope="module", params=sorted(VERSIONS))
def version(request):
    models, suffix = VERSIONS[request.param]
    return client_for(models), suffix


@pytest.mark.parametrize("case_file", CASES, ids=[p.stem for p in CASES])
def test_conformance_case_answered_identically_from_jinja_and_js_models(yaml_client, version,
                                                                        case_file):
    client, suffix = version
    case = json.loads(case_file.read_text())
    for path in requests(case):
        expected = send(yaml_client, case, path)
        got = send(client, case, path)
        assert got.status_code == expected.status_code, path
        # Same SQL over the same data on one thread: the same rows in the same order.
        assert strip(got.get_json(), suffix) == strip(expected.get_json(), suffix), path


def test_yaml_answers_are_the_recorded_ones_so_the_comparison_means_cube(yaml_client):
    case = json.loads((CONFORMANCE / "cases" / "000_meta.json").read_text())
    assert strip(send(yaml_client, case, case["path"]).get_json(), ".yml") == strip(
        case["response"], ".yml")
