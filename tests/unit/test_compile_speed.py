"""What keeps compiling cheap (bench: `python bench/hotspots.py --compile-200 NAME`).

- Model SQL is parsed and rendered once per text and dialect; a query places the rendered text
  (`dialects.Fragment`) instead of parsing or deep-copying trees: compiling a query again, with
  other values, parses nothing.
- A fragment writes exactly what its tree would in every place queries put model SQL (under an
  operator, a CAST, NOT, AND, a SELECT alias...); SQL whose rendering depends on its place stays
  a tree.
- Join paths are searched once per model and root cube.
"""

from datetime import datetime, timezone

import pytest
import sqlglot.parser
from sqlglot import exp

from engine.compile.dialects import CLICKHOUSE, DUCKDB, Fragment
from engine.model import load_model
from engine.compile.plan import build_plan
from engine.query import normalize_query
from engine.compile.sql import compile_plan

NOW = datetime(2026, 11, 23, 12, tzinfo=timezone.utc)

MODEL = """\
cubes:
  - name: Orders
    sql_table: shop.orders
    joins:
      - name: Users
        relationship: many_to_one
        sql: "{CUBE}.user_id = {Users}.id"
    measures:
      - name: count
        type: count
      - name: revenue
        type: sum
        sql: amount
      - name: paidRevenue
        type: sum
        sql: amount
        filters:
          - sql: "{CUBE}.status = 'paid'"
      - name: share
        type: number
        sql: "{paidRevenue} / NULLIF({revenue}, 0)"
    dimensions:
      - name: id
        sql: id
        type: number
        primary_key: true
      - name: status
        sql: status
        type: string
      - name: createdAt
        sql: created_at
        type: time
      - name: language
        sql: "extras ->> '$.language'"
        type: string
    segments:
      - name: paid
        sql: "{CUBE}.status = 'paid' OR {CUBE}.status = 'refunded'"
  - name: Users
    sql_table: users
    measures:
      - name: count
        type: count
    dimensions:
      - name: id
        sql: id
        type: number
        primary_key: true
      - name: city
        sql: city
        type: string
"""


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    directory = tmp_path_factory.mktemp("model")
    (directory / "orders.yml").write_text(MODEL)
    return load_model(directory)


def query(city: str, amount: str) -> dict:
    return {"measures": ["Orders.count", "Orders.share", "Users.count"],
            "dimensions": ["Users.city", "Orders.language"],
            "timeDimensions": [{"dimension": "Orders.createdAt", "granularity": "day",
                                "dateRange": ["2026-01-01", "2026-01-31"]}],
            "filters": [{"member": "Users.city", "operator": "contains", "values": [city]},
                        {"member": "Orders.language", "operator": "equals", "values": ["go"]},
                        {"member": "Orders.revenue", "operator": "gt", "values": [amount]}],
            "segments": ["Orders.paid"]}


@pytest.mark.parametrize("dialect", [DUCKDB, CLICKHOUSE])
def test_compiling_a_query_again_parses_no_sql(model, monkeypatch, dialect):
    def compile_once(q):
        plan = build_plan(model, normalize_query(q, NOW))
        return compile_plan(model, plan, total=True, dialect=dialect)

    compile_once(query("Berlin", "10"))
    parses = []
    original = sqlglot.parser.Parser.parse
    monkeypatch.setattr(sqlglot.parser.Parser, "parse",
                        lambda self, *a, **k: parses.append(1) or original(self, *a, **k))
    again = compile_once(query("Paris", "20"))
    assert parses == []
    assert again.params[:1] == ["Paris"] or "Paris" in again.params


SNIPPETS = [
    '"t".a', "\"t\".extras ->> '$.x'", '"t".a OR "t".b', 'CAST("t".a AS TIMESTAMP)',
    '"t".a % 2', '"t".a << 1', 'count(DISTINCT "t".a)', "CASE WHEN \"t\".a THEN 'x' END",
    '"t".a || "t".b', '(SELECT max(x) FROM y)', '"t".a IS NULL', '"t".a IN (1, 2)',
    "contains(\"t\".a, 'x')", 'string_agg("t".a ORDER BY "t".b)', "\"t\".a = 'x'", '-"t".a',
    '"t".a - -1', "json_extract_string(\"t\".a, '$.b')", 'sum("t".a) / NULLIF(count(*), 0)',
    "count(*) FILTER (WHERE \"t\".a = 'x')",
]

CONTEXTS = {
    "select": lambda v: exp.Select(expressions=[exp.alias_(v, "c", quoted=True, copy=False)]),
    "equals": lambda v: exp.EQ(this=v, expression=exp.Placeholder(this="1")),
    "right of minus": lambda v: exp.Sub(this=exp.column("x"), expression=v),
    "cast": lambda v: DUCKDB.timestamp(v),
    "not": lambda v: exp.not_(v, copy=False),
    "and": lambda v: exp.and_(v, exp.column("x"), copy=False),
    "in": lambda v: exp.In(this=v, expressions=[exp.Literal.string("a")]),
    "is null": lambda v: exp.not_(exp.Is(this=v, expression=exp.Null()), copy=False),
    "where": lambda v: exp.Select(expressions=[exp.Star()]).from_("t").where(v, copy=False),
    "lower": lambda v: exp.Lower(this=v),
}


@pytest.mark.parametrize("dialect", [DUCKDB, CLICKHOUSE])
@pytest.mark.parametrize("text", SNIPPETS)
def test_a_fragment_renders_as_its_tree_would(dialect, text):
    for name, place in CONTEXTS.items():
        as_tree = dialect.render(place(dialect.parse(text).copy()))
        as_fragment = dialect.render(place(dialect.fragment(text)))
        assert as_fragment == as_tree, name


def test_plain_member_sql_becomes_a_fragment_and_context_sensitive_sql_a_tree():
    assert isinstance(DUCKDB.fragment('"t".a'), Fragment)
    assert isinstance(DUCKDB.fragment('count("t".a)'), Fragment)
    assert not isinstance(DUCKDB.fragment('"t".a OR "t".b'), Fragment)
    assert not isinstance(DUCKDB.fragment("\"t\".extras ->> '$.x'"), Fragment)


def test_join_paths_are_searched_once_per_model_and_root(model, monkeypatch):
    q = {"measures": ["Orders.count"], "dimensions": ["Users.city"]}
    build_plan(model, normalize_query(q, NOW))
    assert "Orders" in model.join_paths
    searched = []
    original = type(model).joins_from
    monkeypatch.setattr(type(model), "joins_from",
                        lambda self, cube: searched.append(cube) or original(self, cube))
    plan = build_plan(model, normalize_query(q, NOW))
    assert searched == [] and [s.joined for s in plan.joins] == ["Users"]
