"""JavaScript model files: what Cube's JS models do, loaded into the same Model as YAML."""

from pathlib import Path

import duckdb
import pytest

from engine import Engine
from engine.errors import ModelError
from engine.model import CubeRef, MemberRef, load_model


def write(directory: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return directory


BASE = """\
cube(`Base`, {
  sql_table: `events`,
  measures: { count: { type: `count` } },
  dimensions: {
    id: { sql: `id`, type: `number`, primaryKey: true },
    kind: { sql: `${CUBE}.kind`, type: `string` },
  },
});
"""


def test_loop_builds_members(tmp_path):
    write(tmp_path, {"a.js": """
const dimensions = {};
for (const column of ['a', 'b', 'c']) {
  dimensions[column] = { sql: column, type: 'string' };
}
cube('A', { sql_table: 't', dimensions });
"""})
    assert list(load_model(tmp_path).cubes["A"].dimensions) == ["a", "b", "c"]


def test_extends_across_files_inherits_members_and_overrides(tmp_path):
    write(tmp_path, {"base.js": BASE, "child.js": """
cube(`Child`, {
  extends: Base,
  sql_table: `child_events`,
  dimensions: { kind: { sql: `upper(${CUBE}.kind)`, type: `string` } },
});
"""})
    model = load_model(tmp_path)
    child = model.cubes["Child"]
    assert child.sql_table == "child_events"
    assert list(child.measures) == ["count"]
    assert list(child.dimensions) == ["id", "kind"]
    assert child.dimensions["kind"].sql.source == "upper({CUBE}.kind)"


def test_require_of_a_sibling_file_and_its_json(tmp_path):
    write(tmp_path, {
        "helpers/names.js": "exports.table = (name) => `raw_${name}`;\n",
        "helpers/types.json": '{"x": "number"}',
        "a.js": "const { table } = require('./helpers/names');\n"
                "const types = require('./helpers/types.json');\n"
                "cube('A', { sql_table: table('a'), dimensions: { x: { sql: 'x', type: types.x } } });\n",
    })
    cube = load_model(tmp_path).cubes["A"]
    assert (cube.sql_table, cube.dimensions["x"].type) == ("raw_a", "number")


def test_import_and_export_of_a_sibling_file(tmp_path):
    write(tmp_path, {
        "lib.js": "export const TABLE = 'imported';\nexport default function kind() { return 'string'; }\n",
        "a.js": "import kind from './lib';\nimport { TABLE } from './lib';\n"
                "cube('A', { sql_table: TABLE, dimensions: { x: { sql: 'x', type: kind() } } });\n",
    })
    cube = load_model(tmp_path).cubes["A"]
    assert (cube.sql_table, cube.dimensions["x"].type) == ("imported", "string")


def test_template_literal_references_become_yaml_references(tmp_path):
    write(tmp_path, {"a.js": BASE + """
cube(`Other`, {
  sql_table: `other`,
  joins: { Base: { relationship: `belongsTo`, sql: `${CUBE}.base_id = ${Base}.id` } },
  dimensions: {
    id: { sql: `id`, type: `number`, primaryKey: true },
    baseKind: { sql: `${Base.kind}`, type: `string` },
    twice: { sql: (CUBE) => `${CUBE.id} * 2`, type: `number` },
  },
});
"""})
    other = load_model(tmp_path).cubes["Other"]
    assert other.joins["Base"].sql.parts == (CubeRef("Other"), ".base_id = ", CubeRef("Base"),
                                             ".id")
    assert other.dimensions["baseKind"].sql.parts == (MemberRef("Base", "kind"),)
    assert other.dimensions["twice"].sql.parts == (MemberRef("Other", "id"), " * 2")


def test_drill_members_and_views_from_references(tmp_path):
    write(tmp_path, {"a.js": BASE.replace(
        "count: { type: `count` }", "count: { type: `count`, drillMembers: [id, kind] }") + """
view(`BaseView`, {
  cubes: [{ join_path: Base, includes: [`count`, `kind`] }],
  folders: [{ name: `All`, includes: [`count`, `kind`] }],
});
"""})
    model = load_model(tmp_path)
    assert model.cubes["Base"].measures["count"].drill_members == ("Base.id", "Base.kind")
    view = model.cubes["BaseView"]
    assert (view.kind, list(view.measures), list(view.dimensions)) == ("view", ["count"], ["kind"])
    assert view.folders == [{"name": "All", "members": ["BaseView.count", "BaseView.kind"]}]


def test_async_module_is_awaited(tmp_path):
    write(tmp_path, {"a.js": """
asyncModule(async () => {
  const names = await new Promise((resolve) => resolve(['late']));
  names.forEach((name) => cube(name, { sql_table: name, measures: { count: { type: 'count' } } }));
});
"""})
    assert list(load_model(tmp_path).cubes) == ["late"]


def test_compile_context_is_a_js_global(tmp_path):
    write(tmp_path, {"a.js": "cube('A', { sql_table: `${COMPILE_CONTEXT.securityContext.tenant}_t`,"
                             " measures: { count: { type: 'count' } } });\n"})
    model = load_model(tmp_path, compile_context={"securityContext": {"tenant": "acme"}})
    assert model.cubes["A"].sql_table == "acme_t"


def test_js_syntax_error_names_file_and_line(tmp_path):
    write(tmp_path, {"a.js": "cube('A', {\n  sql_table: 't',\n  measures: {,\n});\n"})
    with pytest.raises(ModelError) as error:
        load_model(tmp_path)
    assert (error.value.file, error.value.line) == ("a.js", 3)


def test_js_runtime_error_names_file_and_line(tmp_path):
    write(tmp_path, {"a.js": "const x = null;\n\nx.boom();\n"})
    with pytest.raises(ModelError) as error:
        load_model(tmp_path)
    assert (error.value.file, error.value.line) == ("a.js", 3)
    assert "Cannot read properties of null" in error.value.reason


def test_bad_cube_call_names_the_calling_line(tmp_path):
    write(tmp_path, {"a.js": "\n\ncube({ sql_table: 't' });\n"})
    with pytest.raises(ModelError) as error:
        load_model(tmp_path)
    assert (error.value.file, error.value.line) == ("a.js", 3)
    assert "needs a name" in error.value.reason


def test_schema_error_in_js_names_the_member_line(tmp_path):
    write(tmp_path, {"a.js": "cube('A', {\n  sql_table: 't',\n  measures: {\n"
                             "    count: { type: 'count', tpye: 'x' },\n  },\n});\n"})
    with pytest.raises(ModelError) as error:
        load_model(tmp_path)
    assert (error.value.file, error.value.line) == ("a.js", 4)
    assert "unknown key 'tpye'" in error.value.reason


def test_requiring_a_package_is_refused_by_name(tmp_path):
    write(tmp_path, {"a.js": "const _ = require('lodash');\n"})
    with pytest.raises(ModelError, match="require\\('lodash'\\): only files of the model"):
        load_model(tmp_path)


def test_js_cube_answers_queries(tmp_path):
    write(tmp_path, {"a.js": BASE})
    connection = duckdb.connect()
    connection.execute("CREATE TABLE events AS SELECT * FROM (VALUES (1, 'a'), (2, 'b'), (3, 'a'))"
                       " t(id, kind)")
    engine = Engine(models=tmp_path, database=connection)
    body = engine.load({"measures": ["Base.count"], "dimensions": ["Base.kind"],
                        "order": {"Base.kind": "asc"}})
    assert body["data"] == [{"Base.kind": "a", "Base.count": "2"},
                            {"Base.kind": "b", "Base.count": "1"}]
