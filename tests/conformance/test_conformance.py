"""Replays requests recorded from real Cube 1.7.43 and expects the same status and body.

Each file in `cases/` is one request and Cube's answer over the model in `model/` and the data in
`data/` (see ../../../shared/conformance/README.md, copied here as data). The clock is frozen at
the recording instant. Volatile fields (`lastRefreshTime`, `requestId`) are not compared, nor is
the SQL text of `/sql` answers (ours is different SQL with the same meaning).

Where we deliberately answer differently from Cube, the case is listed in `DEVIATIONS` with the
answer we give instead and why; every other case must match exactly, with one allowance: rows that
tie on every ORDER BY key may come in any order (SQL leaves it open, and real Cube's order for them
depends on its DuckDB build; ours is deterministic run to run, but not the same one).
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import jwt
import pytest

from engine import Engine
from server import create_app

HERE = Path(__file__).parent
CASES = sorted((HERE / "cases").glob("*.json"))
SECRET = "secret"
RECORDED_AT = "2026-11-22T11:10:14Z"

_HIDDEN_MEMBER = (
    "Error: You requested hidden member: 'sessions__session_id'. Please make it visible using "
    "`public: true`. Please note primaryKey fields are `public: false` by default: "
    "https://cube.dev/docs/schema/reference/joins#setting-a-primary-key.")
_LIMIT = "Error: The query limit has been exceeded."

# case name -> (status we answer, body we answer, why we differ from Cube)
DEVIATIONS = {
    "error_hidden_primary_key": (400, {"error": _HIDDEN_MEMBER},
                                 "Cube answers 500; asking for a hidden member is a client error"),
    "limit_50001": (400, {"error": _LIMIT}, "Cube answers 500 for a limit over 50000"),
    "limit_60000": (400, {"error": _LIMIT}, "Cube answers 500 for a limit over 50000"),
}

VOLATILE = ("lastRefreshTime", "requestId")


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def _headers(auth: str | None) -> dict:
    token = jwt.encode({}, SECRET, algorithm="HS256")
    return {
        "default": {"Authorization": token},
        "bearer": {"Authorization": f"Bearer {token}"},
        "bad-secret": {"Authorization": jwt.encode({}, "another-secret", algorithm="HS256")},
        "garbage": {"Authorization": "not-a-jwt"},
        "none": {},
        None: {"Authorization": token},
    }[auth]


def _order_keys(query: dict) -> list[str]:
    """The row keys a load answer is sorted by: the query's order, else Cube's default order."""
    if query.get("order"):
        return [item["id"] for item in query["order"]]
    granular = [td["dimension"] for td in query.get("timeDimensions", []) if td.get("granularity")]
    if granular:
        return granular[:1]
    if query.get("measures") and query.get("dimensions"):
        return query["measures"][:1]
    return query.get("dimensions", [])[:1]


def _ties_unordered(rows: list, keys: list[str]) -> list:
    """Rows with rows that tie on every sort key put in a canonical order."""
    if not rows or not isinstance(rows[0], dict):
        return rows
    keys = [k for k in keys if k in rows[0]]
    out, group = [], []
    for row in rows + [None]:
        if group and (row is None or [row.get(k) for k in keys] != [group[0].get(k) for k in keys]):
            out += sorted(group, key=lambda r: json.dumps(r, sort_keys=True))
            group = []
        if row is not None:
            group.append(row)
    return out


def _canonical_data(body):
    """Apply `_ties_unordered` to every load answer inside `body`."""
    if isinstance(body, dict):
        if isinstance(body.get("data"), list) and isinstance(body.get("query"), dict):
            body = dict(body, data=_ties_unordered(body["data"], _order_keys(body["query"])))
        if isinstance(body.get("results"), list):
            body = dict(body, results=[_canonical_data(r) for r in body["results"]])
    return body


def _strip(value):
    """Drop volatile fields and SQL text, recursively."""
    if isinstance(value, dict):
        out = {k: _strip(v) for k, v in value.items() if k not in VOLATILE}
        sql = out.get("sql")
        if isinstance(sql, list) and len(sql) == 2 and isinstance(sql[0], str):
            out["sql"] = ["<sql>", "<params>"]
        return out
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


@pytest.fixture(scope="module")
def client():
    engine = Engine(models=HERE / "model", database=HERE / "data", now=RECORDED_AT)
    return create_app(engine, api_secret=SECRET).test_client()


def _send(client, method: str, path: str, body, auth, raw: bool = False):
    headers = _headers(auth)
    if method == "GET":
        return client.get(path, headers=headers)
    if raw:
        return client.post(path, data=body, headers=headers, content_type="application/json")
    return client.post(path, json=body, headers=headers)


def _requests(case: dict):
    yield case["path"], case["status"], case["response"]
    for also in (case.get("also") or {}).values():
        path = also["path"]
        if case["method"] == "GET" and "?" in case["path"]:
            path += "?" + case["path"].split("?", 1)[1]
        yield path, also["status"], also["response"]


@pytest.mark.parametrize("case_file", CASES, ids=[p.stem for p in CASES])
def test_answers_like_real_cube(client, case_file):
    case = _load(case_file)
    for path, status, expected in _requests(case):
        if path == case["path"] and case["name"] in DEVIATIONS:
            status, expected, _reason = DEVIATIONS[case["name"]]
        response = _send(client, case["method"], path, case.get("body"), case.get("auth"),
                         case.get("raw_body", False))
        got = _canonical_data(_strip(response.get_json()))
        assert (response.status_code, got) == (status, _canonical_data(_strip(expected))), path


def test_every_deviation_names_a_recorded_case():
    names = {_load(p)["name"] for p in CASES}
    assert set(DEVIATIONS) <= names


def test_get_query_string_is_url_encoded_json(client):
    query = quote(json.dumps({"measures": ["Orders.count"]}))
    response = client.get(f"/cubejs-api/v1/load?query={query}", headers=_headers("default"))
    assert response.get_json()["data"] == [{"Orders.count": "120"}]


def test_tied_rows_compare_in_any_order():
    rows = [{"a": "x", "n": "2"}, {"a": "y", "n": "1"}, {"a": "z", "n": "1"}]
    swapped = [rows[0], rows[2], rows[1]]
    assert _ties_unordered(rows, ["n"]) == _ties_unordered(swapped, ["n"])


def test_rows_out_of_sort_order_still_differ():
    rows = [{"a": "x", "n": "2"}, {"a": "y", "n": "1"}]
    assert _ties_unordered(rows, ["n"]) != _ties_unordered(list(reversed(rows)), ["n"])
