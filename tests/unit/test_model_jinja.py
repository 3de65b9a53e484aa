"""Jinja-templated YAML models with Python helpers in globals.py, as Cube runs them."""

import sys
import types
from pathlib import Path

import duckdb
import pytest

from engine import Engine
from engine.errors import ModelError
from engine.model import load_model

MODELS = Path(__file__).parents[1] / "models"


def write(directory: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory


CUBE = """\
cubes:
  - name: {{ name }}
    sql_table: t
    dimensions:
{%- for column in columns %}
      - name: {{ column }}
        sql: {{ column }}
        type: string
{%- endfor %}
"""


def test_jinja_loop_in_yaml_builds_members(tmp_path):
    text = "{% set name = 'A' %}{% set columns = ['x', 'y'] %}" + CUBE
    model = load_model(write(tmp_path, {"a.yml": text}))
    assert list(model.cubes["A"].dimensions) == ["x", "y"]


def test_printed_values_are_json_escaped_as_in_cube(tmp_path):
    text = ("cubes:\n  - name: A\n    sql_table: {{ 't' }}\n    meta: {{ {'n': 1, 'tags': ['a']} }}\n"
            "    dimensions:\n      - name: x\n        sql: x\n        type: string\n"
            "        title: {{ 'Say \"hi\": yes' }}\n")
    cube = load_model(write(tmp_path, {"a.yml": text})).cubes["A"]
    assert (cube.sql_table, cube.meta) == ("t", {"n": 1, "tags": ["a"]})
    assert cube.dimensions["x"].short_title == 'Say "hi": yes'


GLOBALS = """\
from cube import TemplateContext, SafeString

template = TemplateContext()
template.add_variable("columns", ["city", "zip"])


@template.function("cube_name")
def cube_name():
    return "Places"


@template.function
def dimension_type():
    return SafeString("string")


@template.filter("shout")
def shout(text):
    return text.upper()
"""


def test_globals_py_functions_variables_and_filters_reach_templates(tmp_path):
    text = CUBE.replace("{{ name }}", "{{ cube_name() }}").replace(
        "type: string", "type: {{ dimension_type() }}\n        title: {{ column | shout }}")
    model = load_model(write(tmp_path, {"globals.py": GLOBALS, "a.yml": text}))
    cube = model.cubes["Places"]
    assert [(d.name, d.type, d.short_title) for d in cube.dimensions.values()] == [
        ("city", "string", "CITY"), ("zip", "string", "ZIP")]


def test_cube_module_is_importable_only_while_models_load(tmp_path):
    write(tmp_path, {"globals.py": GLOBALS, "a.yml": CUBE.replace("{{ name }}", "{{ cube_name() }}")})
    assert "cube" not in sys.modules
    load_model(tmp_path)
    assert "cube" not in sys.modules
    with pytest.raises(ImportError):
        __import__("cube")


def test_an_existing_cube_module_is_restored_after_loading(tmp_path, monkeypatch):
    other = types.ModuleType("cube")
    monkeypatch.setitem(sys.modules, "cube", other)
    write(tmp_path, {"globals.py": GLOBALS, "a.yml": CUBE.replace("{{ name }}", "{{ cube_name() }}")})
    assert "Places" in load_model(tmp_path).cubes
    assert sys.modules["cube"] is other


def test_globals_py_sibling_modules_are_imported_and_forgotten(tmp_path):
    write(tmp_path, {
        "naming.py": "def cube_name():\n    return 'Sibling'\n",
        "globals.py": "from cube import TemplateContext\nimport naming\n"
                      "template = TemplateContext()\n"
                      "template.add_function('cube_name', naming.cube_name)\n",
        "a.yml": CUBE.replace("{{ name }}", "{{ cube_name() }}").replace(
            "{%- for column in columns %}", "{%- for column in ['x'] %}"),
    })
    assert list(load_model(tmp_path).cubes) == ["Sibling"]
    assert "naming" not in sys.modules


def test_compile_context_reaches_templates(tmp_path):
    text = ("cubes:\n  - name: A\n"
            "    sql_table: {{ COMPILE_CONTEXT.securityContext.tenant ~ '_orders' }}\n"
            "    dimensions:\n      - name: x\n        sql: x\n        type: string\n")
    write(tmp_path, {"a.yml": text})
    model = load_model(tmp_path, compile_context={"securityContext": {"tenant": "acme"}})
    assert model.cubes["A"].sql_table == "acme_orders"


def test_env_var_function_reads_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DUCKCUBE_TEST_TABLE", "from_env")
    text = ("cubes:\n  - name: A\n    sql_table: {{ env_var('DUCKCUBE_TEST_TABLE') }}\n"
            "    dimensions:\n      - name: x\n        sql: x\n        type: string\n")
    assert load_model(write(tmp_path, {"a.yml": text})).cubes["A"].sql_table == "from_env"


def test_jinja_syntax_error_names_file_and_line(tmp_path):
    write(tmp_path, {"a.yml": "cubes:\n  - name: A\n{% for x in %}\n"})
    with pytest.raises(ModelError) as error:
        load_model(tmp_path)
    assert (error.value.file, error.value.line) == ("a.yml", 3)


def test_failing_helper_names_the_template_line(tmp_path):
    write(tmp_path, {
        "globals.py": "from cube import TemplateContext\ntemplate = TemplateContext()\n"
                      "@template.function\ndef boom():\n    raise ValueError('no table')\n",
        "a.yml": "cubes:\n  - name: A\n    sql_table: {{ boom() }}\n"})
    with pytest.raises(ModelError) as error:
        load_model(tmp_path)
    assert (error.value.file, error.value.line) == ("a.yml", 3)
    assert "no table" in str(error.value)


def test_broken_globals_py_names_its_line(tmp_path):
    write(tmp_path, {"globals.py": "from cube import TemplateContext\n\nx = 1 / 0\n",
                     "a.yml": "cubes: []\n"})
    with pytest.raises(ModelError) as error:
        load_model(tmp_path)
    assert (error.value.file, error.value.line) == ("globals.py", 3)


def test_yml_jinja_suffix_is_rendered(tmp_path):
    text = "{% set name = 'J' %}{% set columns = ['x'] %}" + CUBE
    assert list(load_model(write(tmp_path, {"a.yml.jinja": text})).cubes) == ["J"]


def test_cube_dbt_builds_cubes_from_a_dbt_manifest():
    connection = duckdb.connect()
    connection.execute("CREATE TABLE customers AS SELECT * FROM (VALUES "
                       "(1, 'Paris', TIMESTAMP '2026-01-01'), (2, 'Paris', TIMESTAMP '2026-02-01'), "
                       "(3, 'Lyon', TIMESTAMP '2026-03-01')) t(customer_id, city, signed_up_at)")
    engine = Engine(models=MODELS / "dbt_project", database=connection)
    cube = engine.model.cubes["customers"]
    assert cube.sql_table == '"main"."customers"'
    assert cube.description == "One row per customer"
    assert [(d.name, d.type, d.primary_key) for d in cube.dimensions.values()] == [
        ("customer_id", "number", True), ("city", "string", False),
        ("signed_up_at", "time", False)]
    assert "stg_customers" not in engine.model.cubes  # ephemeral, and outside marts/
    body = engine.load({"measures": ["customers.count"], "dimensions": ["customers.city"],
                        "order": {"customers.city": "asc"}})
    assert body["data"] == [{"customers.city": "Lyon", "customers.count": "1"},
                            {"customers.city": "Paris", "customers.count": "2"}]
