"""Fixtures, helpers and constants of the Duo GraphQL tests.

(No conftest.py here: other test modules import the suite's tests/conftest.py as `conftest`, and
a second one on sys.path would shadow it. Test modules import the fixtures from this module.)

Engines run the shipped models (cubes/) over the shipped Duo sample data (fixtures/data/duo,
anchor 2026-11-23) with a frozen clock; `db` reads the same Parquet files with plain DuckDB so
tests recompute expected answers independently of the cube SQL.

Two clocks: NOW (2026-11-23T12:00:00Z, the fixtures' anchor, like the rest of the suite) and
DOCS_NOW (2025-09-30T12:00:00Z), a day when every dated example of GitLab's docs is valid under
GitLab's own argument rules (their `startDate: "2025-09-26"` with the default end date needs
"now" within a month of it, and within the three-month retention).
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import duckdb
import pytest

from engine import Engine
from engine.web.duo import Caller, DuoSettings, execute_graphql

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "cubes"
DATA = ROOT / "fixtures" / "data" / "duo"
EXAMPLES = Path(__file__).resolve().parent / "docs_examples"
NOW = "2026-11-23T12:00:00Z"
DOCS_NOW = "2025-09-30T12:00:00Z"

GITLAB_ORG = "9970/"


@functools.lru_cache(maxsize=None)
def _engine(now: str) -> Engine:
    return Engine(models=MODELS, database=DATA, now=now)


@functools.lru_cache(maxsize=1)
def _db() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for path in sorted(DATA.glob("*.parquet")):
        con.execute(f"CREATE VIEW {path.stem} AS SELECT * FROM read_parquet('{path.as_posix()}')")
    return con


@pytest.fixture
def engine_now() -> Engine:
    """The shipped models over the shipped Duo data, clock at the fixtures' anchor (shared)."""
    return _engine(NOW)


@pytest.fixture
def engine_docs() -> Engine:
    """Same, clock at DOCS_NOW (shared)."""
    return _engine(DOCS_NOW)


@pytest.fixture
def db() -> duckdb.DuckDBPyConnection:
    """Plain DuckDB over the Parquet files (shared, read-only use)."""
    return _db()


def sql(con, text: str, params=()) -> list[tuple]:
    return con.execute(text, list(params)).fetchall()


def scalar(con, text: str, params=()):
    return sql(con, text, params)[0][0]


def gql(engine: Engine, query: str, variables: dict | None = None, caller: Caller | None = None,
        settings: DuoSettings | None = None) -> dict:
    status, body = execute_graphql(engine, {"query": query, "variables": variables}, caller,
                                   settings=settings)
    assert status == 200
    return body


def data_of(engine: Engine, query: str, **kw) -> dict:
    body = gql(engine, query, **kw)
    assert "errors" not in body, body["errors"]
    return body["data"]


def errors_of(engine: Engine, query: str, **kw) -> list[str]:
    body = gql(engine, query, **kw)
    assert body.get("errors"), body
    return [e["message"] for e in body["errors"]]


def example(name: str) -> tuple[str, dict]:
    """A documented example: its query (verbatim) and documented response (the docs' JSON has a
    trailing comma in one place; it is parsed leniently)."""
    query = (EXAMPLES / f"{name}.graphql").read_text()
    text = (EXAMPLES / f"{name}.json").read_text()
    return query, json.loads(re.sub(r",(\s*[}\]])", r"\1", text))


# --------------------------------------------------------------------------- independent SQL


def members_sql(tp: str) -> str:
    """User ids that are members of the namespace with traversal path `tp` the way GitLab's
    AddOnAssignedUsersFinder counts them (direct, inherited, descendant groups; a project's own
    members)."""
    ids = tp.strip("/").split("/")
    ancestors = ["".join(f"{i}/" for i in ids[:n]) for n in range(1, len(ids))]
    anc = ", ".join(f"'{a}'" for a in ancestors) or "NULL"
    return (f"SELECT user_id FROM duo_members WHERE (source_type = 'Namespace' AND "
            f"(starts_with(namespace_path, '{tp}') OR namespace_path IN ({anc}))) OR "
            f"(source_type = 'Project' AND namespace_path = '{tp}')")


EVENT_NAMES = None


def enum_of(event_id: int) -> str:
    from engine.web.duo.events import EVENT_BY_ID
    return EVENT_BY_ID[event_id].enum


def iso(ts) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")
