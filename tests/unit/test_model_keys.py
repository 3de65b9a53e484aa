"""Every key of Cube 1.7's model schema loads; keys the engine does not run warn once."""

import logging
from pathlib import Path

import duckdb
import pytest

from engine import CubeError, Engine
from engine.errors import ModelError
from engine.model import load_model

EVERY_KEY = """\
cubes:
  - name: Orders
    sql_table: orders
    sql_alias: ord
    data_source: default
    rewrite_queries: true
    refresh_key:
      every: 1 hour
    meta: {team: sales}
    joins:
      - name: Stores
        relationship: many_to_one
        sql: "{CUBE}.store_id = {Stores.id}"
    measures:
      - name: count
        type: count
        aliases: [orders count]
        drill_members: [id, status]
        drill_filters:
          - sql: "{CUBE}.status = 'x'"
      - name: total
        type: sum
        sql: amount
      - name: ytd
        type: sum
        sql: amount
        rolling_window:
          type: year_to_date
      - name: totalRank
        type: rank
        multi_stage: true
        order_by:
          - sql: "{total}"
            dir: desc
        reduce_by: [status]
      - name: totalPriorMonth
        type: sum
        sql: "{total}"
        multi_stage: true
        time_shift:
          - time_dimension: createdAt
            interval: 1 month
            type: prior
    dimensions:
      - name: id
        sql: id
        type: number
        primary_key: true
      - name: status
        sql: status
        type: string
        field_type: string
        values_as_segments: true
        enable_suggestions: true
      - name: city
        sql: city
        type: string
      - name: location
        type: geo
        latitude:
          sql: "{CUBE}.lat"
        longitude:
          sql: "{CUBE}.lng"
      - name: createdAt
        sql: created_at
        type: time
        granularities:
          - name: fiscal
            sql: "date_trunc('year', {CUBE}.created_at)"
    segments:
      - name: big
        sql: "{CUBE}.amount > 10"
        aliases: [large]
    hierarchies:
      - name: place
        title: Place
        levels: [city, Orders.status]
      - name: hidden
        public: false
        levels: [status]
    pre_aggregations:
      - name: main
        type: rollup
        measures: [count]
        dimensions: [status]
        time_dimension: createdAt
        granularity: day
        refresh_key:
          every: 1 day
          incremental: true
    access_policy:
      - role: "*"
        row_level:
          allow_all: true
      - group: analysts
        member_level:
          includes: "*"
          excludes: [city]
        row_level:
          filters:
            - member: status
              operator: equals
              values: ["open"]
            - or:
                - member: city
                  operator: set
        conditions:
          - if: "{ security_context.is_admin }"
  - name: Stores
    sql_table: stores
    calendar: true
    dimensions:
      - name: id
        sql: id
        type: number
        primary_key: true
      - name: region
        sql: region
        type: string
views:
  - name: Sales
    sql_alias: sales
    meta: {layer: gold}
    access_policy:
      - role: "*"
        member_level:
          includes: "*"
    hierarchies:
      - name: own
        levels: [Orders.status]
    cubes:
      - join_path: Orders
        includes: [count, total, status, city, place]
      - join_path: Orders.Stores
        prefix: true
        split: false
        includes: [region]
    folders:
      - name: Numbers
        includes: [count, total]
      - name: Where
        includes:
          - city
          - name: Deeper
            includes:
              - Stores_region
              - name: Deepest
                includes: [status]
"""


def _model_dir(tmp_path: Path) -> Path:
    (tmp_path / "model.yml").write_text(EVERY_KEY)
    return tmp_path


def _database() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute("CREATE TABLE orders AS SELECT * FROM (VALUES "
                       "(1, 1, 'open', 'Paris', 5, 48.85, 2.35, TIMESTAMP '2026-01-02'), "
                       "(2, 1, 'closed', 'Lyon', 20, 45.76, 4.83, TIMESTAMP '2026-02-03')) "
                       "t(id, store_id, status, city, amount, lat, lng, created_at)")
    connection.execute("CREATE TABLE stores AS SELECT 1 AS id, 'north' AS region")
    return connection


def test_every_cube_17_key_loads(tmp_path):
    model = load_model(_model_dir(tmp_path))
    assert sorted(model.cubes) == ["Orders", "Sales", "Stores"]


def test_unrun_keys_are_listed_once_each_with_file_and_line(tmp_path):
    model = load_model(_model_dir(tmp_path))
    keys = [line.split("`")[1] for line in model.warnings]
    assert keys == ["pre_aggregations", "access_policy", "rewrite_queries", "aliases",
                    "drill_filters", "multi_stage", "multi_stage", "field_type",
                    "values_as_segments", "enable_suggestions", "sql", "aliases", "calendar",
                    "access_policy"]
    assert model.warnings[0] == ("model.yml:81: cube 'Orders': `pre_aggregations` is accepted "
                                 "but not run: pre-aggregations are not built; queries read the "
                                 "cube's own SQL")


def test_unrun_keys_are_logged_once_per_load(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="duckcube"):
        load_model(_model_dir(tmp_path))
    messages = [r.getMessage() for r in caplog.records if "accepted but not run" in r.getMessage()]
    assert len(messages) == 14 == len(set(messages))


def test_hierarchies_in_meta_as_cube_reports_them(tmp_path):
    engine = Engine(models=_model_dir(tmp_path), database=_database())
    cubes = {c["name"]: c for c in engine.meta()["cubes"]}
    assert cubes["Orders"]["hierarchies"] == [
        {"name": "Orders.place", "title": "Place", "levels": ["Orders.city", "Orders.status"],
         "public": True},
        {"name": "Orders.hidden", "levels": ["Orders.status"], "public": False},
    ]
    assert cubes["Sales"]["hierarchies"] == [
        {"name": "Sales.own", "levels": ["Sales.status"], "public": True},
        {"name": "Sales.place", "title": "Place", "levels": ["Sales.city", "Sales.status"],
         "public": True},
    ]


def test_nested_folders_in_meta_as_cube_reports_them(tmp_path):
    engine = Engine(models=_model_dir(tmp_path), database=_database())
    sales = next(c for c in engine.meta()["cubes"] if c["name"] == "Sales")
    assert sales["nestedFolders"] == [
        {"name": "Numbers", "members": ["Sales.count", "Sales.total"]},
        {"name": "Where", "members": [
            "Sales.city",
            {"name": "Deeper", "members": [
                "Sales.Stores_region",
                {"name": "Deepest", "members": ["Sales.status"]}]}]},
    ]
    assert sales["folders"] == [
        {"name": "Numbers", "members": ["Sales.count", "Sales.total"]},
        {"name": "Where", "members": ["Sales.city", "Sales.Stores_region", "Sales.status"]},
    ]


def test_geo_dimension_is_typed_geo_and_answers_latitude_comma_longitude(tmp_path):
    engine = Engine(models=_model_dir(tmp_path), database=_database())
    orders = next(c for c in engine.meta()["cubes"] if c["name"] == "Orders")
    location = next(d for d in orders["dimensions"] if d["name"] == "Orders.location")
    assert location["type"] == "geo"
    body = engine.load({"dimensions": ["Orders.location"], "order": {"Orders.location": "asc"}})
    assert body["data"] == [{"Orders.location": "45.76,4.83"}, {"Orders.location": "48.85,2.35"}]


def test_year_to_date_rolling_window_runs_as_to_date_year(tmp_path):
    model = load_model(_model_dir(tmp_path))
    assert model.cubes["Orders"].measures["ytd"].rolling_window.to_date == "year"


def test_keys_not_run_do_not_change_answers(tmp_path):
    engine = Engine(models=_model_dir(tmp_path), database=_database())
    body = engine.load({"measures": ["Orders.count", "Orders.total"],
                        "dimensions": ["Orders.status"], "order": {"Orders.status": "asc"}})
    assert body["data"] == [{"Orders.status": "closed", "Orders.count": "1", "Orders.total": "20"},
                            {"Orders.status": "open", "Orders.count": "1", "Orders.total": "5"}]


def test_multi_stage_measure_is_refused_when_queried_naming_it(tmp_path):
    engine = Engine(models=_model_dir(tmp_path), database=_database())
    with pytest.raises(CubeError) as error:
        engine.load({"measures": ["Orders.totalRank"]})
    assert error.value.status == 400
    assert "Orders.totalRank" in error.value.body["error"]


def test_sql_granularity_is_not_offered_to_queries(tmp_path):
    engine = Engine(models=_model_dir(tmp_path), database=_database())
    with pytest.raises(CubeError) as error:
        engine.load({"measures": ["Orders.count"],
                     "timeDimensions": [{"dimension": "Orders.createdAt", "granularity": "fiscal"}]})
    assert error.value.status == 400


def test_rank_type_without_multi_stage_is_refused(tmp_path):
    (tmp_path / "m.yml").write_text(
        "cubes:\n  - name: A\n    sql_table: a\n    measures:\n"
        "      - name: r\n        type: rank\n        sql: x\n")
    with pytest.raises(ModelError, match="type 'rank' needs `multi_stage: true`"):
        load_model(tmp_path)


def test_folder_member_must_exist(tmp_path):
    (tmp_path / "m.yml").write_text(
        "cubes:\n  - name: A\n    sql_table: a\n    dimensions:\n"
        "      - name: x\n        sql: x\n        type: string\n"
        "views:\n  - name: V\n    cubes:\n      - join_path: A\n        includes: '*'\n"
        "    folders:\n      - name: F\n        includes: [x, nope]\n")
    with pytest.raises(ModelError, match="Member 'nope' included in folder 'F' not found"):
        load_model(tmp_path)


def test_hierarchy_level_must_be_a_dimension(tmp_path):
    (tmp_path / "m.yml").write_text(
        "cubes:\n  - name: A\n    sql_table: a\n    measures:\n      - name: c\n        type: count\n"
        "    hierarchies:\n      - name: h\n        levels: [c]\n")
    with pytest.raises(ModelError, match="level 'c' is not a dimension"):
        load_model(tmp_path)


def test_typo_key_is_still_refused(tmp_path):
    (tmp_path / "m.yml").write_text(
        "cubes:\n  - name: A\n    sql_table: a\n    hierarchys: []\n")
    with pytest.raises(ModelError, match="unknown key 'hierarchys'"):
        load_model(tmp_path)


def test_duckcube_check_lists_keys_not_run_without_failing(tmp_path, capsys):
    from engine.testing.check import main
    clean = Path(__file__).parents[1] / "check_models" / "clean"
    for source in clean.iterdir():
        (tmp_path / source.name).write_text(source.read_text())
    orders = tmp_path / "orders.yml"
    orders.write_text(orders.read_text().replace(
        "    sql_table: orders\n",
        "    sql_table: orders\n    pre_aggregations:\n      - name: main\n        type: rollup\n", 1))
    status = main(["--models", str(tmp_path), "--db", str(clean.parent / "data"),
                   "--examples", "0", "--now", "2026-11-22T11:10:14Z"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert ("warning: orders.yml:4: cube 'Orders': `pre_aggregations` is accepted but not run: "
            "pre-aggregations are not built; queries read the cube's own SQL") in out.splitlines()
