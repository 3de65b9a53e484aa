"""The shape of the SQL the engine writes where a cheaper form gives the same answer.

- contains / startsWith / endsWith (and their negations) are DuckDB's string functions over
  lower-cased text with the value bound as it is (not ILIKE with an escaped pattern), with the
  same NULL rules and `%` / `_` matched literally.
- `count` measures count rows (COUNT(*)) when the caller proves the cube's primary key has no
  NULL (`compile_plan(keys_not_null=...)`), the cube is the FROM cube and no join repeats its
  rows; otherwise they count the key as before.

Each test runs the SQL on a real in-memory DuckDB.
"""

from datetime import datetime, timezone

import duckdb
import pytest

from engine.compile.dialects import CLICKHOUSE
from engine.model import load_model
from engine.compile.plan import build_plan
from engine.query import normalize_query
from engine.compile.sql import compile_plan

NOW = datetime(2026, 11, 23, 12, tzinfo=timezone.utc)

MODEL = """\
cubes:
  - name: Pages
    sql_table: pages
    joins:
      - name: Visits
        relationship: one_to_many
        sql: "{CUBE}.id = {Visits}.page_id"
    measures:
      - name: count
        type: count
      - name: keyCount
        type: count
        sql: id
      - name: docsCount
        type: count
        filters:
          - sql: "{CUBE}.path LIKE '/docs%'"
    dimensions:
      - name: id
        sql: id
        type: number
        primary_key: true
      - name: path
        sql: path
        type: string
      - name: kind
        sql: kind
        type: string
  - name: Visits
    sql_table: visits
    joins:
      - name: Pages
        relationship: many_to_one
        sql: "{CUBE}.page_id = {Pages}.id"
      - name: Referrals
        relationship: one_to_one
        sql: "{CUBE}.id = {Referrals}.visit_id"
    measures:
      - name: count
        type: count
    dimensions:
      - name: id
        sql: id
        type: number
        primary_key: true
      - name: browser
        sql: browser
        type: string
  - name: Referrals
    sql_table: referrals
    measures:
      - name: count
        type: count
    dimensions:
      - name: visitId
        sql: visit_id
        type: number
        primary_key: true
"""

PAGES = [  # id, path, kind
    (1, "/docs/a%b", "doc"),
    (2, "/docs/axb", "doc"),
    (3, "/DOCS/A_B", "doc"),
    (4, "/blog/a_b", "blog"),
    (5, None, "blog"),
    (6, "/blog/x", None),
]
VISITS = [(1, 1, "firefox"), (2, 1, "chrome"), (3, 2, "firefox"), (4, 4, None), (5, 9, "edge")]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    directory = tmp_path_factory.mktemp("model")
    (directory / "pages.yml").write_text(MODEL)
    return load_model(directory)


def connect(pages=PAGES):
    con = duckdb.connect()
    con.execute("SET threads = 1")   # ties in the default order come out in first-seen order
    con.execute("CREATE TABLE pages (id INTEGER, path VARCHAR, kind VARCHAR)")
    con.executemany("INSERT INTO pages VALUES (?, ?, ?)", pages)
    con.execute("CREATE TABLE visits (id INTEGER, page_id INTEGER, browser VARCHAR)")
    con.executemany("INSERT INTO visits VALUES (?, ?, ?)", VISITS)
    con.execute("CREATE TABLE referrals AS SELECT * FROM (VALUES (1), (3)) AS t(visit_id)")
    return con


@pytest.fixture(scope="module")
def con():
    return connect()


def compiled(model, query, **options):
    plan = build_plan(model, normalize_query(query, NOW))
    return compile_plan(model, plan, **options)


def rows(con, compiled_query):
    return con.execute(compiled_query.sql, compiled_query.params).fetchall()


def count_where(model, con, operator, values):
    query = {"measures": ["Pages.count"],
             "filters": [{"member": "Pages.path", "operator": operator, "values": values}]}
    return rows(con, compiled(model, query))[0][0]


# --- contains / startsWith / endsWith ------------------------------------------------------------

@pytest.mark.parametrize("operator,function", [
    ("contains", "CONTAINS"), ("notContains", "CONTAINS"), ("startsWith", "STARTS_WITH"),
    ("notStartsWith", "STARTS_WITH"), ("endsWith", "ENDS_WITH"), ("notEndsWith", "ENDS_WITH")])
def test_text_filters_are_string_functions_on_lower_case_with_the_raw_value_bound(
        model, operator, function):
    sql = compiled(model, {"measures": ["Pages.count"], "filters": [
        {"member": "Pages.path", "operator": operator, "values": ["a_%\\"]}]})
    assert f'{function}(LOWER("pages".path), LOWER($1))' in sql.sql
    assert "ILIKE" not in sql.sql and "ESCAPE" not in sql.sql
    assert sql.params[0] == "a_%\\"


def test_contains_matches_percent_and_underscore_literally_ignoring_case(model, con):
    assert count_where(model, con, "contains", ["%"]) == 1       # only /docs/a%b
    assert count_where(model, con, "contains", ["a_b"]) == 2     # /DOCS/A_B, /blog/a_b
    assert count_where(model, con, "contains", ["A%B", "x"]) == 3  # a%b, axb, /blog/x


def test_starts_with_and_ends_with(model, con):
    assert count_where(model, con, "startsWith", ["/docs"]) == 3
    assert count_where(model, con, "startsWith", ["docs"]) == 0
    assert count_where(model, con, "endsWith", ["_B"]) == 2
    assert count_where(model, con, "notEndsWith", ["_b"]) == 4   # 4 non-matching, NULL kept


def test_negated_text_filters_keep_null_rows_unless_null_is_a_value(model, con):
    # As Cube: notContains keeps rows whose value is NULL; contains adds them when null is
    # one of the values, notContains then drops them.
    assert count_where(model, con, "notContains", ["docs"]) == 3   # two blog paths and NULL
    assert count_where(model, con, "notContains", ["docs", None]) == 2
    assert count_where(model, con, "contains", ["docs", None]) == 4
    assert count_where(model, con, "contains", ["docs"]) == 3


def test_clickhouse_keeps_ilike_with_an_escaped_value(model):
    sql = compiled(model, {"measures": ["Pages.count"], "filters": [
        {"member": "Pages.path", "operator": "contains", "values": ["a_b"]}]},
        dialect=CLICKHOUSE)
    assert "ILIKE '%' || {p1: String} || '%'" in sql.sql
    assert sql.params[0] == "a\\_b"


# --- count: rows or keys ------------------------------------------------------------------------

def test_count_of_a_cube_with_non_null_keys_is_count_star_with_the_same_answer(model, con):
    query = {"measures": ["Pages.count", "Pages.keyCount"], "dimensions": ["Pages.kind"]}
    counting_keys = compiled(model, query)
    counting_rows = compiled(model, query, keys_not_null=frozenset({"Pages"}))
    assert 'COUNT("pages".id)' in counting_keys.sql and "COUNT(*)" not in counting_keys.sql
    assert 'COUNT("pages".id)' not in counting_rows.sql
    assert counting_rows.sql.count("COUNT(*)") == 2   # no sql, and sql equal to the key
    assert rows(con, counting_rows) == rows(con, counting_keys)


def test_without_the_proof_a_null_key_is_not_counted(model):
    con = connect(PAGES + [(None, "/docs/keyless", "doc")])
    query = {"measures": ["Pages.count"]}
    assert rows(con, compiled(model, query)) == [(6,)]
    # The caller would never claim this; shown to make plain what the proof is for.
    assert rows(con, compiled(model, query, keys_not_null=frozenset({"Pages"}))) == [(7,)]


def test_filtered_count_is_count_star_filter_where(model, con):
    query = {"measures": ["Pages.docsCount"], "dimensions": ["Pages.kind"]}
    counting_keys = compiled(model, query)
    counting_rows = compiled(model, query, keys_not_null=frozenset({"Pages"}))
    assert 'THEN "pages".id END' in counting_keys.sql
    assert "COUNT(*) FILTER(WHERE (\"pages\".path LIKE '/docs%'))" in counting_rows.sql
    assert rows(con, counting_rows) == rows(con, counting_keys)


def test_clickhouse_counts_rows_with_count_and_count_if(model):
    query = {"measures": ["Pages.count", "Pages.docsCount"]}
    sql = compiled(model, query, keys_not_null=frozenset({"Pages"}), dialect=CLICKHOUSE).sql
    assert "COUNT(*)" in sql and "countIf((\"pages\".path LIKE '/docs%'))" in sql


def test_measure_filter_uses_the_same_count(model, con):
    query = {"measures": ["Pages.count"], "dimensions": ["Pages.kind"],
             "filters": [{"member": "Pages.count", "operator": "gt", "values": ["2"]}]}
    counting_rows = compiled(model, query, keys_not_null=frozenset({"Pages"}))
    assert "HAVING (COUNT(*) > CAST($1 AS DOUBLE))" in counting_rows.sql
    assert rows(con, counting_rows) == rows(con, compiled(model, query)) == [("doc", 3)]


def test_multiplied_count_stays_a_distinct_count_of_keys(model, con):
    # Pages -> Visits is one_to_many: each page is repeated per visit.
    query = {"measures": ["Pages.count"], "dimensions": ["Visits.browser"]}
    proven = compiled(model, query, keys_not_null=frozenset({"Pages", "Visits"}))
    assert proven.sql == compiled(model, query).sql
    assert 'COUNT(DISTINCT "pages".id)' in proven.sql and "COUNT(*)" not in proven.sql


def test_count_of_a_left_joined_cube_keeps_counting_keys(model, con):
    # Visits is the FROM cube; Referrals (one_to_one, not repeated) has a row for two visits
    # only: the others meet NULL keys, which COUNT(*) would count.
    query = {"measures": ["Visits.count", "Referrals.count"], "dimensions": ["Visits.browser"]}
    proven = compiled(model, query, keys_not_null=frozenset({"Referrals", "Visits"}))
    assert 'COUNT(*) AS "visits__count"' in proven.sql
    assert 'COUNT("referrals".visit_id) AS "referrals__count"' in proven.sql
    # The default order (count desc) ties on 1: compare the rows as sets.
    answer = sorted(rows(con, proven), key=str)
    assert answer == sorted(rows(con, compiled(model, query)), key=str)
    assert answer == sorted(
        [("firefox", 2, 2), ("chrome", 1, 0), (None, 1, 0), ("edge", 1, 0)], key=str)
