"""Primary keys proven non-null from DuckDB's statistics (`Engine.keys_not_null`), so the
compiler may count rows with COUNT(*): only when no key is NULL, and counts stay as they were."""

import duckdb
import pytest

from engine import Engine
from engine.run.backends import Backend
from engine.model import load_model

MODEL = """cubes:
  - name: Keyed
    sql_table: keyed
    measures:
      - name: count
        type: count
      - name: total
        type: sum
        sql: v
    dimensions:
      - name: id
        sql: id
        type: number
        primary_key: true
      - name: kind
        sql: kind
        type: string
  - name: Holey
    sql_table: holey
    measures:
      - name: count
        type: count
    dimensions:
      - name: id
        sql: id
        type: number
        primary_key: true
      - name: kind
        sql: kind
        type: string
  - name: Derived
    sql: SELECT id, kind FROM keyed WHERE v > 2
    measures:
      - name: count
        type: count
    dimensions:
      - name: id
        sql: id
        type: number
        primary_key: true
  - name: DerivedHoley
    sql: SELECT id, kind FROM holey WHERE kind <> 'z'
    measures:
      - name: count
        type: count
    dimensions:
      - name: id
        sql: id
        type: number
        primary_key: true
  - name: Missing
    sql_table: no_such_table
    measures:
      - name: count
        type: count
    dimensions:
      - name: id
        sql: id
        type: number
        primary_key: true
  - name: Keyless
    sql_table: keyed
    measures:
      - name: count
        type: count
"""


@pytest.fixture()
def data() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE TABLE keyed AS SELECT range AS id, range AS v, "
                "CASE WHEN range % 2 = 0 THEN 'a' ELSE 'b' END AS kind FROM range(1, 11)")
    con.execute("CREATE TABLE holey AS SELECT CASE WHEN range = 3 THEN NULL ELSE range END AS id, "
                "CASE WHEN range % 2 = 0 THEN 'a' ELSE 'b' END AS kind FROM range(1, 11)")
    return con


@pytest.fixture()
def engine(tmp_path, data) -> Engine:
    (tmp_path / "model.yml").write_text(MODEL)
    return Engine(models=tmp_path, database=data)


def counts(engine: Engine, cube: str) -> list:
    return engine.load({"measures": [f"{cube}.count"], "dimensions": [f"{cube}.kind"],
                        "order": [[f"{cube}.kind", "asc"]]})["data"]


def test_only_keys_without_nulls_are_proven(engine):
    assert engine.keys_not_null() == frozenset({"Keyed", "Derived"})
    assert engine.keys_not_null(["Holey", "Keyed"]) == frozenset({"Keyed"})


def test_a_null_key_is_not_counted_and_its_cube_is_not_proven(engine, data):
    assert counts(engine, "Holey") == [{"Holey.kind": "a", "Holey.count": "5"},
                                       {"Holey.kind": "b", "Holey.count": "4"}]
    assert "Holey" not in engine.keys_not_null()
    assert data.execute("SELECT count(id) FROM holey").fetchone()[0] == 9


def test_proven_keys_answer_exactly_as_counting_the_key(engine, data):
    assert counts(engine, "Keyed") == [{"Keyed.kind": "a", "Keyed.count": "5"},
                                       {"Keyed.kind": "b", "Keyed.count": "5"}]
    assert engine.load({"measures": ["Derived.count"]})["data"] == [{"Derived.count": "8"}]
    assert data.execute("SELECT count(id) FROM keyed WHERE v > 2").fetchone()[0] == 8


def test_a_source_that_fails_or_a_cube_without_key_is_simply_not_proven(engine):
    assert engine.keys_not_null(["Missing", "Keyless", "NoSuchCube"]) == frozenset()


def test_proof_is_kept_per_model_and_redone_on_reload(engine, data, tmp_path):
    assert "Keyed" in engine.keys_not_null()
    data.execute("INSERT INTO keyed VALUES (NULL, 1, 'a')")
    # Not re-checked while this model is served: a NULL primary key is a broken model.
    assert "Keyed" in engine.keys_not_null()
    engine.model = load_model(tmp_path)
    assert "Keyed" not in engine.keys_not_null()
    assert counts(engine, "Keyed")[0] == {"Keyed.kind": "a", "Keyed.count": "5"}


def test_other_backends_prove_nothing():
    assert Backend().keys_not_null({"Anything": ("SELECT 1", "SELECT 1")}) == frozenset()


def test_the_compiler_counts_rows_only_where_the_key_is_proven(engine):
    def sql(cube):
        return engine.sql({"measures": [f"{cube}.count"]})["sql"]["sql"][0]
    assert "COUNT(*)" in sql("Keyed") and "COUNT(*)" not in sql("Holey")
    assert engine.load({"measures": ["Holey.count"]})["data"] == [{"Holey.count": "9"}]
    assert engine.load({"measures": ["Keyed.count"]})["data"] == [{"Keyed.count": "10"}]
