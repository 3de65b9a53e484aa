"""The conformance suite's `/load` requests, answered from ClickHouse (chDB) instead of DuckDB.

Every recorded case that asks `/load` (directly or among its `also` requests) is replayed through
the same Flask app, on an engine whose queries are compiled for ClickHouse and run on chDB
loaded with the conformance dataset, and compared with real Cube's recorded answer exactly as
tests/conformance/test_conformance.py compares (its helpers, its `DEVIATIONS`, rows that tie on
every ORDER BY key in any order). Errors are compared too: status and body.

The one difference allowed, on every answer: `dbType` is "clickhouse" (Cube's ClickHouse driver
reports that; the recording was made on DuckDB). `TIE_KEYS` lists the cases whose rows tie on
their sort key in a way the shared helper cannot see, with the key they are sorted by.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from clickhouse_kit import CONFORMANCE, RECORDED_AT, BackendEngine, needs_chdb

needs_chdb()

from server import create_app  # noqa: E402


def _conformance_suite():
    """tests/conformance/test_conformance.py as a module (the same one pytest collects)."""
    path = (CONFORMANCE / "test_conformance.py").resolve()
    loaded = sys.modules.get("test_conformance")
    if loaded is not None and Path(loaded.__file__).resolve() == path:
        return loaded
    spec = importlib.util.spec_from_file_location("test_conformance", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules["test_conformance"] = module
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


suite = _conformance_suite()

# case name -> (the row keys its answer is sorted by, why the shared helper needs telling).
# Only tie order may differ: SQL leaves the order of rows that tie on every ORDER BY key open,
# and ClickHouse's sort orders them differently from DuckDB's (deterministically, run to run).
TIE_KEYS: dict[str, tuple[list[str], str]] = {
    "granularity_plus_plain_time_dimension": (
        ["TrackedEvents.utcTime.day"],
        "sorted by the day bucket (Cube's default order); rows of one day tie, but each row also "
        "carries the raw time under the order key's name, so the helper sees no tie"),
}


def _loads(case: dict) -> list[tuple[str, int, dict]]:
    return [r for r in suite._requests(case) if "/load" in r[0]]


LOAD_CASES = [p for p in suite.CASES if _loads(suite._load(p))]


def _as_clickhouse(body):
    """A recorded answer as the ClickHouse backend gives it: `dbType` "clickhouse"."""
    if isinstance(body, dict):
        return {k: ("clickhouse" if k == "dbType" else _as_clickhouse(v)) for k, v in body.items()}
    if isinstance(body, list):
        return [_as_clickhouse(v) for v in body]
    return body


@pytest.fixture(scope="module")
def client(chdb_conformance):
    engine = BackendEngine(CONFORMANCE / "model", chdb_conformance, now=RECORDED_AT)
    return create_app(engine, api_secret=suite.SECRET).test_client()


def _ties_by(body, keys: list[str]):
    """`suite._canonical_data`, with the sort keys given."""
    if isinstance(body, dict):
        if isinstance(body.get("data"), list) and isinstance(body.get("query"), dict):
            body = dict(body, data=suite._ties_unordered(body["data"], keys))
        if isinstance(body.get("results"), list):
            body = dict(body, results=[_ties_by(r, keys) for r in body["results"]])
    return body


def test_every_load_case_is_replayed():
    assert len(LOAD_CASES) >= 80
    assert set(TIE_KEYS) <= {suite._load(p)["name"] for p in LOAD_CASES}


@pytest.mark.parametrize("case_file", LOAD_CASES, ids=[p.stem for p in LOAD_CASES])
def test_load_answers_like_real_cube_on_clickhouse(client, case_file):
    case = suite._load(case_file)
    tie_keys = TIE_KEYS.get(case["name"], (None, ""))[0]
    for path, status, expected in _loads(case):
        if path == case["path"] and case["name"] in suite.DEVIATIONS:
            status, expected, _reason = suite.DEVIATIONS[case["name"]]
        response = suite._send(client, case["method"], path, case.get("body"), case.get("auth"),
                               case.get("raw_body", False))
        got, want = suite._strip(response.get_json()), suite._strip(_as_clickhouse(expected))
        if tie_keys is not None:
            got, want = _ties_by(got, tie_keys), _ties_by(want, tie_keys)
        got, want = suite._canonical_data(got), suite._canonical_data(want)
        assert (response.status_code, got) == (status, want), path


def test_answers_say_they_come_from_clickhouse(client):
    response = client.post("/cubejs-api/v1/load", json={"query": {"measures": ["Orders.count"]}},
                           headers=suite._headers("default"))
    body = response.get_json()
    assert (body["dbType"], body["data"]) == ("clickhouse", [{"Orders.count": "120"}])
